"""Changes made through the integration API reach the visitor's widget stream and the staff
stream at once, over real sockets of a live ``messenger serve`` process; notes never reach
the widget."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import A_ORIGIN, Api, build_api_world
from tests.support.app import RELAXED_ENV
from tests.support.dashboard import Visitor, signed_in
from tests.support.sse import SSEStream, staff_stream

pytestmark = pytest.mark.timeout(90)


async def test_api_reply_note_and_status_reach_the_widget_and_staff_live(live_server, db_session):
    world = await build_api_world(db_session)
    server = live_server(**RELAXED_ENV)
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as site,
        httpx.AsyncClient(base_url=server.url, timeout=10) as staff,
        httpx.AsyncClient(base_url=server.url, timeout=10) as crm,
    ):
        visitor = Visitor(site, world.inbox_a.widget_token, A_ORIGIN)
        cid = str((await visitor.send("hello, anyone?"))["conversation_id"])
        await signed_in(staff, world.anna.email)
        api = Api(crm, world.a)
        async with (
            SSEStream(site, headers=visitor.headers()) as widget,
            staff_stream(staff, {"conversation": cid}) as desk,
        ):
            assert widget.response is not None
            assert widget.response.status_code == 200
            await widget.connected()
            await desk.wait_for(lambda s: "connected" in s.comments())

            note = {"body": "VIP customer, internal", "kind": "note", "client_msg_id": "n-1"}
            reply = {"body": "Hello from the CRM", "client_msg_id": "r-1"}
            assert (await api.post(f"/conversations/{cid}/messages", note)).status_code == 201
            sent = await api.post(f"/conversations/{cid}/messages", reply)
            assert sent.status_code == 201, sent.text

            await widget.wait_for(
                lambda s: any(m["body"] == "Hello from the CRM" for m in s.messages())
            )
            got = next(m for m in widget.messages() if m["body"] == "Hello from the CRM")
            assert got["id"] == sent.json()["id"]
            assert got["author"] == {"name": "CRM Alpha"}
            # The note was committed before the reply; the widget got the reply, never the note.
            assert all("VIP customer" not in (item.data or "") for item in widget.items)

            await desk.wait_for(
                lambda s: any("Hello from the CRM" in (i.data or "") for i in s.events("message"))
            )
            staff_html = " ".join(i.data or "" for i in desk.events("message"))
            assert "VIP customer, internal" in staff_html
            assert "CRM Alpha" in staff_html

            changed = await api.patch(f"/conversations/{cid}", {"status": "resolved"})
            assert changed.status_code == 200
            await widget.wait_for(
                lambda s: (
                    {"conversation_id": cid, "status": "resolved"}
                    in [i.json() for i in s.events("status")]
                )
            )
