"""Rendering: every URL built from a call's identity is encoded, whatever the identity holds.

Events are refused unless their identity is plain (tests/test_events.py), but calls stored by
an older version may hold anything: so these calls are written straight to the store."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils
from starlette.testclient import TestClient

from dashboard.calls import Board, Call, DayCounters, Status
from dashboard.contacts import Contacts
from dashboard.fragments import Fragments, make_environment, url_part
from dashboard.grid import Tile
from dashboard.thresholds import Thresholds
from tests.conftest import CALL_START, FakeClock, just_finished, parts_of, send, sign_in

ROOT = Path(__file__).resolve().parent.parent
ODD = {"uniqueid": "../calls/T70.1 #2", "host": "pbx one#2?x=/"}
ODD_URL = "..%2Fcalls%2FT70.1%20%232"
ODD_HOST = "pbx%20one%232%3Fx%3D%2F"


def test_url_part_escapes_everything_that_could_move_a_url() -> None:
    assert url_part("../calls/T70.1") == "..%2Fcalls%2FT70.1"
    assert url_part("a b#c?d&e=f%g+h\x00é") == "a%20b%23c%3Fd%26e%3Df%25g%2Bh%00%C3%A9"
    assert url_part("1430819361.25418") == "1430819361.25418"
    assert url_part(70) == "70"


def test_a_live_calls_controls_post_to_its_own_url() -> None:
    fragments = Fragments(make_environment(ROOT / "templates", ZoneInfo("Asia/Kolkata")))
    call = Call(status=Status.CONNECTED, extension="70", number="+91 98765 #1", **ODD)
    html = fragments.call(call, controls=True)
    assert re.findall(r'hx-post="([^"]*)"', html) == [
        f"/api/calls/{ODD_URL}/hangup?host={ODD_HOST}",
        f"/api/calls/{ODD_URL}/transfer?host={ODD_HOST}",
    ]


def test_history_missed_calls_and_the_player_link_to_the_call_itself(
    client: TestClient, clock: FakeClock
) -> None:
    started = clock() - timedelta(hours=1)
    missed = Call(
        status=Status.FINISHED,
        direction="incoming",
        number="9876543210",
        extension="70",
        start_time=started,
        end_time=started + timedelta(seconds=20),
        duration=20,
        billable_seconds=0,
        disposition="no_answer",
        cdr_seen=True,
        first_seen_at=started,
        recordlink="http://192.168.1.51/callrecord/x.wav",
        **ODD,
    )
    parts_of(client).store.record_event(started, "CallFinish", "{}", missed)
    link = f'href="/calls/{ODD_URL}?host={ODD_HOST}"'
    back = "&amp;back=period%3Dtoday"  # the history's link brings its filters to the call
    assert link.removesuffix('"') + back + '"' in client.get("/calls?period=today").text
    assert link in client.get("/missed").text
    page = client.get(f"/calls/{url_part('1.2 #3')}?host={ODD_HOST}")  # a page it can reach
    assert page.status_code == 404  # no such call yet
    parts_of(client).store.record_event(
        started, "CallFinish", "{}", replace(missed, uniqueid="1.2 #3")
    )
    page = client.get(f"/calls/{url_part('1.2 #3')}?host={ODD_HOST}")
    src = f"/recordings/1.2%20%233?host={ODD_HOST}"
    assert re.findall(r'data-src="([^"]*)"|href="(/recordings/[^"]*)"', page.text) == [
        (src, ""),
        ("", f"{src}&amp;download=1"),
    ]


HOSTILE = "<img src=x onerror=alert(1)>"


def named(html: str) -> list[str]:
    """The names shown next to numbers in `html`."""
    return re.findall(r'<span class="(?:call-name|tile-caller)"[^>]*>(.*?)</span>', html)


def test_a_call_and_a_tile_show_the_callers_name_escaped() -> None:
    contacts = Contacts(sqlite_utils.Database(sqlite3.connect(":memory:")), 10)
    contacts.import_csv(f"number,name\n9876543210,{HOSTILE}\n")
    env = make_environment(ROOT / "templates", ZoneInfo("UTC"), name_of=contacts.name_of)
    fragments = Fragments(env)
    known = Call(host="h", uniqueid="1.1", number="+919876543210", extension="70")
    pbx_named = replace(known, number="5550100111", extra={"callername": "Ravi & Sons"})
    unnamed = replace(known, number="5550100111")
    assert named(fragments.call(known)) == ["&lt;img src=x onerror=alert(1)&gt;"]
    assert named(fragments.call(pbx_named, controls=True)) == ["Ravi &amp; Sons"]
    assert named(fragments.call(unnamed)) == []
    day = DayCounters(date(2026, 11, 27))
    tile = Tile("70", "asha", "", "ringing", known, None, day)
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert named(fragments.tile(tile, now)) == ["&lt;img src=x onerror=alert(1)&gt;"]
    assert named(fragments.tile(replace(tile, call=unnamed), now)) == []
    assert named(fragments.tile(replace(tile, state="idle", call=None), now)) == []


def test_a_callers_name_is_shown_wherever_its_number_is(
    client: TestClient, clock: FakeClock
) -> None:
    parts_of(client).contacts.import_csv(f"Phone;Full Name\n9876543210;{HOSTILE}\n")
    tz = parts_of(client).settings.timezone
    finished = just_finished(
        clock(), tz, direction="Incoming", number="09876543210", disposition="NO ANSWER"
    )
    send(client, finished | {"uniqueid": "1.1", "answertime": "", "billableseconds": "0"})
    ringing = json.loads(CALL_START) | {"direction": "Incoming", "number": "+919876543210"}
    send(client, ringing | {"uniqueid": "1.2"})
    sign_in(client, "supervisor")
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    # The ringing call, the finished one still lingering on the list, the grid's tile.
    assert named(client.get("/").text) == [escaped] * 3
    history = client.get("/calls?period=today").text
    assert f"<td>{escaped}</td>" in history and history.count(escaped) == 2
    assert named(client.get("/calls/1.1").text) == [escaped]
    assert f"<td>{escaped}</td>" in client.get("/missed").text
    for page in ("/", "/calls?period=today", "/calls/1.1", "/missed"):
        assert HOSTILE not in client.get(page).text


# A push's partials as users see them, whole: rendering them more cheaply must not change them.
PUSHED_AT = datetime(2026, 11, 27, 12, 0, 30, tzinfo=UTC)
PUSHED_ROW_CONTROLS = (
    '<article id="call-5ef018fe5b47dbed" class="call is-connected" '
    'hx-swap-oob="true" data-direction="incoming">\n'
    '  <span class="call-direction" title="Incoming">\n'
    '    <svg class="icon" aria-hidden="true"><use '
    'href="/static/icons.svg#incoming"></use></svg>\n'
    '    <span class="sr-only">Incoming call</span>\n'
    "  </span>\n"
    '  <span class="call-number" data-number="+919876543210"><button '
    'type="button" class="dial-link" data-dial hx-trigger="dial" '
    'hx-disabled-elt="this" hx-post="/api/originate" hx-vals=\'{"number": '
    '"+919876543210"}\' hx-include="#dial-extension" hx-target="#toasts" '
    'hx-swap="afterbegin" title="Call +919876543210">+91 98765 43210</button> '
    '<span class="call-name" title="Ravi &lt;&amp; Sons&gt;">'
    "Ravi &lt;&amp; Sons&gt;</span></span>\n"
    '  <span class="call-extension"><span class="sr-only">Extension </span>42</span>\n'
    '<span class="call-pbx"><span class="sr-only">PBX </span>Main '
    '&lt;PBX&gt;</span>  <span class="call-state">Talking</span>\n'
    '  <time class="call-timer" data-since="1795780810000" data-threshold '
    'data-warn="300" data-alert="600">0:00</time>\n'
    '  <span class="call-actions">\n'
    '    <button type="button" class="act-hangup" '
    'hx-post="/api/calls/1700000000.1/hangup?host=192.168.1.51" '
    'hx-confirm="Hang up the call with Ravi &lt;&amp; Sons&gt; (+91 98765 43210)?" '
    'hx-target="#toasts" hx-swap="afterbegin" data-busy="Hanging up…">Hang up</button>\n'
    '    <form class="act-transfer" '
    'hx-post="/api/calls/1700000000.1/transfer?host=192.168.1.51" '
    'hx-target="#toasts" hx-swap="afterbegin">\n'
    '      <label class="sr-only" for="tx-call-5ef018fe5b47dbed">Transfer to '
    "an extension or a number</label>\n"
    '      <input id="tx-call-5ef018fe5b47dbed" name="extension" '
    'inputmode="tel" pattern="\\+?[0-9 ]{1,20}" maxlength="20" required '
    'placeholder="Ext" title="An extension (the list shows who is free), or an '
    'outside number" hx-preserve="true" autocomplete="off"\n'
    '             aria-controls="txl-call-5ef018fe5b47dbed" '
    'hx-get="/api/calls/1700000000.1/transfer-targets?host=192.168.1.51" '
    'hx-trigger="focus, input changed delay:200ms" '
    'hx-target="#txl-call-5ef018fe5b47dbed" hx-swap="innerHTML">\n'
    '      <button type="submit" data-busy="Transferring…">Transfer</button>\n'
    "    </form>\n"
    "  </span>\n"
    '<div id="txl-call-5ef018fe5b47dbed" class="tx-targets" '
    'hx-preserve="true"></div>  <p id="out-call-5ef018fe5b47dbed" class="call-outcome" '
    'role="status" hx-preserve="true"></p>\n'
    "</article>"
)
PUSHED_ROW_READ_ONLY = (
    '<article id="call-5ef018fe5b47dbed" class="call is-connected" '
    'hx-swap-oob="true" data-direction="incoming">\n'
    '  <span class="call-direction" title="Incoming">\n'
    '    <svg class="icon" aria-hidden="true"><use '
    'href="/static/icons.svg#incoming"></use></svg>\n'
    '    <span class="sr-only">Incoming call</span>\n'
    "  </span>\n"
    '  <span class="call-number" data-number="+919876543210">+91 98765 43210 '
    '<span class="call-name" title="Ravi &lt;&amp; Sons&gt;">'
    "Ravi &lt;&amp; Sons&gt;</span></span>\n"
    '  <span class="call-extension"><span class="sr-only">Extension </span>42</span>\n'
    '<span class="call-pbx"><span class="sr-only">PBX </span>Main '
    '&lt;PBX&gt;</span>  <span class="call-state">Talking</span>\n'
    '  <time class="call-timer" data-since="1795780810000" data-threshold '
    'data-warn="300" data-alert="600">0:00</time>\n'
    "</article>"
)
PUSHED_ROW_ADDED = (
    '<div hx-swap-oob="afterbegin:#live-calls"><article '
    'id="call-ed020e01296e1fea" class="call is-ringing" data-direction="incoming">\n'
    '  <span class="call-direction" title="Incoming">\n'
    '    <svg class="icon" aria-hidden="true"><use '
    'href="/static/icons.svg#incoming"></use></svg>\n'
    '    <span class="sr-only">Incoming call</span>\n'
    "  </span>\n"
    '  <span class="call-number" data-number="5550100">55 50100 <span '
    'class="call-name" title="Asha&#39;s &#34;desk&#34;">Asha&#39;s &#34;desk&#34;</span></span>\n'
    '  <span class="call-extension"><span class="sr-only">Extension </span>43</span>\n'
    '<span class="call-pbx"><span class="sr-only">PBX </span>Main '
    '&lt;PBX&gt;</span>  <span class="call-state">Ringing</span>\n'
    '  <time class="call-timer" data-since="1795780800000" data-threshold '
    'data-warn="20" data-alert="40">0:00</time>\n'
    "</article></div>"
)
PUSHED_REMOVAL = '<div id="call-ed020e01296e1fea" hx-swap-oob="delete"></div>'
PUSHED_COUNTERS = (
    '<section id="counters" class="counters" hx-swap-oob="true" '
    'data-server-now="1795780830000" aria-label="Counters">\n'
    '  <div class="counter"><span class="counter-value" '
    'data-counter="live">2</span><span class="counter-label">Live now</span></div>\n'
    '  <div class="counter is-ringing level-ok"><span class="counter-value" '
    'data-counter="ringing">1</span><span class="counter-label">Ringing</span></div>\n'
    '  <div class="counter is-connected"><span class="counter-value" '
    'data-counter="talking">1</span><span class="counter-label">Talking</span></div>\n'
    '  <div class="counter"><span class="counter-value" '
    'data-counter="answered">3</span><span class="counter-label">Answered '
    "today</span></div>\n"
    '  <div class="counter is-missed"><span class="counter-value" '
    'data-counter="missed">1</span><span class="counter-label">Missed '
    "today</span></div>\n"
    '  <div class="counter"><span class="counter-value" '
    'data-counter="average-talk">1:07</span><span '
    'class="counter-label">Average talk</span></div>\n'
    '  <div class="counter"><span class="counter-value" '
    'data-counter="longest-wait"><time data-since="1795780800000" '
    'data-threshold data-warn="20" data-alert="40">0:00</time></span><span '
    'class="counter-label">Longest wait now</span></div>\n'
    "</section>"
)
PUSHED_TILE = (
    '<article id="ext-42" class="tile is-talking" hx-swap-oob="true" '
    'data-group="sales" data-pbx="Main">\n'
    '  <p class="tile-head"><span class="tile-ext">42</span> <span '
    'class="tile-state-name">On a call</span>\n'
    '<time class="tile-timer" datetime="2026-11-27T12:00:10+00:00" '
    'data-since="1795780810000" data-threshold data-warn="300" '
    'data-alert="600">0:00</time><span class="tile-name">asha &amp; co</span></p>\n'
    '<p class="tile-party">+91 98765 43210 <span class="tile-caller">Ravi '
    '&lt;&amp; Sons&gt;</span></p>  <p class="tile-day" title="Today"><span '
    'class="tile-figure"><b>3</b> answered</span> <span class="tile-figure '
    'tile-missed"><b>1</b> missed</span> <span class="tile-figure"><b>3:20</b> '
    "talk</span></p>\n"
    "</article>"
)


def test_the_partials_of_a_push_render_whole_as_users_see_them() -> None:
    contacts = Contacts(sqlite_utils.Database(sqlite3.connect(":memory:")), 10)
    contacts.import_csv('number,name\n9876543210,"Ravi <& Sons>"\n')
    thresholds = Thresholds(20, 40, 300, 600, 3, 6, False)
    pbx_names = {"192.168.1.51": "Main <PBX>"}
    tz = ZoneInfo("Asia/Kolkata")
    env = make_environment(ROOT / "templates", tz, thresholds, pbx_names, contacts.name_of)
    fragments = Fragments(env)
    talking = Call(
        host="192.168.1.51",
        uniqueid="1700000000.1",
        status=Status.CONNECTED,
        direction="incoming",
        number="+919876543210",
        extension="42",
        start_time=PUSHED_AT - timedelta(seconds=30),
        answer_time=PUSHED_AT - timedelta(seconds=20),
    )
    ringing = replace(
        talking,
        uniqueid="1700000000.2",
        status=Status.RINGING,
        number="5550100",
        extension="43",
        answer_time=None,
        extra={"callername": 'Asha\'s "desk"'},
    )
    board = Board(5)
    board.load([talking, ringing])
    day = DayCounters(PUSHED_AT.date(), answered=3, missed=1, talk_seconds=200)
    tile = Tile("42", "asha & co", "sales", "talking", talking, talking.answer_time, day, "Main")
    assert fragments.call_changed(talking, False, controls=True) == PUSHED_ROW_CONTROLS
    assert fragments.call_changed(talking, False, controls=False) == PUSHED_ROW_READ_ONLY
    assert fragments.call_changed(ringing, True, controls=False) == PUSHED_ROW_ADDED
    assert fragments.call_removed(ringing) == PUSHED_REMOVAL
    assert fragments.counters(board, day, PUSHED_AT, oob=True) == PUSHED_COUNTERS
    assert fragments.tile(tile, PUSHED_AT, oob=True) == PUSHED_TILE
