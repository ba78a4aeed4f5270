"""One refusal type, and one way to answer it: `{"error", "detail"}` JSON for the API, the
PBX's endpoint and other machine-read URLs, an HTML error page for the pages people open.

`error` is a stable machine-readable code; `detail` is a sentence for a person. Raise
`Refusal` (or a subclass) from a handler and the app's exception handler answers it.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

MACHINE_PATHS = ("/api/", "/synapse/", "/recordings/", "/metrics", "/healthz")


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


def machine_read(path: str) -> bool:
    """Whether answers at this path are read by programs (JSON), not people (HTML)."""
    return path.startswith(MACHINE_PATHS) or path.endswith(".csv")
