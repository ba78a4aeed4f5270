"""The ingest pipeline inside a running app: group commit, counters, the day's rollover."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.audience import EVERY_CALL
from dashboard.fragments import Fragments, make_environment
from dashboard.hub import Hub
from dashboard.ingest import Accepted, assemble, replay
from dashboard.settings import Settings
from dashboard.store import Store
from tests.conftest import (
    CALL_CONNECT,
    CALL_START,
    FakeClock,
    Moment,
    at_edges,
    just_finished,
    parts_of,
    send,
    sign_in,
)
from tests.test_calls import CONNECT, FINISH, START

CONNECTED = json.loads(CALL_CONNECT)


def test_one_bad_event_in_a_batch_does_not_spoil_the_others(client: TestClient) -> None:
    ingestor = parts_of(client).ingestor
    good = replace(START, uniqueid="good.1")
    unstorable = replace(START, uniqueid="bad.1", extra={"x": object()})

    async def both() -> list[Any]:
        futures = [ingestor.submit(good, "{}"), ingestor.submit(unstorable, "{}")]
        return await asyncio.gather(*futures, return_exceptions=True)

    stored, refused = client.portal.call(both)  # type: ignore[union-attr]
    assert isinstance(stored, Accepted) and stored.call.uniqueid == "good.1"
    assert isinstance(refused, TypeError)
    assert [c.uniqueid for c in ingestor.store.all_calls()] == ["good.1"]
    assert list(ingestor.live.board.live) == [("192.168.1.51", "good.1")]


def today_finish(clock: FakeClock, settings: Settings, **fields: str) -> dict[str, str]:
    """An incoming call's CDR: it ended now, today at the PBX."""
    return just_finished(clock.now, settings.timezone, direction="Incoming") | fields


def counters(client: TestClient) -> tuple[int, int, str]:
    page = client.get("/").text
    answered = int(page.split('data-counter="answered">')[1].split("<")[0])
    missed = int(page.split('data-counter="missed">')[1].split("<")[0])
    average = page.split('data-counter="average-talk">')[1].split("<")[0]
    return answered, missed, average


@at_edges
def test_a_corrected_cdr_moves_the_counters_by_what_it_changed(
    settings: Settings, clock: FakeClock
) -> None:
    missed = today_finish(
        clock, settings, disposition="NO ANSWER", answertime="", billableseconds="0"
    )
    with TestClient(create_app(settings, clock=clock)) as client:
        sign_in(client)
        send(client, missed)
        send(client, missed)
        assert counters(client) == (0, 1, "-")
        send(client, today_finish(clock, settings))  # the PBX's corrected record
        assert counters(client) == (1, 0, "0:07")
    with TestClient(create_app(settings, clock=clock)) as client:  # the same after a restart
        sign_in(client)
        assert counters(client) == (1, 0, "0:07")


@at_edges
def test_at_midnight_the_counters_start_again_and_are_pushed(
    client: TestClient, clock: FakeClock, settings: Settings, moment: Moment
) -> None:
    send(client, today_finish(clock, settings))
    sweep = parts_of(client).ingestor.sweep
    midnight = datetime.combine(moment.today + timedelta(days=1), time(), moment.tz)
    with client.websocket_connect("/ws") as viewer:
        assert 'data-counter="answered">1<' in viewer.receive_text()
        clock.now = midnight.astimezone(UTC) - timedelta(microseconds=1)
        client.portal.call(sweep)  # type: ignore[union-attr]
        gone = viewer.receive_text()  # the finished call's time on the board is up: no more
        assert gone.endswith('hx-swap-oob="delete"></div>') and "counters" not in gone
        sign_in(client)  # a day on, the session has run out
        assert 'data-counter="answered">1<' in client.get("/").text  # still today
        clock.now = midnight.astimezone(UTC)
        client.portal.call(sweep)  # type: ignore[union-attr]
        pushed = viewer.receive_text()
        assert (
            pushed.startswith('<section id="counters"') and 'data-counter="answered">0<' in pushed
        )


def test_an_event_the_parser_trips_on_is_refused_and_kept(client: TestClient) -> None:
    ingestor = parts_of(client).ingestor
    ingestor.settings = ingestor.settings.with_changes(synapse_url="http://[")  # a broken host
    response = client.get(
        "/synapse/events?data=" + quote(CALL_START, safe="").replace("asteriskhost", "x")
    )
    assert response.status_code == 422 and response.json()["error"] == "bad_value"
    assert [r["reason"] for r in ingestor.store.rejected.all()] == ["bad_value"]


def test_a_batch_is_pushed_in_one_message_each_call_rendered_once(client: TestClient) -> None:
    """A burst (one group commit) costs one render per changed call, not per event."""
    ingestor = parts_of(client).ingestor
    hub = ingestor.publisher.hub
    other = replace(START, uniqueid="other.1", number="9845011111")

    async def burst() -> list[str]:
        with hub.subscribe(EVERY_CALL) as viewer:
            await asyncio.gather(
                ingestor.submit(START, "{}"),
                ingestor.submit(CONNECT, "{}"),
                ingestor.submit(other, "{}"),
            )
            return await viewer.next_batch()

    [message] = client.portal.call(burst)  # type: ignore[union-attr]
    assert message.count('id="counters"') == 1
    assert message.count('<article id="call-') == 2  # START and its CallConnect: once
    assert message.count("afterbegin:#live-calls") == 2  # both new to the board
    assert "Talking" in message and "Ringing" in message  # the first call as it is now


def test_a_failed_commit_takes_back_what_viewers_were_shown(client: TestClient) -> None:
    """The push goes out before the commit: if the commit fails, the board is reloaded from
    the database and every viewer reconnects to it (1012); the PBX gets a 503."""
    ingestor = parts_of(client).ingestor
    send(client, json.loads(CALL_START))
    [key] = ingestor.live.board.live
    events_before = ingestor.store.db["events"].count

    with ingestor.publisher.hub.subscribe(EVERY_CALL) as viewer:
        ingestor.store.db.execute("PRAGMA query_only = ON")  # every write now fails
        try:
            response = client.get("/synapse/events?data=" + quote(json.dumps(CONNECTED)))
        finally:
            ingestor.store.db.execute("PRAGMA query_only = OFF")
    assert response.status_code == 503
    assert viewer.evicted.is_set() and viewer.close_code == 1012
    assert ingestor.live.board.live[key].status.value == "ringing"  # as stored, not as shown
    assert ingestor.store.db["events"].count == events_before
    send(client, CONNECTED)  # the PBX sends it again: now it is stored and shown
    assert ingestor.live.board.live[key].status.value == "connected"


def test_a_callstart_sent_again_for_a_call_gone_from_the_board_leaves_it_as_stored(
    client: TestClient, settings: Settings, clock: FakeClock
) -> None:
    """A CallStart of a call not on the board is pushed as a new call's, the database read
    only after the push: it holds the call (finished, and gone from the board), so the call
    stays as stored and every viewer reconnects to the board as it is."""
    ingestor = parts_of(client).ingestor
    send(client, today_finish(clock, settings, uniqueid="3.1"))
    key = ("192.168.1.51", "3.1")
    clock.advance(settings.finished_linger_seconds + 1)
    client.portal.call(ingestor.sweep)  # type: ignore[union-attr]
    assert ingestor.live.board.get(key) is None
    finished = ingestor.store.get_call(key)
    assert finished is not None and finished.status.value == "finished"

    with ingestor.publisher.hub.subscribe(EVERY_CALL) as viewer:
        send(client, json.loads(CALL_START) | {"uniqueid": "3.1"})
    assert viewer.evicted.is_set() and viewer.close_code == 1012
    assert ingestor.live.board.get(key) is None
    stored = ingestor.store.get_call(key)
    assert stored == replay(ingestor.store, settings)[key]
    assert stored is not None and stored.status.value == "finished" and stored.answered
    assert counters(client) == (1, 0, "0:07")


async def test_changes_within_a_frame_are_pushed_together_each_call_once(
    settings: Settings, clock: FakeClock
) -> None:
    store = Store.open(settings.db_path)
    env = make_environment(settings.templates_dir, settings.timezone)
    ingestor = assemble(
        settings, store, Hub(10, frame_interval=3600, frame_burst=1), Fragments(env), clock
    )
    try:
        with ingestor.publisher.hub.subscribe(EVERY_CALL) as viewer:
            await ingestor.submit(START, "{}")  # after a quiet spell: pushed at once
            assert 'data-number="9876543210"' in "".join(await viewer.next_batch())
            await ingestor.submit(CONNECT, "{}")  # within the frame: held back
            await ingestor.submit(FINISH, "{}")
            assert not viewer.backlog
            ingestor.publisher.push_now()  # as a viewer's snapshot does
            [message] = await viewer.next_batch()
            assert message.count('<article id="call-') == 1  # in its latest state
            assert "Answered" in message and message.count('id="counters"') == 1
    finally:
        store.close()


async def test_a_page_rendered_before_a_deferred_push_does_not_cut_its_grid(
    settings: Settings, clock: FakeClock
) -> None:
    """A new extension's push brings the whole grid, even if a page showed it meanwhile."""
    store = Store.open(settings.db_path)
    env = make_environment(settings.templates_dir, settings.timezone)
    ingestor = assemble(
        settings, store, Hub(10, frame_interval=3600, frame_burst=1), Fragments(env), clock
    )
    try:
        with ingestor.publisher.hub.subscribe(EVERY_CALL) as viewer:
            await ingestor.submit(START, "{}")
            await viewer.next_batch()
            await ingestor.submit(replace(START, uniqueid="new.1", extension="99"), "{}")
            ingestor.publisher.pushes.grid_html()  # someone opens the wallboard page
            ingestor.publisher.push_now()
            [message] = await viewer.next_batch()
            assert 'id="grid"' in message  # not just extension 99's tile
    finally:
        store.close()
