"""A real server killed with SIGKILL mid-traffic loses no acknowledged event and no live call."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import websockets

from dashboard.ingest import replay
from dashboard.settings import Settings
from dashboard.simulator.traffic import Traffic, event_url
from dashboard.store import Store
from tests.servers import DashboardProcess
from tests.waiting import wait_until


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DashboardProcess]:
    process = DashboardProcess(tmp_path)
    process.start()
    yield process
    process.stop()


STORM_SECONDS = 300  # the storm takes about 30 s; a sender stuck for this long is a failure


def traffic_events(calls: int) -> list[dict[str, str]]:
    """Calls as the PBX would send them now: the real server keeps the real time."""
    traffic = Traffic(seed=7)
    events: list[tuple[float, int, dict[str, str]]] = []
    start = datetime.now(UTC).replace(microsecond=0)
    for n in range(calls):
        planned = traffic.plan_call(start)
        for offset, event in traffic.call_events(planned, start, ZoneInfo("UTC")):
            events.append((n * 0.5 + offset, n, event))
    return [event for _, _, event in sorted(events, key=lambda item: item[:2])]


def test_sigkill_mid_traffic_loses_nothing_acknowledged(
    server: DashboardProcess, tmp_path: Path
) -> None:
    events = traffic_events(300)
    acknowledged: list[dict[str, str]] = []
    kill_after = len(events) // 2
    killed = threading.Event()

    def kill_when_due() -> None:
        wait_until(lambda: len(acknowledged) >= kill_after, 60, "half the events", 0.001)
        server.kill()
        killed.set()

    killer = threading.Thread(target=kill_when_due)
    killer.start()
    with httpx.Client(timeout=5) as client:
        for event in events:
            try:
                response = client.get(event_url(server.events_url, event))
            except httpx.TransportError:
                break  # the server died under us: this event was not acknowledged
            assert response.status_code == 200, response.text
            acknowledged.append(event)
    killer.join(90)
    assert killed.is_set() and kill_after <= len(acknowledged) < len(events)

    server.start()
    server.cli("user", "add", "checker", "--role", "supervisor", "--password", "correct horse 1")
    token = server.cli("token", "create", "checker").strip()
    live_after_restart = httpx.get(
        server.base_url + "/api/calls/active", headers={"Authorization": f"Bearer {token}"}
    ).json()["calls"]
    server.stop()

    store = Store.open(str(server.db_path))
    assert store.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = [(e.uniqueid, e.event) for e in store.events()]
    assert stored[: len(acknowledged)] == [(e["uniqueid"], e["event"]) for e in acknowledged]
    settings = Settings(db_path=str(server.db_path), synapse_timezone="UTC")
    recomputed = replay(store, settings)
    assert {call.key: call for call in store.all_calls()} == recomputed
    live_recomputed = sorted(c.uniqueid for c in recomputed.values() if c.is_live)
    assert sorted(c["uniqueid"] for c in live_after_restart) == live_recomputed
    assert live_recomputed, "the kill should leave calls live"


def test_a_storm_of_10000_events_through_several_sigkills(
    server: DashboardProcess, tmp_path: Path
) -> None:
    """Four senders at once; the server is killed at random moments and restarted each time.
    Every event answered 2xx is stored; the board after the last restart is the replay of the
    stored events; the database is intact."""
    events = traffic_events(3400)[:10_000]
    acknowledged: set[tuple[str, str]] = set()
    lock = threading.Lock()
    kills = 0
    rnd = random.Random(11)
    queue = list(reversed(events))

    give_up_at = time.monotonic() + STORM_SECONDS

    def send_all() -> None:
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < give_up_at:
                with lock:
                    if not queue:
                        return
                    event = queue.pop()
                # The PBX's retries of an event that was not acknowledged.
                while time.monotonic() < give_up_at:
                    try:
                        response = client.get(event_url(server.events_url, event))
                    except httpx.TransportError:
                        time.sleep(0.05)  # the server is down: wait for it, as a PBX would
                        continue
                    if response.status_code == 200:
                        with lock:
                            acknowledged.add((event["uniqueid"], event["event"]))
                        break

    senders = [threading.Thread(target=send_all) for _ in range(4)]
    for sender in senders:
        sender.start()
    while any(sender.is_alive() for sender in senders):
        assert time.monotonic() < give_up_at + 15, "the senders never finished"
        if kills < 4 and len(acknowledged) > (kills + 1) * 1800 + rnd.randrange(400):
            server.kill()
            kills += 1
            server.start()
        time.sleep(0.01)  # watching how far the storm got (the senders have a deadline)
    assert kills == 4 and len(acknowledged) == len({(e["uniqueid"], e["event"]) for e in events})

    server.cli("user", "add", "checker", "--role", "supervisor", "--password", "correct horse 1")
    token = server.cli("token", "create", "checker").strip()
    live = httpx.get(
        server.base_url + "/api/calls/active", headers={"Authorization": f"Bearer {token}"}
    ).json()["calls"]
    server.stop()

    store = Store.open(str(server.db_path))
    assert store.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = {(e.uniqueid, e.event) for e in store.events()}
    assert acknowledged <= stored
    recomputed = replay(store, Settings(db_path=str(server.db_path), synapse_timezone="UTC"))
    assert {call.key: call for call in store.all_calls()} == recomputed
    assert sorted(c["uniqueid"] for c in live) == sorted(
        c.uniqueid for c in recomputed.values() if c.is_live
    )


def test_a_shut_down_tells_viewers_to_come_back(server: DashboardProcess) -> None:
    """1012 "service restart": the htmx socket reconnects, to a fresh snapshot."""
    server.cli("user", "add", "tv", "--role", "viewer", "--password", "correct horse 1")
    token = server.cli("token", "create", "tv").strip()
    url = server.base_url.replace("http", "ws") + "/ws"

    async def watch() -> int | None:
        async with websockets.connect(
            url, additional_headers={"Authorization": f"Bearer {token}"}
        ) as viewer:
            await viewer.recv()  # the snapshot
            server.process.terminate()  # type: ignore[union-attr]
            with contextlib.suppress(websockets.ConnectionClosed):
                await asyncio.wait_for(viewer.recv(), 10)
            return viewer.close_code

    assert asyncio.run(watch()) == 1012
