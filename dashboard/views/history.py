"""Call history: the search page, its CSV export, a call's page, and `GET /api/calls`."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import AsyncIterator
from datetime import date
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from dashboard.calls import Call
from dashboard.cdr import CdrSync
from dashboard.errors import Refusal
from dashboard.history import (
    COUNT_CAP,
    DIRECTIONS,
    PAGE_SIZE,
    PRESETS,
    FilterError,
    Filters,
    History,
    history_link,
    parse_filters,
)
from dashboard.results import RESULTS, timings
from dashboard.schema import CSV_HEADINGS, FIELDS, json_value
from dashboard.security import (
    STAFF,
    SUPERVISORS,
    client_ip,
    current_auth,
    require,
    user_scope,
)
from dashboard.state import parts
from dashboard.views.api import call_json
from dashboard.views.pages import page, toast

WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,20}")
# The export's columns: the call's, with the caller's name (a contact's or the PBX's caller
# ID, as the pages show it) after the number.
_AT_NAME = CSV_HEADINGS.index("number") + 1
EXPORT_HEADINGS = (*CSV_HEADINGS[:_AT_NAME], "name", *CSV_HEADINGS[_AT_NAME:])
_CSV_FIELDS = tuple(field for field in FIELDS if field.csv)


def _filters(request: Request) -> Filters:
    state = parts(request)
    return parse_filters(request.query_params, state.settings.timezone, state.today())


@require(*STAFF)
async def calls_page(request: Request) -> Response:
    history: History = parts(request).history
    scope = user_scope(request)
    params = request.query_params
    try:
        filters = _filters(request)
        total = history.count(filters, scope)  # up to COUNT_CAP + 1
        before = params.get("before")
        # The last page ("before" with no cursor) holds what is left, so pages stay aligned
        # (when they can be counted).
        exact = total <= COUNT_CAP
        size = (total % PAGE_SIZE or PAGE_SIZE) if before == "" and exact else PAGE_SIZE
        found = history.page(
            filters, scope, params.get("after"), size, before=before, count_before=True
        )
        error = ""
    except FilterError as problem:
        filters, found, total, error = Filters(), None, 0, str(problem)
    auth = current_auth(request)
    assert auth is not None
    return page(
        request,
        "calls.html",
        status_code=422 if error else 200,
        filters=filters,
        found=found,
        total=total,
        total_text=f"{COUNT_CAP:,}+" if total > COUNT_CAP else f"{total:,}",
        position=_position((found.before or 0) if found else 0, total),
        here=request.url.query,
        error=error,
        presets=PRESETS,
        directions=DIRECTIONS,
        results=RESULTS,
        scope=scope,
        controls=auth.user.may_control,
        pbx_hosts=_pbx_hosts(request),
    )


def _position(before: int, total: int) -> str:
    """ "Page 3 of 12"; past COUNT_CAP calls, "of 100+", and "Beyond page 100" for a page
    that starts past them (counting ten million calls for a page number takes seconds)."""
    last_counted = COUNT_CAP // PAGE_SIZE
    if before > COUNT_CAP:
        return f"Beyond page {last_counted:,}"
    pages = max(1, -(-min(total, COUNT_CAP) // PAGE_SIZE))
    of = f"{pages:,}+" if total > COUNT_CAP else f"{pages:,}"
    return f"Page {before // PAGE_SIZE + 1:,} of {of}"


def _pbx_hosts(request: Request) -> list[tuple[str, str]]:
    """(host, name) of each PBX, for the PBX filter (none with one PBX)."""
    pbxs = parts(request).pbxs
    return [(pbx.config.host, pbx.name) for pbx in pbxs.all] if pbxs.several else []


@require(*STAFF)
async def calls_csv(request: Request) -> Response:
    history: History = parts(request).history
    scope = user_scope(request)
    try:
        filters = _filters(request)
    except FilterError as problem:
        return Refusal(422, "bad_filter", str(problem)).json()
    tz = parts(request).settings.timezone
    name_of = parts(request).contacts.name_of

    async def rows() -> AsyncIterator[str]:
        # On the event loop, a page of calls at a time (each an indexed query): the export
        # never holds the whole result, and never shares the connection with another thread.
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_HEADINGS)
        for n, call in enumerate(history.every(filters, scope), start=1):
            writer.writerow(_export_row(call, tz, name_of(call.number, call.extra)))
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    name = f"calls-{filters.period}.csv"
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def _export_row(call: Call, tz: ZoneInfo, name: str | None) -> list[str]:
    """The call's export columns (only those: the rest of its JSON costs as much again)."""
    values = [json_value(field.kind, getattr(call, field.name), tz) for field in _CSV_FIELDS]
    values.insert(_AT_NAME, name)
    return [spreadsheet_safe("" if value is None else str(value)) for value in values]


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (a caller ID is attacker-controlled);
    a phone number like +919876543210 stays as it is."""
    # NFKC: a spreadsheet reads a fullwidth equals sign (U+FF1D) as "=" too.
    if unicodedata.normalize("NFKC", value[:1]) in FORMULA_STARTS and not value[1:].isdigit():
        return "'" + value
    return value


FORMULA_STARTS = ("=", "+", "-", "@")


@require(*STAFF)
async def calls_api(request: Request) -> Response:
    history: History = parts(request).history
    scope = user_scope(request)
    try:
        filters = _filters(request)
        size = _page_size(request.query_params.get("limit"))
        params = request.query_params
        found = history.page(filters, scope, params.get("after"), size, before=params.get("before"))
    except FilterError as problem:
        return Refusal(422, "bad_filter", str(problem)).json()
    tz = parts(request).settings.timezone
    return JSONResponse(
        {
            "calls": [call_json(call, tz) for call in found.calls],
            "next": found.next_cursor,
            "previous": found.previous_cursor,
        }
    )


def _page_size(text: str | None) -> int:
    """`limit`: a whole number (the page clamps it to 1..500)."""
    text = (text or "").strip()
    if not text:
        return PAGE_SIZE
    if not WHOLE_NUMBER.fullmatch(text):
        raise FilterError("limit must be a whole number")
    return int(text)


@require(*STAFF)
async def call_page(request: Request) -> Response:
    state = parts(request)
    uniqueid = request.path_params["uniqueid"]
    host = request.query_params.get("host")
    store = state.store
    call: Call | None = (
        store.get_call((host, uniqueid)) if host else store.get_call_by_uniqueid(uniqueid)
    )
    auth = current_auth(request)
    assert auth is not None
    tz = state.settings.timezone
    back = history_link(request.query_params.get("back"), tz, state.today())
    if call is None or not auth.user.may_see_call(call):
        return page(
            request, "call.html", status_code=404, call=None, events=[], fields={}, back=back
        )
    started = call.started_at
    return page(
        request,
        "call.html",
        call=call,
        events=list(store.events(call.key)),
        fields=call_json(call, tz),
        controls=auth.user.may_control,
        back=back,
        timings=timings(call),
        started=started.astimezone(tz).strftime("%a %d %b %Y, %H:%M:%S") if started else "",
        zone=tz.key,
        agent=state.accounts.extension_names().get(call.extension or ""),
    )


@require(*SUPERVISORS)
async def cdr_sync(request: Request) -> Response:
    """The supervisors' button: fetch the PBX's records for some days into the history."""
    sync: CdrSync = parts(request).cdr
    state = parts(request)
    auth = current_auth(request)
    assert auth is not None
    form = await request.form()
    try:
        first = date.fromisoformat(str(form.get("from", "")))
        last = date.fromisoformat(str(form.get("to", "")) or first.isoformat())
    except ValueError:
        return toast(request, False, "Give the days to fetch, like 2026-11-27.")
    extension = str(form.get("extension", "")).strip()
    if extension and not (extension.isascii() and extension.isdigit()):
        return toast(request, False, "An extension is digits.")
    if last < first or (last - first).days > 30:
        return toast(request, False, "Fetch one to 31 days at a time.")
    pbx = str(form.get("pbx", "")).strip() or None
    if sync.asked_by_hand.locked():
        return toast(request, False, "A fetch from the PBX is already under way: wait for it.")
    try:
        async with sync.asked_by_hand:
            result = await sync.sync(first, last, [extension] if extension else None, pbx)
    except Refusal as refused:  # no such PBX
        return toast(request, False, refused.detail)
    remote = client_ip(request, state.settings.trusted_proxy_networks)
    parts(request).audit.record(
        state.clock(),
        auth.user.name,
        "cdr sync",
        target=f"{first}..{last} {extension or 'all'}",
        detail=result.summary(),
        remote=remote,
    )
    told = [result.summary(), *result.not_fetched(), *result.problems[:3]]
    return toast(request, result.complete, " — ".join(told))
