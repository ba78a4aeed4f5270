"""Many PBXs: each command and recording goes to the PBX that owns the call or the extension,
over real HTTP to two simulated PBXs, and never to the other."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote_plus
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.errors import Refusal
from dashboard.ingest import utc_now
from dashboard.pbx import Synapse
from dashboard.pbx_config import PBXConfig
from dashboard.pbx_watch import PBXWatch
from dashboard.pbxs import PBXs
from dashboard.settings import Settings
from dashboard.simulator.pbx import SimulatedPBX
from dashboard.simulator.server import create_simulator_app
from dashboard.simulator.traffic import Traffic
from tests.conftest import FakeClock, parts_of, send, sign_in
from tests.servers import ThreadedServer
from tests.waiting import wait_until

HEAD = PBXConfig(name="head-office", url="http://head", host="10.0.0.1", extensions=("70", "71"))
BRANCH = PBXConfig(name="Branch", url="http://branch", host="10.0.0.2", extensions=("46",))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with Synapse.make_client() as client:
        yield client


def names(pbxs: PBXs, *calls: tuple[str, str | None]) -> list[str]:
    found = []
    for extension, name in calls:
        try:
            found.append(pbxs.for_extension(extension, name).name)
        except Refusal as refused:
            found.append(f"{refused.status} {refused.error}: {refused.detail}")
    return found


async def test_an_extension_is_placed_on_the_pbx_that_owns_it(http: httpx.AsyncClient) -> None:
    pbxs = PBXs([HEAD, BRANCH], http, timeout=5, hosts_listed=True, clock=utc_now)
    assert names(pbxs, ("70", None), ("46", None), ("46", "branch"), ("70", "Branch")) == [
        "head-office",
        "Branch",
        "Branch",
        "422 unknown_pbx: extension 70 is not on the PBX Branch",
    ]
    assert names(pbxs, ("99", None), ("70", "nowhere")) == [
        "422 unknown_pbx: no PBX here has extension 99: name the PBX",
        "422 unknown_pbx: there is no PBX of that name (known: head-office, Branch)",
    ]
    assert [pbxs.of_host(host) for host in ("10.0.0.2", "10.0.0.9", None)] == [
        pbxs.all[1],
        None,
        None,
    ]


async def test_one_pbx_from_the_environment_owns_everything(http: httpx.AsyncClient) -> None:
    only = PBXConfig(name="synapse", url="http://pbx", host="pbx")
    pbxs = PBXs([only], http, timeout=5, hosts_listed=False, clock=utc_now)
    assert names(pbxs, ("70", None), ("12345", None)) == ["synapse", "synapse"]
    assert pbxs.of_host("anything") is pbxs.all[0]


class Site:
    def __init__(self, name: str, host: str, extensions: tuple[str, ...], clock: FakeClock) -> None:
        self.events: list[dict[str, str]] = []
        traffic = Traffic(seed=len(name), host=host)
        self.pbx = SimulatedPBX(self.record, tz=ZoneInfo("UTC"), traffic=traffic, clock=clock)
        self.server = ThreadedServer(create_simulator_app(self.pbx, ["127.0.0.1"]))
        self.name, self.host, self.extensions = name, host, extensions

    async def record(self, event: dict[str, str]) -> None:
        self.events.append(event)

    @property
    def config(self) -> PBXConfig:
        return PBXConfig(
            name=self.name, url=self.server.base_url, host=self.host, extensions=self.extensions
        )

    def commands(self) -> list[dict[str, Any]]:
        log = httpx.get(self.server.base_url + "/simulator/commands").json()["commands"]
        return [json.loads(parse_qs(entry["query"])["actiondetails"][0]) for entry in log]


@pytest.fixture
def sites(clock: FakeClock) -> Iterator[tuple[Site, Site]]:
    head, branch = (
        Site("head-office", "10.0.0.1", ("70", "71"), clock),
        Site("Branch", "10.0.0.2", ("46",), clock),
    )
    with head.server, branch.server:
        yield head, branch


def ringing(client: TestClient, site: Site, extension: str) -> dict[str, str]:
    params = {"extension": extension, "number": "9876543210", "ring": "600", "talk": "60"}
    call: dict[str, str] = httpx.post(
        site.server.base_url + "/simulator/ring", params=params
    ).json()
    wait_until(
        lambda: any(e["uniqueid"] == call["uniqueid"] for e in site.events),
        5,
        f"the CallStart of {call['uniqueid']}",
    )
    send(client, next(e for e in site.events if e["uniqueid"] == call["uniqueid"]))
    return call


def test_each_command_reaches_the_pbx_of_its_call_and_never_the_other(
    settings: Settings, clock: FakeClock, sites: tuple[Site, Site]
) -> None:
    head, branch = sites
    wired = settings.with_changes(pbx_configs=(head.config, branch.config))
    with TestClient(create_app(wired, clock=clock)) as client:
        csrf = {"x-csrf-token": sign_in(client, "supervisor")}
        at_branch = ringing(client, branch, "46")
        hung = client.post(f"/api/calls/{at_branch['uniqueid']}/hangup", headers=csrf)
        assert hung.status_code == 200, hung.text
        at_head = ringing(client, head, "70")
        moved = client.post(
            f"/api/calls/{at_head['uniqueid']}/transfer", json={"extension": "71"}, headers=csrf
        )
        assert moved.status_code == 200, moved.text
        across = client.post(  # 46 is the branch's: a transfer does not cross PBXs
            f"/api/calls/{at_head['uniqueid']}/transfer", json={"extension": "46"}, headers=csrf
        )
        assert (across.status_code, across.json()["error"]) == (422, "unknown_extension")
        for extension in ("46", "70"):
            placed = client.post(
                "/api/originate",
                json={"extension": extension, "number": "9876543210"},
                headers=csrf,
            )
            assert placed.status_code == 200, placed.text
        named = client.post(
            "/api/originate",
            json={"extension": "46", "number": "9876543211", "pbx": "head-office"},
            headers=csrf,
        )
        assert (named.status_code, named.json()["error"]) == (422, "unknown_pbx")
    assert [(c["action"], c.get("extension")) for c in branch.commands()] == [
        ("Hangup", None),
        ("Originate", "SIP/46"),
    ]
    assert [(c["action"], c.get("extension")) for c in head.commands()] == [
        ("Transfer", None),
        ("Originate", "SIP/70"),
    ]


def test_a_call_from_a_host_no_pbx_has_is_only_watched(
    settings: Settings, clock: FakeClock, sites: tuple[Site, Site]
) -> None:
    head, branch = sites
    wired = settings.with_changes(
        pbx_configs=(head.config, branch.config), allow_unknown_hosts=True
    )
    with TestClient(create_app(wired, clock=clock)) as client:
        csrf = {"x-csrf-token": sign_in(client, "supervisor")}
        send(
            client,
            {
                "event": "CallStart",
                "uniqueid": "9.1",
                "extension": "99",  # no PBX here owns it (one owned is refused: another's)
                "asteriskhost": "10.9.9.9",
                "hangupchannel": "SIP/99-1",
            },
        )
        refused = client.post("/api/calls/9.1/hangup", headers=csrf)
        assert (refused.status_code, refused.json()["error"]) == (409, "watch_only")
    assert head.commands() == branch.commands() == []


def event_from(client: TestClient, token: str, **fields: str) -> tuple[int, dict[str, Any]]:
    event = {"event": "CallStart", "extension": "70", "number": "9876543210", **fields}
    response = client.get(f"/synapse/events/{token}", params={"data": json.dumps(event)})
    return response.status_code, response.json()


def in_utc(wall: datetime, zone: str) -> str:
    return wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).isoformat()


def test_each_pbx_sends_its_own_events_and_no_other_pbxs(
    settings: Settings, clock: FakeClock
) -> None:
    head = PBXConfig(
        name="head-office",
        url="http://head",
        host="10.0.0.1",
        extensions=("70",),
        timezone="Asia/Kolkata",
        event_token="head-secret",
    )
    branch = PBXConfig(
        name="Branch",
        url="http://branch",
        host="10.0.0.2",
        extensions=("46",),
        timezone="Europe/London",
        event_token="branch-secret",
    )
    wired = settings.with_changes(pbx_configs=(head, branch))
    wall = (clock.now - timedelta(hours=2)).replace(tzinfo=None, microsecond=0)
    local = wall.strftime("%Y-%m-%d %H:%M:%S")  # what each PBX's clock on the wall says
    with TestClient(create_app(wired, clock=clock)) as client:
        outcomes = [
            event_from(
                client, "head-secret", uniqueid="1.1", asteriskhost="10.0.0.1", starttime=local
            ),
            event_from(
                client, "branch-secret", uniqueid="2.1", extension="46", starttime=local
            ),  # no host: its own
            event_from(client, "head-secret", uniqueid="2.2", asteriskhost="10.0.0.2"),
            event_from(client, "head-secret", uniqueid="9.1", asteriskhost="10.9.9.9"),
            event_from(client, "nobody's", uniqueid="1.2", asteriskhost="10.0.0.1"),
        ]
        assert [(status, body.get("error", "ok")) for status, body in outcomes] == [
            (200, "ok"),
            (200, "ok"),
            (403, "wrong_sender"),
            (422, "unknown_host"),
            (403, "forbidden"),
        ]
        assert outcomes[2][1]["detail"] == (
            "the event is from 10.0.0.2 (the PBX Branch), sent without its token or from"
            " outside its addresses"
        )
        store = parts_of(client).store
        starts = {
            call.uniqueid: (call.host, call.start_time.isoformat() if call.start_time else None)
            for call in store.live_calls()
        }
        assert starts == {  # each PBX's local times read in its own zone
            "1.1": ("10.0.0.1", in_utc(wall, "Asia/Kolkata")),
            "2.1": ("10.0.0.2", in_utc(wall, "Europe/London")),
        }
        refused = [
            (row["reason"], '"uniqueid": "2.2"' in unquote_plus(row["query"]))
            for row in store.rejected.all()
        ]
        assert refused == [("wrong_sender", True), ("unknown_host", False)]
        sign_in(client, "agent")
        heard = {p["name"]: p["last_event_at"] for p in client.get("/api/pbxs").json()["pbxs"]}
        assert heard == {"head-office": clock.now.isoformat(), "Branch": clock.now.isoformat()}


def finished_at(site: Site, extension: str, number: str) -> dict[str, str]:
    """A short call at the site, over before the dashboard hears of it (its events are lost)."""
    params = {"extension": extension, "number": number, "ring": "0.05", "talk": "0.05"}
    call: dict[str, str] = httpx.post(
        site.server.base_url + "/simulator/ring", params=params
    ).json()
    wait_until(
        lambda: any(
            e["uniqueid"] == call["uniqueid"] and e["event"] == "CallFinish" for e in site.events
        ),
        5,
        f"the end of {call['uniqueid']}",
    )
    return call


def test_the_cdr_of_each_pbx_is_fetched_from_it_and_merged_as_its_calls(
    settings: Settings, clock: FakeClock, sites: tuple[Site, Site]
) -> None:
    head, branch = sites
    at_head = finished_at(head, "70", "9876543210")
    at_branch = finished_at(branch, "46", "9876543211")
    wired = settings.with_changes(pbx_configs=(head.config, branch.config))
    day = clock.now.astimezone(wired.timezone).date().isoformat()
    with TestClient(create_app(wired, clock=clock)) as client:
        csrf = {"x-csrf-token": sign_in(client, "supervisor")}
        only_branch = client.post(
            "/cdr/sync", data={"from": day, "to": day, "pbx": "Branch"}, headers=csrf
        )
        assert "1 records: 1 calls added" in only_branch.text, only_branch.text
        everyone = client.post("/cdr/sync", data={"from": day, "to": day}, headers=csrf)
        assert "2 records: 1 calls added, 0 updated, 1 already known" in everyone.text
        store = parts_of(client).store
        assert store.get_call(("10.0.0.1", at_head["uniqueid"])) is not None
        assert store.get_call(("10.0.0.2", at_branch["uniqueid"])) is not None
        nowhere = client.post(
            "/cdr/sync", data={"from": day, "to": day, "pbx": "nowhere"}, headers=csrf
        )
        assert "there is no PBX of that name (known: head-office, Branch)" in nowhere.text


def test_a_call_left_live_is_looked_up_at_the_pbx_that_has_it(
    settings: Settings, clock: FakeClock, sites: tuple[Site, Site]
) -> None:
    head, branch = sites
    at_branch = finished_at(branch, "46", "9876543211")
    wired = settings.with_changes(pbx_configs=(head.config, branch.config))
    with TestClient(create_app(wired, clock=clock)) as client:
        start = next(
            e
            for e in branch.events
            if e["uniqueid"] == at_branch["uniqueid"] and e["event"] == "CallStart"
        )
        send(client, start)  # and then nothing: its CallFinish was lost
        clock.advance(31 * 60)
        reconciler = parts_of(client).reconciler

        async def reconcile() -> int:
            return await reconciler.reconcile(clock.now, timedelta(minutes=30), timedelta(hours=4))

        assert client.portal.call(reconcile) == 1  # type: ignore[union-attr]
        call = parts_of(client).store.get_call(("10.0.0.2", at_branch["uniqueid"]))
        assert call is not None and call.status.value == "finished"
        assert call.disposition != "Expired"


def test_with_several_pbxs_the_board_history_and_reports_say_which(
    settings: Settings, clock: FakeClock
) -> None:
    wired = settings.with_changes(pbx_configs=(HEAD, BRANCH))
    at = {"asteriskhost": "10.0.0.2", "extension": "46", "number": "9876543210"}
    with TestClient(create_app(wired, clock=clock)) as client:
        send(client, {"event": "CallStart", "uniqueid": "2.1", **at})
        send(client, {"event": "CallFinish", "uniqueid": "2.1", "disposition": "ANSWERED", **at})
        send(
            client,
            {
                "event": "CallStart",
                "uniqueid": "1.1",
                "asteriskhost": "10.0.0.1",
                "extension": "70",
            },
        )
        sign_in(client, "supervisor")
        board = client.get("/").text
        assert '<span class="call-pbx"><span class="sr-only">PBX </span>head-office</span>' in board
        assert 'data-group-filter="Branch"' in board and 'data-pbx="Branch"' in board
        history = client.get("/calls", params={"period": "7d", "host": "10.0.0.2"}).text
        assert '<option value="10.0.0.2" selected>Branch</option>' in history
        assert "2.1" in history and "1.1" not in history
        report = client.get("/reports.csv", params={"period": "7d", "pbx": "branch"}).text
        assert report.splitlines()[1].startswith("46,1,1,0,")
        head_only = client.get("/reports.csv", params={"period": "7d", "pbx": "head-office"}).text
        assert head_only.splitlines()[1:] == []
    single = settings.with_changes()
    with TestClient(create_app(single, clock=clock)) as client:
        send(client, {"event": "CallStart", "uniqueid": "3.1", "extension": "70"})
        sign_in(client, "supervisor")
        assert 'class="call-pbx"' not in client.get("/").text


def next_banner(board: Any) -> str:
    """The next push that is the banner (a board gets other pushes too)."""
    while True:
        message: str = board.receive_text()
        if 'id="pbx-banner"' in message:
            return message


def test_a_pbx_whose_events_stop_reaching_us_raises_the_banner_until_it_speaks(
    settings: Settings, clock: FakeClock, sites: tuple[Site, Site]
) -> None:
    head, branch = sites
    wired = settings.with_changes(pbx_configs=(head.config, branch.config))
    with TestClient(create_app(wired, clock=clock)) as client:
        state = parts_of(client)
        watch = PBXWatch(state.pbxs, state.publisher, state.fragments, clock, state.cdr)
        lost = finished_at(branch, "46", "9876543211")  # its events never reach the dashboard
        sign_in(client, "viewer")
        with client.websocket_connect("/ws") as board:
            board.receive_text()
            client.portal.call(watch.check_all)  # type: ignore[union-attr]
            assert state.pbxs.health.problems() == []  # quiet for a moment proves nothing
            clock.advance(11 * 60)
            client.portal.call(watch.check_all)  # type: ignore[union-attr]
            banner = next_banner(board)  # after the lost call, merged, on the board
            assert "<strong>PBX Branch</strong> has stopped sending call events since" in banner
            assert "head-office" not in banner
            assert state.store.get_call(("10.0.0.2", lost["uniqueid"])) is not None  # merged
            send(
                client,
                {
                    "event": "CallStart",
                    "uniqueid": "2.9",
                    "asteriskhost": "10.0.0.2",
                    "extension": "46",
                },
            )
            client.portal.call(watch.check_all)  # type: ignore[union-attr]
            cleared = next_banner(board)  # after the call's own push
            assert "hidden" in cleared and "stopped sending" not in cleared


def test_calls_the_dashboard_missed_while_it_was_down_do_not_raise_the_banner(
    settings: Settings, clock: FakeClock, sites: tuple[Site, Site]
) -> None:
    head, branch = sites
    before = finished_at(branch, "46", "9876543211")  # while the dashboard was not running
    clock.advance(60)
    wired = settings.with_changes(pbx_configs=(head.config, branch.config))
    with TestClient(create_app(wired, clock=clock)) as client:
        state = parts_of(client)
        watch = PBXWatch(state.pbxs, state.publisher, state.fragments, clock, state.cdr)
        clock.advance(3 * 60)
        client.portal.call(watch.check_all)  # type: ignore[union-attr]
        assert state.pbxs.health.problems() == []
        assert state.store.get_call(("10.0.0.2", before["uniqueid"])) is not None  # merged


def test_an_extension_no_pbx_lists_is_asked_of_the_pbx_named_and_reported_otherwise(
    settings: Settings, clock: FakeClock
) -> None:
    asked: list[str] = []

    def pbx(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.url.host} {request.url.params['extension']}")
        return httpx.Response(200, json=[])

    wired = settings.with_changes(pbx_configs=(HEAD, BRANCH))
    transport = httpx.MockTransport(pbx)
    with TestClient(create_app(wired, clock=clock, pbx_transport=transport)) as client:
        sync = parts_of(client).cdr
        day = clock.now.date()

        async def both() -> tuple[list[str], list[str]]:
            named = await sync.sync(day, day, ["99"], pbx_name="Branch")
            unnamed = await sync.sync(day, day, ["99", "70"])
            return named.problems, unnamed.problems

        named, unnamed = client.portal.call(both)  # type: ignore[union-attr]
    assert asked == ["branch 99", "head 70"]
    assert (named, unnamed) == ([], ["no PBX here owns extension 99: name the PBX to ask"])


def test_an_event_naming_no_host_is_the_pbx_whose_token_it_carries(
    settings: Settings, clock: FakeClock
) -> None:
    open_to_all = PBXConfig(name="open", url="http://open", host="pbx-c", extensions=("50",))
    head = replace(HEAD, event_token="head-secret")
    wired = settings.with_changes(pbx_configs=(open_to_all, head))
    with TestClient(create_app(wired, clock=clock)) as client:
        outcomes = [
            event_from(client, "head-secret", uniqueid="9.1"),
            event_from(client, "nobody's", uniqueid="9.2", extension="50"),
        ]
        assert [status for status, _ in outcomes] == [200, 200]
        hosts = {call.uniqueid: call.host for call in parts_of(client).store.live_calls()}
        assert hosts == {"9.1": "10.0.0.1", "9.2": "pbx-c"}


def test_an_extension_another_pbx_owns_is_refused_in_its_events(
    settings: Settings, clock: FakeClock
) -> None:
    head = replace(HEAD, event_token="head-secret")
    branch = replace(BRANCH, event_token="branch-secret")
    wired = settings.with_changes(pbx_configs=(head, branch), allow_unknown_hosts=True)
    with TestClient(create_app(wired, clock=clock)) as client:
        outcomes = [
            event_from(client, "branch-secret", uniqueid="8.1", extension="70"),
            event_from(client, "branch-secret", uniqueid="8.2", asteriskhost="x.example"),
            event_from(client, "branch-secret", uniqueid="8.3", extension="46"),
            event_from(client, "branch-secret", uniqueid="8.4", extension="99"),
            event_from(client, "head-secret", uniqueid="8.5", extension="71"),
        ]
        assert [(status, body.get("error", "ok")) for status, body in outcomes] == [
            (422, "foreign_extension"),
            (422, "foreign_extension"),  # a host no PBX has, watched only, no way round
            (200, "ok"),
            (200, "ok"),  # no PBX owns it: no agent of another PBX has it
            (200, "ok"),
        ]
        assert outcomes[0][1]["detail"] == (
            "the extension 70 is the PBX head-office's, and the event is from 10.0.0.2"
        )
        store = parts_of(client).store
        live = sorted(call.uniqueid for call in store.live_calls())
        assert live == ["8.3", "8.4", "8.5"]
        assert [row["reason"] for row in store.rejected.all()] == ["foreign_extension"] * 2
