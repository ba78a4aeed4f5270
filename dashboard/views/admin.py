"""Pages for admins: the audit log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dashboard.audit import AuditLog
from dashboard.auth import Role
from dashboard.security import require
from dashboard.views.pages import page

PAGE_SIZE = 100


@require(Role.ADMIN)
async def audit_log(request: Request) -> Response:
    log: AuditLog = request.app.state.audit
    before = request.query_params.get("before", "")
    valid = before.isascii() and before.isdigit() and len(before) <= 18
    entries = log.entries(PAGE_SIZE, int(before) if valid else None)
    older = entries[-1].id if len(entries) == PAGE_SIZE else None
    tz = request.app.state.settings.timezone
    return page(request, "audit.html", entries=entries, older=older, tz=tz)
