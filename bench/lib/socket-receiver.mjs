// A receive-only socket.io client for the load rig: the socket.io v4
// protocol (engine.io protocol 4, socket.io protocol 5) spoken directly over
// one `ws` WebSocket, so that a hundred receivers cost the benchmark's
// process little next to the server it measures. It connects to the main
// namespace with an auth payload, answers the server's pings, parses only the
// events it was asked for and skips the rest unparsed. No polling, no
// reconnection, no acknowledgements, no binary events: the benchmarks need
// none of them.
import WebSocket from 'ws';

// engine.io packet types, the first character of each WebSocket frame
const EIO_OPEN = '0';
const EIO_CLOSE = '1';
const EIO_PING = '2';
const EIO_PONG = '3';
const EIO_MESSAGE = '4';
// socket.io packet types, the character after engine.io's "4"
const SIO_CONNECT = '0';
const SIO_DISCONNECT = '1';
const SIO_EVENT = '2';
const SIO_CONNECT_ERROR = '4';
const EVENT_BYTES = Buffer.from(`${EIO_MESSAGE}${SIO_EVENT}`);

/**
 * Opens a socket.io session at `base` (http://host:port) with `auth` as the
 * handshake's auth payload. `handlers` maps event names to functions of the
 * event's first argument; events not named there are dropped before any
 * parsing. `onClose` runs once when the connection ends after the namespace
 * accepted it, as socket.io-client's "disconnect" would (a ping timeout
 * included). Resolves once the event `readyEvent` has arrived (or, without
 * one, the namespace's CONNECT answer); rejects with the server's connect
 * error, or when that has not happened within `timeoutMs`.
 */
export function connectReceiver(base, auth, { handlers, readyEvent, onClose, timeoutMs = 20_000 }) {
  const url = new URL('/socket.io/?EIO=4&transport=websocket', base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url, { perMessageDeflate: false });
  // `42["name",` as bytes, per event wanted, to recognise a frame before decoding it
  const prefix = (name) =>
    Buffer.from(`${EIO_MESSAGE}${SIO_EVENT}${JSON.stringify([name]).slice(0, -1)},`);
  const prefixes = Object.entries(handlers).map(([name, handler]) => ({
    bytes: prefix(name),
    handler,
  }));
  let connected = false;
  let ready = false;
  let closed = false;
  let pingTimer;

  return new Promise((resolve, reject) => {
    const openTimer = setTimeout(() => {
      fail(new Error(`socket.io session at ${base} did not open within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (error) => {
      clearTimeout(openTimer);
      reject(error);
      ws.terminate();
    };
    const becomeReady = () => {
      ready = true;
      clearTimeout(openTimer);
      resolve(receiver);
    };
    if (readyEvent !== undefined) {
      prefixes.push({ bytes: prefix(readyEvent), handler: becomeReady });
    }
    // The server pings every pingInterval; silence past pingInterval + pingTimeout means it is gone.
    let pingDeadline = 0;
    const armPingTimer = () => {
      clearTimeout(pingTimer);
      pingTimer = setTimeout(() => ws.terminate(), pingDeadline);
    };

    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        return;
      }
      for (const { bytes, handler } of prefixes) {
        if (
          data.length > bytes.length &&
          data.compare(bytes, 0, bytes.length, 0, bytes.length) === 0
        ) {
          // 42["name",{...}]: the first argument runs from after the comma to before the closing bracket
          handler(JSON.parse(data.toString('utf8', bytes.length, data.length - 1)));

          return;
        }
      }
      if (data[0] === EVENT_BYTES[0] && data[1] === EVENT_BYTES[1]) {
        // an event nobody asked for (the inbox change that comes with each message): not even decoded
        return;
      }
      const text = data.toString('utf8');
      switch (text[0]) {
        case EIO_PING:
          ws.send(EIO_PONG);
          armPingTimer();
          break;
        case EIO_OPEN: {
          const { pingInterval, pingTimeout } = JSON.parse(text.slice(1));
          pingDeadline = pingInterval + pingTimeout;
          armPingTimer();
          ws.send(`${EIO_MESSAGE}${SIO_CONNECT}${JSON.stringify(auth)}`);
          break;
        }
        case EIO_MESSAGE:
          if (text[1] === SIO_CONNECT) {
            connected = true;
            if (readyEvent === undefined) {
              becomeReady();
            }
          } else if (text[1] === SIO_CONNECT_ERROR) {
            const problem = JSON.parse(text.slice(2));
            fail(new Error(problem.message ?? text.slice(2)));
          } else if (text[1] === SIO_DISCONNECT) {
            ws.close();
          }
          break;
        case EIO_CLOSE:
          ws.close();
          break;
        default:
          break;
      }
    });
    ws.on('error', (error) => {
      if (!ready) {
        fail(error);
      }
    });
    ws.on('close', () => {
      clearTimeout(pingTimer);
      if (!ready) {
        fail(new Error(`socket.io connection to ${base} closed before the session opened`));
      }
      if (connected && !closed) {
        closed = true;
        onClose?.();
      }
    });

    const receiver = {
      /** Leaves the namespace and closes the connection, as socket.close() does. */
      close() {
        if (ws.readyState === WebSocket.OPEN) {
          ws.send(`${EIO_MESSAGE}${SIO_DISCONNECT}`);
          ws.close();
        }
      },
    };
  });
}
