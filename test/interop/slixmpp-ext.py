"""A slixmpp client (Debian's python3-slixmpp) driven line by line, for test/e2e/xmpp-ext-slixmpp.e2e.test.ts.

It logs in over STARTTLS with SCRAM and sends initial presence, then reads
one JSON command a line on stdin and reports what happens as one JSON line
on stdout: messages (with their corrections, retractions, markers and chat
states), carbons, blocklist pushes and presence. The extensions are
slixmpp's own plugins: XEP-0280, 0191, 0308, 0424, 0333, 0184, 0352, 0359.
"""

import json
import sys

import slixmpp
from relay_interop import debug_logging, emit, for_test_server
from slixmpp.exceptions import IqError, IqTimeout

NS = {
    "markers": "urn:xmpp:chat-markers:0",
    "receipts": "urn:xmpp:receipts",
    "correct": "urn:xmpp:message-correct:0",
    "retract": "urn:xmpp:message-retract:1",
    "states": "http://jabber.org/protocol/chatstates",
    "sid": "urn:xmpp:sid:0",
}


def describe(message):
    """What a test needs of a message stanza, read from its XML."""
    xml = message.xml
    found = {
        "from": str(message["from"]),
        "to": str(message["to"]),
        "id": message["id"],
        "type": message["type"],
        "body": message["body"] or None,
    }
    for name in ("received", "displayed", "acknowledged"):
        marker = xml.find("{%s}%s" % (NS["markers"], name))
        if marker is not None:
            found["marker"] = {"type": name, "id": marker.get("id")}
    receipt = xml.find("{%s}received" % NS["receipts"])
    if receipt is not None:
        found["receipt"] = receipt.get("id")
    replace = xml.find("{%s}replace" % NS["correct"])
    if replace is not None:
        found["replace"] = replace.get("id")
    retract = xml.find("{%s}retract" % NS["retract"])
    if retract is not None:
        found["retract"] = retract.get("id")
    stanza_id = xml.find("{%s}stanza-id" % NS["sid"])
    if stanza_id is not None:
        found["stanza_id"] = stanza_id.get("id")
    for child in xml:
        if child.tag.startswith("{%s}" % NS["states"]):
            found["state"] = child.tag.split("}")[1]
    return found


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-256")
        for plugin in ("xep_0030", "xep_0280", "xep_0191", "xep_0308", "xep_0424",
                       "xep_0333", "xep_0184", "xep_0352", "xep_0359", "xep_0085"):
            self.register_plugin(plugin)
        # Receipts are asked for and answered by the test, not by the plugin.
        self.plugin["xep_0184"].auto_ack = False
        self.plugin["xep_0184"].auto_request = False
        for_test_server(self)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", lambda msg: emit("message", **describe(msg)))
        self.add_event_handler("message_error", self.on_error)
        self.add_event_handler("carbon_sent", lambda msg: self.on_carbon("sent", msg))
        self.add_event_handler("carbon_received", lambda msg: self.on_carbon("received", msg))
        self.add_event_handler("blocked", lambda iq: self.on_push("blocked", iq["block"]))
        self.add_event_handler("unblocked", lambda iq: self.on_push("unblocked", iq["unblock"]))
        self.add_event_handler("csi_enabled", lambda _: emit("csi_offered"))
        self.add_event_handler(
            "presence_available",
            lambda p: emit("presence", **{"from": str(p["from"]), "status": p["status"]}),
        )
        self.add_event_handler("failed_auth", lambda _: emit("failed_auth"))

    def on_error(self, message):
        emit("message", condition=message["error"]["condition"], **describe(message))

    def on_carbon(self, kind, message):
        inner = message["carbon_%s" % kind]
        emit("carbon", kind=kind, **describe(inner))

    def on_push(self, kind, payload):
        emit(kind, items=sorted(str(jid) for jid in payload["items"]))

    async def on_start(self, _event):
        self.send_presence()
        await self.get_roster()
        emit("ready", jid=str(self.boundjid))
        self.loop.add_reader(sys.stdin.fileno(), self.on_line)

    def on_line(self):
        line = sys.stdin.readline()
        if not line:
            self.loop.remove_reader(sys.stdin.fileno())
            self.disconnect()
            return
        command = json.loads(line)
        self.loop.create_task(self.run(command))

    async def run(self, command):
        name = command["cmd"]
        try:
            result = await self.command(name, command)
            emit("done", cmd=name, tag=command.get("tag"), **(result or {}))
        except IqError as error:
            emit("failed", cmd=name, tag=command.get("tag"),
                 condition=error.iq["error"]["condition"])
        except IqTimeout:
            emit("failed", cmd=name, tag=command.get("tag"), condition="timeout")

    async def command(self, name, command):
        if name == "carbons":
            await self.plugin["xep_0280"].enable()
        elif name == "send":
            message = self.make_message(mto=command["to"], mbody=command["body"], mtype="chat")
            message["id"] = command["id"]
            message["origin_id"]["id"] = command["id"]
            message.send()
        elif name == "correct":
            message = self.make_message(mto=command["to"], mbody=command["body"], mtype="chat")
            message["id"] = command["tag"]
            message["replace"]["id"] = command["id"]
            message.send()
        elif name == "retract":
            # slixmpp 1.8 speaks the XEP-0422 form of XEP-0424 (urn:xmpp:message-retract:0).
            self.plugin["xep_0424"].send_retraction(command["to"], command["id"])
        elif name == "marker":
            self.plugin["xep_0333"].send_marker(command["to"], command["id"], command["marker"])
        elif name == "receipt":
            ack = self.make_message(mto=command["to"], mtype="chat")
            ack["receipt"] = command["id"]
            ack.send()
        elif name == "block":
            await self.plugin["xep_0191"].block(command["jids"])
        elif name == "unblock":
            await self.plugin["xep_0191"].unblock(command["jids"])
        elif name == "blocklist":
            iq = await self.plugin["xep_0191"].get_blocked()
            return {"items": sorted(str(jid) for jid in iq["blocklist"]["items"])}
        elif name == "inactive":
            self.plugin["xep_0352"].send_inactive()
        elif name == "active":
            self.plugin["xep_0352"].send_active()
        elif name == "ping":
            # Answered after everything the server sent before: a barrier for the test.
            await self.plugin["xep_0030"].get_info(jid=self.boundjid.domain)
        return None


def main():
    debug_logging()
    jid, password, host, port = sys.argv[1:5]
    client = Client(jid, password)
    client.add_event_handler("disconnected", lambda _: client.loop.stop())
    client.connect(address=(host, int(port)), force_starttls=True, disable_starttls=False)
    client.loop.call_later(60, client.loop.stop)
    client.loop.run_forever()
    emit("exit")


if __name__ == "__main__":
    main()
