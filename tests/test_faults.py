"""A PBX gone bad (slow, down, answering 500 or garbage, losing events): the person is told
clearly within the timeout, the board keeps updating, and lost CallFinish events come back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.settings import Settings
from dashboard.simulator.pbx import SimulatedPBX
from dashboard.simulator.server import create_simulator_app
from dashboard.simulator.traffic import Traffic
from tests.conftest import CALL_START, FakeClock, Moment, at_edges, parts_of, sign_in
from tests.servers import ThreadedServer

SENT: list[dict[str, str]] = []


async def record(event: dict[str, str]) -> None:
    SENT.append(event)


@pytest.fixture
def pbx(moment: Moment, clock: FakeClock) -> Iterator[ThreadedServer]:
    """The simulator on the dashboard's clock and in its zone: both agree on the time."""
    SENT.clear()
    simulator = SimulatedPBX(
        record, tz=moment.tz, traffic=Traffic(seed=5, host="192.168.1.51"), clock=clock
    )
    with ThreadedServer(create_simulator_app(simulator, ["127.0.0.1"])) as server:
        yield server


@pytest.fixture
def dashboard(settings: Settings, clock: FakeClock, pbx: ThreadedServer) -> Iterator[TestClient]:
    wired = settings.with_changes(synapse_url=pbx.base_url, pbx_timeout_seconds=0.5)
    with TestClient(create_app(wired, clock=clock)) as client:
        yield client


def misbehave(pbx: ThreadedServer, **params: str) -> None:
    assert httpx.post(pbx.base_url + "/simulator/faults", params=params).status_code == 200


def originate(client: TestClient, csrf: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = client.post(
        "/api/originate",
        json={"extension": "70", "number": "9876543210"},
        headers={"x-csrf-token": csrf},
    )
    return response.status_code, response.json(), time.monotonic() - started


@pytest.mark.parametrize(
    ("mode", "status", "error", "words"),
    [
        ("slow", 504, "pbx_timeout", "did not answer in 0.5 s"),
        ("error", 502, "pbx_refused", "HTTP 500 PHP Fatal error"),
        ("garbage", 502, "pbx_unreachable", "Could not reach the PBX"),
    ],
)
def test_a_misbehaving_pbx_is_a_clear_error_within_the_timeout_and_the_board_goes_on(
    dashboard: TestClient, pbx: ThreadedServer, mode: str, status: int, error: str, words: str
) -> None:
    csrf = sign_in(dashboard, "supervisor")
    misbehave(pbx, mode=mode, delay="5")
    code, body, took = originate(dashboard, csrf)
    assert (code, body["error"]) == (status, error)
    assert words in body["detail"] and took < 2
    assert dashboard.get("/synapse/events?data=" + quote(CALL_START)).status_code == 200
    assert [c["uniqueid"] for c in dashboard.get("/api/calls/active").json()["calls"]] == [
        "1430819361.25418"
    ]
    misbehave(pbx, mode="ok")
    assert originate(dashboard, csrf)[0] == 200


@at_edges
def test_events_the_pbx_loses_are_reconciled_from_its_records(
    dashboard: TestClient, pbx: ThreadedServer, clock: FakeClock
) -> None:
    misbehave(pbx, drop="1")  # every event from now on is lost on the way
    rung = httpx.post(
        pbx.base_url + "/simulator/ring",
        params={"extension": "70", "number": "9812345678", "ring": "0.05", "talk": "0.05"},
    ).json()
    deadline = time.monotonic() + 5
    while rung["uniqueid"] not in [c["uniqueid"] for c in pbx_cdr(pbx)]:
        assert time.monotonic() < deadline, "the simulated call never finished"
        time.sleep(0.01)  # polling a condition (the call ending at the PBX), with a deadline
    assert SENT == []
    # The dashboard saw the CallStart by another road (say, before the PBX went bad).
    start = json.loads(CALL_START) | {"uniqueid": rung["uniqueid"], "extension": "70"}
    assert dashboard.get("/synapse/events?data=" + quote(json.dumps(start))).status_code == 200
    clock.advance(31 * 60)
    sync = parts_of(dashboard).reconciler

    async def reconcile() -> int:
        return int(await sync.reconcile(clock.now, timedelta(minutes=30), timedelta(hours=4)))

    assert dashboard.portal.call(reconcile) == 1  # type: ignore[union-attr]
    sign_in(dashboard, "supervisor")
    call = dashboard.get(f"/api/calls/{rung['uniqueid']}").json()
    assert (call["status"], call["disposition"]) == ("finished", "answered")


def pbx_cdr(pbx: ThreadedServer) -> list[dict[str, str]]:
    """What the PBX's cdr.php holds for extension 70, whatever the day."""
    params = {
        "action": "getcdr",
        "extension": "70",
        "fromdate": "2000-01-01",
        "todate": "2100-01-01",
    }
    records: list[dict[str, str]] = httpx.get(
        pbx.base_url + "/SukamAsteriskAPI/asteriskapi/cdr.php", params=params
    ).json()
    return records


def test_a_pbx_that_is_down(dashboard: TestClient, pbx: ThreadedServer) -> None:
    csrf = sign_in(dashboard, "supervisor")
    pbx.__exit__()
    code, body, took = originate(dashboard, csrf)
    assert (code, body["error"]) == (502, "pbx_unreachable") and took < 2
    assert "Could not reach the PBX at http://127.0.0.1:" in body["detail"]
