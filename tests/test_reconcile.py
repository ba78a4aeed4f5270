"""Calls the PBX no longer has do not haunt the board: "no such channel", a PBX back from
being down, and a supervisor's own hand each close them (never as answered, nor missed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.pbx_watch import PBXWatch
from dashboard.settings import Settings
from dashboard.simulator.pbx import SimulatedPBX
from dashboard.simulator.server import create_simulator_app
from dashboard.simulator.traffic import Traffic
from tests.conftest import CALL_FINISH, FakeClock, parts_of, pbx_time, send, sign_in
from tests.servers import ThreadedServer
from tests.waiting import wait_until


def reconcile(client: TestClient, clock: FakeClock) -> int:
    reconciler = parts_of(client).reconciler

    async def turn() -> int:
        return await reconciler.reconcile(clock.now, timedelta(minutes=30), timedelta(hours=4))

    closed: int = client.portal.call(turn)  # type: ignore[union-attr]
    return closed


def stored(client: TestClient, uniqueid: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/api/calls/{uniqueid}").json()
    return found


class Pbx:
    def __init__(self, clock: FakeClock) -> None:
        self.events: list[dict[str, str]] = []
        traffic = Traffic(seed=5, host="192.168.1.51")
        self.pbx = SimulatedPBX(self.record, tz=ZoneInfo("UTC"), traffic=traffic, clock=clock)
        self.server = ThreadedServer(create_simulator_app(self.pbx, ["127.0.0.1"]))

    async def record(self, event: dict[str, str]) -> None:
        self.events.append(event)

    def ring(self, client: TestClient, extension: str) -> dict[str, str]:
        params = {"extension": extension, "number": "9876543210", "ring": "600", "talk": "60"}
        call: dict[str, str] = httpx.post(
            self.server.base_url + "/simulator/ring", params=params
        ).json()
        wait_until(lambda: self.sent(call["uniqueid"], "CallStart"), 5, "the CallStart")
        send(client, self.sent(call["uniqueid"], "CallStart"))
        return call

    def sent(self, uniqueid: str, kind: str) -> dict[str, str]:
        return next(
            (e for e in self.events if e["uniqueid"] == uniqueid and e["event"] == kind), {}
        )


@pytest.fixture
def pbx(clock: FakeClock) -> Iterator[Pbx]:
    simulated = Pbx(clock)
    with simulated.server:
        yield simulated


def test_no_such_channel_has_the_call_looked_up_at_once(
    settings: Settings, clock: FakeClock, pbx: Pbx
) -> None:
    wired = settings.with_changes(synapse_url=pbx.server.base_url)
    with TestClient(create_app(wired, clock=clock)) as client:
        csrf = {"x-csrf-token": sign_in(client, "supervisor")}
        call = pbx.ring(client, "70")
        uid = call["uniqueid"]
        assert client.post(f"/api/calls/{uid}/hangup", headers=csrf).status_code == 200
        wait_until(lambda: pbx.sent(uid, "CallFinish"), 5, "the CallFinish")  # lost on the way
        again = client.post(f"/api/calls/{uid}/hangup", headers=csrf)
        assert (again.status_code, again.json()["error"]) == (502, "pbx_refused")
        send(
            client,
            {
                "event": "CallStart",
                "uniqueid": "9.9",
                "extension": "71",
                "hangupchannel": "SIP/71-00000009",
            },
        )  # the PBX never had it
        ghost = client.post("/api/calls/9.9/hangup", headers=csrf)
        assert "no such channel" in ghost.json()["detail"]
        assert reconcile(client, clock) == 2  # at once, not after 30 minutes
        assert (stored(client, uid)["status"], stored(client, uid)["disposition"]) == (
            "finished",
            "no_answer",  # as the PBX's records say
        )
        assert (stored(client, "9.9")["status"], stored(client, "9.9")["disposition"]) == (
            "finished",
            "lost",
        )
        assert client.get("/api/calls/active").json()["calls"] == []


class Switch:
    """A PBX that answers cdr.php while up (with the records it holds), and not while down."""

    def __init__(self) -> None:
        self.up = True
        self.records: dict[str, list[dict[str, str]]] = {}  # by extension

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("Connection refused", request=request)
        return httpx.Response(200, json=self.records.get(request.url.params["extension"], []))


def test_a_pbx_back_from_being_unreachable_has_its_calls_looked_up_at_once(
    settings: Settings, clock: FakeClock
) -> None:
    switch = Switch()
    transport = httpx.MockTransport(switch)
    with TestClient(create_app(settings, clock=clock, pbx_transport=transport)) as client:
        state = parts_of(client)
        watch = PBXWatch(
            state.pbxs, state.publisher, state.fragments, clock, None, state.reconciler
        )
        incoming = {"direction": "Incoming", "number": "9876543210"}
        started = pbx_time(clock.now, settings.timezone)
        for uniqueid, extension in (("1.1", "70"), ("1.2", "71")):
            start = {"event": "CallStart", "uniqueid": uniqueid, "extension": extension}
            send(client, start | incoming | {"starttime": started})
        clock.advance(60)
        switch.up = False  # a restart, or the network: the dashboard cannot tell
        client.portal.call(watch.check_all)  # type: ignore[union-attr]
        clock.advance(60)
        ended = (
            json.loads(CALL_FINISH)
            | incoming
            | {
                "uniqueid": "1.1",
                "extension": "70",
                "starttime": started,
                "answertime": "",
                "endtime": pbx_time(clock.now, settings.timezone),
                "disposition": "NO ANSWER",
                "billableseconds": "0",
            }
        )
        switch.records["70"] = [{k: v for k, v in ended.items() if k != "event"}]
        switch.up = True
        client.portal.call(watch.check_all)  # type: ignore[union-attr]
        assert reconcile(client, clock) == 1  # at once, not after 30 minutes
        sign_in(client, "supervisor")
        live = [call["uniqueid"] for call in client.get("/api/calls/active").json()["calls"]]
        assert live == ["1.2"]  # its PBX has no record of its end: it may still be talking
        assert stored(client, "1.1")["disposition"] == "no_answer"  # as the PBX's records say


def test_a_call_with_news_after_no_such_channel_is_not_lost(
    settings: Settings, clock: FakeClock
) -> None:
    with TestClient(
        create_app(settings, clock=clock, pbx_transport=httpx.MockTransport(Switch()))
    ) as client:
        send(client, {"event": "CallStart", "uniqueid": "1.1", "extension": "70"})
        reconciler = parts_of(client).reconciler
        live = parts_of(client).live.board.live
        reconciler.suspect(list(live.values()), "the PBX answered: no such channel")
        clock.advance(5)
        send(client, {"event": "CallConnect", "uniqueid": "1.1", "extension": "70"})
        assert reconcile(client, clock) == 0
        sign_in(client, "supervisor")
        assert stored(client, "1.1")["status"] == "connected"


def test_a_supervisor_closes_a_stale_call_by_hand(settings: Settings, clock: FakeClock) -> None:
    with TestClient(create_app(settings, clock=clock)) as client:
        send(
            client,
            {
                "event": "CallStart",
                "uniqueid": "1.1",
                "extension": "70",
                "direction": "Incoming",
                "number": "9876543210",
            },
        )
        csrf = {"x-csrf-token": sign_in(client, "agent")}
        assert client.post("/api/calls/1.1/close", headers=csrf).status_code == 403
        csrf = {"x-csrf-token": sign_in(client, "supervisor")}
        assert 'hx-post="/api/calls/1.1/close' in client.get("/calls/1.1").text
        closed = client.post("/api/calls/1.1/close", headers=csrf)
        assert closed.json() == {
            "ok": True,
            "detail": "Call closed: marked as closed by hand",
            "pbx_reply": "",
        }
        wait_until(
            lambda: stored(client, "1.1")["status"] == "finished", 5, "the call to be closed"
        )
        assert stored(client, "1.1")["disposition"] == "closed"
        assert 'hx-post="/api/calls/1.1/close' not in client.get("/calls/1.1").text
        entry = parts_of(client).audit.entries()[0]
        assert (entry.action, entry.result, entry.detail) == ("close", "ok", "closed by hand")
        assert "9876543210" not in client.get("/missed").text
        again = client.post("/api/calls/1.1/close", headers=csrf)
        assert (again.status_code, again.json()["error"]) == (409, "not_live")
