"""Hang up, transfer and click-to-call through the dashboard, against the simulated Synapse
over real HTTP. The board changes only when the PBX's events say so."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.control import ControlError, Repeats
from dashboard.settings import Settings, parse_extensions
from dashboard.simulator.pbx import SimulatedPBX
from dashboard.simulator.server import create_simulator_app
from dashboard.simulator.traffic import Traffic
from tests.conftest import FakeClock, parts_of, send, sign_in
from tests.servers import ThreadedServer, free_port

PBX_HOST = "192.168.1.51"


class Recorder:
    """What the simulated PBX sends, kept for the test to hand to the dashboard."""

    def __init__(self) -> None:
        self.events: list[dict[str, str]] = []

    async def __call__(self, event: dict[str, str]) -> None:
        self.events.append(event)

    def wait_for(self, kind: str, uniqueid: str) -> dict[str, str]:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for event in self.events:
                if event["event"] == kind and event["uniqueid"] == uniqueid:
                    return event
            time.sleep(0.01)  # polling a condition, with a deadline
        raise AssertionError(f"the PBX never sent {kind} for {uniqueid}: {self.events}")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def simulator(
    recorder: Recorder, clock: FakeClock
) -> Iterator[tuple[ThreadedServer, SimulatedPBX]]:
    # On the dashboard's clock: its events' times are checked against it.
    traffic = Traffic(seed=9, host=PBX_HOST)
    pbx = SimulatedPBX(recorder, tz=ZoneInfo("UTC"), traffic=traffic, clock=clock)
    with ThreadedServer(create_simulator_app(pbx, ["127.0.0.1"])) as server:
        yield server, pbx


@pytest.fixture
def dashboard(
    settings: Settings, clock: FakeClock, simulator: tuple[ThreadedServer, SimulatedPBX]
) -> Iterator[TestClient]:
    wired = settings.with_changes(
        synapse_url=simulator[0].base_url,
        blocked_prefixes=("00", "+1900"),
        originates_per_minute=3,
        extensions=parse_extensions("40-59,70"),
    )
    with TestClient(create_app(wired, clock=clock)) as client:
        yield client


def ringing_call(
    server: ThreadedServer, recorder: Recorder, client: TestClient, extension: str = "70"
) -> dict[str, str]:
    """An incoming call ringing at the PBX for a long while, shown on the dashboard."""
    params = {"extension": extension, "number": "9876543210", "ring": "600", "talk": "60"}
    call: dict[str, str] = httpx.post(server.base_url + "/simulator/ring", params=params).json()
    send(client, recorder.wait_for("CallStart", call["uniqueid"]))
    return call


def commands(server: ThreadedServer) -> list[dict[str, Any]]:
    log = httpx.get(server.base_url + "/simulator/commands").json()["commands"]
    return [json.loads(parse_qs(entry["query"])["actiondetails"][0]) for entry in log]


def live(client: TestClient) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = client.get("/api/calls/active").json()["calls"]
    return calls


def test_a_supervisor_hangs_up_and_the_call_leaves_when_the_pbx_says_so(
    dashboard: TestClient, simulator: tuple[ThreadedServer, SimulatedPBX], recorder: Recorder
) -> None:
    csrf = sign_in(dashboard, "supervisor")
    call = ringing_call(simulator[0], recorder, dashboard)
    response = dashboard.post(
        f"/api/calls/{call['uniqueid']}/hangup", headers={"x-csrf-token": csrf}
    )
    assert response.json() == {
        "ok": True,
        "detail": "Hang-up sent to the PBX",
        "pbx_reply": f"Success: hanging up {call['hangupchannel']}",
    }
    assert [c["uniqueid"] for c in live(dashboard)] == [call["uniqueid"]]  # not yet
    assert commands(simulator[0]) == [{"action": "Hangup", "hangupchannel": call["hangupchannel"]}]
    again = dashboard.post(
        f"/api/calls/{call['uniqueid']}/hangup",
        headers={"x-csrf-token": csrf, "hx-request": "true"},
    )
    assert "The PBX at" in again.text and "no such channel" in again.text  # already hung up
    finish = recorder.wait_for("CallFinish", call["uniqueid"])
    assert finish["disposition"] == "No Answer"
    send(dashboard, finish)
    assert live(dashboard) == []
    audit = parts_of(dashboard).audit.entries()
    assert [(e.action, e.result) for e in audit[:2]] == [
        ("hangup", "pbx_refused"),
        ("hangup", "ok"),
    ]
    assert audit[1].detail == f"PBX: Success: hanging up {call['hangupchannel']}"


def test_a_transfer_moves_the_call_when_the_pbx_reports_it(
    dashboard: TestClient, simulator: tuple[ThreadedServer, SimulatedPBX], recorder: Recorder
) -> None:
    csrf = sign_in(dashboard, "supervisor")
    call = ringing_call(simulator[0], recorder, dashboard)
    url = f"/api/calls/{call['uniqueid']}/transfer"
    refusals = {}
    for bad in ("", "4x6", "70", "999", "1234567890123456"):
        refused = dashboard.post(url, json={"extension": bad}, headers={"x-csrf-token": csrf})
        refusals[bad] = (refused.status_code, refused.json()["error"])
    assert refusals == {
        "": (422, "bad_extension"),
        "4x6": (422, "bad_extension"),
        "70": (422, "bad_extension"),  # where it already is
        "999": (422, "unknown_extension"),  # short: an extension, and not one on the grid
        "1234567890123456": (422, "bad_number"),  # long: a number, and too long for one
    }
    assert commands(simulator[0]) == []
    accepted = dashboard.post(url, json={"extension": "46"}, headers={"x-csrf-token": csrf})
    assert accepted.json()["detail"] == "Transfer to 46 sent to the PBX"
    assert commands(simulator[0]) == [
        {
            "action": "Transfer",
            "transferchannel": call["redirectchannel"],
            "newextension": "46",
            "context": "DLPN_all",
        }
    ]
    assert [c["extension"] for c in live(dashboard)] == ["70"]
    moved = [e for e in recorder.events if e["event"] == "CallStart"][-1]
    deadline = time.monotonic() + 5
    while moved["extension"] != "46" and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a condition, with a deadline
        moved = [e for e in recorder.events if e["event"] == "CallStart"][-1]
    send(dashboard, moved)
    assert [(c["uniqueid"], c["extension"]) for c in live(dashboard)] == [(call["uniqueid"], "46")]


def test_agents_act_only_on_and_from_their_own_extension(
    dashboard: TestClient, simulator: tuple[ThreadedServer, SimulatedPBX], recorder: Recorder
) -> None:
    theirs = ringing_call(simulator[0], recorder, dashboard, extension="46")
    mine = ringing_call(simulator[0], recorder, dashboard, extension="70")
    csrf = sign_in(dashboard, "agent")  # extension 70
    headers = {"x-csrf-token": csrf}
    other = dashboard.post(f"/api/calls/{theirs['uniqueid']}/hangup", headers=headers)
    assert (other.status_code, other.json()["error"]) == (404, "not_found")
    elsewhere = dashboard.post(
        "/api/originate", json={"extension": "46", "number": "9876543210"}, headers=headers
    )
    assert (elsewhere.status_code, elsewhere.json()["error"]) == (403, "forbidden")
    own = dashboard.post("/api/originate", json={"number": "98765 43210"}, headers=headers)
    assert own.json()["detail"] == "Calling 9876543210 from extension 70"
    assert (
        dashboard.post(f"/api/calls/{mine['uniqueid']}/hangup", headers=headers).status_code == 200
    )
    assert [c["action"] for c in commands(simulator[0])] == ["Originate", "Hangup"]
    assert commands(simulator[0])[0]["extension"] == "SIP/70"


def test_a_viewer_may_not_act(
    dashboard: TestClient, simulator: tuple[ThreadedServer, SimulatedPBX], recorder: Recorder
) -> None:
    call = ringing_call(simulator[0], recorder, dashboard)
    headers = {"x-csrf-token": sign_in(dashboard, "viewer")}
    for url in (f"/api/calls/{call['uniqueid']}/hangup", "/api/originate"):
        assert dashboard.post(url, json={"number": "98765"}, headers=headers).status_code == 403
    assert commands(simulator[0]) == []


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"number": "9876543210"}, 422, "bad_extension"),  # a supervisor says which extension
        ({"extension": "70", "number": "98765abc"}, 422, "bad_number"),
        ({"extension": "70", "number": "12"}, 422, "bad_number"),
        ({"extension": "70", "number": "1234567890123456"}, 422, "bad_number"),
        ({"extension": "70", "number": "0044 20 7946 0000"}, 422, "blocked_number"),
        ({"extension": "70", "number": "+1 900 555 0100"}, 422, "blocked_number"),
        ({"extension": "70", "number": "+44 20 7946 0000"}, 422, "blocked_number"),  # + is 00
        ({"extension": "70", "number": "001900 555 0100"}, 422, "blocked_number"),
        ({"extension": "70", "number": ["98765"]}, 422, "bad_number"),
    ],
)
def test_bad_dialling_is_refused_before_the_pbx_hears_of_it(
    dashboard: TestClient,
    simulator: tuple[ThreadedServer, SimulatedPBX],
    body: dict[str, Any],
    status: int,
    error: str,
) -> None:
    headers = {"x-csrf-token": sign_in(dashboard, "supervisor")}
    response = dashboard.post("/api/originate", json=body, headers=headers)
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert response.json()["detail"]
    assert commands(simulator[0]) == []


def test_dialling_is_rate_limited_per_user(
    dashboard: TestClient, simulator: tuple[ThreadedServer, SimulatedPBX]
) -> None:
    headers = {"x-csrf-token": sign_in(dashboard, "supervisor")}
    statuses = [
        dashboard.post(
            "/api/originate", json={"extension": "70", "number": f"987654321{n}"}, headers=headers
        ).status_code
        for n in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    assert len(commands(simulator[0])) == 3
    body = {"extension": "70", "number": "9876543219"}
    refused = dashboard.post("/api/originate", json=body, headers=headers).json()
    assert refused["error"] == "rate_limited" and "try again in" in refused["detail"]


def test_a_pbx_that_is_down_gets_a_clear_error_and_the_board_keeps_working(
    settings: Settings, clock: FakeClock
) -> None:
    down = settings.with_changes(synapse_url=f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(down, clock=clock)) as client:
        headers = {"x-csrf-token": sign_in(client, "supervisor")}
        body = {"extension": "70", "number": "9876543210"}
        response = client.post("/api/originate", json=body, headers=headers)
        assert (response.status_code, response.json()["error"]) == (502, "pbx_unreachable")
        assert "Could not reach the PBX at http://127.0.0.1:" in response.json()["detail"]
        body["number"] = "9876543211"  # not the same call again: that is a double click
        toast = client.post("/api/originate", data=body, headers={**headers, "hx-request": "true"})
        assert toast.status_code == 200 and 'class="toast is-error"' in toast.text
        assert "Could not reach the PBX" in toast.text
        send(client, {"event": "CallStart", "uniqueid": "1.1", "extension": "70"})
        assert [c["uniqueid"] for c in live(client)] == ["1.1"]
        audit = parts_of(client).audit.entries()
        assert (audit[0].action, audit[0].result) == ("originate", "pbx_unreachable")


def test_a_call_that_is_gone_cannot_be_acted_on(dashboard: TestClient) -> None:
    headers = {"x-csrf-token": sign_in(dashboard, "supervisor")}
    response = dashboard.post("/api/calls/nope/hangup", headers=headers)
    assert (response.status_code, response.json()["error"]) == (404, "not_found")
    bad_json = dashboard.post(
        "/api/originate",
        content=b"{not json",
        headers={**headers, "content-type": "application/json"},
    )
    assert (bad_json.status_code, bad_json.json()["error"]) == (422, "bad_request")


def test_the_toast_shows_what_the_pbx_answered(
    dashboard: TestClient, simulator: tuple[ThreadedServer, SimulatedPBX]
) -> None:
    headers = {"x-csrf-token": sign_in(dashboard, "supervisor"), "hx-request": "true"}
    toast = dashboard.post(
        "/api/originate", data={"extension": "70", "number": "9876543210"}, headers=headers
    )
    words = re.search(r'<p class="toast-words">(.*?)</p>', toast.text)
    raw = re.search(r"<summary>Details</summary><code>(.*?)</code>", toast.text)
    assert 'class="toast is-ok"' in toast.text
    assert words is not None and words[1] == (
        "Call to 98765 43210 from extension 70 sent to the PBX"
    )
    assert raw is not None and re.fullmatch(r"Success: originating [0-9.]+ in DLPN_all", raw[1])


def test_a_refused_click_is_told_in_words_and_the_detail_is_on_demand(
    dashboard: TestClient, simulator: tuple[ThreadedServer, SimulatedPBX], recorder: Recorder
) -> None:
    csrf = sign_in(dashboard, "supervisor")
    clicked = {"x-csrf-token": csrf, "hx-request": "true"}
    call = ringing_call(simulator[0], recorder, dashboard)
    url = f"/api/calls/{call['uniqueid']}/transfer"
    unknown = dashboard.post(url, data={"extension": "999"}, headers=clicked)
    assert toast_parts(unknown.text) == (
        "is-error",
        "There is no extension 999 here. Choose one from the list that opens in the Transfer"
        " box: it shows who is free.",
        None,
    )
    hangup = f"/api/calls/{call['uniqueid']}/hangup"
    assert dashboard.post(hangup, headers=clicked).status_code == 200
    again = dashboard.post(hangup, headers=clicked)  # the PBX has no such channel now
    kind, words, raw = toast_parts(again.text)
    assert (kind, words) == (
        "is-error",
        "That call is no longer on the PBX: it has probably just ended.",
    )
    assert raw == (
        f"The PBX at {simulator[0].base_url} refused: HTTP 404 Error: no such channel"
        f" &#39;{call['hangupchannel']}&#39;"
    )


def test_a_toast_names_the_contact_it_was_done_with(
    dashboard: TestClient, simulator: tuple[ThreadedServer, SimulatedPBX], recorder: Recorder
) -> None:
    parts_of(dashboard).contacts.import_csv("name,number\nRavi Kumar,9876543210\n")
    headers = {"x-csrf-token": sign_in(dashboard, "supervisor"), "hx-request": "true"}
    call = ringing_call(simulator[0], recorder, dashboard)
    hung_up = dashboard.post(f"/api/calls/{call['uniqueid']}/hangup", headers=headers)
    called = dashboard.post(
        "/api/originate", data={"extension": "70", "number": "98765 43210"}, headers=headers
    )
    assert [toast_parts(hung_up.text)[:2], toast_parts(called.text)[:2]] == [
        ("is-ok", "Hang-up of the call with Ravi Kumar (98765 43210) sent to the PBX"),
        ("is-ok", "Call to Ravi Kumar (98765 43210) from extension 70 sent to the PBX"),
    ]


def toast_parts(html: str) -> tuple[str, str, str | None]:
    found = re.fullmatch(
        r'<div class="toast (is-\w+)" role="\w+">\s*<p class="toast-words">(.*?)</p>\s*'
        r"(?:<details class=\"toast-raw\"><summary>Details</summary><code>(.*?)</code></details>)?"
        r"\s*</div>\s*",
        html,
        re.S,
    )
    assert found is not None, html
    return found[1], found[2], found[3]


def test_an_oversized_command_is_refused_unread(dashboard: TestClient) -> None:
    headers = {"x-csrf-token": sign_in(dashboard, "supervisor"), "content-type": "application/json"}
    body = b'{"extension": "70", "number": "' + b"9" * 20_000 + b'"}'
    response = dashboard.post("/api/originate", content=body, headers=headers)
    assert (response.status_code, response.json()["error"]) == (413, "too_large")


def transfer(client: TestClient, call: dict[str, str], target: str, csrf: str) -> tuple[int, str]:
    response = client.post(
        f"/api/calls/{call['uniqueid']}/transfer",
        json={"extension": target},
        headers={"x-csrf-token": csrf},
    )
    body = response.json()
    return response.status_code, body.get("error") or body["detail"]


def test_a_transfer_out_obeys_every_dialling_rule(
    dashboard: TestClient, simulator: tuple[ThreadedServer, SimulatedPBX], recorder: Recorder
) -> None:
    mine = ringing_call(simulator[0], recorder, dashboard, extension="70")
    agent = sign_in(dashboard, "agent")  # extension 70
    assert transfer(dashboard, mine, "0019005551", agent) == (422, "transfer_out_forbidden")
    assert transfer(dashboard, mine, "9876543210", agent) == (422, "transfer_out_forbidden")
    supervisor = sign_in(dashboard, "supervisor")
    outcomes = [
        transfer(dashboard, mine, number, supervisor)
        for number in ("0019005551", "+19005551234", "19005551234", "01119005551234", "98765x")
    ]
    assert outcomes == [
        (422, "blocked_number"),
        (422, "blocked_number"),
        (422, "blocked_number"),  # +1900 blocked, written without + or an access code
        (422, "blocked_number"),  # ... or with North America's access code
        (422, "bad_extension"),
    ]
    assert transfer(dashboard, mine, "98765 43210", supervisor) == (
        200,
        "Transfer to 9876543210 sent to the PBX",
    )
    assert commands(simulator[0]) == [
        {
            "action": "Transfer",
            "transferchannel": mine["redirectchannel"],
            "newextension": "9876543210",
            "context": "DLPN_all",
        }
    ]


def test_transfers_out_share_the_callers_dialling_rate(
    dashboard: TestClient, simulator: tuple[ThreadedServer, SimulatedPBX], recorder: Recorder
) -> None:
    call = ringing_call(simulator[0], recorder, dashboard, extension="70")
    csrf = sign_in(dashboard, "supervisor")
    for number in ("9876543210", "9876543219"):
        body = {"extension": "70", "number": number}
        placed = dashboard.post("/api/originate", json=body, headers={"x-csrf-token": csrf})
        assert placed.status_code == 200
    assert transfer(dashboard, call, "9876543211", csrf)[0] == 200  # the third of 3 a minute
    assert transfer(dashboard, call, "9876543212", csrf) == (429, "rate_limited")
    assert [c["action"] for c in commands(simulator[0])] == ["Originate", "Originate", "Transfer"]


def test_transfers_to_extensions_are_rate_limited_too(
    settings: Settings,
    clock: FakeClock,
    simulator: tuple[ThreadedServer, SimulatedPBX],
    recorder: Recorder,
) -> None:
    wired = settings.with_changes(
        synapse_url=simulator[0].base_url,
        transfers_per_minute=5,
        extensions=parse_extensions("40-59,70"),
    )
    with TestClient(create_app(wired, clock=clock)) as client:
        call = ringing_call(simulator[0], recorder, client, extension="70")
        csrf = sign_in(client, "supervisor")
        statuses = [transfer(client, call, str(40 + n), csrf)[0] for n in range(14)]
        assert statuses == [200] * 5 + [429] * 9
        assert len(commands(simulator[0])) == 5
        audit = [(e.action, e.result) for e in parts_of(client).audit.entries()]
        assert audit.count(("transfer", "rate_limited")) == 9


OUT_TO_NINES = {"transfer_out": "everyone", "dial_allow": ("_9XXXXXXXXX",)}


@pytest.mark.parametrize(
    ("changes", "target", "outcome"),
    [
        (
            {"transfer_out": "everyone"},
            "9876543210",
            (200, "Transfer to 9876543210 sent to the PBX"),
        ),
        ({"transfer_out": "nobody"}, "9876543210", (422, "transfer_out_forbidden")),
        (OUT_TO_NINES, "8876543210", (422, "not_allowed_number")),
        (OUT_TO_NINES, "+919876543210", (422, "not_allowed_number")),
        (OUT_TO_NINES, "9876543210", (200, "Transfer to 9876543210 sent to the PBX")),
        ({"dial_allow": ("_9XXXXXXXXX",)}, "9876543210", (422, "transfer_out_forbidden")),
        ({"transfer_internal": ("_8XX",)}, "812", (200, "Transfer to 812 sent to the PBX")),
        ({}, "812", (422, "unknown_extension")),
        ({"extension_digits": 3}, "8123", (422, "transfer_out_forbidden")),  # a number now
    ],
)
def test_what_an_agent_may_transfer_to_is_configurable(
    settings: Settings,
    clock: FakeClock,
    simulator: tuple[ThreadedServer, SimulatedPBX],
    recorder: Recorder,
    changes: dict[str, Any],
    target: str,
    outcome: tuple[int, str],
) -> None:
    wired = settings.with_changes(synapse_url=simulator[0].base_url, **changes)
    with TestClient(create_app(wired, clock=clock)) as client:
        call = ringing_call(simulator[0], recorder, client, extension="70")
        assert transfer(client, call, target, sign_in(client, "agent")) == outcome
        sent = [c["newextension"] for c in commands(simulator[0])]
        assert sent == ([target] if outcome[0] == 200 else [])


def test_an_allow_list_limits_click_to_call_and_callback(
    settings: Settings, clock: FakeClock, simulator: tuple[ThreadedServer, SimulatedPBX]
) -> None:
    wired = settings.with_changes(
        synapse_url=simulator[0].base_url, dial_allow=("_9XXXXXXXXX", "_0[1-9]X.")
    )
    with TestClient(create_app(wired, clock=clock)) as client:
        headers = {"x-csrf-token": sign_in(client, "agent")}
        outcomes = {
            number: client.post("/api/originate", json={"number": number}, headers=headers)
            .json()
            .get("error", "ok")
            for number in ("9876543210", "98765432101", "0221234567", "0012125550100", "+919876")
        }
        assert outcomes == {
            "9876543210": "ok",
            "98765432101": "not_allowed_number",
            "0221234567": "ok",
            "0012125550100": "not_allowed_number",
            "+919876": "not_allowed_number",
        }
        assert [c["number"] for c in commands(simulator[0])] == ["9876543210", "0221234567"]


def test_a_double_click_places_one_call(
    dashboard: TestClient, simulator: tuple[ThreadedServer, SimulatedPBX], recorder: Recorder
) -> None:
    headers = {"x-csrf-token": sign_in(dashboard, "supervisor")}
    body = {"extension": "70", "number": "9876543210"}
    first = dashboard.post("/api/originate", json=body, headers=headers)
    second = dashboard.post("/api/originate", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (200, 409)
    assert second.json() == {
        "error": "duplicate",
        "detail": "the same command was sent 1 s ago: it is not sent twice",
    }
    keyed = {**headers, "idempotency-key": "click-1"}
    other = {"extension": "70", "number": "9876543211"}
    assert dashboard.post("/api/originate", json=other, headers=keyed).status_code == 200
    again = dashboard.post(
        "/api/originate", json={**other, "number": "9876543212"}, headers=keyed
    )  # a retry with the same key is the same action, whatever it says
    assert (again.status_code, again.json()["error"]) == (409, "duplicate")
    assert [c["number"] for c in commands(simulator[0])] == ["9876543210", "9876543211"]
    call = ringing_call(simulator[0], recorder, dashboard, extension="70")
    twice = [transfer(dashboard, call, "46", headers["x-csrf-token"])[0] for _ in range(2)]
    assert twice == [200, 409]
    results = [(e.action, e.result) for e in parts_of(dashboard).audit.entries()]
    assert results.count(("originate", "duplicate")) == 2
    assert results.count(("transfer", "duplicate")) == 1


def test_the_same_command_may_be_sent_again_after_a_few_seconds() -> None:
    seconds = [100.0]
    repeats = Repeats(5.0, monotonic=lambda: seconds[0])
    outcomes = []
    for at in (100.0, 104.9, 105.1):
        seconds[0] = at
        try:
            repeats.refuse_repeat([("same",)])
        except ControlError as refused:
            outcomes.append(refused.status)
        else:
            repeats.note([("same",)])
            outcomes.append(200)
    assert outcomes == [200, 409, 200]


def test_what_the_attacker_tried_next_is_refused_before_the_pbx_hears_of_it(
    settings: Settings,
    clock: FakeClock,
    simulator: tuple[ThreadedServer, SimulatedPBX],
    recorder: Recorder,
) -> None:
    wired = settings.with_changes(
        synapse_url=simulator[0].base_url,
        blocked_prefixes=("+1900", "+881"),
        country_code="1",
        originates_per_minute=20,
    )
    with TestClient(create_app(wired, clock=clock)) as client:
        supervisor = {"x-csrf-token": sign_in(client, "supervisor")}
        outcomes = {
            number: client.post(
                "/api/originate", json={"extension": "70", "number": number}, headers=supervisor
            )
            .json()
            .get("error", "ok")
            for number in (
                "+0019005551234",  # + then an access code: no country code starts with 0
                "+01119005551234",
                "00019005551234",
                "+008812345678",
                "0019005551234",  # 00 is not North America's access code, but a trunk may take it
            )
        }
        assert outcomes == {
            "+0019005551234": "bad_number",
            "+01119005551234": "bad_number",
            "00019005551234": "bad_number",
            "+008812345678": "bad_number",
            "0019005551234": "blocked_number",
        }
        from_far = client.post(
            "/api/originate",
            json={"extension": "9005551234", "number": "2125551234"},
            headers=supervisor,
        )
        assert (from_far.status_code, from_far.json()["error"]) == (422, "bad_extension")
        forms = [
            client.post(
                "/api/originate", json={"extension": "70", "number": number}, headers=supervisor
            ).status_code
            for number in ("2125551234", "12125551234", "+1 212 555 1234")
        ]
        assert forms == [200, 409, 409]  # one destination, however it is written
        assert [c["number"] for c in commands(simulator[0])] == ["2125551234"]


def test_a_number_an_event_called_an_extension_is_still_a_number_to_transfer_to(
    settings: Settings,
    clock: FakeClock,
    simulator: tuple[ThreadedServer, SimulatedPBX],
    recorder: Recorder,
) -> None:
    wired = settings.with_changes(synapse_url=simulator[0].base_url, blocked_prefixes=("+1900",))
    with TestClient(create_app(wired, clock=clock)) as client:
        send(client, {"event": "CallStart", "uniqueid": "x.1", "extension": "19005551234"})
        assert "19005551234" in parts_of(client).live.known_extensions()
        call = ringing_call(simulator[0], recorder, client, extension="70")
        agent = sign_in(client, "agent")
        assert transfer(client, call, "19005551234", agent) == (422, "transfer_out_forbidden")
        supervisor = sign_in(client, "supervisor")
        assert transfer(client, call, "19005551234", supervisor) == (422, "blocked_number")
        assert commands(simulator[0]) == []


def start(uniqueid: str, extension: str, event: str = "CallStart") -> dict[str, str]:
    return {
        "asteriskhost": PBX_HOST,
        "event": event,
        "direction": "Incoming",
        "number": "9876543210",
        "extension": extension,
        "hangupchannel": f"SIP/{extension}-{uniqueid}",
        "redirectchannel": f"DAHDI/{uniqueid}",
        "uniqueid": uniqueid,
    }


@pytest.fixture
def office(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    """Extensions 44-47 and 70 (the agent's); 45 ringing, 47 on a call, 70 ringing; 46 ravi's."""
    wired = settings.with_changes(
        synapse_url=f"http://{PBX_HOST}", extensions=parse_extensions("44-47,70,1234567")
    )
    with TestClient(create_app(wired, clock=clock)) as client:
        parts_of(client).accounts.add_user("Ravi", "agent", "a long password here", "46")
        for event in (start("1.45", "45"), start("1.47", "47"), start("1.70", "70")):
            send(client, event)
        send(client, start("1.47", "47", "CallConnect"))
        yield client


def test_the_transfer_list_shows_the_grids_extensions_with_their_state_free_first(
    office: TestClient,
) -> None:
    sign_in(office, "agent")  # at 70: the call there is theirs
    listed = office.get("/api/calls/1.70/transfer-targets")
    assert listed.json() == {
        "targets": [
            {"extension": "44", "name": "", "state": "idle"},
            {"extension": "46", "name": "ravi", "state": "idle"},
            {"extension": "45", "name": "", "state": "ringing"},
            {"extension": "47", "name": "", "state": "talking"},
        ]
    }  # not 70, where the call is; not 1234567, too long to be an extension
    by_name = office.get("/api/calls/1.70/transfer-targets?extension=rav").json()
    by_digits = office.get("/api/calls/1.70/transfer-targets?extension=4 7").json()
    assert (by_name, by_digits) == (
        {"targets": [{"extension": "46", "name": "ravi", "state": "idle"}]},
        {"targets": []},  # what is typed is matched as typed
    )
    theirs = office.get("/api/calls/1.45/transfer-targets")
    assert (theirs.status_code, theirs.json()["error"]) == (404, "not_found")


def test_the_transfer_list_is_a_list_of_buttons_for_the_page(office: TestClient) -> None:
    sign_in(office, "supervisor")
    clicked = {"hx-request": "true"}
    html = office.get("/api/calls/1.45/transfer-targets?extension=4", headers=clicked).text
    picks = re.findall(
        r'<button type="button" class="tx-pick is-(\w+)" data-transfer-to="(\d+)">'
        r'<span class="tx-ext">\d+</span>(?: <span class="tx-name">(\w+)</span>)?'
        r' <span class="tx-state">([\w ]+)</span></button>',
        html,
    )
    assert picks == [
        ("idle", "44", "", "Idle"),
        ("idle", "46", "ravi", "Idle"),
        ("talking", "47", "", "On a call"),
    ]
    none = office.get("/api/calls/1.45/transfer-targets?extension=9", headers=clicked).text
    assert none.strip() == '<p class="tx-none">No extension here matches “9”.</p>'
    gone = office.get("/api/calls/nope/transfer-targets", headers=clicked)
    assert (gone.status_code, gone.text.strip()) == (
        200,
        '<p class="tx-none">No such live call that you may see</p>',
    )


def test_a_number_on_the_board_dials_only_when_its_button_says_so(office: TestClient) -> None:
    """htmx posts on the button's own `dial` event, which static/js/actions.js sends on the
    second press: never on a click."""
    sign_in(office, "agent")
    page = office.get("/").text
    buttons = re.findall(r'<button type="button" class="dial-link"[^>]*>[^<]*</button>', page)
    assert (
        buttons
        == [
            '<button type="button" class="dial-link" data-dial hx-trigger="dial"'
            ' hx-disabled-elt="this" hx-post="/api/originate" hx-vals=\'{"number": "9876543210"}\''
            ' hx-include="#dial-extension" hx-target="#toasts" hx-swap="afterbegin"'
            ' title="Call 9876543210">98765 43210</button>'
        ]
        * 2
    )  # the call on the board, and its pop-up
    dial_box = re.search(r'<form id="dial"[^>]*>', page)
    assert dial_box is not None and dial_box[0].endswith('data-idempotent data-from="70">')
