"""Part two's account and server extensions through Debian's python3-slixmpp plugins.

Driven by test/e2e/xmpp-extensions-slixmpp.e2e.test.ts: logs in over STARTTLS
with SCRAM, then asks the server for its version (XEP-0092), time (XEP-0202)
and uptime (XEP-0012), publishes its own vCard and reads a peer's (XEP-0054),
asks the last activity of a contact and of a stranger, stores and reads
bookmarks in private XML storage (XEP-0048 over XEP-0049), lists the inbox
(urn:relay:inbox:0) and waits for one inbox push. Every step is one JSON
line on stdout.
"""

import sys
import xml.etree.ElementTree as ET

import slixmpp
from relay_interop import debug_logging, emit, for_test_server
from slixmpp.exceptions import IqError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

INBOX = "urn:relay:inbox:0"


def condition(error):
    return error.iq["error"]["condition"]


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, peer, stranger):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-256")
        self.peer = peer
        self.stranger = stranger
        for plugin in ("xep_0012", "xep_0048", "xep_0049", "xep_0054", "xep_0092", "xep_0202"):
            self.register_plugin(plugin)
        for_test_server(self)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", lambda _: emit("failed_auth"))
        self.register_handler(
            Callback(
                "inbox push",
                MatchXPath("{jabber:client}message/{%s}update" % INBOX),
                self.on_inbox_push,
            )
        )

    async def on_start(self, _event):
        try:
            await self.steps()
        except Exception as error:  # reported, so the test fails with the reason
            emit("error", message=repr(error))
            self.disconnect()

    async def steps(self):
        server = self.boundjid.domain
        version = await self["xep_0092"].get_version(server)
        emit("version", name=version["software_version"]["name"],
             version=version["software_version"]["version"])
        time = await self["xep_0202"].get_entity_time(server)
        # slixmpp 1.8's parsed utc appends a second "Z" to the XEP-0202 form: read the text.
        entity_time = time["entity_time"].xml
        emit("time", utc=entity_time.find("{urn:xmpp:time}utc").text,
             tzo=entity_time.find("{urn:xmpp:time}tzo").text)
        uptime = await self["xep_0012"].get_last_activity(server)
        emit("uptime", seconds=uptime["last_activity"]["seconds"])

        vcard = self["xep_0054"].stanza.VCardTemp()
        vcard["FN"] = "Alice from slixmpp"
        vcard["NICKNAME"] = "sli"
        await self["xep_0054"].publish_vcard(vcard)
        own = await self["xep_0054"].get_vcard(self.boundjid.bare, local=False)
        emit("own_vcard", fn=own["vcard_temp"]["FN"], nickname=own["vcard_temp"]["NICKNAME"])
        peer = await self["xep_0054"].get_vcard(self.peer, local=False)
        emit("peer_vcard", fn=peer["vcard_temp"]["FN"])

        last = await self["xep_0012"].get_last_activity(self.peer)
        emit("peer_last", seconds=last["last_activity"]["seconds"])
        try:
            await self["xep_0012"].get_last_activity(self.stranger)
            emit("stranger_last", condition=None)
        except IqError as error:
            emit("stranger_last", condition=condition(error))

        bookmarks = self["xep_0048"].stanza.Bookmarks()
        bookmarks.add_conference("team@muc.example.org", "sli", name="Team", autojoin=True)
        await self["xep_0048"].set_bookmarks(bookmarks, method="xep_0049")
        stored = await self["xep_0048"].get_bookmarks(method="xep_0049")
        emit("bookmarks", conferences=[
            {"jid": str(conf["jid"]), "nick": conf["nick"], "name": conf["name"],
             "autojoin": conf["autojoin"]}
            for conf in stored["private"]["bookmarks"]["conferences"]
        ])
        try:
            bad = self.make_iq_set()
            bad["private"].append(ET.Element("{jabber:iq:roster}query"))
            await bad.send()
            emit("private_refused", condition=None)
        except IqError as error:
            emit("private_refused", condition=condition(error))

        query = self.make_iq_get()
        query.append(ET.Element("{%s}query" % INBOX))
        result = await query.send()
        conversations = result.xml.find("{%s}query" % INBOX).findall("{%s}conversation" % INBOX)
        emit("inbox", conversations=[
            {"id": conv.get("id"), "type": conv.get("type"), "unread": int(conv.get("unread")),
             "last": conv.find("{%s}last" % INBOX).text}
            for conv in conversations
        ])

    def on_inbox_push(self, message):
        conv = message.xml.find("{%s}update/{%s}conversation" % (INBOX, INBOX))
        emit("inbox_push", id=conv.get("id"), unread=int(conv.get("unread")))
        self.disconnect()


def main():
    debug_logging()
    jid, password, host, port, peer, stranger = sys.argv[1:7]
    client = Client(jid, password, peer, stranger)
    client.add_event_handler("disconnected", lambda _: client.loop.stop())
    client.connect(address=(host, int(port)), force_starttls=True, disable_starttls=False)
    client.loop.call_later(30, client.loop.stop)
    client.loop.run_forever()
    emit("done")


if __name__ == "__main__":
    main()
