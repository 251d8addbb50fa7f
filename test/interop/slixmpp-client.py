"""An XMPP client built on Debian's python3-slixmpp, driven by test/e2e/xmpp-slixmpp.e2e.test.ts.

It logs in over STARTTLS with SCRAM, fetches the roster, sends initial
presence and one message, then waits for one message; every step is one
JSON line on stdout, so the test can follow along.
"""

import json
import logging
import os
import ssl
import sys

import slixmpp


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, mechanism, peer, body):
        super().__init__(jid, password, sasl_mech=mechanism)
        self.peer = peer
        self.body = body
        # slixmpp binds only with tls-unique, which TLS 1.3 does not define (RFC 9266); the
        # server offers tls-exporter and tls-server-end-point. Without binding data the client
        # says "n" (no channel binding) rather than "y", which the server must refuse once it
        # has offered -PLUS (RFC 5802 section 6).
        mechanisms = self["feature_mechanisms"]
        default_credentials = mechanisms.sasl_callback

        def credentials(required, optional):
            values = default_credentials(required, optional)
            if "channel_binding" in values:
                values["channel_binding"] = None
            return values

        mechanisms.sasl_callback = credentials
        # Test servers present a generated self-signed certificate.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
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
    if os.environ.get("SLIXMPP_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    jid, password, host, port, mechanism, peer, body = sys.argv[1:8]
    client = Client(jid, password, mechanism, peer, body)
    client.add_event_handler("disconnected", lambda _: client.loop.stop())
    client.connect(address=(host, int(port)), force_starttls=True, disable_starttls=False)
    client.loop.call_later(30, client.loop.stop)
    client.loop.run_forever()
    emit("done")


if __name__ == "__main__":
    main()
