// The ceiling: a bare Node.js HTTP server answering a trivial JSON POST,
// shaped like POST /api/messages (parse the JSON body, answer 200 {"id"}).
import { createServer } from 'node:http';

let next = 0;
const server = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    let status = 200;
    let payload;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      payload = JSON.stringify({
        id: `bare-${++next}`,
        to: typeof body.to === 'string' ? body.to : null,
      });
    } catch {
      status = 400;
      payload = '{"error":"bad json"}';
    }
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
    });
    response.end(payload);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.send?.({ ready: true, port: server.address().port });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
