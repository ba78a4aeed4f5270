"""Pages for admins: the audit log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dashboard.audit import AuditLog
from dashboard.auth import AuthError, Role
from dashboard.kiosk import Kiosks
from dashboard.security import client_ip, current_auth, end_revoked_viewers, require
from dashboard.state import parts
from dashboard.views.pages import page

PAGE_SIZE = 100


@require(Role.ADMIN)
async def audit_log(request: Request) -> Response:
    log: AuditLog = parts(request).audit
    before = request.query_params.get("before", "")
    valid = before.isascii() and before.isdigit() and len(before) <= 18
    entries = log.entries(PAGE_SIZE, int(before) if valid else None)
    older = entries[-1].id if len(entries) == PAGE_SIZE else None
    tz = parts(request).settings.timezone
    return page(request, "audit.html", entries=entries, older=older, tz=tz)


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
    """What the dashboard runs with (read-only: settings come from the environment)."""
    # The thresholds are the templates' own global (fragments.make_environment).
    return page(request, "settings.html", settings=parts(request).settings)
