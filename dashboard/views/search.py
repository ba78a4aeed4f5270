"""Live search: is this caller on a call right now, where, since when; and their recent calls."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dashboard.security import STAFF, current_auth, require
from dashboard.state import parts

MIN_DIGITS = 3


@require(*STAFF)
async def search(request: Request) -> Response:
    state = parts(request)
    auth = current_auth(request)
    assert auth is not None
    extension = auth.user.scope  # an agent searches its own calls
    typed = request.query_params.get("number", "")[:40]
    digits = "".join(ch for ch in typed if ch.isascii() and ch.isdigit())
    live, recent = [], []
    if len(digits) >= MIN_DIGITS:
        live = [
            call
            for call in state.live.board.snapshot(extension)
            if call.is_live and digits in "".join(ch for ch in call.number or "" if ch.isdigit())
        ]
        recent = state.store.calls_with_number(digits, extension)
    html = state.fragments.page(
        "partials/search_results.html",
        typed=typed,
        digits=digits,
        min_digits=MIN_DIGITS,
        live=live,
        recent=recent,
        controls=auth.user.may_control,
    )
    return HTMLResponse(html)
