"""An agent's calls are those of its extension on its own PBX: a call at the same extension
number from another host (another PBX's, or one watched only) is someone else's phone."""

from __future__ import annotations

import csv
import io
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.calls import Call
from dashboard.fragments import call_dom_id
from dashboard.pbx_config import PBXConfig
from dashboard.scope import Scope
from dashboard.settings import Settings
from tests.conftest import FakeClock, just_finished, parts_of, send, sign_in

# Port 9 (discard) refuses at once: a command sent on is answered "unreachable", not hung.
HEAD = PBXConfig(
    name="head-office", url="http://127.0.0.1:9", host="10.0.0.1", extensions=("70", "71")
)
BRANCH = PBXConfig(name="Branch", url="http://127.0.0.1:9", host="10.0.0.2", extensions=("46",))
WATCHED = "10.9.9.9"  # a host no PBX here has, watched only


def ringing(host: str, uniqueid: str, extension: str = "70") -> dict[str, str]:
    return {
        "event": "CallStart",
        "asteriskhost": host,
        "uniqueid": uniqueid,
        "direction": "Incoming",
        "number": "9876543210",
        "extension": extension,
        "hangupchannel": f"SIP/{extension}-1",
    }


def finished(
    clock: FakeClock, settings: Settings, host: str, uniqueid: str, **fields: str
) -> dict[str, str]:
    at = {"asteriskhost": host, "uniqueid": uniqueid, "number": "9876543210", **fields}
    return just_finished(
        clock.now, settings.zone_of(host), direction="Incoming", extension="70", **at
    )


def missed(clock: FakeClock, settings: Settings, host: str, uniqueid: str, number: str) -> Any:
    unanswered = {"answertime": "", "disposition": "NO ANSWER", "billableseconds": "0"}
    return finished(clock, settings, host, uniqueid, number=number) | unanswered


@pytest.fixture
def several(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    """Two PBXs, the head office's agent at 70 signed in; calls at 70 from the branch's host
    were stored while the file named the head office alone and watched other hosts (the
    branch's events at 70 are refused now: it is the head office's extension)."""
    before = settings.with_changes(pbx_configs=(HEAD,), allow_unknown_hosts=True)
    with TestClient(create_app(before, clock=clock)) as client:
        for host, prefix in ((HEAD.host, "111"), (BRANCH.host, "222")):
            send(client, ringing(host, f"{prefix}.1"))
            send(client, finished(clock, before, host, f"{prefix}.2"))
            send(client, missed(clock, before, host, f"{prefix}.4", "98" + prefix[0] * 8))
    wired = settings.with_changes(pbx_configs=(HEAD, BRANCH), allow_unknown_hosts=True)
    with TestClient(create_app(wired, clock=clock)) as client:
        sign_in(client, "agent", extension="70")
        yield client


def uniqueids(calls: list[dict[str, Any]]) -> list[str]:
    return sorted(call["uniqueid"] for call in calls)


def test_the_agent_sees_its_own_pbxs_calls_at_its_extension_and_no_others(
    several: TestClient,
) -> None:
    assert uniqueids(several.get("/api/calls/active").json()["calls"]) == ["111.1"]
    history = several.get("/api/calls?period=all").json()["calls"]
    assert uniqueids(history) == ["111.1", "111.2", "111.4"]
    export = csv.DictReader(io.StringIO(several.get("/calls.csv?period=all").text))
    assert sorted((row["host"], row["uniqueid"]) for row in export) == [
        ("10.0.0.1", "111.1"),
        ("10.0.0.1", "111.2"),
        ("10.0.0.1", "111.4"),
    ]
    page = several.get("/calls?period=all").text
    assert page.count("?host=10.0.0.1&amp;back=") == 3 and "?host=10.0.0.2" not in page
    assert several.get("/api/calls/111.2?host=10.0.0.1").status_code == 200
    foreign = several.get("/api/calls/222.2?host=10.0.0.2")
    assert (foreign.status_code, foreign.json()["error"]) == (404, "not_found")
    assert several.get("/calls/111.2?host=10.0.0.1").status_code == 200
    assert several.get("/calls/222.2?host=10.0.0.2").status_code == 404


def test_an_agents_api_token_sees_its_own_pbxs_calls_alone(several: TestClient) -> None:
    token = parts_of(several).accounts.tokens.create("agent-user")
    several.cookies.clear()
    bearer = {"authorization": f"Bearer {token}"}
    active = several.get("/api/calls/active", headers=bearer).json()["calls"]
    history = several.get("/api/calls?period=all", headers=bearer).json()["calls"]
    assert (uniqueids(active), uniqueids(history)) == (["111.1"], ["111.1", "111.2", "111.4"])


def test_the_agents_board_and_pop_ups_hold_its_own_pbxs_calls_alone(
    several: TestClient,
) -> None:
    page = several.get("/").text
    assert "111.1" in page and "222.1" not in page
    assert page.count('<section id="popup-') == 1
    assert several.get("/contacts").text.count('<section id="popup-') == 1
    with several.websocket_connect("/ws") as viewer:
        snapshot = viewer.receive_text()
        assert "111.1" in snapshot and "222.1" not in snapshot
        # The branch's call leaves 70 for 46, its own extension: nothing the agent had.
        send(several, ringing(BRANCH.host, "222.1", extension="46"))
        send(several, ringing(HEAD.host, "111.3"))
        pushed = viewer.receive_text()
        assert "111.3" in pushed and "afterbegin:#popups" in pushed and "222.1" not in pushed


def test_search_finds_the_agents_own_pbxs_calls_alone(several: TestClient) -> None:
    found = several.get("/search?number=98765").text
    # One call live (the head office's ringing one), two recent (it and the finished one).
    assert (found.count('class="search-live'), found.count("<tr><td>")) == (1, 2)


def test_the_agent_may_not_act_on_another_pbxs_call_at_its_extension(
    several: TestClient,
) -> None:
    csrf = {"x-csrf-token": sign_in(several, "agent", extension="70")}
    outcomes = [
        several.post("/api/calls/222.1/hangup?host=10.0.0.2", headers=csrf),
        several.post(
            "/api/calls/222.1/transfer?host=10.0.0.2", json={"extension": "71"}, headers=csrf
        ),
        several.get("/api/calls/222.1/transfer-targets?host=10.0.0.2"),
        several.post("/api/calls/111.1/hangup?host=10.0.0.1", headers=csrf),
    ]
    assert [(r.status_code, r.json()["error"]) for r in outcomes[:3]] == [
        (404, "not_found"),
        (404, "not_found"),
        (404, "not_found"),
    ]
    # Its own call is sent on (to a PBX that is not there).
    assert outcomes[3].json()["error"] != "not_found"


def test_the_agents_missed_callers_are_its_own_pbxs(several: TestClient) -> None:
    page = several.get("/missed").text
    assert "9811111111" in page and "9822222222" not in page
    csrf = {"x-csrf-token": sign_in(several, "agent", extension="70")}
    done = several.post("/missed/done", data={"number_key": "9822222222"}, headers=csrf)
    assert done.status_code == 404


def test_the_agent_may_not_hear_another_pbxs_recording(several: TestClient) -> None:
    foreign = several.get("/recordings/222.2?host=10.0.0.2")
    assert (foreign.status_code, foreign.json()["error"]) == (404, "not_found")
    own = several.get("/recordings/111.2?host=10.0.0.1")
    assert own.json()["error"] != "not_found"


@pytest.fixture
def watching(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    """One PBX in the file, and other hosts watched: the agent at 70 signed in."""
    wired = settings.with_changes(pbx_configs=(HEAD,), allow_unknown_hosts=True)
    with TestClient(create_app(wired, clock=clock)) as client:
        sign_in(client, "agent", extension="70")
        yield client


def test_a_watched_hosts_call_at_the_agents_extension_is_not_pushed_to_it(
    watching: TestClient,
) -> None:
    own, watched = call_dom_id(Call(HEAD.host, "111.1")), call_dom_id(Call(WATCHED, "333.1"))
    with (
        watching.websocket_connect("/ws") as viewer,
        watching.websocket_connect("/ws?only=popups") as other_page,
    ):
        viewer.receive_text()
        other_page.receive_text()
        send(watching, ringing(WATCHED, "333.1"))
        send(watching, ringing(HEAD.host, "111.1"))
        pushed = viewer.receive_text()
        assert "111.1" in pushed and "afterbegin:#popups" in pushed and "333.1" not in pushed
        popup = other_page.receive_text()
        assert f'id="popup-{own}"' in popup and watched not in popup
    assert uniqueids(watching.get("/api/calls/active").json()["calls"]) == ["111.1"]


def test_an_agent_whose_extension_no_pbx_owns_sees_no_call(
    settings: Settings, clock: FakeClock
) -> None:
    wired = settings.with_changes(pbx_configs=(HEAD, BRANCH), allow_unknown_hosts=True)
    with TestClient(create_app(wired, clock=clock)) as client:
        send(client, ringing(WATCHED, "333.1", extension="99"))
        send(client, ringing(BRANCH.host, "333.2", extension="99"))
        sign_in(client, "agent", name="nobody-owns", extension="99")
        assert client.get("/api/calls/active").json()["calls"] == []
        assert client.get("/api/calls?period=all").json()["calls"] == []
        assert "333.1" not in client.get("/").text
        with client.websocket_connect("/ws") as viewer:
            assert "333.1" not in viewer.receive_text()
        client.cookies.clear()
        sign_in(client, "supervisor")
        assert uniqueids(client.get("/api/calls/active").json()["calls"]) == ["333.1", "333.2"]


@pytest.mark.parametrize(
    ("configs", "extension", "hosts"),
    [
        ((), "70", None),  # the SYNAPSE_* PBX: its events may name any host
        ((HEAD,), "70", frozenset({"10.0.0.1"})),
        ((HEAD,), "46", frozenset({"10.0.0.1"})),  # one PBX: every extension is its own
        ((HEAD, BRANCH), "46", frozenset({"10.0.0.2"})),
        ((HEAD, BRANCH), "99", frozenset()),  # no PBX owns it: no call is its agent's
    ],
)
def test_an_extensions_calls_come_from_the_pbx_that_owns_it(
    settings: Settings, configs: tuple[PBXConfig, ...], extension: str, hosts: Any
) -> None:
    wired = settings.with_changes(pbx_configs=configs)
    assert wired.agent_scope(extension) == Scope(extension, hosts)


def test_a_scope_covers_its_extension_at_its_hosts() -> None:
    at_head = Scope("70", frozenset({"10.0.0.1"}))
    anywhere = Scope("70")
    nowhere = Scope("70", frozenset())
    calls = [("10.0.0.1", "70"), ("10.0.0.2", "70"), ("10.0.0.1", "71"), ("10.0.0.1", None)]
    assert [at_head.covers(*call) for call in calls] == [True, False, False, False]
    assert [anywhere.covers(*call) for call in calls] == [True, True, False, False]
    assert [nowhere.covers(*call) for call in calls] == [False] * 4


def test_a_host_stored_in_capitals_before_hosts_were_lowercased_is_still_the_agents() -> None:
    scope = Scope("70", frozenset({"pbx-a"}))
    assert [scope.covers(host, "70") for host in ("PBX-A", "Pbx-A", "pbx-b")] == [
        True,
        True,
        False,
    ]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE calls (host TEXT, extension TEXT, uniqueid TEXT)")
    db.executemany(
        "INSERT INTO calls VALUES (?, ?, ?)",
        [("PBX-A", "70", "1"), ("pbx-a", "70", "2"), ("PBX-B", "70", "3"), ("PBX-A", "71", "4")],
    )
    where, values = scope.sql()
    found = db.execute(f"SELECT uniqueid FROM calls WHERE {where} ORDER BY uniqueid", values)
    assert [uniqueid for (uniqueid,) in found] == ["1", "2"]


def test_an_agent_on_no_pbx_is_warned_of_at_start_up(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    wired = settings.with_changes(pbx_configs=(HEAD, BRANCH), config_path="/etc/dashboard.toml")
    with TestClient(create_app(wired, clock=clock)) as client:
        sign_in(client, "agent", name="ravi", extension="99")
        sign_in(client, "agent", name="asha", extension="70")
    with caplog.at_level(logging.WARNING, "dashboard.app"), TestClient(create_app(wired)):
        pass
    assert [r.getMessage() for r in caplog.records if r.name == "dashboard.app"] == [
        "the agent ravi has extension 99, which no PBX in /etc/dashboard.toml owns: they see"
        " no call until it is in one PBX's extensions"
    ]
