"""TV mode, and the kiosk links that sign a wall screen in."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboard.auth import SESSION_COOKIE, Accounts
from dashboard.kiosk import KIOSK_SESSION, Kiosks
from dashboard.security import EVERYONE, client_ip, is_https, require
from dashboard.state import parts
from dashboard.views.pages import page
from dashboard.views.wallboard import board_page


@require(*EVERYONE)
async def tv(request: Request) -> Response:
    """The board for a wall screen: dark, large, read-only, with a clock."""
    return board_page(request, tv=True, controls=False)


async def kiosk(request: Request) -> Response:
    """GET shows a page that signs in by itself (a GET changes nothing); POST signs in."""
    kiosks: Kiosks = parts(request).kiosks
    token = request.path_params["token"]
    user = kiosks.user_for(token)
    if user is None:
        return page(request, "kiosk.html", status_code=404, valid=False, action="")
    if request.method == "GET":
        return page(request, "kiosk.html", valid=True, action=request.url.path)
    accounts: Accounts = parts(request).accounts
    state = parts(request)
    remote = client_ip(request, state.settings.trusted_proxy_networks)
    token_value, _ = accounts.start_session(user, state.clock(), remote, KIOSK_SESSION)
    parts(request).audit.record(state.clock(), user.name, "kiosk sign-in", remote=remote)
    response = RedirectResponse("/tv", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token_value,
        max_age=int(KIOSK_SESSION.total_seconds()),
        httponly=True,
        samesite="lax",
        path="/",
        secure=is_https(request, state.settings.trusted_proxy_networks),
    )
    return response
