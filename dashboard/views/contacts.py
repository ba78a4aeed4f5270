"""The contacts page: search, click-to-call, and CSV import for supervisors."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Message, Receive

from dashboard.contacts import Contacts, ImportResult, decode_csv
from dashboard.security import STAFF, SUPERVISORS, client_ip, current_auth, require
from dashboard.state import parts
from dashboard.views.pages import page

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_BYTES = MAX_CSV_BYTES + 64 * 1024  # the file, and the form around it
MAX_QUERY = 100
TOO_LARGE = "the file is larger than 5 MiB"


class UploadTooLarge(Exception):
    """The body went past MAX_UPLOAD_BYTES: nothing more of it is read."""


def limited(receive: Receive, limit: int) -> Receive:
    """`receive`, raising UploadTooLarge once more than `limit` bytes of body have come
    (a body without a Content-Length is counted as it comes)."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        size += len(message.get("body", b""))
        if size > limit:
            raise UploadTooLarge
        return message

    return counted


@require(*STAFF)
async def contacts_page(request: Request) -> Response:
    contacts: Contacts = parts(request).contacts
    query = request.query_params.get("q", "")[:MAX_QUERY]
    return page(
        request,
        "contacts.html",
        contacts=contacts.search(query),
        q=query,
        total=contacts.count(),
        oob=False,
    )


@require(*SUPERVISORS)
async def import_contacts(request: Request) -> Response:
    contacts: Contacts = parts(request).contacts
    state = parts(request)
    query: str | None = None  # the page's search, unless the form was refused unread
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        result = ImportResult(refused=TOO_LARGE)  # refused before any of it is read
    else:
        try:
            result, query = await _imported(request, contacts)
        except UploadTooLarge:  # no more of it is read
            result = ImportResult(refused=TOO_LARGE)
    auth = current_auth(request)
    assert auth is not None
    remote = client_ip(request, state.settings.trusted_proxy_networks)
    parts(request).audit.record(
        state.clock(),
        auth.user.name,
        "contacts-import",
        detail=result.summary(),
        result="ok" if result.added or result.updated else "nothing imported",
        remote=remote,
    )
    html = state.fragments.page("partials/import_result.html", result=result)
    if query is None:  # nothing changed: the list below the form stays as the page has it
        return HTMLResponse(html)
    # The list below the form, as it now is, swapped in out of band.
    html += state.fragments.page(
        "partials/contact_list.html",
        contacts=contacts.search(query),
        q=query,
        total=contacts.count(),
        user=auth.user,
        oob=True,
    )
    return HTMLResponse(html)


async def _imported(request: Request, contacts: Contacts) -> tuple[ImportResult, str]:
    """The import of the form's file, and the search the page showed."""
    bounded = Request(request.scope, limited(request.receive, MAX_UPLOAD_BYTES))
    async with bounded.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        query = str(form.get("q") or "")[:MAX_QUERY]  # the list shown: the page's search
        if not isinstance(upload, UploadFile):
            return ImportResult(refused="no file was chosen"), query
        raw = await upload.read(MAX_CSV_BYTES + 1)
        if len(raw) > MAX_CSV_BYTES:
            return ImportResult(refused=TOO_LARGE), query
        return await contacts.import_csv_aside(decode_csv(raw)), query
