"""The call pop-up, pushed to the agent whose extension rings, and to no one else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.contacts import phone_key
from dashboard.pbx_config import PBXConfig
from dashboard.settings import Settings
from tests.conftest import CALL_START, FakeClock, parts_of, send, sign_in

RINGING = json.loads(CALL_START) | {
    "direction": "Incoming",
    "number": "+91 98765 43210",
    "uniqueid": "500.1",
    "extension": "70",
}


@pytest.fixture
def agent(settings: Settings, clock: FakeClock) -> Any:
    crm = settings.with_changes(crm_url_template="https://crm.example/search?phone={number}")
    with TestClient(create_app(crm, clock=clock)) as client:
        sign_in(client, "agent")  # extension 70
        yield client


def test_an_incoming_call_pops_up_for_the_agent_it_rings(
    agent: TestClient, clock: FakeClock
) -> None:
    contacts = parts_of(agent).contacts
    contacts.import_csv("number,name,company\n09876543210,Asha Rao,Acme Ltd\n")
    send(agent, RINGING | {"uniqueid": "400.1"})  # the same number, an hour before
    send(agent, RINGING | {"uniqueid": "400.1", "event": "CallFinish", "disposition": "ANSWERED"})
    clock.advance(3600)
    with agent.websocket_connect("/ws") as viewer:
        assert '<div id="popups" class="popups" hx-swap-oob="true"></div>' in viewer.receive_text()
        send(agent, RINGING)
        pushed = viewer.receive_text()
        popup = pushed[pushed.index('<div hx-swap-oob="afterbegin:#popups">') :]
        assert "Ringing · extension 70" in popup and "Asha Rao" in popup and "Acme Ltd" in popup
        assert "Called 1 time before" in popup
        assert 'href="https://crm.example/search?phone=%2B91%2098765%2043210"' in popup
        send(agent, RINGING | {"event": "CallConnect"})
        answered = viewer.receive_text()
        assert '<section hx-swap-oob="true" id="popup-' in answered and "On the line" in answered
        send(agent, RINGING | {"event": "CallFinish", "disposition": "ANSWERED"})
        assert 'hx-swap-oob="delete"></div>' in viewer.receive_text().split("</section>")[-1]


def test_an_unknown_first_time_caller(agent: TestClient) -> None:
    with agent.websocket_connect("/ws") as viewer:
        viewer.receive_text()
        send(agent, RINGING | {"number": "5550100"})
        pushed = viewer.receive_text()
        assert "Unknown caller" in pushed and "First call from this number" in pushed


def test_no_pop_up_for_outgoing_calls_or_other_extensions(agent: TestClient) -> None:
    with agent.websocket_connect("/ws") as viewer:
        viewer.receive_text()
        send(agent, RINGING | {"direction": "Outgoing", "uniqueid": "600.1"})
        assert "popup" not in viewer.receive_text()
        send(agent, RINGING | {"extension": "46", "uniqueid": "600.2"})  # not pushed at all
        send(agent, RINGING | {"uniqueid": "600.3"})
        assert "afterbegin:#popups" in viewer.receive_text()


def test_a_call_transferred_away_takes_its_pop_up_along(agent: TestClient) -> None:
    with agent.websocket_connect("/ws") as viewer:
        viewer.receive_text()
        send(agent, RINGING)
        viewer.receive_text()
        send(agent, RINGING | {"extension": "46"})
        moved = viewer.receive_text()
        assert moved.count('hx-swap-oob="delete"') == 2  # the row and the pop-up


def test_supervisors_get_no_pop_ups(client: TestClient) -> None:
    with client.websocket_connect("/ws") as viewer:
        assert "popups" not in viewer.receive_text()
        send(client, RINGING)
        assert "popup" not in viewer.receive_text()


@pytest.mark.parametrize(
    ("number", "key"),
    [
        ("+91 98765 43210", "9876543210"),
        ("09876543210", "9876543210"),
        ("919876543210", "9876543210"),
        ("98765-43210", "9876543210"),
        ("70", "70"),
        ("anonymous", None),
        ("", None),
    ],
)
def test_numbers_match_whichever_way_they_are_written(number: str, key: str | None) -> None:
    assert phone_key(number, 10) == key


def test_other_pages_get_the_pop_ups_and_nothing_else(agent: TestClient) -> None:
    page = agent.get("/contacts").text
    assert 'ws-connect="/ws?only=popups"' in page and 'id="popups"' in page
    with agent.websocket_connect("/ws?only=popups") as viewer:
        assert viewer.receive_text() == '<div id="popups" class="popups" hx-swap-oob="true"></div>'
        send(agent, RINGING | {"direction": "Outgoing", "uniqueid": "700.1"})  # no pop-up
        send(agent, RINGING)
        pushed = viewer.receive_text()
        assert pushed.startswith('<div hx-swap-oob="afterbegin:#popups">')
        assert "live-calls" not in pushed and "counters" not in pushed
    wallboard = agent.get("/").text
    assert 'ws-connect="/ws?only=popups"' not in wallboard and "Ringing · extension 70" in wallboard


def history_line(html: str) -> str:
    """What the (one) pop-up in `html` says of the number's calls before."""
    return html.split('<p class="popup-history">')[1].split("</p>")[0]


def test_the_pop_up_counts_only_the_calls_its_agent_may_see(
    agent: TestClient, clock: FakeClock
) -> None:
    """98000 00046 called 70 at 15:30, then 46 at 16:00 (a call agent 70 is not shown
    anywhere); at 16:30 it rings 70."""
    earlier = RINGING | {"number": "9800000046"}
    send(agent, earlier | {"uniqueid": "400.1"})
    send(agent, earlier | {"uniqueid": "400.1", "event": "CallFinish", "disposition": "ANSWERED"})
    clock.advance(1800)
    send(agent, earlier | {"uniqueid": "400.2", "extension": "46"})
    at_46 = {"uniqueid": "400.2", "extension": "46", "event": "CallFinish"}
    send(agent, earlier | at_46 | {"disposition": "ANSWERED"})
    clock.advance(1800)
    said = "Called 1 time before, last on 27 Nov 2026 15:30"
    with agent.websocket_connect("/ws") as viewer:
        viewer.receive_text()
        send(agent, earlier)
        assert history_line(viewer.receive_text()) == said
    assert history_line(agent.get("/").text) == said  # the page's first paint
    with agent.websocket_connect("/ws?only=popups") as viewer:
        assert history_line(viewer.receive_text()) == said  # a socket's snapshot


def test_the_pop_up_counts_no_call_from_another_host_at_the_extension(
    settings: Settings, clock: FakeClock
) -> None:
    """With one PBX in the file, a watched host's call at 70 is someone else's phone."""
    head = PBXConfig(name="head", url="http://127.0.0.1:9", host="10.0.0.1", extensions=("70",))
    wired = settings.with_changes(pbx_configs=(head,), allow_unknown_hosts=True)
    with TestClient(create_app(wired, clock=clock)) as client:
        sign_in(client, "agent", "agent-70", "70")
        watched = RINGING | {"asteriskhost": "10.9.9.9", "uniqueid": "410.1"}
        send(client, watched)
        send(client, watched | {"event": "CallFinish", "disposition": "ANSWERED"})
        clock.advance(60)
        with client.websocket_connect("/ws?only=popups") as viewer:
            viewer.receive_text()
            send(client, RINGING | {"asteriskhost": "10.0.0.1"})
            assert history_line(viewer.receive_text()) == "First call from this number"
