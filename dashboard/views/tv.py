"""TV mode, and the kiosk links that sign a wall screen in."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboard.auth import CSRF_FIELD, SESSION_COOKIE, Accounts
from dashboard.kiosk import KIOSK_SESSION, Kiosks
from dashboard.passwords import new_token
from dashboard.security import (
    EVERYONE,
    client_ip,
    current_auth,
    form_cookie_matches,
    is_https,
    origin_allowed,
    require,
    set_form_cookie,
)
from dashboard.state import parts
from dashboard.views.pages import page
from dashboard.views.wallboard import board_page

KIOSK_CSRF_COOKIE = "dashboard_kiosk_csrf"
KIOSK_CSRF_PATH = "/kiosk"


@require(*EVERYONE)
async def tv(request: Request) -> Response:
    """The board for a wall screen: dark, large, read-only, with a clock."""
    return board_page(request, tv=True, controls=False)


async def kiosk(request: Request) -> Response:
    """GET shows a page that signs in (a GET changes nothing); POST signs in, only when it
    comes from that page: another site could otherwise sign any browser in as a wall screen,
    signing out whoever was signed in there."""
    kiosks: Kiosks = parts(request).kiosks
    found = kiosks.link_for(request.path_params["token"])
    if found is None:
        return _kiosk_template(request, 404, valid=False)
    link, user = found
    if request.method == "GET":
        return _kiosk_page(request)
    form = await request.form()
    settings = parts(request).settings
    cross_site = request.headers.get("sec-fetch-site") == "cross-site" or not origin_allowed(
        request, settings.allowed_origins, settings.trusted_proxy_networks
    )
    if cross_site or not form_cookie_matches(
        request, KIOSK_CSRF_COOKIE, str(form.get(CSRF_FIELD, ""))
    ):
        return _kiosk_template(request, 403, refused=True)
    accounts: Accounts = parts(request).accounts
    state = parts(request)
    remote = client_ip(request, state.settings.trusted_proxy_networks)
    token_value, _ = accounts.start_session(user, state.clock(), remote, KIOSK_SESSION)
    parts(request).audit.record(state.clock(), user.name, "kiosk sign-in", remote=remote)
    response = RedirectResponse(link.board_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token_value,
        max_age=int(KIOSK_SESSION.total_seconds()),
        httponly=True,
        samesite="lax",
        path="/",
        secure=is_https(request, state.settings.trusted_proxy_networks),
    )
    response.delete_cookie(KIOSK_CSRF_COOKIE, path=KIOSK_CSRF_PATH)
    return response


def _kiosk_page(request: Request) -> Response:
    """The page starts the screen by itself when the link was opened directly (typed, a
    bookmark, or from this dashboard) in a browser nobody is signed in on; otherwise it asks:
    a link followed from another site must not sign someone out without a click."""
    opened_directly = request.headers.get("sec-fetch-site", "none") in ("none", "same-origin")
    token = new_token()
    response = _kiosk_template(
        request,
        action=request.url.path,
        kiosk_csrf=token,
        autosubmit=opened_directly and current_auth(request) is None,
    )
    set_form_cookie(response, request, KIOSK_CSRF_COOKIE, token, KIOSK_CSRF_PATH)
    return response


def _kiosk_template(request: Request, status_code: int = 200, **context: Any) -> Response:
    shown = {"valid": True, "refused": False, "action": "", "kiosk_csrf": "", "autosubmit": False}
    return page(request, "kiosk.html", status_code, **(shown | context))
