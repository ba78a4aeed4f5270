from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dashboard.app import create_app
from dashboard.pbx_config import PBXConfig
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


# The agent view: one PBX in the file (the agent's at 70), another host's calls watched.
HEAD = PBXConfig(
    name="head-office", url="http://127.0.0.1:9", host="10.0.0.1", extensions=("70", "71")
)
WATCHED = "10.9.9.9"


def finished_call(
    clock: FakeClock, settings: Settings, uniqueid: str, number: str, **fields: str
) -> dict[str, str]:
    """An incoming call at 70 on the head office that ends now (answered, unless `fields`
    say otherwise)."""
    at = {"asteriskhost": HEAD.host, "uniqueid": uniqueid, "number": number, "extension": "70"}
    at |= fields
    zone = settings.zone_of(at["asteriskhost"])
    return just_finished(clock.now, zone, direction="Incoming", **at)


UNANSWERED = {"answertime": "", "disposition": "NO ANSWER", "billableseconds": "0"}


@pytest.fixture
def agent_board(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    """Agent 70 of the head office, signed in. A minute apart: six numbers missed at 70,
    then a call answered at 70; then a caller missed at 71 (another extension), and one
    missed and one answered at 70 on a watched host (another PBX's phone)."""
    wired = settings.with_changes(pbx_configs=(HEAD,), allow_unknown_hosts=True)
    with TestClient(create_app(wired, clock=clock)) as client:
        for n in range(1, 7):
            clock.advance(60)
            send(client, finished_call(clock, wired, f"111.{n}", f"981111111{n}", **UNANSWERED))
        clock.advance(60)
        send(client, finished_call(clock, wired, "111.7", "9876543210"))
        clock.advance(60)
        send(
            client,
            finished_call(clock, wired, "111.8", "9833333333", extension="71", **UNANSWERED),
        )
        clock.advance(60)
        send(
            client,
            finished_call(clock, wired, "333.1", "9822222222", asteriskhost=WATCHED, **UNANSWERED),
        )
        send(client, finished_call(clock, wired, "333.2", "9844444444", asteriskhost=WATCHED))
        parts_of(client).contacts.import_csv("number,name\n9811111116,Asha Rao\n")
        sign_in(client, "agent", extension="70")
        yield client


def agent_rows(page: str, section: str) -> list[tuple[str, str]]:
    """Each row of an agent's list (`section`: missed, recent): its link and its words."""
    html = page.split(f'<section id="agent-{section}"')[1].split("</section>")[0]
    rows = re.findall(r'<li class="agent-row">(.*?)</li>', html, re.S)
    return [
        (
            re.findall(r'href="([^"]*)"', row)[0],
            " ".join(re.sub(r"<[^>]+>", " ", row).split()),
        )
        for row in rows
    ]


def test_an_agent_sees_their_own_missed_callers_and_recent_calls_alone(
    agent_board: TestClient,
) -> None:
    page = agent_board.get("/").text
    assert agent_rows(page, "missed") == [
        ("/calls/111.6?host=10.0.0.1", "15:35 98111 11116 Asha Rao 1 try Mark done"),
        ("/calls/111.5?host=10.0.0.1", "15:34 98111 11115 1 try Mark done"),
        ("/calls/111.4?host=10.0.0.1", "15:33 98111 11114 1 try Mark done"),
        ("/calls/111.3?host=10.0.0.1", "15:32 98111 11113 1 try Mark done"),
        ("/calls/111.2?host=10.0.0.1", "15:31 98111 11112 1 try Mark done"),
    ]
    assert '<a href="/missed">All 6 on Missed calls</a>' in page
    assert agent_rows(page, "recent") == [
        ("/calls/111.7?host=10.0.0.1", "15:36 Incoming 98765 43210 Answered"),
        ("/calls/111.6?host=10.0.0.1", "15:35 Incoming 98111 11116 Asha Rao Missed"),
        ("/calls/111.5?host=10.0.0.1", "15:34 Incoming 98111 11115 Missed"),
        ("/calls/111.4?host=10.0.0.1", "15:33 Incoming 98111 11114 Missed"),
        ("/calls/111.3?host=10.0.0.1", "15:32 Incoming 98111 11113 Missed"),
    ]
    # Each number calls back on a deliberate press; "done" as on /missed.
    panel = page.split('<section class="agent-panel"')[1].split("</main>")[0]
    assert panel.count('<button type="button" class="dial-link" data-dial') == 10
    assert panel.count('title="Call 9811111116"') == 2
    assert panel.count('<form class="agent-done" hx-post="/missed/done"') == 5
    for other in ("9833333333", "9822222222", "9844444444", "111.8", "333.1", "333.2"):
        assert other not in page


def test_an_agents_lists_say_when_they_were_loaded_and_when_they_are_empty(
    settings: Settings, clock: FakeClock
) -> None:
    with TestClient(create_app(settings, clock=clock)) as client:
        sign_in(client, "agent", extension="70")
        page = client.get("/").text
    for section, empty in (
        ("missed", "Nothing to return. Well done."),
        ("recent", "No calls yet."),
    ):
        html = page.split(f'<section id="agent-{section}"')[1].split("</section>")[0]
        assert '<span class="agent-as-of">as of 15:30</span>' in html
        assert f'<li class="agent-row agent-none">{empty}</li>' in html
    assert 'href="/missed">All' not in page


def ringing_at_70(host: str, uniqueid: str) -> dict[str, str]:
    return {
        "event": "CallStart",
        "asteriskhost": host,
        "uniqueid": uniqueid,
        "direction": "Incoming",
        "number": "9855555555",
        "extension": "70",
        "hangupchannel": "SIP/70-1",
    }


def tile_of(html: str) -> str:
    """The opening tag of extension 70's tile in a page or a push."""
    return re.findall(r'<article id="ext-70"[^>]*>', html)[0]


def test_an_agents_tile_is_their_own_pbxs_and_is_pushed_live(agent_board: TestClient) -> None:
    idle = '<article id="ext-70" class="tile is-idle" data-group="">'
    assert tile_of(agent_board.get("/").text) == idle
    with agent_board.websocket_connect("/ws") as viewer:
        assert tile_of(viewer.receive_text()) == (
            '<article id="ext-70" class="tile is-idle" hx-swap-oob="true" data-group="">'
        )
        # Another PBX's call at 70 rings another phone: nothing of it is pushed to the agent.
        watched = {"number": "9866666666"}
        send(agent_board, ringing_at_70(WATCHED, "333.3") | watched)
        assert tile_of(agent_board.get("/").text) == idle
        send(agent_board, ringing_at_70(HEAD.host, "111.9"))
        pushed = viewer.receive_text()
    assert "111.9" in pushed and "333.3" not in pushed
    assert tile_of(pushed) == (
        '<article id="ext-70" class="tile is-ringing" hx-swap-oob="true" data-group="">'
    )
    party = re.findall(r'<p class="tile-party">([^<]*)', pushed.split('<article id="ext-70"')[1])
    assert party[0] == "98555 55555"
    assert tile_of(agent_board.get("/").text) == idle.replace("is-idle", "is-ringing")


def test_a_supervisors_board_has_the_grid_and_no_agent_view(agent_board: TestClient) -> None:
    sign_in(agent_board)
    page = agent_board.get("/").text
    assert 'class="agent-panel"' not in page and "agent-list" not in page
    assert '<section id="grid" class="grid-section"' in page


def test_an_agents_lists_are_pushed_when_their_call_leaves_the_board(
    agent_board: TestClient, clock: FakeClock, settings: Settings
) -> None:
    wired = parts_of(agent_board).settings
    sweep = parts_of(agent_board).ingestor.sweep
    with (
        agent_board.websocket_connect("/ws") as viewer,
        agent_board.websocket_connect("/ws?only=popups") as other_page,
    ):
        viewer.receive_text(), other_page.receive_text()
        clock.advance(60)
        send(agent_board, finished_call(clock, wired, "111.9", "9855555555", **UNANSWERED))
        finished = viewer.receive_text()
        assert "agent-missed" not in finished  # not stored yet when it is pushed
        clock.advance(settings.finished_linger_seconds + 1)
        agent_board.portal.call(sweep)  # type: ignore[union-attr]
        left = viewer.receive_text()
    assert left.startswith('<div id="call-') and 'hx-swap-oob="delete"></div>' in left
    assert '<section id="agent-missed" class="agent-list agent-missed" hx-swap-oob="true"' in left
    assert '<section id="agent-recent" class="agent-list agent-recent" hx-swap-oob="true"' in left
    assert agent_rows(left, "missed")[0] == (
        "/calls/111.9?host=10.0.0.1",
        "15:39 98555 55555 1 try Mark done",
    )
    assert agent_rows(left, "recent")[0] == (
        "/calls/111.9?host=10.0.0.1",
        "15:39 Incoming 98555 55555 Missed",
    )
    assert '<a href="/missed">All 7 on Missed calls</a>' in left
    assert '<span class="agent-as-of">as of 15:40</span>' in left


def test_a_caller_marked_done_leaves_the_agents_lists_on_every_board_of_theirs(
    agent_board: TestClient,
) -> None:
    page = agent_board.get("/").text
    csrf = re.findall(r'"X-CSRF-Token": "([^"]+)"', page)[0]
    key = re.findall(r'name="number_key" value="([^"]+)"', page)[0]  # 98111 11116's
    with (
        agent_board.websocket_connect("/ws") as board,
        agent_board.websocket_connect("/ws?only=popups") as other_page,
    ):
        board.receive_text(), other_page.receive_text()
        done = agent_board.post(
            "/missed/done", data={"number_key": key}, headers={"x-csrf-token": csrf}
        )
        assert (done.status_code, done.text) == (200, "")
        pushed = board.receive_text()
        agent_board.post("/logout", headers={"x-csrf-token": csrf})
        with pytest.raises(WebSocketDisconnect):  # closed with the session: nothing before it
            other_page.receive_text()
    assert pushed.startswith('<section id="agent-missed" class="agent-list agent-missed" hx-swap')
    assert [words for _, words in agent_rows(pushed, "missed")] == [
        f"15:3{n} 98111 1111{n + 1} 1 try Mark done" for n in range(4, -1, -1)
    ]  # the sixth caller is on the list now, and the count is one less
    assert '<a href="/missed">All 5 on Missed calls</a>' in pushed
    assert '<section id="agent-recent"' in pushed


def test_an_agent_reconnecting_gets_their_lists_as_they_are_now(
    agent_board: TestClient, clock: FakeClock
) -> None:
    """What changed while the socket was down (here a supervisor's "done" for everyone) is
    on the board again with the snapshot, not at the agent's next call."""
    parts_of(agent_board).callbacks.mark_done("9811111116", "sup", clock.now, None)
    with agent_board.websocket_connect("/ws") as board:
        snapshot = board.receive_text()
    assert [link for link, _ in agent_rows(snapshot, "missed")] == [
        f"/calls/111.{n}?host=10.0.0.1" for n in range(5, 0, -1)
    ]
    assert '<a href="/missed">All 5 on Missed calls</a>' in snapshot
    assert agent_rows(snapshot, "recent")[0][0] == "/calls/111.7?host=10.0.0.1"
    assert 'id="agent-missed" class="agent-list agent-missed" hx-swap-oob="true"' in snapshot


def test_another_extensions_call_leaving_pushes_no_lists_to_the_agent(
    agent_board: TestClient, clock: FakeClock, settings: Settings
) -> None:
    wired = parts_of(agent_board).settings
    sweep = parts_of(agent_board).ingestor.sweep
    clock.advance(settings.finished_linger_seconds + 1)
    agent_board.portal.call(sweep)  # type: ignore[union-attr]  # the agent's calls leave
    with agent_board.websocket_connect("/ws") as agent:
        agent.receive_text()
        sign_in(agent_board)  # a supervisor
        with agent_board.websocket_connect("/ws") as supervisor:
            supervisor.receive_text()
            clock.advance(60)
            send(
                agent_board,
                finished_call(clock, wired, "111.10", "9866666666", extension="71", **UNANSWERED),
            )
            supervisor.receive_text()
            clock.advance(settings.finished_linger_seconds + 1)
            agent_board.portal.call(sweep)  # type: ignore[union-attr]
            left = supervisor.receive_text()
            assert left.endswith('hx-swap-oob="delete"></div>') and "agent-" not in left
        send(agent_board, ringing_at_70(HEAD.host, "111.11"))
        pushed = agent.receive_text()  # the first push since: its own call's, nothing of 71's
    assert pushed.startswith('<div hx-swap-oob="afterbegin:#live-calls"><article id="call-')
    assert "98555 55555" in pushed and "98666" not in pushed and "agent-missed" not in pushed


def test_an_agents_call_of_another_day_says_which_day(settings: Settings, clock: FakeClock) -> None:
    with TestClient(create_app(settings, clock=clock)) as client:
        ended = just_finished(clock.now - timedelta(days=2), settings.timezone, extension="70")
        send(client, ended | {"direction": "Incoming", "uniqueid": "9.1", **UNANSWERED})
        sign_in(client, "agent", extension="70")
        page = client.get("/").text
    assert [text for _, text in agent_rows(page, "recent")] == [
        "25 Nov 15:29 Incoming 9876543XXX Missed"
    ]
