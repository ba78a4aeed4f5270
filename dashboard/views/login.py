"""Signing in and out."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from urllib.parse import urlsplit

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboard.audience import CloseCode
from dashboard.audit import AuditLog
from dashboard.auth import CSRF_FIELD, SESSION_COOKIE, Accounts
from dashboard.hub import Hub
from dashboard.passwords import new_token, verify_password
from dashboard.security import (
    EVERYONE,
    client_ip,
    current_auth,
    form_cookie_matches,
    is_https,
    require,
    set_form_cookie,
)
from dashboard.signins import Lock, Scope
from dashboard.state import parts
from dashboard.views.pages import page

LOGIN_CSRF_COOKIE = "dashboard_login_csrf"


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (open redirect)."""
    if not target:
        return "/"
    try:
        parts = urlsplit(target)
    except ValueError:  # "http://[::1": not a URL at all
        return "/"
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_page(request: Request, message: str = "", status_code: int = 200) -> Response:
    token = new_token()
    response = page(
        request,
        "login.html",
        status_code,
        message=message,
        login_csrf=token,
        next=safe_next(request.query_params.get("next")),
        name=request.query_params.get("name", ""),
    )
    set_form_cookie(response, request, LOGIN_CSRF_COOKIE, token, "/login")
    return response


def refused_message(lock: Lock, now: datetime) -> str:
    minutes = max(1, math.ceil((lock.until - now).total_seconds() / 60))
    where = (
        "from this address" if lock.scope is Scope.ADDRESS else "for this name from this address"
    )
    return f"Too many failed sign-ins {where}: try again in {minutes} min."


def lock_entry(lock: Lock) -> dict[str, str]:
    """A lock as the audit log says it: whom, from where, how many failures, until when."""
    detail = (
        f"{lock.failures} failed sign-ins for {lock.target} from {lock.address or 'somewhere'};"
        f" refused there until {lock.until.isoformat(timespec='seconds')}"
    )
    return {"target": lock.target, "remote": lock.address, "detail": detail}


async def login(request: Request) -> Response:
    if request.method == "GET":
        return _login_page(request)
    accounts: Accounts = parts(request).accounts
    audit: AuditLog = parts(request).audit
    state = parts(request)
    form = await request.form()
    name = str(form.get("name", "")).strip().lower()[:64]
    password = str(form.get("password", ""))[:1024]
    remote = client_ip(request, state.settings.trusted_proxy_networks)
    now = state.clock()
    if not form_cookie_matches(request, LOGIN_CSRF_COOKIE, str(form.get(CSRF_FIELD, ""))):
        return _login_page(request, "The sign-in form expired: please try again.", 403)
    attempt = accounts.sign_ins.begin(name, remote, now)
    for lock in attempt.new_locks:
        audit.record(now, name, "sign-in lock", result="locked", **lock_entry(lock))
    if attempt.refused is not None:
        return _login_page(request, refused_message(attempt.refused, now), 429)
    user, stored_hash = accounts.credentials(name)
    # The slow hash runs off the event loop (a few at a time: each takes 32 MiB), so a
    # sign-in never stalls the wallboards.
    valid = await anyio.to_thread.run_sync(
        verify_password, password, stored_hash, limiter=parts(request).kdf_limiter
    )
    if not valid or user is None or user.disabled:
        audit.record(now, name, "sign-in", result="failed", remote=remote)
        delay = state.settings.sign_in_delay_seconds * attempt.failures
        await asyncio.sleep(delay)  # each failure answers more slowly than the last
        return _login_page(request, "Wrong user name or password.", 401)
    accounts.sign_ins.succeeded(name, remote)
    token, _ = accounts.start_session(user, now, remote)
    audit.record(now, user.name, "sign-in", remote=remote)
    response = RedirectResponse(safe_next(str(form.get("next", ""))), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(accounts.session_lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_https(request, parts(request).settings.trusted_proxy_networks),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@require(*EVERYONE)
async def logout(request: Request) -> Response:
    auth = current_auth(request)
    assert auth is not None
    accounts: Accounts = parts(request).accounts
    hub: Hub = parts(request).hub
    if auth.session is not None:
        accounts.end_session(auth.session.id_hash)
        session_id = auth.session.id_hash
        hub.evict_where(lambda viewer: viewer.owner == session_id, CloseCode.POLICY_VIOLATION)
    remote = client_ip(request, parts(request).settings.trusted_proxy_networks)
    parts(request).audit.record(parts(request).clock(), auth.user.name, "sign-out", remote=remote)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
