"""A slixmpp (python3-slixmpp) room occupant, driven by test/e2e/xmpp-muc-slixmpp.e2e.test.ts.

It logs in over STARTTLS with SCRAM, joins a room with the xep_0045 plugin
(asking for no history), reports the occupants it sees, sends one groupchat
message, waits for one message from someone else, then reads the room's
archive with the xep_0313 plugin and leaves. Every step is one JSON line on
stdout (slixmpp 1.8.3 prints a line of its own while joining, which the
test skips), so the test can follow along. With mode "refused" it only tries to
join and to read the archive, and reports both errors.
"""

import asyncio
import sys

import slixmpp
from relay_interop import debug_logging, emit, for_test_server
from slixmpp.exceptions import IqError, PresenceError


class Occupant(slixmpp.ClientXMPP):
    def __init__(self, jid, password, room, nick, body, mode):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-256")
        self.room = slixmpp.JID(room)
        self.nick = nick
        self.body = body
        self.mode = mode
        self.heard = asyncio.Event()
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0045")
        self.register_plugin("xep_0059")
        self.register_plugin("xep_0313")
        for_test_server(self)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("groupchat_message", self.on_groupchat)

    async def on_start(self, _event):
        self.send_presence()
        try:
            if self.mode == "refused":
                await self.refused()
            else:
                await self.converse()
        finally:
            self.disconnect()

    async def refused(self):
        try:
            await self["xep_0045"].join_muc_wait(self.room, self.nick, maxstanzas=0, timeout=10)
            emit("joined")
        except PresenceError as error:
            emit("join_error", condition=error.condition)
        try:
            await self["xep_0313"].retrieve(jid=self.room, timeout=10)
            emit("archive_read")
        except IqError as error:
            emit("archive_error", condition=error.condition)

    async def converse(self):
        _own, subject, presences, _history = await self["xep_0045"].join_muc_wait(
            self.room, self.nick, maxstanzas=0, timeout=10
        )
        emit(
            "joined",
            occupants=sorted(str(p["from"].resource) for p in presences),
            subject=str(subject["subject"]),
            affiliation=self["xep_0045"].get_jid_property(self.room, self.nick, "affiliation"),
        )
        self.send_message(mto=self.room, mbody=self.body, mtype="groupchat")
        await asyncio.wait_for(self.heard.wait(), 15)
        result = await self["xep_0313"].retrieve(jid=self.room, timeout=10)
        bodies = [
            str(message["mam_result"]["forwarded"]["stanza"]["body"])
            for message in result["mam"]["results"]
        ]
        emit("archive", bodies=bodies)
        self["xep_0045"].leave_muc(self.room, self.nick)
        await asyncio.sleep(0.2)

    def on_groupchat(self, message):
        if message["mucnick"] != self.nick and message["body"]:
            emit(
                "groupchat",
                nick=str(message["mucnick"]),
                body=str(message["body"]),
                stanza_id=str(message["stanza_id"]["id"]),
            )
            self.heard.set()


def main():
    debug_logging()
    jid, password, host, port, room, nick, body, mode = sys.argv[1:9]
    client = Occupant(jid, password, room, nick, body, mode)
    client.register_plugin("xep_0359")
    client.add_event_handler("disconnected", lambda _: client.loop.stop())
    client.connect(address=(host, int(port)), force_starttls=True, disable_starttls=False)
    client.loop.call_later(40, client.loop.stop)
    client.loop.run_forever()
    emit("done")


if __name__ == "__main__":
    main()
