"""Rendering: every URL built from a call's identity is encoded, whatever the identity holds.

Events are refused unless their identity is plain (tests/test_events.py), but calls stored by
an older version may hold anything: so these calls are written straight to the store."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.testclient import TestClient

from dashboard.calls import Call, Status
from dashboard.fragments import Fragments, make_environment, url_part
from tests.conftest import FakeClock, parts_of

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
