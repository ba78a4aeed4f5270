"""The missed calls to return: a worklist, one-click call back, and "done"."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dashboard.callbacks import Callbacks
from dashboard.contacts import Contacts
from dashboard.ingest import Ingestor
from dashboard.security import STAFF, client_ip, current_auth, json_error, require
from dashboard.views.pages import page

LOOK_BACK = timedelta(days=14)


@require(*STAFF)
async def missed_page(request: Request) -> Response:
    callbacks: Callbacks = request.app.state.callbacks
    contacts: Contacts = request.app.state.contacts
    ingestor: Ingestor = request.app.state.ingestor
    auth = current_auth(request)
    assert auth is not None
    scope = auth.user.scope
    entries = callbacks.worklist(ingestor.clock() - LOOK_BACK, scope)
    names = {entry.call.number: contacts.find(entry.call.number) for entry in entries}
    return page(
        request,
        "missed.html",
        entries=entries,
        names=names,
        controls=auth.user.may_control,
        days=LOOK_BACK.days,
    )


@require(*STAFF)
async def mark_done(request: Request) -> Response:
    callbacks: Callbacks = request.app.state.callbacks
    ingestor: Ingestor = request.app.state.ingestor
    auth = current_auth(request)
    assert auth is not None
    form = await request.form()
    key = str(form.get("number_key", ""))
    scope = auth.user.scope
    if not key or not callbacks.may_mark(key, scope):
        return json_error(404, "not_found", "no such missed call to return that you may see")
    callbacks.mark_done(key, auth.user.name, ingestor.clock())
    remote = client_ip(request, ingestor.settings.trusted_proxy_networks)
    request.app.state.audit.record(
        ingestor.clock(), auth.user.name, "callback done", target=key, remote=remote
    )
    return HTMLResponse("")  # htmx removes the row
