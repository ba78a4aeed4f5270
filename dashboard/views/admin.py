"""Pages for admins: the audit log (filtered, exported), wall-screen links, settings (the
thresholds and groups editable); users are views/users.py."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from dashboard.audit import AuditFilter, AuditLog
from dashboard.auth import AuthError, Role
from dashboard.board_settings import (
    GROUPS,
    THRESHOLDS,
    GroupsError,
    groups_text,
    parse_groups,
    thresholds_from_form,
)
from dashboard.errors import Refusal
from dashboard.kiosk import Kiosks
from dashboard.security import client_ip, current_auth, end_revoked_viewers, require
from dashboard.state import Parts, parts
from dashboard.thresholds import ThresholdError, Thresholds
from dashboard.views.history import spreadsheet_safe
from dashboard.views.pages import page

PAGE_SIZE = 100
FILTERS = ("who", "action", "from", "to")
FILTER_LIMIT = 64  # characters of a who or what filter
FIRST_YEAR, LAST_YEAR = 2000, 2999
CSV_HEADINGS = ["when", "who", "what", "target", "result", "from", "detail"]


class FilterError(ValueError):
    """A filter of the audit log that cannot be read; the message says which."""


@require(Role.ADMIN)
async def audit_log(request: Request) -> Response:
    log: AuditLog = parts(request).audit
    tz = parts(request).settings.timezone
    query = request.query_params
    shown = {key: query.get(key, "")[:FILTER_LIMIT] for key in FILTERS}
    before = query.get("before", "")
    paged = before.isascii() and before.isdigit() and len(before) <= 18
    context: dict[str, Any] = {"tz": tz, "shown": shown, "actions": log.actions(), "paged": paged}
    filtered = urlencode({key: value for key, value in shown.items() if value})
    try:
        where = audit_filter(request, tz)
    except FilterError as problem:
        return page(
            request,
            "audit.html",
            status_code=422,
            entries=[],
            older=None,
            problem=str(problem),
            filtered=filtered,
            **context,
        )
    entries = log.entries(PAGE_SIZE, int(before) if paged else None, where)
    older = entries[-1].id if len(entries) == PAGE_SIZE else None
    return page(
        request,
        "audit.html",
        entries=entries,
        older=older,
        problem="",
        filtered=filtered,
        **context,
    )


@require(Role.ADMIN)
async def audit_csv(request: Request) -> Response:
    """The filtered entries as CSV, newest first, written as they are read."""
    state = parts(request)
    tz = state.settings.timezone
    try:
        where = audit_filter(request, tz)
    except FilterError as problem:
        return Refusal(422, "bad_filter", str(problem)).json()
    auth = current_auth(request)
    assert auth is not None
    remote = client_ip(request, state.settings.trusted_proxy_networks)
    # The filters as the query had them (encoded: whatever they hold stays one plain cell).
    asked = urlencode([(k, v) for k, v in request.query_params.multi_items() if k in FILTERS and v])
    state.audit.record(
        state.clock(), auth.user.name, "audit export", remote=remote, detail=asked[:300]
    )

    async def rows() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_HEADINGS)
        for n, entry in enumerate(state.audit.every(where), start=1):
            cells = [
                entry.at.astimezone(tz).isoformat(),
                entry.user,
                entry.action,
                entry.target,
                entry.result,
                entry.remote,
                entry.detail,
            ]
            writer.writerow([spreadsheet_safe(cell) for cell in cells])
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="audit.csv"'},
    )


def audit_filter(request: Request, tz: ZoneInfo) -> AuditFilter:
    """The query's filters: who (part of a name), action, from/to (dates in the board's
    zone, both days included)."""
    query = request.query_params
    who, action = query.get("who", "").strip(), query.get("action", "").strip()
    if len(who) > FILTER_LIMIT or len(action) > FILTER_LIMIT:
        raise FilterError(f"Who and what are at most {FILTER_LIMIT} characters.")
    first, last = _day(query.get("from", ""), "from"), _day(query.get("to", ""), "to")
    if first and last and last < first:
        raise FilterError("The 'to' date is before the 'from' date.")
    since = _midnight(first, tz) if first else None
    until = _midnight(last + timedelta(days=1), tz) if last else None
    return AuditFilter(user=who, action=action, since=since, until=until)


def _day(text: str, which: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise FilterError(f"The '{which}' date is not a date like 2026-11-27.")
    return day


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz)


@require(Role.ADMIN)
async def kiosk_links(request: Request) -> Response:
    """Wall-screen links: list, create (the link is shown once), revoke."""
    kiosks: Kiosks = parts(request).kiosks
    auth = current_auth(request)
    assert auth is not None
    new_link, message = "", ""
    if request.method == "POST":
        form = await request.form()
        now = parts(request).clock()
        remote = client_ip(request, parts(request).settings.trusted_proxy_networks)
        try:
            if form.get("revoke"):
                revoked = kiosks.revoke(int(str(form.get("revoke", "0"))))
                # Its account is disabled, its sessions ended: its sockets close now.
                end_revoked_viewers(parts(request).hub, parts(request).accounts, now)
                message = f"Revoked the link for {revoked.label}: that screen is signed out."
                parts(request).audit.record(
                    now, auth.user.name, "kiosk revoke", target=revoked.label, remote=remote
                )
            else:
                group = str(form.get("group", "")).strip()
                if group and group not in parts(request).live.grid.groups:
                    raise ValueError(f"no such group: {group[:40]!r}; choose one of the list")
                label = str(form.get("label", ""))
                link, token = kiosks.create(label, auth.user.name, group)
                new_link = str(request.url_for("kiosk", token=token))
                message = f"Open this link once on the {link.label} screen; it is not shown again."
                parts(request).audit.record(
                    now, auth.user.name, "kiosk create", target=link.label, remote=remote
                )
        except (AuthError, ValueError) as error:
            message = str(error)
    return page(
        request,
        "kiosks.html",
        links=kiosks.links(),
        groups=parts(request).live.grid.groups,
        new_link=new_link,
        message=message,
        tz=parts(request).settings.timezone,
    )


@require(Role.ADMIN)
async def settings_page(request: Request) -> Response:
    """What the dashboard runs with: the thresholds and groups editable, the rest read-only
    (from the environment)."""
    return _settings_page(request)


@require(Role.ADMIN)
async def change_thresholds(request: Request) -> Response:
    """New warn/alert seconds for ringing and talking (or `reset`: the configured ones)."""
    state = parts(request)
    form = await request.form()
    before = _thresholds(state)
    if form.get("reset"):
        state.board_settings.forget(THRESHOLDS)
        return _settings_changed(
            request, "settings thresholds", before, "Thresholds back to the configured ones."
        )
    try:
        chosen = thresholds_from_form(before, _form(form))
    except ThresholdError as problem:
        return _settings_refused(request, "settings thresholds", str(problem), _form(form))
    auth = current_auth(request)
    assert auth is not None
    state.board_settings.save_thresholds(chosen, state.clock(), auth.user.name)
    return _settings_changed(
        request, "settings thresholds", before, "Thresholds saved: every board uses them now."
    )


@require(Role.ADMIN)
async def change_groups(request: Request) -> Response:
    """New extension groups, one `Name: 40-49, 52` a line (or `reset`: the configured ones)."""
    state = parts(request)
    form = await request.form()
    before = groups_text(state.board_settings.groups())
    if form.get("reset"):
        state.board_settings.forget(GROUPS)
        return _settings_changed(
            request, "settings groups", before, "Groups back to the configured ones."
        )
    text = form.get("groups")  # whole: parse_groups refuses it when too long
    try:
        if not isinstance(text, str):
            raise GroupsError("give the groups, one a line (an empty text for none)")
        chosen = parse_groups(text, state.settings.extension_digits)
    except GroupsError as problem:
        return _settings_refused(request, "settings groups", str(problem), _form(form))
    auth = current_auth(request)
    assert auth is not None
    state.board_settings.save_groups(chosen, state.clock(), auth.user.name)
    return _settings_changed(
        request, "settings groups", before, "Groups saved: every board uses them now."
    )


def _thresholds(state: Parts) -> Thresholds:
    return state.board_settings.thresholds()


def _settings_changed(request: Request, action: str, before: object, message: str) -> Response:
    """Apply what is stored now, push every board again, audit the change, say so."""
    state = parts(request)
    auth = current_auth(request)
    assert auth is not None
    state.board_settings.apply(state.fragments.env, state.live.grid)
    state.publisher.whole_board()
    if action == "settings thresholds":
        assert isinstance(before, Thresholds)
        detail = f"{_seconds_text(before)} -> {_seconds_text(_thresholds(state))}"
    else:
        detail = f"{before or '(none)'} -> {groups_text(state.board_settings.groups()) or '(none)'}"
    remote = client_ip(request, state.settings.trusted_proxy_networks)
    state.audit.record(
        state.clock(), auth.user.name, action, remote=remote, detail=detail.replace("\n", "; ")
    )
    return _settings_page(request, message=message, ok=True)


def _settings_refused(
    request: Request, action: str, problem: str, form: dict[str, str]
) -> Response:
    state = parts(request)
    auth = current_auth(request)
    assert auth is not None
    remote = client_ip(request, state.settings.trusted_proxy_networks)
    message = problem[:1].upper() + problem[1:]
    state.audit.record(
        state.clock(), auth.user.name, action, result="refused", remote=remote, detail=message
    )
    return _settings_page(request, message=message, status_code=422, given=form, refused=action)


def _seconds_text(thresholds: Thresholds) -> str:
    seconds = thresholds.seconds()
    return (
        f"ringing {seconds['ring_warn']}/{seconds['ring_alert']} s,"
        f" talking {seconds['talk_warn']}/{seconds['talk_alert']} s"
    )


def _settings_page(
    request: Request,
    *,
    message: str = "",
    ok: bool = False,
    status_code: int = 200,
    given: dict[str, str] | None = None,
    refused: str = "",
) -> Response:
    """`given`: what a refused form held, shown again to correct."""
    state = parts(request)
    stored = state.board_settings
    seconds = {key: str(value) for key, value in stored.thresholds().seconds().items()}
    groups = groups_text(stored.groups())
    if given and refused == "settings thresholds":
        seconds = {key: given.get(key, "") for key in seconds}
    if given and refused == "settings groups":
        groups = given.get("groups", "")
    return page(
        request,
        "settings.html",
        status_code=status_code,
        settings=state.settings,
        seconds=seconds,
        groups_text=groups,
        thresholds_changed=stored.changed(THRESHOLDS),
        groups_changed=stored.changed(GROUPS),
        message=message,
        ok=ok,
        refused=refused,
        tz=state.settings.timezone,
    )


def _form(form: FormData) -> dict[str, str]:
    return {key: value[:20_000] for key, value in form.items() if isinstance(value, str)}
