"""Rendering a full page: every page knows who is signed in and carries the CSRF token."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from dashboard.ingest import Ingestor
from dashboard.security import current_auth


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    ingestor: Ingestor = request.app.state.ingestor
    auth = current_auth(request)
    context.setdefault("user", auth.user if auth else None)
    context.setdefault("csrf", auth.session.csrf_token if auth and auth.session else "")
    context.setdefault("path", request.url.path)
    html = ingestor.fragments.page(template, **context)
    return HTMLResponse(html, status_code=status_code, headers={"cache-control": "no-store"})
