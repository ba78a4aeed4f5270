"""uvicorn's HTTP protocol, made cheaper for the PBX's call events.

- No access-log record for a call event: `dashboard serve` leaves the call events' access
  lines out (see event_summary.py). A logging filter does that, but only after uvicorn has
  made each line's record, which was most of the line's cost. This protocol tells uvicorn not
  to make one for a call event at all (the filter stays, in case a later uvicorn stops
  honouring it). Other routes keep their lines.
- One write for an event's answer: uvicorn writes a response's head and its body with a
  system call each, and on loopback each write is a TCP segment the kernel carries to the
  PBX's side there and then, a tenth of what answering an event cost. The head is held and
  leaves with the body.

The cycle and its view of the connection refer to each other until the response is
whole; then the view lets go, so an answered event is freed at once, not left for the
garbage collector (a collection held up the next push to every viewer).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from dashboard.event_summary import is_event_request


class HeadWithBody:
    """A request cycle's view of the connection: the response's head held until the next
    write (its body), then sent with it. What comes before the head (a 100 Continue) and
    after it goes straight through. What is held is sent when the response completes (an
    answer to HEAD has no body, and is never written to) or the cycle closes the connection.
    """

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        self._cycle: RequestResponseCycle | None = cycle
        self._held: bytes | None = None
        self._head_seen = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is not None:
            data, self._held = self._held + data, None
        elif not self._head_seen and self._cycle and self._cycle.response_started:  # the head
            self._head_seen = True
            self._held = bytes(data)
            return
        self._transport.write(data)

    def release(self) -> None:
        """Send what is held, if anything."""
        if self._held is not None:
            self._transport.write(self._held)
            self._held = None

    def finish(self) -> None:
        """The response is whole: send what is held, and let go of the cycle."""
        self.release()
        self._cycle = None

    def close(self) -> None:
        self.release()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, ...
        return getattr(self._transport, name)


class QuietEventsProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = getattr(self, "cycle", None)
        # Not after an upgrade (which returns before the request's cycle, and its path, exist).
        if cycle is None or cycle.scope is not self.scope:
            return
        if is_event_request(self.scope.get("path", "")):
            cycle.access_log = False
            connection = HeadWithBody(self.transport, cycle)
            cycle.transport = connection
            completed = cycle.on_response

            def on_response() -> None:  # what the cycle calls once its response is whole
                connection.finish()
                completed()

            cycle.on_response = on_response
