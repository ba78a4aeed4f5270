from __future__ import annotations

import json

from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.settings import Settings
from tests.conftest import (
    CALL_CONNECT,
    CALL_FINISH,
    CALL_START,
    FakeClock,
    at_edges,
    just_finished,
    parts_of,
    send,
    sign_in,
)

HOSTILE_START = json.dumps(
    json.loads(CALL_START)
    | {
        "uniqueid": "666.1",
        "number": "<img src=x onerror=alert(1)>",
    }
)
HOSTILE_AGAIN = json.dumps(
    json.loads(CALL_START) | {"uniqueid": "666.2", "number": '"><script>alert(2)</script>'}
)


def test_the_page_shows_live_calls_and_counters(client: TestClient) -> None:
    send(client, CALL_START)
    page = client.get("/").text
    assert 'ws-connect="/ws"' in page
    assert 'id="live-calls"' in page and 'id="counters"' in page
    assert "9876543XXX" in page and "is-ringing" in page
    assert 'data-counter="ringing">1<' in page


def test_a_viewer_gets_a_snapshot_then_one_fragment_per_event(
    client: TestClient, clock: FakeClock
) -> None:
    send(client, CALL_START)
    with client.websocket_connect("/ws") as viewer:
        snapshot = viewer.receive_text()
        assert snapshot.startswith('<div id="live-calls" class="calls" hx-swap-oob="true">')
        assert "9876543XXX" in snapshot and 'id="counters"' in snapshot

        send(client, CALL_CONNECT)
        connected = viewer.receive_text()
        assert connected.startswith('<article id="call-') and 'hx-swap-oob="true"' in connected
        assert "is-connected" in connected and 'data-counter="talking">1<' in connected

        second = CALL_START.replace("1430819361.25418", "1430819400.1")
        send(client, second)
        added = viewer.receive_text()
        assert added.startswith('<div hx-swap-oob="afterbegin:#live-calls"><article id="call-')
        assert 'data-counter="live">2<' in added

        send(client, CALL_FINISH)
        finished = viewer.receive_text()
        assert "is-finished" in finished and "Answered" in finished
        assert 'data-counter="answered">0<' in finished  # the sample call is from 2015

        clock.advance(10)
        client.portal.call(parts_of(client).ingestor.sweep)  # type: ignore[union-attr]
        removed = viewer.receive_text()
        assert removed.endswith('hx-swap-oob="delete"></div>')


def test_a_reconnecting_viewer_starts_from_the_current_board(client: TestClient) -> None:
    with client.websocket_connect("/ws") as viewer:
        assert "9876543XXX" not in viewer.receive_text()
        send(client, CALL_START)
        viewer.receive_text()
    with client.websocket_connect("/ws") as viewer:
        assert "9876543XXX" in viewer.receive_text()


def test_every_viewer_receives_the_same_fragment(client: TestClient) -> None:
    with client.websocket_connect("/ws") as one, client.websocket_connect("/ws") as two:
        one.receive_text(), two.receive_text()
        send(client, CALL_START)
        assert one.receive_text() == two.receive_text()
        assert parts_of(client).hub.stats()["viewers"] == 2


def test_caller_supplied_text_is_escaped_in_pages_and_pushes(client: TestClient) -> None:
    with client.websocket_connect("/ws") as viewer:
        viewer.receive_text()
        send(client, HOSTILE_START)
        send(client, HOSTILE_AGAIN)
        pushed = viewer.receive_text() + viewer.receive_text()
    page = client.get("/").text
    markup_as_extension = json.loads(CALL_START) | {"uniqueid": "666.3", "extension": "<b>70"}
    refused = client.get("/synapse/events", params={"data": json.dumps(markup_as_extension)})
    assert (refused.status_code, refused.json()["error"]) == (422, "bad_value")
    for html in (pushed, page):
        assert "<img src=x" not in html and "<script>alert" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html


@at_edges
def test_todays_counters_survive_a_restart(settings: Settings, clock: FakeClock) -> None:
    finish = just_finished(clock.now, settings.timezone)
    missed = finish | {
        "uniqueid": "2.2",
        "direction": "Incoming",
        "disposition": "NO ANSWER",
        "answertime": "",
        "billableseconds": "0",
    }
    with TestClient(create_app(settings, clock=clock)) as client:
        sign_in(client)
        send(client, json.dumps(finish))
        send(client, json.dumps(missed))
        send(client, json.dumps(missed))  # a duplicate counts once
        assert 'data-counter="missed">1<' in client.get("/").text
    with TestClient(create_app(settings, clock=clock)) as client:
        sign_in(client)
        page = client.get("/").text
        assert 'data-counter="answered">1<' in page and 'data-counter="missed">1<' in page
        assert 'data-counter="average-talk">0:07<' in page
