"""CDR sync and reconciliation, against a PBX answering cdr.php over real HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from dashboard import calls
from dashboard.app import create_app
from dashboard.cdr import CdrSync, StoredOnly, SyncResult, Unfetched
from dashboard.cli import main
from dashboard.events import CallEvent, EventKind
from dashboard.pbx import CDRShapeError, cdr_records
from dashboard.pbxs import PBXs
from dashboard.settings import Settings
from dashboard.simulator.pbx import SimulatedPBX
from dashboard.simulator.server import create_simulator_app
from dashboard.simulator.traffic import Traffic
from dashboard.store import Store
from tests.conftest import (
    CALL_FINISH,
    CALL_START,
    FakeClock,
    Moment,
    at_edges,
    parts_of,
    pbx_time,
    sign_in,
)
from tests.servers import RawServer, ThreadedServer
from tests.waiting import wait_until

RECORD = {k: v for k, v in json.loads(CALL_FINISH).items() if k != "event"}


class FakeCdr:
    """cdr.php answering whatever the test puts in `answer`, and noting what it was asked."""

    def __init__(self) -> None:
        self.answer: Any = []
        self.asked: list[dict[str, str]] = []
        self.by_date = False  # answer only the records dated within the days asked, as a PBX

    def app(self) -> Starlette:
        async def cdr(request: Request) -> Response:
            asked = dict(request.query_params)
            self.asked.append(asked)
            if isinstance(self.answer, str):
                return PlainTextResponse(self.answer)
            if self.by_date:
                first, last = (asked[name].replace("-", "") for name in ("fromdate", "todate"))
                dated = [r for r in self.answer if first <= r["starttime"][:8] <= last]
                return JSONResponse(dated)
            return JSONResponse(self.answer)

        return Starlette(routes=[Route("/SukamAsteriskAPI/asteriskapi/cdr.php", cdr)])


@pytest.fixture
def pbx() -> Iterator[tuple[FakeCdr, ThreadedServer]]:
    fake = FakeCdr()
    with ThreadedServer(fake.app()) as server:
        yield fake, server


@pytest.fixture
def dashboard(
    settings: Settings, clock: FakeClock, pbx: tuple[FakeCdr, ThreadedServer]
) -> Iterator[TestClient]:
    wired = settings.with_changes(synapse_url=pbx[1].base_url, extensions=("70",))
    with TestClient(create_app(wired, clock=clock)) as client:
        yield client


def sync(client: TestClient, csrf: str, **form: str) -> str:
    data = {"from": "2015-05-05", "to": "2015-05-05", **form}
    response = client.post("/cdr/sync", data=data, headers={"x-csrf-token": csrf})
    assert response.status_code == 200
    return response.text


def events(client: TestClient) -> int:
    return int(parts_of(client).store.count("events"))


@pytest.mark.parametrize(
    ("payload", "count"), [([RECORD, RECORD], 2), ({"0": RECORD, "1": RECORD}, 2), ([], 0)]
)
def test_both_shapes_the_guide_allows_are_read(payload: Any, count: int) -> None:
    assert len(cdr_records(payload)) == count


@pytest.mark.parametrize("payload", ["text", 3, [1, 2], {"a": "b"}, None])
def test_any_other_shape_is_reported_not_guessed(payload: Any) -> None:
    with pytest.raises(CDRShapeError):
        cdr_records(payload)


def test_a_sync_merges_by_key_and_twice_changes_nothing(
    dashboard: TestClient, pbx: tuple[FakeCdr, ThreadedServer]
) -> None:
    fake = pbx[0]
    assert dashboard.get("/synapse/events?data=" + quote(CALL_START)).status_code == 200
    fake.answer = [RECORD, RECORD | {"uniqueid": "1430819999.1", "number": "5550100"}]
    csrf = sign_in(dashboard, "supervisor")
    first = sync(dashboard, csrf)
    assert "2 records: 1 calls added, 1 updated, 0 already known" in first
    assert fake.asked == [
        {"action": "getcdr", "extension": "70", "fromdate": "2015-05-05", "todate": "2015-05-05"}
    ]
    assert dashboard.get("/api/calls/active").json() == {"calls": []}  # the live one finished
    stored = events(dashboard)
    second = sync(dashboard, csrf)
    assert "2 records: 0 calls added, 0 updated, 2 already known" in second
    assert events(dashboard) == stored
    audit = parts_of(dashboard).audit.entries()
    assert audit[0].action == "cdr sync" and "already known" in audit[0].detail


def test_what_cannot_be_read_is_reported(
    dashboard: TestClient, pbx: tuple[FakeCdr, ThreadedServer]
) -> None:
    fake = pbx[0]
    csrf = sign_in(dashboard, "supervisor")
    fake.answer = "<html>Fatal error</html>"
    assert "cdr.php did not answer JSON" in sync(dashboard, csrf)
    fake.answer = [RECORD | {"starttime": "yesterday"}, RECORD]
    text = sync(dashboard, csrf)
    assert "1 calls added" in text and "is not a time like" in text
    agent = sign_in(dashboard, "agent")
    refused = dashboard.post(
        "/cdr/sync", data={"from": "2015-05-05"}, headers={"x-csrf-token": agent}
    )
    assert refused.status_code == 403


def test_implausible_records_are_reported_and_not_merged(
    dashboard: TestClient, pbx: tuple[FakeCdr, ThreadedServer]
) -> None:
    fake = pbx[0]
    csrf = sign_in(dashboard, "supervisor")
    fake.answer = [
        RECORD | {"uniqueid": "../calls/T70.1"},
        RECORD | {"uniqueid": "1430819361.2", "duration": "999999999"},
        RECORD | {"uniqueid": "1430819361.3", "starttime": "2199010100:00:00"},
    ]
    text = sync(dashboard, csrf)
    assert "3 records: 0 calls added, 0 updated, 0 already known; 3 problems" in text
    assert "must be 1 to 64 letters, digits" in text and "no call lasts over a day" in text
    assert events(dashboard) == 0


def test_records_holding_what_no_api_could_answer_with_are_reported_and_not_merged(
    dashboard: TestClient, pbx: tuple[FakeCdr, ThreadedServer]
) -> None:
    fake = pbx[0]
    csrf = sign_in(dashboard, "supervisor")
    records = [
        RECORD | {"uniqueid": "1430819361.4", "rate": ["TOO LARGE"]},
        RECORD | {"uniqueid": "1430819361.5", "note": "\udc80"},
    ]
    fake.answer = json.dumps(records).replace('"TOO LARGE"', "1e999")  # as a PBX might send
    text = sync(dashboard, csrf)
    assert "2 records: 0 calls added, 0 updated, 0 already known; 2 problems" in text
    assert "&#39;rate&#39; holds a number too large" in text
    assert "&#39;note&#39; is not valid Unicode text" in text
    assert events(dashboard) == 0


def test_a_live_call_stored_before_the_identity_checks_still_expires(
    settings: Settings, clock: FakeClock, pbx: tuple[FakeCdr, ThreadedServer]
) -> None:
    """An expiry names a call the dashboard holds: a uniqueid it would refuse today (stored by
    an older version) does not keep it, and every call after it, live forever."""
    wired = settings.with_changes(synapse_url=pbx[1].base_url)
    old = CallEvent(EventKind.START, "192.168.1.51", "../calls/T70.1", clock(), extension="70")
    store = Store.open(wired.db_path)
    store.record_event(clock(), "CallStart", "{}", calls.apply(None, old))
    store.close()
    with TestClient(create_app(wired, clock=clock)) as client:
        reconciler = parts_of(client).reconciler
        clock.advance(5 * 3600)

        async def reconcile() -> int:
            return int(await reconciler.reconcile(clock.now, timedelta(0), timedelta(hours=4)))

        assert client.portal.call(reconcile) == 1  # type: ignore[union-attr]
        expired = parts_of(client).store.get_call(old.key)
        assert expired is not None
        assert (expired.status.value, expired.disposition) == ("finished", "expired")


@at_edges
def test_live_calls_with_no_news_are_reconciled_then_expired(
    dashboard: TestClient, pbx: tuple[FakeCdr, ThreadedServer], clock: FakeClock
) -> None:
    fake = pbx[0]
    lost = json.loads(CALL_START) | {"uniqueid": "9.1", "direction": "Incoming"}
    in_cdr = json.loads(CALL_START) | {"uniqueid": "9.2"}
    for event in (lost, in_cdr):
        assert dashboard.get("/synapse/events?data=" + quote(json.dumps(event))).status_code == 200
    fake.answer = [RECORD | {"uniqueid": "9.2"}]
    cdr = parts_of(dashboard).reconciler

    def reconcile() -> int:
        async def run() -> int:
            return int(await cdr.reconcile(clock.now, timedelta(minutes=30), timedelta(hours=4)))

        return int(dashboard.portal.call(run))  # type: ignore[union-attr]

    clock.advance(10 * 60)
    assert reconcile() == 0  # too early to ask
    clock.advance(25 * 60)
    assert reconcile() == 1  # the CDR had 9.2
    sign_in(dashboard, "supervisor")
    assert [c["uniqueid"] for c in dashboard.get("/api/calls/active").json()["calls"]] == ["9.1"]
    clock.advance(4 * 3600)
    assert reconcile() == 1  # nowhere, and old: expired
    expired = dashboard.get("/api/calls/9.1").json()
    assert (expired["status"], expired["disposition"], expired["answered"], expired["missed"]) == (
        "finished",
        "expired",
        False,
        False,
    )


def test_the_command_line_sync(
    pbx: tuple[FakeCdr, ThreadedServer],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, server = pbx
    fake.answer = {"a": RECORD}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DASHBOARD_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("SYNAPSE_URL", server.base_url)
    args = ["cdr", "sync", "--from", "2015-05-05", "--to", "2015-05-06", "--extension", "70"]
    assert main(args) == 0
    assert main(args) == 0
    out = capsys.readouterr().out
    assert (
        "1 records: 1 calls added" in out
        and "1 records: 0 calls added, 0 updated, 1 already" in out
    )


@at_edges
def test_events_lost_on_the_way_come_back_from_the_simulators_cdr(
    settings: Settings, clock: FakeClock
) -> None:
    lost: list[dict[str, str]] = []

    async def drop(event: dict[str, str]) -> None:
        lost.append(event)  # the dashboard never hears of these

    pbx = SimulatedPBX(
        drop, tz=settings.timezone, traffic=Traffic(seed=2, host="192.168.1.51"), clock=clock
    )
    with ThreadedServer(create_simulator_app(pbx, ["127.0.0.1"])) as server:
        params = {"extension": "70", "number": "9876543210", "ring": "0.05", "talk": "0.05"}
        rung = httpx.post(server.base_url + "/simulator/ring", params=params).json()
        deadline = time.monotonic() + 5
        while not any(e["event"] == "CallFinish" for e in lost):
            assert time.monotonic() < deadline, "the simulated call never finished"
            time.sleep(0.01)  # polling a condition (the simulated call ending), with a deadline
        wired = settings.with_changes(synapse_url=server.base_url, extensions=("70",))
        with TestClient(create_app(wired, clock=clock)) as client:
            csrf = sign_in(client, "supervisor")
            today = lost[-1]["starttime"][:8]
            day = f"{today[:4]}-{today[4:6]}-{today[6:]}"
            assert "1 records: 1 calls added" in sync(client, csrf, **{"from": day, "to": day})
            call = client.get(f"/api/calls/{rung['uniqueid']}").json()
            assert (call["status"], call["disposition"], call["extension"]) == (
                "finished",
                "answered",
                "70",
            )
            refused = httpx.get(
                server.base_url + "/SukamAsteriskAPI/asteriskapi/cdr.php",
                params={"action": "getcdr"},
            )
            assert refused.status_code == 400


@at_edges
def test_reconciliation_asks_once_in_a_while_and_recent_news_keeps_a_call(
    dashboard: TestClient, pbx: tuple[FakeCdr, ThreadedServer], clock: FakeClock
) -> None:
    fake = pbx[0]
    talking = json.loads(CALL_START) | {"uniqueid": "8.1"}
    assert dashboard.get("/synapse/events?data=" + quote(json.dumps(talking))).status_code == 200
    cdr = parts_of(dashboard).reconciler

    def reconcile() -> int:
        async def run() -> int:
            return int(await cdr.reconcile(clock.now, timedelta(minutes=30), timedelta(hours=4)))

        return int(dashboard.portal.call(run))  # type: ignore[union-attr]

    clock.advance(31 * 60)
    assert reconcile() == 0 and len(fake.asked) == 1
    for _ in range(10):  # every minute, as the app does: the PBX is not asked again yet
        clock.advance(60)
        reconcile()
    assert len(fake.asked) == 1
    clock.advance(3 * 3600)  # 3 h 40 min with no news... then a transfer: news
    moved = talking | {"extension": "46"}
    assert dashboard.get("/synapse/events?data=" + quote(json.dumps(moved))).status_code == 200
    clock.advance(30 * 60)  # 4 h 10 min since it started, but 30 min since its last news
    assert reconcile() == 0
    sign_in(dashboard, "supervisor")
    assert [c["uniqueid"] for c in dashboard.get("/api/calls/active").json()["calls"]] == ["8.1"]


@at_edges
@pytest.mark.parametrize(
    "pbx_clock_off_by", [timedelta(hours=3), timedelta(hours=-3)], ids=["ahead", "behind"]
)
def test_a_live_call_is_looked_up_from_the_day_before_to_the_day_after(
    dashboard: TestClient,
    pbx: tuple[FakeCdr, ThreadedServer],
    clock: FakeClock,
    moment: Moment,
    pbx_clock_off_by: timedelta,
) -> None:
    """The PBX dates its records by its own clock: hours off, or a call that crosses midnight,
    files the record under another day than the one the dashboard saw the call start on."""
    fake = pbx[0]
    fake.by_date = True
    start = json.loads(CALL_START) | {"uniqueid": "7.1"}
    assert dashboard.get("/synapse/events?data=" + quote(json.dumps(start))).status_code == 200
    at_pbx = clock.now + pbx_clock_off_by
    fake.answer = [
        RECORD
        | {
            "uniqueid": "7.1",
            "starttime": pbx_time(at_pbx, moment.tz),
            "answertime": pbx_time(at_pbx + timedelta(seconds=8), moment.tz),
            "endtime": pbx_time(at_pbx + timedelta(seconds=15), moment.tz),
        }
    ]
    clock.advance(31 * 60)
    cdr = parts_of(dashboard).reconciler

    async def reconcile() -> int:
        return int(await cdr.reconcile(clock.now, timedelta(minutes=30), timedelta(hours=4)))

    assert dashboard.portal.call(reconcile) == 1  # type: ignore[union-attr]
    day = moment.today
    assert [(a["fromdate"], a["todate"]) for a in fake.asked] == [
        ((day - timedelta(days=1)).isoformat(), (day + timedelta(days=1)).isoformat())
    ]
    sign_in(dashboard, "supervisor")
    call = dashboard.get("/api/calls/7.1").json()
    assert (call["status"], call["disposition"]) == ("finished", "answered")


# -- a PBX that hangs: the deadline, and a few extensions at a time --------------------------

DAY = date(2015, 5, 5)
Answer = Callable[[str], Awaitable[httpx.Response]]


def cdr_transport(answer: Answer) -> httpx.MockTransport:
    """cdr.php in process: `answer(extension)` says what the PBX does for that extension."""

    async def handle(request: httpx.Request) -> httpx.Response:
        return await answer(request.url.params["extension"])

    return httpx.MockTransport(handle)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(str(tmp_path / "cdr.db"))
    yield opened
    opened.close()


def cdr_sync(
    store: Store, settings: Settings, clock: FakeClock, answer: Answer, **options: Any
) -> CdrSync:
    client = httpx.AsyncClient(transport=cdr_transport(answer))
    pbxs = PBXs(
        settings.pbxs,
        client,
        timeout=5,
        hosts_listed=bool(settings.pbx_configs),
        clock=clock,
    )
    return CdrSync(StoredOnly(store), store, pbxs, settings, clock, **options)


class HungPbx:
    """Answers some extensions at once (records, an error, garbage, a refused connection)
    and never answers the others; notes who was asked, and when all but the hung answered."""

    def __init__(self, hung: set[str], answered_before_deadline: int) -> None:
        self.hung = hung
        self.asked: list[str] = []
        self.answered = 0
        self.answered_before_deadline = answered_before_deadline
        self.all_answered = asyncio.Event()
        self.deadlines: list[float] = []

    async def answer(self, extension: str) -> httpx.Response:
        self.asked.append(extension)
        if extension in self.hung:
            await anyio.sleep_forever()
        self.answered += 1
        if self.answered == self.answered_before_deadline:
            self.all_answered.set()
        if extension == "72":
            return httpx.Response(500, text="PHP Fatal error")
        if extension == "73":
            return httpx.Response(200, text="<html>Fatal error</html>")
        if extension == "74":
            raise httpx.ConnectError("Connection refused")
        return httpx.Response(200, json=[RECORD | {"extension": extension}])

    async def deadline_passes(self, seconds: float) -> None:
        """The injected wait for the deadline: it 'passes' once the others have answered."""
        self.deadlines.append(seconds)
        await self.all_answered.wait()


async def test_a_hung_extension_is_given_up_at_the_deadline_and_the_rest_is_merged(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    pbx = HungPbx(hung={"71"}, answered_before_deadline=4)
    sync = cdr_sync(store, settings, clock, pbx.answer, sleep=pbx.deadline_passes)
    result = await sync.sync(DAY, DAY, ["70", "71", "72", "73", "74"])
    shown = "The PBX at http://192.168.1.51"
    assert result == SyncResult(
        DAY,
        DAY,
        asked=5,
        fetched=1,
        added=1,
        added_starts=[datetime(2015, 5, 5, 15, 19, 21, tzinfo=ZoneInfo("Asia/Kolkata"))],
        unfetched=[
            Unfetched(
                "71",
                "timeout",
                f"{shown} did not send the records within 20 s (DASHBOARD_CDR_SYNC_SECONDS)",
                "synapse",
            ),
            Unfetched("72", "refused", f"{shown} refused cdr.php: HTTP 500", "synapse"),
            Unfetched(
                "73",
                "unreadable",
                "The PBX's answer could not be read: cdr.php did not answer JSON",
                "synapse",
            ),
            Unfetched(
                "74",
                "unreachable",
                "Could not reach the PBX at http://192.168.1.51: Connection refused",
                "synapse",
            ),
        ],
    )
    assert pbx.deadlines == [20.0]  # DASHBOARD_CDR_SYNC_SECONDS's default
    assert sorted(pbx.asked) == ["70", "71", "72", "73", "74"]
    merged = store.get_call(("192.168.1.51", RECORD["uniqueid"]))
    assert merged is not None and (merged.status.value, merged.extension) == ("finished", "70")
    assert result.summary() == (
        "1 records: 1 calls added, 0 updated, 0 already known; 4 of 5 extensions not fetched"
    )
    assert result.not_fetched()[0] == (
        f"Not fetched: extension 71, 2015-05-05: {shown} did not send the records within 20 s"
        " (DASHBOARD_CDR_SYNC_SECONDS)"
    )


async def test_extensions_still_waiting_their_turn_at_the_deadline_are_named_too(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    pbx = HungPbx(hung={"70", "71"}, answered_before_deadline=0)

    async def deadline_once_the_first_is_asked(seconds: float) -> None:
        while not pbx.asked:
            await asyncio.sleep(0)  # a turn of the loop for the first fetch to start: no time
        pbx.deadlines.append(seconds)

    wired = settings.with_changes(cdr_sync_seconds=3.0)
    sync = cdr_sync(
        store, wired, clock, pbx.answer, sleep=deadline_once_the_first_is_asked, fetches_at_once=1
    )
    result = await sync.sync(DAY, DAY + timedelta(days=1), ["70", "71", "72"])
    assert (pbx.asked, pbx.deadlines) == (["70"], [3.0])
    assert result.not_fetched() == [
        "Not fetched: extension 70, 2015-05-05 to 2015-05-06: The PBX at http://192.168.1.51"
        " did not send the records within 3 s (DASHBOARD_CDR_SYNC_SECONDS)",
        "Not fetched: extensions 71, 72, 2015-05-05 to 2015-05-06: Not asked: the PBX at"
        " http://192.168.1.51 was slow, and the 3 s (DASHBOARD_CDR_SYNC_SECONDS) ran out first",
    ]
    assert (result.fetched, store.count("calls")) == (0, 0)


async def test_a_few_extensions_are_fetched_at_once_never_more(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    extensions = [str(n) for n in range(40, 50)]
    in_flight, most, started = 0, 0, 0

    async def answer(extension: str) -> httpx.Response:
        nonlocal in_flight, most, started
        in_flight += 1
        started += 1
        most = max(most, in_flight)
        for _ in range(100):  # turns of the loop for the others to start too, if they may
            if in_flight >= 4 or started == len(extensions):
                break
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200, json=[RECORD | {"extension": extension, "uniqueid": extension}])

    result = await cdr_sync(store, settings, clock, answer).sync(DAY, DAY, extensions)
    assert (most, started, result.added, result.unfetched) == (4, 10, 10, [])


def test_the_button_answers_by_its_deadline_with_what_it_merged_and_what_it_could_not(
    settings: Settings, clock: FakeClock
) -> None:
    async def answer(extension: str) -> httpx.Response:
        if extension == "71":
            await anyio.sleep_forever()  # a hung PBX
        return httpx.Response(200, json=[RECORD])

    wired = settings.with_changes(extensions=("70", "71"), cdr_sync_seconds=1.0)
    with TestClient(create_app(wired, clock=clock, pbx_transport=cdr_transport(answer))) as client:
        text = sync(client, sign_in(client, "supervisor"))
        assert (
            "1 records: 1 calls added, 0 updated, 0 already known; 1 of 2 extensions not fetched"
            " — Not fetched: extension 71, 2015-05-05: The PBX at http://192.168.1.51 did not"
            " send the records within 1 s (DASHBOARD_CDR_SYNC_SECONDS)"
        ) in text
        assert "is-error" in text
        call = client.get(f"/api/calls/{RECORD['uniqueid']}").json()
        assert (call["status"], call["extension"]) == ("finished", "70")
        audit = parts_of(client).audit.entries()[0]
        assert (audit.action, audit.detail) == (
            "cdr sync",
            "1 records: 1 calls added, 0 updated, 0 already known; 1 of 2 extensions not fetched",
        )


def test_the_command_line_sync_reports_a_hung_pbx_by_its_deadline(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DASHBOARD_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("DASHBOARD_CDR_SYNC_SECONDS", "0.2")
    args = ["cdr", "sync", "--from", "2015-05-05", "--to", "2015-05-05", "--extension", "70"]
    with RawServer(None) as hung:  # takes the connection, never answers
        monkeypatch.setenv("SYNAPSE_URL", hung.base_url)
        assert main(args) == 1
    out, err = capsys.readouterr()
    assert (
        out
        == "0 records: 0 calls added, 0 updated, 0 already known; 1 of 1 extensions not fetched\n"
    )
    assert err == (
        f"  Not fetched: extension 70, 2015-05-05: The PBX at {hung.base_url} did not send the"
        " records within 0.2 s (DASHBOARD_CDR_SYNC_SECONDS)\n"
    )


def test_one_fetch_from_the_button_at_a_time(settings: Settings, clock: FakeClock) -> None:
    release = threading.Event()

    async def answer(extension: str) -> httpx.Response:
        while not release.is_set():
            await anyio.sleep(0.01)  # a slow PBX, until the test has tried a second fetch
        return httpx.Response(200, json=[])

    wired = settings.with_changes(extensions=("70",), cdr_sync_seconds=30.0)
    with TestClient(create_app(wired, clock=clock, pbx_transport=cdr_transport(answer))) as client:
        csrf = sign_in(client, "supervisor")
        first: list[str] = []
        running = threading.Thread(target=lambda: first.append(sync(client, csrf)))
        running.start()
        try:
            wait_until(parts_of(client).cdr.asked_by_hand.locked, 10, "the first fetch")
            assert "A fetch from the PBX is already under way" in sync(client, csrf)
        finally:
            release.set()
            running.join(10)
        assert "0 records" in first[0]
