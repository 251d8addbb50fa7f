"""A slixmpp client with stream management (XEP-0198), driven by test/e2e/xmpp-sm-interop.e2e.test.ts.

It logs in over STARTTLS with SCRAM, enables stream management with
resumption, sends initial presence, and reports every message body it gets.
On the line "drop" on stdin it aborts its TCP connection without closing the
stream, reconnects and resumes; on "quit" it closes the stream. Every step is
one JSON line on stdout.
"""

import sys

import slixmpp
from relay_interop import debug_logging, emit, for_test_server


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, address):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-256")
        self.address = address
        self.dropping = False
        self.quitting = False
        self.register_plugin("xep_0198")
        for_test_server(self)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("sm_enabled", lambda s: emit("sm_enabled", id=s["id"]))
        self.add_event_handler("session_resumed", lambda _: emit("resumed"))
        self.add_event_handler("sm_failed", lambda _: emit("sm_failed"))
        self.add_event_handler("disconnected", self.on_disconnected)

    def open(self):
        self.connect(address=self.address, force_starttls=True, disable_starttls=False)

    def on_start(self, _event):
        self.send_presence()
        emit("ready", jid=str(self.boundjid))

    def on_message(self, message):
        if message["type"] in ("chat", "normal") and message["body"]:
            emit("message", body=message["body"])

    def on_disconnected(self, _event):
        if self.dropping and not self.quitting:
            self.dropping = False
            emit("reconnecting")
            self.open()
        else:
            self.loop.stop()

    def command(self):
        line = sys.stdin.readline().strip()
        if line == "drop":
            self.dropping = True
            emit("dropped")
            # A dead connection, as a phone losing its network: no closing stream.
            self.transport.abort()
        elif line == "quit" or line == "":
            self.quitting = True
            self.disconnect()


def main():
    debug_logging()
    jid, password, host, port = sys.argv[1:5]
    client = Client(jid, password, (host, int(port)))
    client.loop.add_reader(sys.stdin, client.command)
    client.open()
    client.loop.call_later(60, client.loop.stop)
    client.loop.run_forever()
    emit("done")


if __name__ == "__main__":
    main()
