"""Live search: is this caller on a call right now, where, since when; and their recent calls.

A caller is found by part of their number (digits) or of their name: a contact's, or the
caller-ID name the PBX sent with a call now live.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dashboard.calls import Call
from dashboard.events import caller_id_name
from dashboard.scope import Scope
from dashboard.security import STAFF, current_auth, require
from dashboard.state import Parts, parts

MIN_DIGITS = 3
MIN_LETTERS = 2
MAX_TYPED = 40


@require(*STAFF)
async def search(request: Request) -> Response:
    state = parts(request)
    auth = current_auth(request)
    assert auth is not None
    scope = auth.user.scope  # an agent searches its own calls
    typed = " ".join(request.query_params.get("number", "")[:MAX_TYPED].split())
    by_name = any(ch.isalpha() for ch in typed)
    digits = "" if by_name else "".join(ch for ch in typed if ch.isascii() and ch.isdigit())
    live: list[Call] = []
    recent: list[Call] = []
    if by_name and len(typed) >= MIN_LETTERS:
        live, recent = _by_name(state, typed, scope)
    elif len(digits) >= MIN_DIGITS:
        live = [
            call
            for call in state.live.board.snapshot(scope)
            if call.is_live and digits in "".join(ch for ch in call.number or "" if ch.isdigit())
        ]
        recent = state.store.calls_with_number(digits, scope)
    html = state.fragments.page(
        "partials/search_results.html",
        typed=typed,
        digits=digits,
        by_name=by_name,
        enough=len(typed) >= MIN_LETTERS if by_name else len(digits) >= MIN_DIGITS,
        min_digits=MIN_DIGITS,
        min_letters=MIN_LETTERS,
        live=live,
        recent=recent,
        controls=auth.user.may_control,
    )
    return HTMLResponse(html)


def _by_name(state: Parts, typed: str, scope: Scope | None) -> tuple[list[Call], list[Call]]:
    """Live and recent calls of the contacts whose name holds `typed`; live calls also by
    the PBX's caller-ID name. All in memory but the one indexed query for recent calls."""
    contacts = state.contacts
    keys = contacts.keys_named(typed)
    wanted = set(keys)
    folded = typed.casefold()
    live = [
        call
        for call in state.live.board.snapshot(scope)
        if call.is_live
        and (
            contacts.key(call.number) in wanted
            or folded in (caller_id_name(call.extra) or "").casefold()
        )
    ]
    return live, state.store.calls_with_number_keys(keys, scope)
