"""One refusal type, and one way to answer it: `{"error", "detail"}` JSON for the API, the
PBX's endpoint and other machine-read URLs, an HTML error page for the pages people open.

`error` is a stable machine-readable code; `detail` is a sentence for a person. Raise
`Refusal` (or a subclass) from a handler and the app's exception handler answers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from starlette.responses import JSONResponse

MACHINE_PATHS = ("/api/", "/synapse/", "/recordings/", "/metrics", "/healthz")
# What a page lets one do, by the start of its path, for "Agents may not open reports".
DOINGS = (
    ("/reports", "open reports"),
    ("/admin/audit", "read the audit log"),
    ("/admin/kiosks", "manage wall screens"),
    ("/admin/pbxs", "manage the PBXs"),
    ("/admin/settings", "read the settings"),
    ("/admin/users", "manage users"),
    ("/admin", "open the admin screens"),
    ("/cdr/sync", "fetch calls from the PBX"),
    ("/calls", "open the call history"),
    ("/missed", "work the missed calls"),
    ("/contacts/import", "import contacts"),
    ("/contacts", "open the contacts"),
    ("/search", "search calls"),
)
HEADINGS = {
    401: "Sign in first",
    403: "Not for your role",
    404: "Nothing here",
    500: "Something went wrong",
}
SERVER_FAULT = (
    "Something went wrong on the dashboard's side, not yours. It is in the dashboard's log;"
    " try again, and tell your administrator if it keeps happening."
)


class Refusal(Exception):
    def __init__(
        self, status: int, error: str, detail: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})

    def json(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.error, "detail": self.detail},
            status_code=self.status,
            headers=self.headers,
        )


class RoleRefusal(Refusal):
    """A signed-in user whose role may not use this URL (the page says so in words)."""

    def __init__(self, role: str) -> None:
        super().__init__(403, "forbidden", f"the {role} role may not do this")
        self.role = role


def page_words(refusal: Refusal, path: str) -> tuple[str, str]:
    """A refusal's heading and sentence as a person reads them on an error page."""
    heading = HEADINGS.get(refusal.status, HTTPStatus(refusal.status).phrase)
    if isinstance(refusal, RoleRefusal):
        doing = next((words for start, words in DOINGS if path.startswith(start)), "do this")
        return heading, f"{refusal.role.capitalize()}s may not {doing}."
    if refusal.status >= 500:
        return heading, SERVER_FAULT
    if refusal.status == 404 and refusal.detail == HTTPStatus.NOT_FOUND.phrase:
        return heading, "There is no page at this address. The links above lead to every page."
    if refusal.status == 405:
        return heading, "This address cannot be used that way: follow a link or a button to it."
    return heading, sentence(refusal.detail)


def sentence(text: str) -> str:
    """`text` as a sentence: a capital first, a full stop last."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def machine_read(path: str) -> bool:
    """Whether answers at this path are read by programs (JSON), not people (HTML)."""
    return path.startswith(MACHINE_PATHS) or path.endswith(".csv")


def internal_error() -> Refusal:
    """The answer to a request the dashboard failed on (why is in its log)."""
    return Refusal(500, "internal", "the dashboard could not handle this request; see its log")
