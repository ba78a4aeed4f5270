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

from dashboard.calls import Call, DayCounters, Status
from dashboard.contacts import Contacts
from dashboard.fragments import Fragments, make_environment, url_part
from dashboard.grid import Tile
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
    return re.findall(r'<span class="(?:call-name|tile-caller)">(.*?)</span>', html)


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
