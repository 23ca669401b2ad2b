"""Issue 13: the staff stream loses nothing across a reconnect. Its message events carry the
message id; a stream dropped in the middle of a burst of visitor messages and reopened with
the last id — on another process — replays from PostgreSQL what it missed: every message
once, in order, notes included (staff only), never another branch's conversation.

Real ``messenger serve`` processes sharing the test's PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.live.test_dashboard import build_world, visitor_a, visitor_b
from tests.support.app import RELAXED_ENV
from tests.support.dashboard import hx_post, signed_in
from tests.support.sse import SSEStream, staff_stream

pytestmark = pytest.mark.timeout(120)

BURST = 40


def _ids(stream: SSEStream) -> list[int]:
    return stream.message_ids()


async def test_a_dropped_staff_stream_reconnects_with_the_last_id_and_misses_nothing(
    live_server, db_session
):
    world = await build_world(db_session)
    first_process = live_server(**RELAXED_ENV)
    second_process = live_server(**RELAXED_ENV)
    async with (
        httpx.AsyncClient(base_url=first_process.url, timeout=10) as staff_one,
        httpx.AsyncClient(base_url=second_process.url, timeout=10) as staff_two,
        httpx.AsyncClient(base_url=first_process.url, timeout=10) as site,
    ):
        visitor = visitor_a(site, world)
        opening = await visitor.send("hello")
        conversation_id = opening["conversation_id"]
        await signed_in(staff_one, world.operator.email)
        await signed_in(staff_two, world.operator.email)
        page = await staff_one.get(f"/conversations/{conversation_id}")
        assert page.status_code == 200

        sent: list[int] = []
        gap_open = asyncio.Event()

        async def burst() -> None:
            for n in range(BURST):
                sent.append((await visitor.send(f"burst message #{n}"))["id"])
                if n == BURST // 2:
                    await gap_open.wait()  # some of the burst arrives while no stream is open

        # The page's first connection names the newest message it shows.
        params = {"conversation": conversation_id, "last_event_id": opening["id"]}
        async with staff_stream(staff_one, params) as first:
            assert first.response is not None
            assert first.response.status_code == 200
            await first.connected()
            sending = asyncio.create_task(burst())
            await first.wait_for(lambda s: len(_ids(s)) >= 5, within=15)
        # Dropped mid-burst. What it saw ends at its last id.
        seen_first = _ids(first)
        last_id = seen_first[-1]
        gap_open.set()
        # A colleague's note during the gap: staff see notes, replayed too.
        note = await hx_post(
            staff_one,
            f"/conversations/{conversation_id}/messages",
            {"body": "note written during the gap", "kind": "note", "client_msg_id": "gap-note"},
        )
        assert note.status_code == 200
        note_id = int(re.findall(r'id="msg-(\d+)"', note.text)[0])
        await sending

        # The browser's reconnect: Last-Event-ID, to whichever process answers.
        async with staff_stream(
            staff_two, {"conversation": conversation_id}, headers={"Last-Event-ID": str(last_id)}
        ) as second:
            assert second.response is not None
            assert second.response.status_code == 200
            expected = sorted([*sent, note_id])
            await second.wait_for(lambda s: seen_first + _ids(s) == expected, within=15)
            # A marker after the replay: nothing more (no duplicate) came before it.
            marker = (await visitor.send("marker"))["id"]
            await second.wait_for(lambda s: marker in _ids(s), within=10)

        everything = seen_first + _ids(second)
        assert everything == [*expected, marker]  # each once, in order
        assert len(set(everything)) == len(everything)
        replayed_html = {int(item.id): item.data for item in second.events("message") if item.id}
        assert "note written during the gap" in replayed_html[note_id]
        assert "burst message #" in replayed_html[sent[-1]]


async def test_htmx_reconnects_by_query_and_the_replay_keeps_to_the_branch(live_server, db_session):
    world = await build_world(db_session)
    server = live_server(**RELAXED_ENV)
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as staff,
        httpx.AsyncClient(base_url=server.url, timeout=10) as site,
    ):
        mine, theirs = visitor_a(site, world), visitor_b(site, world)
        a_first = await mine.send("alpha one")
        b_first = await theirs.send("beta one")
        a_later = [(await mine.send(f"alpha {n}"))["id"] for n in range(3)]
        await theirs.send("beta secret")
        await signed_in(staff, world.operator.email)

        # Another branch's conversation: 404 whatever id is named, nothing replayed.
        async with staff_stream(
            staff, {"conversation": b_first["conversation_id"], "last_event_id": 0}
        ) as refused:
            assert refused.response is not None
            assert refused.response.status_code == 404

        # htmx's extension opens a new EventSource (no header): the id in the query.
        params = {"conversation": a_first["conversation_id"], "last_event_id": a_first["id"]}
        async with staff_stream(staff, params) as stream:
            await stream.wait_for(lambda s: _ids(s) == a_later, within=10)
            await stream.past_catch_up()
            assert _ids(stream) == a_later
            assert all("beta" not in (item.data or "") for item in stream.items)
            # A replay also redraws the list once (the list may have moved meanwhile).
            assert [i.event for i in stream.items if i.event][:1] == ["list"]

        # A header of an older page (``msg-<id>``) is read the same; a bad query is a 422.
        headers = {"Last-Event-ID": f"msg-{a_later[0]}"}
        async with staff_stream(
            staff, {"conversation": a_first["conversation_id"]}, headers=headers
        ) as old_page:
            await old_page.wait_for(lambda s: _ids(s) == a_later[1:], within=10)

        for bad in ("-1", str(2**63), "x"):
            refused_query = await staff.get(
                "/dashboard/stream",
                params={"conversation": a_first["conversation_id"], "last_event_id": bad},
            )
            assert refused_query.status_code == 422  # the API's validation answer
