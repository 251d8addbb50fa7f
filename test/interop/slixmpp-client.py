"""An XMPP client built on Debian's python3-slixmpp, driven by test/e2e/xmpp-slixmpp.e2e.test.ts.

It logs in over STARTTLS with SCRAM, fetches the roster, sends initial
presence and one message, then waits for one message; every step is one
JSON line on stdout, so the test can follow along.
"""

import sys

import slixmpp
from relay_interop import debug_logging, emit, for_test_server


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, mechanism, peer, body):
        super().__init__(jid, password, sasl_mech=mechanism)
        self.peer = peer
        self.body = body
        for_test_server(self)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("failed_auth", lambda _: emit("failed_auth"))
        self.add_event_handler("auth_success", lambda _: emit("auth_success"))
        self.add_event_handler("ssl_cert", lambda _: emit("tls"))

    async def on_start(self, _event):
        await self.get_roster()
        roster = self.client_roster
        items = {
            jid: {"subscription": roster[jid]["subscription"], "name": roster[jid]["name"]}
            for jid in roster.keys()
            if jid != self.boundjid.bare
        }
        emit("roster", items=items)
        self.send_presence()
        self.send_message(mto=self.peer, mbody=self.body, mtype="chat")
        emit("ready", jid=str(self.boundjid))

    def on_message(self, message):
        if message["type"] in ("chat", "normal") and message["body"]:
            emit("message", sender=str(message["from"]), body=message["body"])
            self.disconnect()


def main():
    debug_logging()
    jid, password, host, port, mechanism, peer, body = sys.argv[1:8]
    client = Client(jid, password, mechanism, peer, body)
    client.add_event_handler("disconnected", lambda _: client.loop.stop())
    client.connect(address=(host, int(port)), force_starttls=True, disable_starttls=False)
    client.loop.call_later(30, client.loop.stop)
    client.loop.run_forever()
    emit("done")


if __name__ == "__main__":
    main()
