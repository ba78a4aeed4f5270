"""uvicorn's HTTP protocol, without an access-log record for a call event.

`dashboard serve` leaves the call events' access lines out (see event_summary.py). A logging
filter does that, but only after uvicorn has made each line's record, which was most of the
line's cost. This protocol tells uvicorn not to make one for a call event at all (the filter
stays, in case a later uvicorn stops honouring it). Other routes keep their lines.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from dashboard.event_summary import is_event_request


class QuietEventsProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = getattr(self, "cycle", None)
        # Not after an upgrade (which returns before the request's cycle, and its path, exist).
        if cycle is None or cycle.scope is not self.scope:
            return
        if is_event_request(self.scope.get("path", "")):
            cycle.access_log = False
