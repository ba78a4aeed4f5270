"""What another process commits (a `dashboard cdr sync` from a shell) reaches live state and
every screen by the same road as events: board, day counters, grid and a push."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.testclient import TestClient
from websockets.sync.client import connect

from dashboard.app import create_app
from dashboard.audience import EVERY_CALL
from dashboard.cdr import StoredOnly
from dashboard.events import parse_event
from dashboard.ingest import replay
from dashboard.settings import Settings
from dashboard.store import Store
from tests.conftest import (
    CALL_CONNECT,
    CALL_START,
    FakeClock,
    at_edges,
    just_finished,
    parts_of,
    send,
    sign_in,
)
from tests.servers import DashboardProcess, ThreadedServer
from tests.test_cdr import FakeCdr
from tests.waiting import wait_until


@pytest.fixture
def dashboard(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock)) as client:
        sign_in(client)
        yield client


@pytest.fixture
def shell(settings: Settings) -> Iterator[Store]:
    """Another process's connection to the same database (the command line's)."""
    store = Store.open(settings.db_path)
    yield store
    store.close()


def write_from_the_shell(
    shell: Store, settings: Settings, clock: FakeClock, record: dict[str, str]
) -> None:
    event = parse_event(
        record, tz=settings.timezone, default_host=settings.synapse_host, received_at=clock.now
    )
    asyncio.run(StoredOnly(shell).submit(event, json.dumps(record)))


def counters(client: TestClient) -> tuple[str, str]:
    page = client.get("/").text
    answered = page.split('data-counter="answered">')[1].split("<")[0]
    missed = page.split('data-counter="missed">')[1].split("<")[0]
    return answered, missed


def sweep(client: TestClient) -> None:
    client.portal.call(parts_of(client).ingestor.sweep)  # type: ignore[union-attr]


@at_edges
def test_a_call_finished_by_another_process_leaves_the_board_counted_and_pushed(
    dashboard: TestClient, shell: Store, settings: Settings, clock: FakeClock
) -> None:
    start = json.loads(CALL_START) | {"uniqueid": "5.1"}
    send(dashboard, start)
    with dashboard.websocket_connect("/ws") as viewer:
        assert "is-ringing" in viewer.receive_text()
        clock.advance(10)  # (at 23:59, a minute would be tomorrow)
        finish = just_finished(clock.now, settings.timezone, uniqueid="5.1")
        write_from_the_shell(shell, settings, clock, finish)
        sweep(dashboard)  # the sweeper's next round (every second)
        pushed = viewer.receive_text()
    assert "is-finished" in pushed and 'data-counter="answered">1<' in pushed
    assert 'data-counter="live">0<' in pushed
    assert '<article id="ext-70" class="tile is-idle"' in pushed  # its last call has ended
    assert dashboard.get("/api/calls/active").json() == {"calls": []}
    assert counters(dashboard) == ("1", "0")
    with TestClient(create_app(settings, clock=clock)) as again:  # as a restart counts it
        sign_in(again)
        assert counters(again) == ("1", "0")


def test_a_correction_from_another_process_moves_the_counters_by_what_it_changed(
    dashboard: TestClient, shell: Store, settings: Settings, clock: FakeClock
) -> None:
    missed = just_finished(
        clock.now,
        settings.timezone,
        uniqueid="6.1",
        direction="Incoming",
        disposition="NO ANSWER",
        answertime="",
        billableseconds="0",
    )
    send(dashboard, missed)
    clock.advance(settings.finished_linger_seconds + 1)
    sweep(dashboard)  # the finished call leaves the board: only the database knows it now
    assert counters(dashboard) == ("0", "1")
    answered = just_finished(
        clock.now - timedelta(seconds=settings.finished_linger_seconds + 1),
        settings.timezone,
        uniqueid="6.1",
        direction="Incoming",
    )
    write_from_the_shell(shell, settings, clock, answered)
    sweep(dashboard)
    assert counters(dashboard) == ("1", "0")
    sweep(dashboard)  # looking again changes nothing
    assert counters(dashboard) == ("1", "0")


def test_news_from_another_process_comes_before_the_next_event(
    dashboard: TestClient, shell: Store, settings: Settings, clock: FakeClock
) -> None:
    """An event right after another process's commit: both count, each once."""
    first = just_finished(clock.now, settings.timezone, uniqueid="7.1", direction="Incoming")
    write_from_the_shell(shell, settings, clock, first)
    send(dashboard, just_finished(clock.now, settings.timezone, uniqueid="7.2"))
    send(dashboard, first)  # the PBX repeats the first call's CDR: nothing new
    assert counters(dashboard) == ("2", "0")


def test_news_found_after_a_push_is_shown_after_it_and_no_viewer_reconnects(
    dashboard: TestClient, shell: Store, settings: Settings, clock: FakeClock
) -> None:
    """An event's push goes out before the look for another process's news: the news (about
    another call) follows it, on the same socket."""
    for uniqueid in ("8.1", "8.2"):
        send(dashboard, json.loads(CALL_START) | {"uniqueid": uniqueid, "number": uniqueid})
    with dashboard.websocket_connect("/ws") as viewer:
        viewer.receive_text()  # the snapshot
        clock.advance(10)
        finish = just_finished(clock.now, settings.timezone, uniqueid="8.2", number="8.2")
        write_from_the_shell(shell, settings, clock, finish)
        send(dashboard, json.loads(CALL_CONNECT) | {"uniqueid": "8.1", "number": "8.1"})
        pushed = viewer.receive_text()
        while "is-finished" not in pushed:
            pushed += viewer.receive_text()
        send(dashboard, json.loads(CALL_CONNECT) | {"uniqueid": "8.3", "number": "8.3"})
        assert 'data-number="8.3"' in viewer.receive_text()  # still connected
    assert pushed.index('data-number="8.1"') < pushed.index("is-finished")
    assert counters(dashboard) == ("1", "0")


def test_an_event_for_a_call_another_process_just_changed_is_applied_on_top_of_it(
    dashboard: TestClient, shell: Store, settings: Settings, clock: FakeClock
) -> None:
    """The news, found after the push, is about the batch's own call: the batch was applied
    to what the call no longer is. It is applied again, to the database's state, and every
    viewer reconnects to that (as after a failed commit)."""
    send(dashboard, json.loads(CALL_START) | {"uniqueid": "9.1"})
    ingestor = parts_of(dashboard).ingestor
    [key] = ingestor.live.board.live
    with ingestor.publisher.hub.subscribe(EVERY_CALL) as viewer:
        clock.advance(10)
        write_from_the_shell(
            shell, settings, clock, just_finished(clock.now, settings.timezone, uniqueid="9.1")
        )
        send(dashboard, json.loads(CALL_CONNECT) | {"uniqueid": "9.1"})  # late, after the finish
    assert viewer.evicted.is_set() and viewer.close_code == 1012
    known, stored = ingestor.known(key), ingestor.store.get_call(key)
    assert known is not None and known.status.value == "finished"
    assert stored == known == replay(ingestor.store, settings)[key]
    assert counters(dashboard) == ("1", "0")


def test_the_dashboards_own_writes_are_not_taken_for_news(
    dashboard: TestClient, settings: Settings, clock: FakeClock
) -> None:
    for n in range(3):
        send(dashboard, just_finished(clock.now, settings.timezone, uniqueid=f"8.{n}"))
    assert parts_of(dashboard).ingestor.adopt_foreign() == 0
    assert counters(dashboard) == ("3", "0")


def test_a_sync_from_the_shell_reaches_a_running_dashboards_screens(tmp_path: Path) -> None:
    """A real `dashboard serve`, and `dashboard cdr sync` run beside it: the calls the records
    finish leave the board, and every screen is told, within a couple of seconds."""
    fake = FakeCdr()
    with ThreadedServer(fake.app()) as pbx:
        server = DashboardProcess(tmp_path, SYNAPSE_URL=pbx.base_url)
        server.start()
        try:
            server.cli(
                "user", "add", "wall", "--role", "supervisor", "--password", "correct horse 1"
            )
            token = server.cli("token", "create", "wall").strip()
            headers = {"Authorization": f"Bearer {token}"}
            now = datetime.now(UTC).replace(microsecond=0)
            uniqueids = [f"{int(now.timestamp())}.{n}" for n in range(3)]
            with httpx.Client(base_url=server.base_url, headers=headers) as http:
                for uniqueid in uniqueids:
                    start = json.loads(CALL_START) | {"uniqueid": uniqueid}
                    assert http.get(
                        "/synapse/events", params={"data": json.dumps(start)}
                    ).is_success
                url = server.base_url.replace("http", "ws") + "/ws"
                with connect(url, additional_headers=headers) as viewer:
                    assert 'data-counter="live">3<' in str(viewer.recv(timeout=10))
                    utc = ZoneInfo("UTC")  # the server's PBX zone (see DashboardProcess)
                    fake.answer = [
                        just_finished(now, utc, uniqueid=uniqueid) for uniqueid in uniqueids
                    ]
                    day = now.date().isoformat()
                    out = server.cli("cdr", "sync", "--from", day, "--to", day, "--extension", "70")
                    assert "3 records: 0 calls added, 3 updated" in out
                    seen = ""
                    deadline = time.monotonic() + 3

                    def told() -> bool:
                        nonlocal seen
                        seen += str(viewer.recv(timeout=max(0.01, deadline - time.monotonic())))
                        return 'data-counter="answered">3<' in seen

                    wait_until(told, 3, "the screen to be told of the three answered calls")
                assert 'data-counter="live">0<' in seen and seen.count("is-finished") == 3
                assert http.get("/api/calls/active").json() == {"calls": []}
        finally:
            server.stop()


def test_a_user_added_from_the_shell_names_its_tile_on_every_wall(
    tmp_path: Path,
) -> None:
    server = DashboardProcess(tmp_path, DASHBOARD_EXTENSIONS="70,71")
    server.start()
    try:
        server.cli("user", "add", "wall", "--role", "supervisor", "--password", "correct horse 1")
        token = server.cli("token", "create", "wall").strip()
        url = server.base_url.replace("http", "ws") + "/ws"
        with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as viewer:
            assert 'class="tile-name"></span>' in str(viewer.recv(timeout=10))
            server.cli(
                "user", "add", "asha", "--role", "agent", "--extension", "71",
                "--password", "correct horse 2",
            )  # fmt: skip
            seen = ""

            def named() -> bool:
                nonlocal seen
                seen += str(viewer.recv(timeout=3))
                return 'class="tile-name">asha</span>' in seen

            wait_until(named, 3, "the wall to show asha's name on extension 71")
    finally:
        server.stop()
