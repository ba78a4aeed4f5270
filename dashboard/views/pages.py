"""Rendering a full page: every page knows who is signed in and carries the CSRF token."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dashboard.auth import User
from dashboard.errors import Refusal, machine_read, page_words
from dashboard.security import current_auth
from dashboard.state import Parts, parts


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    state = parts(request)
    auth = current_auth(request)
    context.setdefault("user", auth.user if auth else None)
    context.setdefault("csrf", auth.session.csrf_token if auth and auth.session else "")
    context.setdefault("path", request.url.path)
    # An agent's pages show the call pop-up: the wallboard through its own socket, other
    # pages through a socket that carries pop-ups only.
    context.setdefault("own_socket", False)
    context.setdefault("popups", _popups(state, auth.user if auth else None))
    context.setdefault("problems", state.pbxs.health.problems())
    html = state.fragments.page(template, **context)
    return HTMLResponse(html, status_code=status_code, headers={"cache-control": "no-store"})


def _popups(state: Parts, user: User | None) -> list[Markup]:
    """The pop-ups to show now (the page's first paint, before its socket says more)."""
    scope = user.scope if user else None
    if scope is None:
        return []
    popups = state.popups
    return [Markup(popups.render(call, scope)) for call in popups.showing(state.live.board, scope)]


def toast(request: Request, ok: bool, message: str, reply: str = "") -> HTMLResponse:
    """How an action went, for htmx to show where the person clicked (always a 2xx: htmx
    swaps only those by default)."""
    state = parts(request)
    html = state.fragments.page("partials/toast.html", ok=ok, message=message, reply=reply)
    return HTMLResponse(html)


def error_page(request: Request, refusal: Refusal) -> Response:
    """A refusal as people see it, an HTML page with the navigation; JSON where programs read
    (see errors.py); for an htmx request, the refusal's toast (a fragment, not a page)."""
    if machine_read(request.url.path):
        return refusal.json()
    heading, words = page_words(refusal, request.url.path)
    if request.headers.get("hx-request") == "true":
        html = parts(request).fragments.page(
            "partials/toast.html", ok=False, message=words, reply=""
        )
        response: Response = HTMLResponse(html, status_code=refusal.status)
    else:
        response = page(
            request,
            "error.html",
            status_code=refusal.status,
            title=HTTPStatus(refusal.status).phrase,
            heading=heading,
            error=refusal.error,
            detail=words,
        )
    response.headers.update(refusal.headers)
    return response
