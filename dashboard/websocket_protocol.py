"""uvicorn's WebSocket protocol, made for a wallboard's fan-out.

Two changes:

- It offers the app a `FrameSink` (scope["extensions"]["dashboard.frames"]["sink"]) when the
  connection is not compressed: the hub then encodes a push into a frame once and writes
  the same bytes to every viewer, instead of a task per viewer sending its own copy.
- It lets go of a viewer that stopped reading. uvicorn closes the transport when the app
  is done with a connection, when a close handshake goes unanswered, or when pings do; and
  a close waits for unsent data to drain: from a viewer that never reads again, never. The
  socket and its buffers would stay until the client's machine gives up. Here, a
  connection closed with data still unsent is aborted instead.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

FRAMES_EXTENSION = "dashboard.frames"


class DirectFrames:
    """Writes encoded frames straight to one open connection's transport.

    Offered once the handshake is under way, and written to for every push to every
    viewer: one look at the connection's state is enough (it leaves OPEN when a close frame
    is sent or received, or the connection fails) and at the transport's (closing once the
    connection is lost)."""

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._conn = protocol.conn
        self._transport = protocol.transport
        # The transport's own methods, called for every push to every viewer: no wrapper.
        self.unsent_bytes = protocol.transport.get_write_buffer_size  # bytes not yet sent
        self.abort = protocol.transport.abort  # drop the connection, unsent bytes and all

    def write_frame(self, frame: bytes) -> bool:
        if self._conn.state is not State.OPEN or self._transport.is_closing():
            return False
        self._transport.write(frame)
        return True


class LettingGoWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: object) -> None:
        super().handle_connect(event)  # type: ignore[arg-type]
        # The app's task is created but has not run yet: the scope can still be added to.
        if self.response.status_code == 101 and not self.conn.extensions:
            extensions = self.scope.setdefault("extensions", {})
            extensions[FRAMES_EXTENSION] = {"sink": DirectFrames(self)}

    async def run_asgi(self) -> None:
        await super().run_asgi()
        self._let_go_if_stuck()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.close" and self.close_timer is not None:
            # uvicorn closes the transport if the viewer does not answer the close frame in
            # time, and a close waits for unsent data: let go of it instead.
            self.close_timer.cancel()
            self.close_timer = self.loop.call_later(self.close_timeout, self._let_go)

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()  # a viewer that stopped answering pings
        self._let_go_if_stuck()

    def _let_go(self) -> None:
        self.transport.close()
        self._let_go_if_stuck()

    def _let_go_if_stuck(self) -> None:
        if self.transport.is_closing() and self.transport.get_write_buffer_size() > 0:
            self.transport.abort()
