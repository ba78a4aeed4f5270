"""TV mode, wall-screen links, the grid's pushes, live search and the settings page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dashboard.app import create_app
from dashboard.audience import EVERY_CALL, Audience
from dashboard.auth import Accounts
from dashboard.kiosk import Kiosks
from dashboard.passwords import token_digest
from dashboard.settings import Settings
from tests.conftest import CALL_START, FakeClock, parts_of, send, sign_in

AT_70 = json.loads(CALL_START) | {"direction": "Incoming", "number": "9876543210"}


@pytest.fixture
def board(settings: Settings, clock: FakeClock) -> Any:
    configured = settings.with_changes(
        extensions=("40", "70"), extension_groups=(("Sales", ("40",)),)
    )
    with TestClient(create_app(configured, clock=clock)) as client:
        yield client


def test_the_tv_shows_every_call_without_controls(board: TestClient) -> None:
    send(board, AT_70)
    sign_in(board, "supervisor")
    page = board.get("/tv").text
    assert 'ws-connect="/ws?view=tv"' in page and "98765 43210" in page
    assert "Hang up" not in page and 'class="dial-box"' not in page and 'class="nav"' not in page
    assert 'id="grid"' in page and 'id="ext-70"' in page and 'id="ext-40"' in page
    with board.websocket_connect("/ws?view=tv") as tv:
        assert "Hang up" not in tv.receive_text()
        send(board, AT_70 | {"uniqueid": "2.2"})
        assert "Hang up" not in tv.receive_text()


def test_the_tvs_socket_is_a_wall_screens_paced_as_one(board: TestClient) -> None:
    sign_in(board, "supervisor")
    with board.websocket_connect("/ws?view=tv") as tv, board.websocket_connect("/ws") as desk:
        tv.receive_text()
        desk.receive_text()
        audiences = {subscriber.audience for subscriber in parts_of(board).hub.subscribers}
    assert audiences == {EVERY_CALL, EVERY_CALL.wall_screen()}
    assert EVERY_CALL.wall_screen() == Audience(controls=False, wall=True)
    interval = parts_of(board).hub.paced
    assert interval is not None
    assert (interval(EVERY_CALL.wall_screen()), interval(EVERY_CALL)) == (0.5, 0.0)


def test_the_grid_gets_a_tile_per_change_and_whole_when_an_extension_is_new(
    board: TestClient,
) -> None:
    sign_in(board, "supervisor")
    with board.websocket_connect("/ws") as viewer:
        assert 'id="ext-40"' in viewer.receive_text()
        send(board, AT_70)
        pushed = viewer.receive_text()
        assert '<article id="ext-70" class="tile is-ringing" hx-swap-oob="true"' in pushed
        assert '<section id="grid"' not in pushed
        send(board, AT_70 | {"uniqueid": "3.3", "extension": "333"})
        assert '<section id="grid" class="grid-section" hx-swap-oob="true"' in viewer.receive_text()


def test_a_wall_screen_link_signs_in_for_good_until_revoked(board: TestClient) -> None:
    csrf = sign_in(board, "admin")
    made = board.post("/admin/kiosks", data={"label": "Sales <TV>", "csrf_token": csrf}).text
    link = re.search(r'value="(http://testserver/kiosk/[^"]+)"', made)
    assert link is not None and "Sales &lt;TV&gt;" in made
    board.cookies.clear()
    start = board.get(link[1])
    assert "data-autosubmit" in start.text and "dashboard_session" not in start.cookies
    signed_in = board.post(
        link[1], data={"csrf_token": form_token(start.text)}, follow_redirects=False
    )
    assert signed_in.headers["location"] == "/tv"
    assert "Max-Age=315360000" in signed_in.headers["set-cookie"]
    assert board.get("/tv").status_code == 200
    screen_cookie = board.cookies["dashboard_session"]
    with board.websocket_connect("/ws?view=tv") as tv:
        tv.receive_text()
        csrf = sign_in(board, "admin")  # the admin, at another browser
        [screen] = parts_of(board).kiosks.links()
        revoked = board.post("/admin/kiosks", data={"revoke": screen.id, "csrf_token": csrf})
        assert "Revoked the link for Sales &lt;TV&gt;" in revoked.text
        with pytest.raises(WebSocketDisconnect) as closed:
            tv.receive_text()
        assert closed.value.code == 1008
    board.cookies.clear()
    board.cookies.set("dashboard_session", screen_cookie)
    assert board.get("/tv", follow_redirects=False).status_code == 303
    assert board.post(link[1], follow_redirects=False).status_code == 404


def form_token(page: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return token[1]


CROSS_SITE = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}


def test_another_site_cannot_sign_a_browser_in_as_a_wall_screen(board: TestClient) -> None:
    _, token = parts_of(board).kiosks.create("Sales TV", "test")
    link = f"/kiosk/{token}"
    sign_in(board, "supervisor", name="sam")
    own_page = board.get(link).text  # the attacker's own copy of the page, and its token
    del board.cookies["dashboard_kiosk_csrf"]  # which the victim's browser does not have
    for data in ({}, {"csrf_token": form_token(own_page)}):
        refused = board.post(link, data=data, headers=CROSS_SITE, follow_redirects=False)
        assert refused.status_code == 403
        assert "did not come from this dashboard's own wall-screen page" in refused.text
        assert "data-autosubmit" not in refused.text and "set-cookie" not in refused.headers
    # Even with the page's token and its cookie (a sibling site that can set cookies): no.
    board.get(link)
    with_cookie = board.post(
        link, data={"csrf_token": form_token(board.get(link).text)}, headers=CROSS_SITE
    )
    assert with_cookie.status_code == 403
    session = parts_of(board).accounts.session(board.cookies["dashboard_session"], FakeClock().now)
    assert session is not None and session.user.name == "sam"  # still signed in as before
    assert [entry.action for entry in parts_of(board).audit.entries()] == ["sign-in"]


def test_a_wall_screen_page_starts_by_itself_only_when_opened_directly(board: TestClient) -> None:
    _, token = parts_of(board).kiosks.create("Sales TV", "test")
    link = f"/kiosk/{token}"
    for headers in ({}, {"sec-fetch-site": "none"}, {"sec-fetch-site": "same-origin"}):
        assert "data-autosubmit" in board.get(link, headers=headers).text
    followed = board.get(link, headers=CROSS_SITE).text  # a link on another site
    assert "data-autosubmit" not in followed and "Start the wallboard" in followed
    sign_in(board, "supervisor", name="sam")
    signed_in = board.get(link).text
    assert "data-autosubmit" not in signed_in
    assert "You are signed in as sam" in signed_in
    started = board.post(link, data={"csrf_token": form_token(signed_in)}, follow_redirects=False)
    assert (started.status_code, started.headers["location"]) == (303, "/tv")


def test_only_admins_manage_wall_screens_and_read_settings(board: TestClient) -> None:
    sign_in(board, "supervisor")
    assert board.get("/admin/kiosks").status_code == 403
    assert board.get("/admin/settings").status_code == 403
    sign_in(board, "admin")
    settings_page = board.get("/admin/settings").text
    seconds = re.findall(r'name="(\w+)" type="number"[^>]* value="(\d+)"', settings_page)
    assert seconds == [
        ("ring_warn", "15"),
        ("ring_alert", "30"),
        ("talk_warn", "600"),
        ("talk_alert", "1200"),
    ]
    assert "40, 70" in settings_page and ">Sales: 40</textarea>" in settings_page
    assert "no country set: +, 00 and 011 all count as international" in settings_page
    assert "Transfers to outside numbers</th><td>supervisors and admins<" in settings_page


def test_live_search_finds_the_caller_now_and_before(board: TestClient) -> None:
    send(board, AT_70 | {"uniqueid": "1.1", "event": "CallFinish", "disposition": "NO ANSWER"})
    send(board, AT_70 | {"uniqueid": "1.2"})
    send(board, AT_70 | {"uniqueid": "1.3", "number": "5550100", "extension": "40"})
    sign_in(board, "supervisor")
    found = board.get("/search?number=98765 432").text
    assert "is <strong>ringing</strong> at extension 70" in found
    assert found.count("<tr><td>") == 2 and "missed" in found
    assert "Type at least 3 digits" in board.get("/search?number=98").text
    assert "No call with 777 right now" in board.get("/search?number=777").text
    sign_in(board, "agent", name="ravi", extension="40")
    mine = board.get("/search?number=555").text
    assert "at extension 40" in mine
    others = board.get("/search?number=98765").text  # extension 70's calls: not the agent's
    assert "No call with 98765 right now" in others and "No earlier calls with 98765" in others


def test_a_wall_screen_link_can_show_one_group(board: TestClient) -> None:
    csrf = sign_in(board, "admin")
    refused = board.post(
        "/admin/kiosks", data={"label": "Floor", "group": "Nowhere", "csrf_token": csrf}
    ).text
    assert "no such group: &#39;Nowhere&#39;; choose one of the list" in refused
    assert parts_of(board).kiosks.links() == []
    made = board.post(
        "/admin/kiosks", data={"label": "Sales floor", "group": "Sales", "csrf_token": csrf}
    ).text
    assert '<option value="Sales">Sales</option>' in made
    assert "<td>Sales floor</td><td>Sales</td>" in made
    link = re.search(r'value="(http://testserver/kiosk/[^"]+)"', made)
    assert link is not None
    board.cookies.clear()
    start = board.get(link[1])
    signed_in = board.post(
        link[1], data={"csrf_token": form_token(start.text)}, follow_redirects=False
    )
    assert signed_in.headers["location"] == "/tv?group=Sales"
    screen = board.get(signed_in.headers["location"]).text
    assert 'ws-connect="/ws?view=tv&amp;group=Sales"' in screen
    assert 'id="ext-40"' in screen and 'id="ext-70"' not in screen


def test_wall_screen_links_made_before_groups_still_sign_in(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "old.db")
    db.execute(
        "CREATE TABLE kiosk_links (id INTEGER PRIMARY KEY, label TEXT NOT NULL, user TEXT NOT"
        " NULL, token_hash TEXT NOT NULL, created_by TEXT, created_at TEXT, revoked_at TEXT)"
    )
    accounts = Accounts(db, kdf_n=2**10)
    accounts.add_user("kiosk-old", "viewer", "a password nobody knows")
    db.execute(
        "INSERT INTO kiosk_links (label, user, token_hash, created_by, created_at)"
        " VALUES ('Old TV', 'kiosk-old', ?, 'admin', '2026-01-01T00:00:00+00:00')",
        [token_digest("old-token")],
    )
    found = Kiosks(db, accounts).link_for("old-token")
    assert found is not None and (found[0].group, found[0].board_path) == ("", "/tv")
