"""The contacts page: search, click-to-call, and CSV import for supervisors."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dashboard.contacts import Contacts, ImportResult, decode_csv
from dashboard.security import STAFF, SUPERVISORS, client_ip, current_auth, require
from dashboard.state import parts
from dashboard.views.pages import page

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_QUERY = 100


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
    result = ImportResult()
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        query = str(form.get("q") or "")[:MAX_QUERY]  # the list shown: the page's search
        if not isinstance(upload, UploadFile):
            result.errors.append("choose a CSV file to import")
        else:
            raw = await upload.read(MAX_CSV_BYTES + 1)
            if len(raw) > MAX_CSV_BYTES:
                result.errors.append("the file is larger than 5 MiB")
            else:
                result = contacts.import_csv(decode_csv(raw))
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
