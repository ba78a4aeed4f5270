"""Who may do what: every role against every page, API route and the socket; CSRF;
WebSocket origins; revocation; the call-event sender checks; browser hardening."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dashboard.app import create_app
from dashboard.audit import AuditEntry
from dashboard.auth import Role, User
from dashboard.security import (
    MAX_FORM_BYTES,
    RedactSecrets,
    client_ip,
    end_revoked_viewers,
    parse_networks,
)
from dashboard.settings import Settings
from tests.conftest import (
    CALL_START,
    PASSWORD,
    FakeClock,
    parts_of,
    post_in_chunks,
    send,
    sign_in,
    try_sign_in,
)

AT_46 = json.dumps(json.loads(CALL_START) | {"uniqueid": "46.1", "extension": "46"})
ROLES = ["admin", "supervisor", "agent", "viewer"]
# route -> expected status for: anonymous, admin, supervisor, agent (extension 70), viewer
MATRIX = {
    "/": (303, 200, 200, 200, 200),
    "/admin/audit": (303, 200, 403, 403, 403),
    "/api/calls/active": (401, 200, 200, 200, 403),
    "/api/calls/1430819361.25418": (401, 200, 200, 200, 403),
    "/api/calls/46.1": (401, 200, 200, 404, 403),
}


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_role_against_every_route(anonymous: TestClient, role: str | None) -> None:
    send(anonymous, CALL_START)  # a call at extension 70
    send(anonymous, AT_46)
    if role:
        sign_in(anonymous, role)
    column = 0 if role is None else ROLES.index(role) + 1
    for path, expected in MATRIX.items():
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == expected[column], (role, path)
        if response.status_code == 303:
            assert response.headers["location"] == f"/login?next={quote(path, safe='')}"
        if path.startswith("/api/") and response.status_code >= 400:
            assert response.json()["error"] and response.json()["detail"]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_the_socket_and_sees_only_what_it_may(
    anonymous: TestClient, role: str
) -> None:
    send(anonymous, CALL_START)
    send(anonymous, AT_46)
    sign_in(anonymous, role)
    with anonymous.websocket_connect("/ws") as viewer:
        snapshot = viewer.receive_text()
        assert "9876543XXX" in snapshot  # extension 70's call
        assert snapshot.count('<article id="call-') == (1 if role == "agent" else 2)
        send(anonymous, json.dumps(json.loads(AT_46) | {"uniqueid": "46.2"}))
        send(anonymous, json.dumps(json.loads(CALL_START) | {"uniqueid": "70.2"}))
        pushed = viewer.receive_text()
        if role == "agent":  # the push for extension 46 never reached the agent of 70
            assert '"afterbegin:#live-calls"' in pushed and 'data-counter="live">2<' in pushed
        else:
            assert 'data-counter="live">3<' in pushed


def test_an_anonymous_socket_is_closed_with_1008(anonymous: TestClient) -> None:
    with anonymous.websocket_connect("/ws") as viewer, pytest.raises(WebSocketDisconnect) as closed:
        viewer.receive_text()
    assert closed.value.code == 1008


def test_a_socket_from_a_foreign_origin_is_refused(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as refused:  # noqa: SIM117
        with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}):
            pass
    assert refused.value.code == 1008
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as viewer:
        assert 'id="live-calls"' in viewer.receive_text()


@pytest.mark.parametrize(
    ("headers", "data"),
    [({}, {}), ({"x-csrf-token": "wrong"}, {}), ({}, {"csrf_token": "wrong"})],
)
def test_a_state_change_without_the_right_csrf_token_is_refused(
    client: TestClient, headers: dict[str, str], data: dict[str, str]
) -> None:
    response = client.post("/logout", headers=headers, data=data, follow_redirects=False)
    assert response.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in


def test_a_form_past_the_limit_is_refused_not_acted_on_cut_short(anonymous: TestClient) -> None:
    accounts = parts_of(anonymous).accounts
    accounts.add_user("asha", "agent", PASSWORD, "70")
    csrf = sign_in(anonymous, "admin", name="root")
    start = f"csrf_token={csrf}&action=change&role=agent".encode()
    end = b"&extension=71"  # then 23: a form read only so far would give asha 71, not 7123
    read_so_far = 17 * 65536  # the pieces read until more than MAX_FORM_BYTES have come
    padding = read_so_far - len(start) - len(end)
    fields = b"".join(b"&p=" + b"x" * 1997 for _ in range(padding // 2000))
    body = start + fields + b"y" * (padding % 2000) + end + b"23"
    assert len(body) > MAX_FORM_BYTES
    assert post_in_chunks(anonymous, "/admin/users/asha", body) == 413
    assert accounts.find_user("asha") == User(1, "asha", Role.AGENT, "70", False)


def test_a_form_whose_sender_went_away_halfway_changes_nothing(anonymous: TestClient) -> None:
    accounts = parts_of(anonymous).accounts
    accounts.add_user("asha", "agent", PASSWORD, "70")
    csrf = sign_in(anonymous, "admin", name="root")
    body = f"csrf_token={csrf}&action=change&role=agent&extension=71".encode() + b"23"
    post_in_chunks(anonymous, "/admin/users/asha", body, chunk=len(body) - 2, gone_after=1)
    assert accounts.find_user("asha") == User(1, "asha", Role.AGENT, "70", False)


def test_sign_out_with_the_token_ends_the_session_and_its_sockets(anonymous: TestClient) -> None:
    csrf = sign_in(anonymous)
    with anonymous.websocket_connect("/ws") as viewer:
        viewer.receive_text()
        response = anonymous.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/login")
        with pytest.raises(WebSocketDisconnect) as closed:
            viewer.receive_text()
        assert closed.value.code == 1008
    assert anonymous.get("/", follow_redirects=False).status_code == 303


def test_a_user_disabled_elsewhere_loses_page_api_and_socket_at_once(
    anonymous: TestClient,
) -> None:
    sign_in(anonymous, "supervisor", name="sam")
    accounts = parts_of(anonymous).accounts
    with anonymous.websocket_connect("/ws") as viewer:
        viewer.receive_text()
        accounts.disable_user("sam")  # as `dashboard user disable` does, from another process
        evicted = anonymous.portal.call(  # type: ignore[union-attr]
            end_revoked_viewers,
            parts_of(anonymous).hub,
            accounts,
            FakeClock().now,  # type: ignore[attr-defined]
        )
        assert evicted == 1
        with pytest.raises(WebSocketDisconnect) as closed:
            viewer.receive_text()
        assert closed.value.code == 1008
    assert anonymous.get("/api/calls/active").status_code == 401


def test_api_tokens_act_with_their_users_role_until_revoked(anonymous: TestClient) -> None:
    accounts = parts_of(anonymous).accounts
    accounts.add_user("script", "agent", PASSWORD, "70")
    send(anonymous, CALL_START)
    send(anonymous, AT_46)
    token = accounts.tokens.create("script")
    bearer = {"authorization": f"Bearer {token}"}
    calls = anonymous.get("/api/calls/active", headers=bearer).json()["calls"]
    assert [call["extension"] for call in calls] == ["70"]
    assert anonymous.get("/", headers=bearer, follow_redirects=False).status_code == 303
    accounts.tokens.revoke(token)
    refused = anonymous.get("/api/calls/active", headers=bearer)
    assert (refused.status_code, refused.json()["error"]) == (401, "unauthorized")
    assert (
        anonymous.get("/api/calls/active", headers={"authorization": "Bearer nope"}).status_code
        == 401
    )


def test_a_password_change_ends_the_users_api_tokens_as_well_as_sessions(
    anonymous: TestClient,
) -> None:
    accounts = parts_of(anonymous).accounts
    sign_in(anonymous, "supervisor", name="sam")
    token = accounts.tokens.create("sam", "wallboard script")
    bearer = {"authorization": f"Bearer {token}"}
    assert anonymous.get("/api/calls/active", headers=bearer).status_code == 200
    accounts.set_password("sam", PASSWORD + " again")  # as `dashboard user passwd` does
    refused = anonymous.get("/api/calls/active", headers=bearer)
    assert (refused.status_code, refused.json()) == (
        401,
        {"error": "unauthorized", "detail": "the API token is unknown or revoked"},
    )
    assert anonymous.get("/", follow_redirects=False).status_code == 303  # the session too


WRONG = (401, "Wrong user name or password.")
A, B = "203.0.113.5", "198.51.100.7"  # two addresses signing in, behind the proxy


@pytest.fixture
def proxied(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    """A dashboard behind a trusted reverse proxy (10.0.0.1), which names each sender."""
    behind = settings.with_changes(trusted_proxies=("10.0.0.1",))
    with TestClient(create_app(behind, clock=clock), client=("10.0.0.1", 40000)) as client:
        yield client


def test_sign_in_failures_lock_a_name_at_that_address_only(
    proxied: TestClient, clock: FakeClock
) -> None:
    parts_of(proxied).accounts.add_user("sam", "admin", PASSWORD)
    assert [try_sign_in(proxied, "sam", "wrong password", A) for _ in range(5)] == [WRONG] * 5
    locked = (429, "Too many failed sign-ins for this name from this address: try again in 15 min.")
    assert try_sign_in(proxied, "sam", PASSWORD, A) == locked  # even with the right password
    assert try_sign_in(proxied, "sam", PASSWORD, B) == (303, "")  # the owner, elsewhere
    clock.advance(10 * 60)
    assert try_sign_in(proxied, "sam", PASSWORD, A)[1].endswith("try again in 5 min.")
    clock.advance(5 * 60)
    assert try_sign_in(proxied, "sam", PASSWORD, A) == (303, "")
    start = clock.now - timedelta(minutes=15)
    assert parts_of(proxied).audit.entries() == [
        AuditEntry(8, clock.now, "sam", "sign-in", "", "ok", A, ""),
        AuditEntry(7, start, "sam", "sign-in", "", "ok", B, ""),
        AuditEntry(
            6,
            start,
            "sam",
            "sign-in lock",
            "sam",
            "locked",
            A,
            f"5 failed sign-ins for sam from {A};"
            f" refused there until {(start + timedelta(minutes=15)).isoformat()}",
        ),
        *[AuditEntry(n, start, "sam", "sign-in", "", "failed", A, "") for n in range(5, 0, -1)],
    ]
    assert all(PASSWORD not in str(entry) for entry in parts_of(proxied).audit.entries())


def test_one_address_trying_many_names_is_refused_for_all_of_them(
    settings: Settings, clock: FakeClock
) -> None:
    limited = settings.with_changes(
        trusted_proxies=("10.0.0.1",),
        sign_in_name_failures=2,
        sign_in_address_failures=4,
        sign_in_lock_minutes=10,
    )
    with TestClient(create_app(limited, clock=clock), client=("10.0.0.1", 40000)) as client:
        parts_of(client).accounts.add_user("sam", "admin", PASSWORD)
        sprayed = [try_sign_in(client, name, "123456", A) for name in ("ann", "bob", "cy", "sam")]
        assert sprayed == [WRONG] * 4
        refused = (429, "Too many failed sign-ins from this address: try again in 10 min.")
        assert try_sign_in(client, "sam", PASSWORD, A) == refused
        assert try_sign_in(client, "dee", "123456", A) == refused
        assert try_sign_in(client, "sam", PASSWORD, B) == (303, "")
        [lock] = [entry for entry in parts_of(client).audit.entries() if entry.result == "locked"]
        assert lock == AuditEntry(
            5,
            clock.now,
            "sam",
            "sign-in lock",
            "any name",
            "locked",
            A,
            f"4 failed sign-ins for any name from {A};"
            f" refused there until {(clock.now + timedelta(minutes=10)).isoformat()}",
        )


def test_a_forwarded_for_from_an_untrusted_peer_does_not_escape_the_count(
    settings: Settings, clock: FakeClock
) -> None:
    behind = settings.with_changes(trusted_proxies=("10.0.0.1",))
    with TestClient(create_app(behind, clock=clock), client=("192.0.2.66", 40000)) as client:
        parts_of(client).accounts.add_user("sam", "admin", PASSWORD)
        tries = [try_sign_in(client, "sam", "wrong password", f"10.9.9.{n}") for n in range(6)]
        assert tries == [WRONG] * 5 + [
            (429, "Too many failed sign-ins for this name from this address: try again in 15 min.")
        ]
        [lock] = [entry for entry in parts_of(client).audit.entries() if entry.result == "locked"]
        assert lock.remote == "192.0.2.66"


def test_the_login_form_needs_its_own_csrf_token(anonymous: TestClient) -> None:
    parts_of(anonymous).accounts.add_user("sam", "admin", PASSWORD)
    anonymous.get("/login")
    response = anonymous.post(
        "/login",
        data={"name": "sam", "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "dashboard_session" not in response.cookies


def test_the_login_form_without_its_cookie_is_refused_whatever_token_it_sends(
    anonymous: TestClient,
) -> None:
    parts_of(anonymous).accounts.add_user("sam", "admin", PASSWORD)
    for forged in ("", "-"):
        anonymous.cookies.clear()  # a page of another site: no login cookie of ours
        response = anonymous.post(
            "/login",
            data={"name": "sam", "password": PASSWORD, "csrf_token": forged},
            follow_redirects=False,
        )
        assert (response.status_code, "dashboard_session" in response.cookies) == (403, False)


def test_sign_in_redirects_only_within_the_site(anonymous: TestClient) -> None:
    parts_of(anonymous).accounts.add_user("sam", "admin", PASSWORD)
    for target, expected in [
        ("/admin/audit", "/admin/audit"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
    ]:
        anonymous.cookies.clear()
        token = anonymous.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        response = anonymous.post(
            "/login",
            data={"name": "sam", "password": PASSWORD, "csrf_token": token, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == expected
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_the_admin_reads_the_audit_log(anonymous: TestClient) -> None:
    sign_in(anonymous, "admin", name="root")
    page = anonymous.get("/admin/audit").text
    assert "sign-in" in page and "root" in page


def test_pages_carry_the_hardening_headers(client: TestClient) -> None:
    headers = client.get("/").headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    page = client.get("/").text
    assert "<script>" not in page and " style=" not in page and " onclick=" not in page


EVENT_URL = "/synapse/events?data=" + quote(CALL_START, safe="")


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (EVENT_URL, 403),
        (EVENT_URL + "&token=wrong", 403),
        (EVENT_URL + "&token=s3cret", 200),
        ("/synapse/events/s3cret?data=" + quote(CALL_START, safe=""), 200),
        ("/synapse/events/wrong?data=" + quote(CALL_START, safe=""), 403),
    ],
)
def test_the_event_token(settings: Settings, url: str, status: int) -> None:
    with TestClient(create_app(settings.with_changes(synapse_event_token="s3cret"))) as client:
        response = client.get(url)
        assert response.status_code == status
        if status == 403:
            assert response.json()["error"] == "forbidden"
            assert "s3cret" not in response.text
            assert parts_of(client).store.count("events") == 0


def test_a_refused_event_is_kept_without_its_token(settings: Settings) -> None:
    with TestClient(create_app(settings.with_changes(synapse_event_token="s3cret"))) as client:
        assert client.get("/synapse/events/s3cret?token=s3cret&data=nonsense").status_code == 400
        [kept] = parts_of(client).store.rejected.all()
        assert (
            "s3cret" not in json.dumps(kept) and kept["query"] == "token=[redacted]&data=nonsense"
        )


@pytest.mark.parametrize(
    ("peer", "forwarded", "status"),
    [
        ("10.1.2.3", None, 200),
        ("192.168.9.9", None, 403),
        ("192.168.9.9", "10.1.2.3", 403),  # forwarded headers count only from a trusted proxy
        ("172.16.0.1", "10.1.2.3", 200),  # the trusted proxy vouches for 10.1.2.3
        ("172.16.0.1", "10.1.2.3, 192.168.9.9", 403),  # the right-most untrusted hop counts
        ("172.16.0.1", ["10.1.2.3", "192.168.9.9"], 403),  # on a line of its own, too
        ("172.16.0.1", ["192.168.9.9", "10.1.2.3"], 200),  # the client's forged line first
        ("172.16.0.1", "10.1.2.3, not-an-address", 403),  # garbage: only the proxy is known
    ],
)
def test_the_event_allow_list(
    settings: Settings, peer: str, forwarded: str | list[str] | None, status: int
) -> None:
    checked = settings.with_changes(
        synapse_event_allow=("10.0.0.0/8",), trusted_proxies=("172.16.0.1",)
    )
    lines = [forwarded] if isinstance(forwarded, str) else forwarded or []
    headers = [("x-forwarded-for", line) for line in lines]
    with TestClient(create_app(checked), client=(peer, 40000)) as client:
        assert client.get(EVENT_URL, headers=headers).status_code == status


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("2001:DB8:0::0001", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("10.1.2.3", "10.1.2.3"),
    ],
)
def test_a_forwarded_address_is_taken_in_one_spelling(forwarded: str, client: str) -> None:
    scope = {
        "type": "http",
        "client": ("172.16.0.1", 40000),
        "headers": [(b"x-forwarded-for", forwarded.encode())],
    }
    assert client_ip(Request(scope), parse_networks(["172.16.0.1"])) == client


def test_only_allowed_host_names_are_served(settings: Settings) -> None:
    with TestClient(create_app(settings.with_changes(allowed_hosts=("dash.example",)))) as client:
        assert client.get("/healthz", headers={"host": "dash.example"}).status_code == 200
        assert client.get("/healthz", headers={"host": "evil.example"}).status_code == 400


@pytest.mark.parametrize(("peer", "secure"), [("172.16.0.1", True), ("10.9.9.9", False)])
def test_the_session_cookie_is_secure_behind_an_https_proxy(
    settings: Settings, peer: str, secure: bool
) -> None:
    proxied = settings.with_changes(trusted_proxies=("172.16.0.1",))
    with TestClient(create_app(proxied), client=(peer, 40000)) as client:
        parts_of(client).accounts.add_user("sam", "admin", PASSWORD)
        https = {"x-forwarded-proto": "https"}
        token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        response = client.post(
            "/login",
            headers=https,
            follow_redirects=False,
            data={"name": "sam", "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 303
        assert ("Secure" in response.headers["set-cookie"]) is secure


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        (
            "/synapse/events/s3cret?data=%7B%7D&token=s3cret2",
            "/synapse/events/[redacted]?data=%7B%7D&token=[redacted]",
        ),
        ("/kiosk/k70uVogPLJTfOFfCns6GJxPvKMDFTzRQUAx4__nKpkw", "/kiosk/[redacted]"),
        ("/kiosk/abc?next=1", "/kiosk/[redacted]?next=1"),
        ("/admin/kiosks", "/admin/kiosks"),
    ],
)
def test_no_secret_of_a_url_reaches_the_access_log(path: str, logged: str) -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.5:4000", "GET", path, "1.1", 200),
        None,
    )
    assert RedactSecrets().filter(record)
    assert record.getMessage() == f'10.0.0.5:4000 - "GET {logged} HTTP/1.1" 200'


def test_event_tokens_never_reach_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.5:4000", "GET", "/synapse/events/s3cret?data=%7B%7D&token=s3cret2", "1.1", 200),
        None,
    )
    assert RedactSecrets().filter(record)
    assert record.getMessage() == (
        '10.0.0.5:4000 - "GET /synapse/events/[redacted]?data=%7B%7D&token=[redacted] HTTP/1.1" 200'
    )
