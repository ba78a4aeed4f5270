"""The missed calls to return: a worklist, one-click call back, and "done"."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dashboard.callbacks import LOOK_BACK, Callbacks, for_whom
from dashboard.errors import Refusal
from dashboard.security import STAFF, client_ip, current_auth, require
from dashboard.state import parts
from dashboard.views.pages import page

__all__ = ["LOOK_BACK", "mark_done", "missed_page"]


@require(*STAFF)
async def missed_page(request: Request) -> Response:
    callbacks: Callbacks = parts(request).callbacks
    state = parts(request)
    auth = current_auth(request)
    assert auth is not None
    scope = auth.user.scope
    entries = callbacks.worklist(state.clock() - LOOK_BACK, scope)
    return page(
        request,
        "missed.html",
        entries=entries,
        controls=auth.user.may_control,
        days=LOOK_BACK.days,
    )


@require(*STAFF)
async def mark_done(request: Request) -> Response:
    callbacks: Callbacks = parts(request).callbacks
    state = parts(request)
    auth = current_auth(request)
    assert auth is not None
    form = await request.form()
    key = str(form.get("number_key", ""))
    # On the list this user sees: an agent acts only on their own extension's missed callers.
    if not key or not callbacks.may_mark(key, state.clock() - LOOK_BACK, auth.user.scope):
        raise Refusal(404, "not_found", "no such missed call to return that you may see")
    # An agent's "done" is for their own calls; a supervisor's or admin's, everyone's.
    scope = auth.user.scope
    callbacks.mark_done(key, auth.user.name, state.clock(), scope)
    remote = client_ip(request, state.settings.trusted_proxy_networks)
    parts(request).audit.record(
        state.clock(),
        auth.user.name,
        "callback done",
        target=key,
        remote=remote,
        detail=for_whom(scope),
    )
    state.publisher.agent_lists()  # an agent's board shows its next caller, and the count
    return HTMLResponse("")  # htmx removes the row
