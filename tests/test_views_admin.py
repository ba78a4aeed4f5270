"""The admin pages: the audit log's filters, paging and CSV export; the thresholds and groups
changed at /admin/settings (validated, audited, kept across a restart, pushed to every open
board at once)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.settings import Settings
from dashboard.thresholds import Thresholds
from tests.conftest import CALL_START, FakeClock, parts_of, send, sign_in

AUDIT_ROW = re.compile(
    r'<tr(?: class="is-refused")?>\s*<td><time datetime="[^"]+">([^<]+)</time></td>\s*'
    r"<td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>"
)


def said(page: str) -> str:
    found = re.search(r'<p class="form-(?:ok|error)" role="(?:status|alert)">([^<]*)</p>', page)
    return html.unescape(found[1]) if found else ""


def rows(page: str) -> list[tuple[str, ...]]:
    """The audit table's rows: (when, who, what, target)."""
    return [tuple(html.unescape(cell) for cell in row) for row in AUDIT_ROW.findall(page)]


def audited(client: TestClient, action: str) -> list[tuple[str, str, str]]:
    entries = reversed(parts_of(client).audit.entries(1000))
    return [(e.user, e.result, e.detail) for e in entries if e.action == action]


@pytest.fixture
def admin(anonymous: TestClient) -> tuple[TestClient, str]:
    return anonymous, sign_in(anonymous, "admin", name="root")


# -- the audit log ------------------------------------------------------------------------

UTC_AT = datetime(2026, 11, 26, 18, 29, tzinfo=UTC)  # 23:59 on the 26th in Kolkata


def fill_log(client: TestClient) -> None:
    """Entries either side of midnight on 27 November in the board's zone (Asia/Kolkata)."""
    log = parts_of(client).audit
    log.record(UTC_AT, "asha", "hangup", target="1.1")
    log.record(UTC_AT + timedelta(minutes=1), "asha", "transfer", target="1.2")
    log.record(UTC_AT + timedelta(minutes=2), "bilal", "hangup", target="1.3")
    log.record(UTC_AT + timedelta(days=1), "asha", "hangup", target="1.4")
    log.record(UTC_AT + timedelta(days=1, minutes=1), "asha", "hangup", target="1.5")


def test_the_audit_log_filtered_by_who_what_and_when(admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    fill_log(client)
    asked = client.get("/admin/audit?who=ash&action=hangup&from=2026-11-27&to=2026-11-27")
    assert rows(asked.text) == [("2026-11-27 23:59:00", "asha", "hangup", "1.4")]
    by_day = client.get("/admin/audit?from=2026-11-26&to=2026-11-26").text
    assert rows(by_day) == [("2026-11-26 23:59:00", "asha", "hangup", "1.1")]
    by_action = client.get("/admin/audit?action=hangup&to=2026-11-27").text
    assert [row[3] for row in rows(by_action)] == ["1.4", "1.3", "1.1"]
    assert '<option value="transfer">transfer</option>' in by_action
    assert '<option value="hangup" selected>hangup</option>' in by_action
    nothing = client.get("/admin/audit?who=nobody").text
    assert rows(nothing) == [] and "Nothing matches these filters." in nothing


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01", "The 'from' date is not a date like 2026-11-27."),
        ("to=yesterday", "The 'to' date is not a date like 2026-11-27."),
        ("from=0001-01-01", "The 'from' date is not a date like 2026-11-27."),
        ("from=2026-11-27&to=2026-11-01", "The 'to' date is before the 'from' date."),
        ("who=" + "x" * 65, "Who and what are at most 64 characters."),
    ],
)
def test_a_bad_filter_is_a_422_that_says_why(
    admin: tuple[TestClient, str], query: str, message: str
) -> None:
    client, _ = admin
    page = client.get(f"/admin/audit?{query}")
    assert (page.status_code, said(page.text) or _alert(page.text)) == (422, message)
    exported = client.get(f"/admin/audit.csv?{query}")
    assert (exported.status_code, exported.json()) == (
        422,
        {"error": "bad_filter", "detail": message},
    )


def _alert(page: str) -> str:
    found = re.search(r'<p class="form-error" role="alert">([^<]*)</p>', page)
    return html.unescape(found[1]) if found else ""


def test_the_audit_log_pages_keep_their_filters(admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    log = parts_of(client).audit
    for n in range(150):
        log.record(UTC_AT + timedelta(seconds=n), "asha", "hangup", target=f"call.{n}")
        log.record(UTC_AT + timedelta(seconds=n), "bilal", "transfer", target=f"other.{n}")
    first = client.get("/admin/audit?who=asha").text
    assert [row[3] for row in rows(first)] == [f"call.{n}" for n in range(149, 49, -1)]
    older = re.search(r'<a href="([^"]+)">Older entries</a>', first)
    assert older is not None and "Newest entries" not in first
    second = client.get(html.unescape(older[1])).text
    assert [row[3] for row in rows(second)] == [f"call.{n}" for n in range(49, -1, -1)]
    assert "Older entries" not in second
    assert '<a href="/admin/audit?who=asha">Newest entries</a>' in second


def test_the_csv_export_holds_the_filtered_rows_and_is_audited(
    admin: tuple[TestClient, str],
) -> None:
    client, _ = admin
    fill_log(client)
    parts_of(client).audit.record(UTC_AT, "eve", "hangup", detail="=HYPERLINK(evil)")
    exported = client.get("/admin/audit.csv?action=hangup&to=2026-11-26")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.headers["content-disposition"] == 'attachment; filename="audit.csv"'
    assert list(csv.reader(io.StringIO(exported.text))) == [
        ["when", "who", "what", "target", "result", "from", "detail"],
        ["2026-11-26T23:59:00+05:30", "eve", "hangup", "", "ok", "", "'=HYPERLINK(evil)"],
        ["2026-11-26T23:59:00+05:30", "asha", "hangup", "1.1", "ok", "", ""],
    ]
    assert audited(client, "audit export") == [("root", "ok", "action=hangup&to=2026-11-26")]


def test_only_admins_read_or_export_the_audit_log(anonymous: TestClient) -> None:
    sign_in(anonymous, "supervisor")
    codes = [anonymous.get(path).status_code for path in ("/admin/audit", "/admin/audit.csv")]
    assert codes == [403, 403]
    assert audited(anonymous, "audit export") == []


# -- thresholds and groups ----------------------------------------------------------------

GOOD = {"ring_warn": "5", "ring_alert": "12", "talk_warn": "300", "talk_alert": "900"}


def test_new_thresholds_are_saved_shown_and_audited(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    page = client.post("/admin/settings/thresholds", data=GOOD | {"csrf_token": csrf})
    assert (page.status_code, said(page.text)) == (
        200,
        "Thresholds saved: every board uses them now.",
    )
    assert _form_seconds(page.text) == GOOD
    assert "Set by root on 2026-11-27 15:30" in page.text
    assert parts_of(client).board_settings.thresholds().seconds() == {
        key: int(value) for key, value in GOOD.items()
    }
    assert audited(client, "settings thresholds") == [
        (
            "root",
            "ok",
            "ringing 15/30 s, talking 600/1200 s -> ringing 5/12 s, talking 300/900 s",
        )
    ]
    back = client.post("/admin/settings/thresholds", data={"reset": "1", "csrf_token": csrf})
    assert said(back.text) == "Thresholds back to the configured ones."
    assert _form_seconds(back.text) == {
        "ring_warn": "15",
        "ring_alert": "30",
        "talk_warn": "600",
        "talk_alert": "1200",
    }


def _form_seconds(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(\w+)" type="number"[^>]* value="([^"]*)"', page))


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        (
            {"ring_warn": "12"},
            "Ringing: amber must come before red, both from 1 to 86400 seconds"
            " (got amber 12, red 12)",
        ),
        (
            {"talk_warn": "1000"},
            "Talking: amber must come before red, both from 1 to 86400 seconds"
            " (got amber 1000, red 900)",
        ),
        (
            {"ring_warn": "0"},
            "Ringing: amber must come before red, both from 1 to 86400 seconds"
            " (got amber 0, red 12)",
        ),
        (
            {"talk_alert": "90000"},
            "Talking: amber must come before red, both from 1 to 86400 seconds"
            " (got amber 300, red 90000)",
        ),
        ({"ring_alert": "-5"}, "Ringing alert: give a whole number of seconds (got '-5')"),
        ({"talk_warn": "1.5"}, "Talking warn: give a whole number of seconds (got '1.5')"),
        ({"ring_warn": ""}, "Ringing warn: give a whole number of seconds (got '')"),
    ],
)
def test_bad_thresholds_are_refused_and_change_nothing(
    admin: tuple[TestClient, str], changed: dict[str, str], message: str
) -> None:
    client, csrf = admin
    before = parts_of(client).fragments.env.globals["thresholds"]
    page = client.post("/admin/settings/thresholds", data=GOOD | changed | {"csrf_token": csrf})
    assert (page.status_code, said(page.text)) == (422, message)
    assert _form_seconds(page.text) == GOOD | changed  # shown again, to correct
    assert parts_of(client).board_settings.changed("thresholds") is None
    assert parts_of(client).fragments.env.globals["thresholds"] == before
    assert audited(client, "settings thresholds") == [("root", "refused", message)]


def test_thresholds_and_groups_outlive_a_restart(settings: Settings, clock: FakeClock) -> None:
    with TestClient(create_app(settings, clock=clock)) as first:
        csrf = sign_in(first, "admin", name="root")
        first.post("/admin/settings/thresholds", data=GOOD | {"csrf_token": csrf})
        first.post("/admin/settings/groups", data={"groups": "Sales: 40-42", "csrf_token": csrf})
    with TestClient(create_app(settings, clock=clock)) as second:
        thresholds = parts_of(second).fragments.env.globals["thresholds"]
        assert isinstance(thresholds, Thresholds)
        assert thresholds.seconds() == {k: int(v) for k, v in GOOD.items()}
        grid = parts_of(second).live.grid
        assert (grid.groups, grid.group_of) == (
            ["Sales"],
            {"40": "Sales", "41": "Sales", "42": "Sales"},
        )


def test_every_open_board_is_pushed_the_new_thresholds_at_once(
    admin: tuple[TestClient, str],
) -> None:
    client, _ = admin
    send(client, CALL_START)  # ringing at 70
    send(client, json.loads(CALL_START) | {"uniqueid": "46.1", "extension": "46"})
    sign_in(client, "agent", name="asha", extension="70")
    with client.websocket_connect("/ws") as agent:
        agent.receive_text()
        sign_in(client, "supervisor", name="sam")
        with client.websocket_connect("/ws?view=tv") as tv:
            tv.receive_text()
            csrf = sign_in(client, "admin", name="root")
            client.post("/admin/settings/thresholds", data=GOOD | {"csrf_token": csrf})
            pushed = {"agent": agent.receive_text(), "tv": tv.receive_text()}
    for push in pushed.values():
        assert 'id="live-calls"' in push and 'hx-swap-oob="true"' in push
        assert 'data-threshold data-warn="5" data-alert="12"' in push
        assert 'data-warn="15"' not in push
    # The TV (every call) gets the grid too, its tiles with the new limits; the agent, theirs.
    assert pushed["tv"].count('<article id="call-') == 2 and 'id="grid"' in pushed["tv"]
    assert pushed["agent"].count('<article id="call-') == 1 and 'id="grid"' not in pushed["agent"]


def test_new_groups_go_on_every_board_at_once(admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    with client.websocket_connect("/ws") as board:
        board.receive_text()
        form = {
            "groups": "Sales: 40-41\n\nSupport: 50",
            "csrf_token": sign_in(client, "admin", name="root"),
        }
        page = client.post("/admin/settings/groups", data=form)
        assert (page.status_code, said(page.text)) == (
            200,
            "Groups saved: every board uses them now.",
        )
        pushed = board.receive_text()
    assert re.findall(r'data-group-filter="([^"]*)"', pushed) == ["", "Sales", "Support"]
    tiles = re.findall(r'<article id="ext-(\w+)" class="tile is-idle" data-group="([^"]*)"', pushed)
    assert tiles == [("40", "Sales"), ("41", "Sales"), ("50", "Support")]
    assert ">Sales: 40-41\nSupport: 50</textarea>" in page.text
    assert audited(client, "settings groups") == [
        ("root", "ok", "(none) -> Sales: 40-41; Support: 50")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Sales 40-49",
            "Line 1 ('Sales 40-49'): write a group as NAME: EXTENSIONS, e.g. Sales: 40-49",
        ),
        (": 40", "Line 1 (': 40'): write a group as NAME: EXTENSIONS, e.g. Sales: 40-49"),
        ("Sales: 40-49\nSupport: 45", "Line 2 ('Support'): 45 is already in Sales"),
        ("Sales: 40\nsales: 41", "Line 2 ('sales'): there is already a group named 'sales'"),
        ("Sales: 49-40", "Line 1 ('Sales'): '49-40' is not a sensible range"),
        ("Sales: 4x", "Line 1 ('Sales'): '4x' is not an extension or a range"),
        ("Sales: ", "Line 1 ('Sales'): a group needs at least one extension"),
        (
            "Sales: 1234567",
            "Line 1 ('Sales'): 1234567 is longer than an extension (6 digits at most)",
        ),
        ("Sales: 1-2000", "At most 1000 extensions in groups, altogether"),
        ("x" * 41 + ": 40", f"Line 1 ('{'x' * 41}'): a group's name is 1 to 40 characters"),
    ],
)
def test_bad_groups_are_refused_and_change_nothing(
    admin: tuple[TestClient, str], text: str, message: str
) -> None:
    client, csrf = admin
    grid = parts_of(client).live.grid
    before = (list(grid.groups), dict(grid.group_of))
    page = client.post("/admin/settings/groups", data={"groups": text, "csrf_token": csrf})
    assert (page.status_code, said(page.text)) == (422, message)
    assert f">{html.escape(text, quote=False)}</textarea>" in page.text
    assert (grid.groups, grid.group_of) == before
    assert parts_of(client).board_settings.changed("groups") is None
    assert audited(client, "settings groups") == [("root", "refused", message)]


def test_groups_too_long_to_read_whole_are_refused_not_cut(
    admin: tuple[TestClient, str],
) -> None:
    client, csrf = admin
    text = "Sales: 40" + " " * 20_000 + ", 41"  # cut anywhere in the spaces, it reads as 40 only
    page = client.post("/admin/settings/groups", data={"groups": text, "csrf_token": csrf})
    message = "At most 20000 characters of groups (got 20013)"
    assert (page.status_code, said(page.text)) == (422, message)
    assert parts_of(client).live.grid.groups == []
    assert parts_of(client).board_settings.changed("groups") is None
    assert audited(client, "settings groups") == [("root", "refused", message)]


def test_a_groups_form_without_its_text_is_refused_not_read_as_no_groups(
    settings: Settings, clock: FakeClock
) -> None:
    configured = settings.with_changes(extension_groups=(("Sales", ("40", "41")),))
    with TestClient(create_app(configured, clock=clock)) as client:
        csrf = sign_in(client, "admin", name="root")
        page = client.post("/admin/settings/groups", data={"csrf_token": csrf})
        message = "Give the groups, one a line (an empty text for none)"
        assert (page.status_code, said(page.text)) == (422, message)
        assert parts_of(client).live.grid.groups == ["Sales"]
        assert parts_of(client).board_settings.changed("groups") is None
        assert audited(client, "settings groups") == [("root", "refused", message)]


def test_groups_back_to_the_configured_ones(settings: Settings, clock: FakeClock) -> None:
    configured = settings.with_changes(extension_groups=(("Sales", ("40", "41")),))
    with TestClient(create_app(configured, clock=clock)) as client:
        csrf = sign_in(client, "admin", name="root")
        client.post("/admin/settings/groups", data={"groups": "", "csrf_token": csrf})
        assert parts_of(client).live.grid.groups == []
        page = client.post("/admin/settings/groups", data={"reset": "1", "csrf_token": csrf})
        assert said(page.text) == "Groups back to the configured ones."
        assert parts_of(client).live.grid.groups == ["Sales"]
        assert audited(client, "settings groups") == [
            ("root", "ok", "Sales: 40-41 -> (none)"),
            ("root", "ok", "(none) -> Sales: 40-41"),
        ]


@pytest.mark.parametrize("role", ["supervisor", "agent", "viewer"])
def test_only_admins_change_thresholds_or_groups(anonymous: TestClient, role: str) -> None:
    csrf = sign_in(anonymous, role)
    answers = [
        anonymous.post("/admin/settings/thresholds", data=GOOD | {"csrf_token": csrf}),
        anonymous.post("/admin/settings/groups", data={"groups": "A: 1", "csrf_token": csrf}),
    ]
    assert [answer.status_code for answer in answers] == [403, 403]
    stored = parts_of(anonymous).board_settings
    assert (stored.changed("thresholds"), stored.changed("groups")) == (None, None)
    assert parts_of(anonymous).audit.entries(10)[0].action == "sign-in"
