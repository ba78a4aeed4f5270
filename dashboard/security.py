"""Enforcement at the HTTP edge: who is asking (session or API token), CSRF, role
guards, browser hardening headers, and which senders may post call events."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, quote

from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.audience import CloseCode
from dashboard.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Accounts,
    Role,
    Session,
    User,
)
from dashboard.errors import Refusal, RoleRefusal
from dashboard.events import redact_secrets
from dashboard.hub import Hub
from dashboard.ingest import Clock
from dashboard.passwords import same_secret as same_secret
from dashboard.passwords import token_digest
from dashboard.scope import Scope as CallScope
from dashboard.state import parts

log = logging.getLogger(__name__)
Refuse = Callable[[Request, Refusal], Response]

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
EVENTS_PATH = "/synapse/events"  # the Remote APP URL a PBX sends call events to
# The PBX cannot send a CSRF token; the login form and the wall-screen page carry their own
# (a pre-session cookie: see `set_form_cookie`).
CSRF_EXEMPT = (EVENTS_PATH, "/login", "/kiosk/")
MAX_FORM_BYTES = 1024 * 1024
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
NO_STORE = (b"cache-control", b"no-store")
Handler = Callable[[Request], Awaitable[Response]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Auth:
    user: User
    session: Session | None  # None when the request came with an API token
    token_hash: str | None = None  # the API token's digest, when it came with one

    @property
    def owner(self) -> str:
        """Who to ask whether these credentials still hold (see Accounts.valid_owners)."""
        return self.session.id_hash if self.session else f"token:{self.token_hash}"


def current_auth(conn: HTTPConnection) -> Auth | None:
    auth = conn.scope.get("auth")
    return auth if isinstance(auth, Auth) else None


def user_scope(conn: HTTPConnection) -> CallScope | None:
    """The calls the signed-in user may see (an agent's: scope.py); None: every call."""
    auth = current_auth(conn)
    assert auth is not None  # behind @require
    return auth.user.scope


def is_api(path: str) -> bool:
    """Read by programs (a Prometheus scrape too): 401, not a redirect to the sign-in page."""
    return path.startswith("/api/") or path == "/metrics"


# -- middleware ----------------------------------------------------------------------------


class SecurityHeadersMiddleware:
    """Browser hardening on every answer, and `Cache-Control: no-store` on every one that
    does not say otherwise: nearly all carry call data, which no browser or proxy may keep.
    Only static assets and the health check may be cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith("/static/") or scope["path"] == "/healthz"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = secured(message.get("headers", []), cacheable)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secured(
    own: Sequence[tuple[bytes, bytes]], cacheable: bool = False
) -> list[tuple[bytes, bytes]]:
    """A response's headers with the browser hardening ones, and `no-store` unless it is
    `cacheable` or says otherwise."""
    headers = [*own, *SECURITY_HEADERS]
    if not cacheable and not any(name.lower() == b"cache-control" for name, _ in own):
        headers.append(NO_STORE)
    return headers


class AuthMiddleware:
    """Puts the signed-in user (or None) in `scope["auth"]`; refuses unsafe requests
    made with a session cookie but without that session's CSRF token."""

    def __init__(self, app: ASGIApp, clock: Clock, refuse: Refuse) -> None:
        self.app = app
        self.clock = clock
        self.refuse = refuse  # how a refusal is answered (a page for people, JSON for programs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(EVENTS_PATH):
            # The PBX's endpoint (on every call event's path): it has senders, not users, its
            # own token (never a bearer one), and is exempt from CSRF.
            scope["auth"] = None
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        accounts: Accounts = parts(conn).accounts
        agent_scope = parts(conn).settings.agent_scope  # an agent's calls: its PBX's alone
        scope["auth"] = None
        bearer = _bearer(conn)
        if bearer is not None and (is_api(conn.url.path) or conn.url.path == "/ws"):
            user = accounts.tokens.user(bearer)
            if user is None:
                response: Response = Refusal(
                    401, "unauthorized", "the API token is unknown or revoked"
                ).json()
                await response(scope, receive, send)
                return
            scope["auth"] = Auth(user.placed(agent_scope), None, token_digest(bearer))
        elif cookie := conn.cookies.get(SESSION_COOKIE):
            session = accounts.session(cookie, self.clock())
            if session is not None:
                scope["auth"] = Auth(session.user.placed(agent_scope), session)
        auth: Auth | None = scope["auth"]
        if (
            scope["type"] == "http"
            and scope["method"] in UNSAFE_METHODS
            and auth is not None
            and auth.session is not None
            and not conn.url.path.startswith(CSRF_EXEMPT)
        ):
            receive, token = await _csrf_token(conn, receive)
            if token is None:
                limit = f"a form may hold at most {MAX_FORM_BYTES // 1024} KB"
                response = self.refuse(Request(scope, receive), Refusal(413, "too_large", limit))
                await response(scope, receive, send)
                return
            if not same_secret(token, auth.session.csrf_token):
                refusal = Refusal(
                    403, "forbidden", "the CSRF token is missing or wrong: reload the page"
                )
                response = self.refuse(Request(scope, receive), refusal)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def set_form_cookie(
    response: Response, conn: HTTPConnection, name: str, token: str, path: str
) -> None:
    """A form's CSRF token for a browser with no session yet (double submit): the form
    carries `token`, and so does a SameSite=Strict cookie for `path`, which another site's
    page can neither read nor send."""
    response.set_cookie(
        name,
        token,
        httponly=True,
        samesite="strict",
        path=path,
        secure=is_https(conn, parts(conn).settings.trusted_proxy_networks),
    )


def form_cookie_matches(conn: HTTPConnection, name: str, given: str) -> bool:
    """Whether a form came back with the token its page was given (and its cookie)."""
    expected = conn.cookies.get(name, "")
    return bool(expected) and same_secret(given, expected)


def _bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def _csrf_token(conn: HTTPConnection, receive: Receive) -> tuple[Receive, str | None]:
    """The token from the header, or from a URL-encoded form body (which is then replayed);
    None for a body past MAX_FORM_BYTES, which is refused rather than handed on cut short."""
    header = conn.headers.get(CSRF_HEADER)
    if header:
        return receive, header
    if not conn.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return receive, ""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return receive, ""  # gone before the whole form came: refused, never acted on
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_FORM_BYTES or not message.get("more_body", False):
            break
    if size > MAX_FORM_BYTES:
        return receive, None
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    values = parse_qs(body.decode("utf-8", errors="replace")).get(CSRF_FIELD, [""])
    return replay, values[0]


# -- guards --------------------------------------------------------------------------------


def require(*roles: Role) -> Callable[[Handler], Handler]:
    """Only signed-in users with one of `roles`: pages send others to /login, the API says 401."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            auth = current_auth(request)
            if auth is None:
                if is_api(request.url.path):
                    raise Refusal(
                        401, "unauthorized", "sign in, or send Authorization: Bearer TOKEN"
                    )
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            if auth.user.role not in roles:
                raise RoleRefusal(auth.user.role)
            return await handler(request)

        return guarded

    return decorate


EVERYONE = tuple(Role)
STAFF = (Role.ADMIN, Role.SUPERVISOR, Role.AGENT)
SUPERVISORS = (Role.ADMIN, Role.SUPERVISOR)


def origin_allowed(
    conn: HTTPConnection, extra_origins: Sequence[str], trusted_proxies: Sequence[Network]
) -> bool:
    """A browser's WebSocket must come from a page of this site (or a listed origin)."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True  # not a browser: cross-site WebSocket hijacking needs one
    scheme = "https" if is_https(conn, trusted_proxies) else "http"
    return origin in (f"{scheme}://{conn.headers.get('host', '')}", *extra_origins)


class RedactSecrets(logging.Filter):
    """Keeps event tokens out of logs (as a path segment or a `token` parameter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                redact_secrets(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


# -- event senders -------------------------------------------------------------------------


def parse_networks(entries: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


def client_ip(conn: HTTPConnection, trusted_proxies: Sequence[Network]) -> str:
    """The real peer: X-Forwarded-For counts only when the peer is a trusted proxy."""
    peer = conn.client.host if conn.client else ""
    if not _in_networks(peer, trusted_proxies):
        return peer
    # Every X-Forwarded-For line, in order (some proxies add a line rather than append): the
    # last address no trusted proxy wrote is the client, as the nearest proxy saw it.
    lines = conn.headers.getlist("x-forwarded-for")
    forwarded = [part.strip() for line in lines for part in line.split(",")]
    for address in reversed([part for part in forwarded if part]):
        if not _is_ip(address):
            return peer  # not an address: nothing beyond this hop can be believed
        if not _in_networks(address, trusted_proxies):
            return str(ipaddress.ip_address(address))  # one spelling of each address
    return peer


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_https(conn: HTTPConnection, trusted_proxies: Sequence[Network]) -> bool:
    """Whether the browser's connection is HTTPS, directly or at a trusted proxy."""
    if conn.url.scheme in ("https", "wss"):
        return True
    peer = conn.client.host if conn.client else ""
    proto = conn.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return proto == "https" and _in_networks(peer, trusted_proxies)


def _in_networks(address: str, networks: Sequence[Network]) -> bool:
    if not networks:  # before parsing: this is on every call event's path
        return False
    try:
        ip = _address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


# A PBX (or a proxy) sends from the same address every time.
_address = functools.lru_cache(maxsize=1024)(ipaddress.ip_address)


def sender_refusal(
    token_given: str | None, ip: str, *, token: str, allow: Sequence[Network]
) -> str | None:
    """Why a call-event sender is refused, or None when it may send."""
    if allow and not _in_networks(ip, allow):
        return f"{ip or 'this address'} is not in SYNAPSE_EVENT_ALLOW"
    if token and not (token_given and same_secret(token_given, token)):
        return "the event token is missing or wrong"
    return None


async def revalidate_viewers(hub: Hub, accounts: Accounts, clock: Clock, interval: float) -> None:
    """End live sockets whose session was ended elsewhere (e.g. by the CLI, another process)."""
    while True:
        await asyncio.sleep(interval)
        try:
            end_revoked_viewers(hub, accounts, clock())
        except Exception:  # the check must outlive any one failure
            log.exception("re-checking viewers' sessions failed")


def end_revoked_viewers(hub: Hub, accounts: Accounts, now: datetime) -> int:
    owners = {viewer.owner for viewer in hub.subscribers}
    revoked = owners - accounts.valid_owners(owners, now)
    if not revoked:
        return 0
    return hub.evict_where(
        lambda viewer: viewer.owner in revoked, close_code=CloseCode.POLICY_VIOLATION
    )
