"""/admin/users: each action an admin takes, each refusal (nothing changed, the refusal in
the audit log), and what a change does at once to the user's sessions, tokens and sockets."""

from __future__ import annotations

import html
import re

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dashboard.app import create_app
from dashboard.auth import Role, User
from dashboard.pbx_config import PBXConfig
from dashboard.settings import Settings
from tests.conftest import PASSWORD, FakeClock, parts_of, sign_in, try_sign_in

OTHER_PASSWORD = "another long password"
WRONG = "Wrong user name or password."


def said(page: str) -> str:
    """What the page says about the action (its status or alert line)."""
    found = re.search(r'<p class="form-(?:ok|error)" role="(?:status|alert)">([^<]*)</p>', page)
    return html.unescape(found[1]) if found else ""


def shown_password(page: str) -> str:
    found = re.search(r'id="new-password" class="new-link" readonly value="([^"]+)"', page)
    return html.unescape(found[1]) if found else ""


def audited(client: TestClient) -> list[tuple[str, str, str, str, str]]:
    """The audit log, oldest first, without sign-ins: (who, what, target, result, detail)."""
    entries = reversed(parts_of(client).audit.entries(1000))
    return [
        (e.user, e.action, e.target, e.result, e.detail)
        for e in entries
        if e.action not in ("sign-in", "sign-out")
    ]


def users(client: TestClient) -> list[User]:
    return parts_of(client).accounts.users()


@pytest.fixture
def admin(anonymous: TestClient) -> tuple[TestClient, str]:
    """Signed in as an admin; with an agent (asha, at 70) to act on."""
    parts_of(anonymous).accounts.add_user("asha", "agent", PASSWORD, "70")
    return anonymous, sign_in(anonymous, "admin", name="root")


def test_the_list_shows_each_user_and_their_last_sign_in(admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    page = client.get("/admin/users").text
    rows = re.findall(r'<tr id="user-\d+" data-user="([^"]+)">', page)
    assert rows == ["asha", "root"]
    assert "Not known" in page  # asha has never signed in
    assert '<time datetime="2026-11-27T10:00:00+00:00">2026-11-27 15:30</time>' in page  # root


def test_adding_a_user_with_a_password_made_for_them(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    form = {"name": "Bilal", "role": "supervisor", "extension": "", "password": ""}
    page = client.post("/admin/users", data=form | {"csrf_token": csrf}).text
    assert said(page) == "Added bilal (supervisor)."
    password = shown_password(page)
    assert len(password) == 16
    assert password not in client.get("/admin/users").text  # shown that once only
    assert audited(client) == [
        ("root", "user add", "bilal", "ok", "role supervisor, extension -, password generated")
    ]
    assert try_sign_in(client, "bilal", password) == (303, "")


def test_adding_an_agent_with_the_password_given(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    form = {"name": "chen", "role": "agent", "extension": "71", "password": OTHER_PASSWORD}
    page = client.post("/admin/users", data=form | {"csrf_token": csrf}).text
    assert (said(page), shown_password(page)) == ("Added chen (agent, extension 71).", "")
    assert parts_of(client).accounts.find_user("chen") == User(3, "chen", Role.AGENT, "71", False)
    assert try_sign_in(client, "chen", OTHER_PASSWORD) == (303, "")


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"name": "asha", "role": "viewer"}, 409, "A user named 'asha' already exists."),
        (
            {"name": "dev", "role": "agent"},
            422,
            "An agent needs an extension: the one their calls ring at, e.g. 70.",
        ),
        ({"name": "dev", "role": "agent", "extension": "7x"}, 422, "An extension is digits only."),
        (
            {"name": "dev", "role": "supervisor", "extension": "1234567"},
            422,
            "An extension has at most 6 digits.",
        ),
        (
            {"name": "dev", "role": "janitor"},
            422,
            "Unknown role 'janitor': use admin, supervisor, agent or viewer.",
        ),
        (
            {"name": "dev smith", "role": "viewer"},
            422,
            "A user name is 1 to 64 of a-z, 0-9, '.', '_', '-', '@'.",
        ),
        (
            {"name": "dev", "role": "viewer", "password": "short"},
            422,
            "A password needs at least 10 characters.",
        ),
    ],
)
def test_adding_refuses_bad_input_and_adds_nobody(
    admin: tuple[TestClient, str], form: dict[str, str], status: int, message: str
) -> None:
    client, csrf = admin
    before = users(client)
    response = client.post("/admin/users", data=form | {"csrf_token": csrf})
    assert (response.status_code, said(response.text)) == (status, message)
    assert shown_password(response.text) == ""
    assert users(client) == before
    target = form["name"].lower()
    assert audited(client) == [("root", "user add", target, "refused", message)]


def test_changing_role_and_extension_reconnects_their_board(
    admin: tuple[TestClient, str],
) -> None:
    client, _ = admin
    sign_in(client, "agent", name="asha")
    with client.websocket_connect("/ws") as board:
        board.receive_text()
        csrf = sign_in(client, "admin", name="root")
        form = {"action": "change", "role": "supervisor", "extension": "", "csrf_token": csrf}
        page = client.post("/admin/users/asha", data=form).text
        assert said(page) == "asha is now supervisor, no extension."
        with pytest.raises(WebSocketDisconnect) as closed:
            board.receive_text()
        assert closed.value.code == 1012  # come back, to the board a supervisor sees
    asha = parts_of(client).accounts.find_user("asha")
    assert asha == User(1, "asha", Role.SUPERVISOR, None, False)
    assert audited(client) == [
        ("root", "user change", "asha", "ok", "role agent -> supervisor, extension 70 -> -")
    ]


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        (
            {"role": "agent", "extension": ""},
            422,
            "An agent needs an extension: the one their calls ring at, e.g. 70.",
        ),
        ({"role": "agent", "extension": "70; drop"}, 422, "An extension is digits only."),
        (
            {"role": "owner", "extension": "70"},
            422,
            "Unknown role 'owner': use admin, supervisor, agent or viewer.",
        ),
    ],
)
def test_a_bad_change_changes_nothing(
    admin: tuple[TestClient, str], form: dict[str, str], status: int, message: str
) -> None:
    client, csrf = admin
    before = users(client)
    response = client.post(
        "/admin/users/asha", data=form | {"action": "change", "csrf_token": csrf}
    )
    assert (response.status_code, said(response.text)) == (status, message)
    assert users(client) == before
    assert audited(client) == [("root", "user change", "asha", "refused", message)]


def test_the_last_admin_can_be_neither_demoted_nor_disabled(
    admin: tuple[TestClient, str],
) -> None:
    client, csrf = admin
    before = users(client)
    demote = {"action": "change", "role": "supervisor", "csrf_token": csrf}
    refused = [
        client.post("/admin/users/root", data=demote),
        client.post("/admin/users/root", data={"action": "disable", "csrf_token": csrf}),
    ]
    assert [(r.status_code, said(r.text)) for r in refused] == [
        (409, "Cannot demote root: they are the last enabled admin; make another admin first."),
        (409, "Cannot disable root: they are the last enabled admin; make another admin first."),
    ]
    assert users(client) == before
    assert [(what, result) for _, what, _, result, _ in audited(client)] == [
        ("user change", "refused"),
        ("user disable", "refused"),
    ]
    promote = {"action": "change", "role": "admin", "extension": "70", "csrf_token": csrf}
    assert client.post("/admin/users/asha", data=promote).status_code == 200
    assert client.post("/admin/users/root", data=demote).status_code == 200
    assert [(u.name, u.role) for u in users(client)] == [
        ("asha", Role.ADMIN),
        ("root", Role.SUPERVISOR),
    ]


def test_a_password_reset_ends_their_sessions_and_tokens(admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    accounts = parts_of(client).accounts
    token = accounts.tokens.create("asha", "script")
    sign_in(client, "agent", name="asha")
    asha_cookies = dict(client.cookies)
    csrf = sign_in(client, "admin", name="root")
    form = {"action": "password", "password": OTHER_PASSWORD, "csrf_token": csrf}
    page = client.post("/admin/users/asha", data=form).text
    assert said(page) == "New password for asha; their sessions and API tokens are ended."
    assert shown_password(page) == ""
    assert audited(client) == [("root", "user password", "asha", "ok", "given")]
    bearer = {"authorization": f"Bearer {token}"}
    assert client.get("/api/calls/active", headers=bearer).status_code == 401
    client.cookies.clear()
    client.cookies.update(asha_cookies)
    assert client.get("/", follow_redirects=False).status_code == 303  # signed out
    assert try_sign_in(client, "asha", PASSWORD) == (401, WRONG)  # the old one is refused
    assert try_sign_in(client, "asha", OTHER_PASSWORD) == (303, "")


def test_a_password_made_on_reset_is_shown_once(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    page = client.post("/admin/users/asha", data={"action": "password", "csrf_token": csrf}).text
    made = shown_password(page)
    assert len(made) == 16 and audited(client) == [
        ("root", "user password", "asha", "ok", "generated")
    ]
    assert try_sign_in(client, "asha", made) == (303, "")


def test_a_short_password_on_reset_is_refused(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    form = {"action": "password", "password": "short", "csrf_token": csrf}
    response = client.post("/admin/users/asha", data=form)
    assert (response.status_code, said(response.text)) == (
        422,
        "A password needs at least 10 characters.",
    )
    assert try_sign_in(client, "asha", PASSWORD) == (303, "")  # unchanged


def test_disabling_and_enabling(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    page = client.post("/admin/users/asha", data={"action": "disable", "csrf_token": csrf}).text
    assert said(page) == "Disabled asha; their sessions and API tokens are ended."
    assert re.search(r'data-user="asha">.*?<td class="user-state">\s*Disabled', page, re.S)
    assert try_sign_in(client, "asha", PASSWORD) == (401, WRONG)
    csrf = sign_in(client, "admin", name="root")
    page = client.post("/admin/users/asha", data={"action": "enable", "csrf_token": csrf}).text
    assert said(page) == "Enabled asha: they may sign in again."
    assert [(what, result) for _, what, _, result, _ in audited(client)] == [
        ("user disable", "ok"),
        ("user enable", "ok"),
    ]
    assert try_sign_in(client, "asha", PASSWORD) == (303, "")


def test_unlocking_a_locked_out_sign_in(admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    for _ in range(6):  # five failures are allowed; the sixth locks
        try_sign_in(client, "asha", "not the password", address="203.0.113.5")
    csrf = sign_in(client, "admin", name="root")
    page = client.get("/admin/users").text
    assert re.search(r'data-user="asha">.*?Active\s*· Locked until 15:45', page, re.S)
    page = client.post("/admin/users/asha", data={"action": "unlock", "csrf_token": csrf}).text
    assert said(page) == "Cleared asha's failed sign-ins and locks."
    assert not re.search(r'data-user="asha">[^\n]*\n[^\n]*Locked', page)
    assert parts_of(client).accounts.sign_ins.unlock("asha") == []
    assert audited(client)[-1] == ("root", "sign-in unlock", "asha", "ok", "asha from testclient")
    again = client.post("/admin/users/asha", data={"action": "unlock", "csrf_token": csrf}).text
    assert said(again) == "Nothing to clear: asha has no failed sign-ins."


def test_an_unknown_user_or_action(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    nobody = client.post("/admin/users/nobody", data={"action": "disable", "csrf_token": csrf})
    strange = client.post("/admin/users/asha", data={"action": "delete", "csrf_token": csrf})
    assert [(r.status_code, said(r.text)) for r in (nobody, strange)] == [
        (404, "No user named 'nobody'."),
        (422, "Unknown action 'delete'."),
    ]
    assert audited(client) == [
        ("root", "user disable", "nobody", "refused", "No user named 'nobody'."),
        ("root", "user action", "asha", "refused", "Unknown action 'delete'."),
    ]


def test_a_name_too_long_to_be_anyones_is_not_echoed(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    name = "a" * 8000
    response = client.post(f"/admin/users/{name}", data={"action": "disable", "csrf_token": csrf})
    message = "No user has a name that long (at most 64 characters)."
    assert (response.status_code, said(response.text)) == (404, message)
    assert audited(client) == [("root", "user disable", "a" * 64, "refused", message)]


def test_a_wall_screens_account_gets_no_other_role_and_no_password(
    admin: tuple[TestClient, str],
) -> None:
    """Its link stays on a screen anyone walks past: it must stay a viewer no one can sign
    in as with a password."""
    client, csrf = admin
    client.post("/admin/kiosks", data={"label": "Sales TV", "csrf_token": csrf})
    screen = parts_of(client).kiosks.links()[0].user
    accounts = parts_of(client).accounts
    before = accounts.credentials(screen)
    change = {"action": "change", "role": "admin", "extension": "", "csrf_token": csrf}
    promoted = client.post(f"/admin/users/{screen}", data=change)
    password = {"action": "password", "password": OTHER_PASSWORD, "csrf_token": csrf}
    given = client.post(f"/admin/users/{screen}", data=password)
    message = (
        f"{screen.capitalize()} belongs to the wall screen Sales TV: it stays a viewer with no"
        " password (its link is managed at /admin/kiosks)."
    )
    assert [(r.status_code, said(r.text)) for r in (promoted, given)] == [(409, message)] * 2
    assert accounts.credentials(screen) == before
    assert audited(client)[-2:] == [
        ("root", "user change", screen, "refused", message),
        ("root", "user password", screen, "refused", message),
    ]


@pytest.mark.parametrize("role", ["supervisor", "agent", "viewer"])
def test_only_admins_see_or_change_users(anonymous: TestClient, role: str) -> None:
    parts_of(anonymous).accounts.add_user("asha", "agent", PASSWORD, "70")
    csrf = sign_in(anonymous, role)
    before = users(anonymous)
    answers = [
        anonymous.get("/admin/users"),
        anonymous.post("/admin/users", data={"name": "eve", "role": "admin", "csrf_token": csrf}),
        anonymous.post("/admin/users/asha", data={"action": "disable", "csrf_token": csrf}),
    ]
    assert [answer.status_code for answer in answers] == [403, 403, 403]
    assert users(anonymous) == before and audited(anonymous) == []


def test_with_several_pbxs_an_agent_whose_extension_none_owns_is_shown_so(
    settings: Settings, clock: FakeClock
) -> None:
    head = PBXConfig(name="head-office", url="http://head", host="10.0.0.1", extensions=("70",))
    branch = PBXConfig(name="Branch", url="http://branch", host="10.0.0.2", extensions=("46",))
    wired = settings.with_changes(pbx_configs=(head, branch))
    with TestClient(create_app(wired, clock=clock)) as client:
        accounts = parts_of(client).accounts
        accounts.add_user("asha", "agent", PASSWORD, "70")
        accounts.add_user("ravi", "agent", PASSWORD, "99")
        sign_in(client, "admin")
        states = re.findall(
            r'data-user="([^"]+)">.*?<td class="user-state">\s*(.*?)\s*</td>',
            client.get("/admin/users").text,
            re.S,
        )
    assert [(name, " ".join(state.split())) for name, state in states] == [
        ("admin-user", "Active"),
        ("asha", "Active"),
        ("ravi", "Active · Sees no call: no PBX has extension 99"),
    ]
