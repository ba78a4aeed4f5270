"""uvicorn's WebSocket protocol, made for a wallboard's fan-out.

Two changes:

- It offers the app a `FrameSink` (scope["extensions"]["dashboard.frames"]["sink"]) when the
  connection is not compressed: the hub then encodes a push into a frame once and writes
  the same bytes to every viewer, instead of a task per viewer sending its own copy.
- It lets go of a viewer that stopped reading. When the app is done with a connection (a
  viewer too slow was evicted), uvicorn closes the transport, and a close waits for unsent
  data to drain: from a viewer that never reads again, never. The socket and its buffers
  would stay until the client's machine gives up. Here, a connection closed with data
  still unsent is aborted instead.
"""

from __future__ import annotations

import struct

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

FRAMES_EXTENSION = "dashboard.frames"
TEXT_FIN = 0x81  # FIN bit and the text opcode


def text_frame(text: str) -> bytes:
    """A whole unmasked, uncompressed WebSocket text frame (RFC 6455 5.2), as servers send."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", TEXT_FIN, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", TEXT_FIN, 126, size)
    else:
        header = struct.pack("!BBQ", TEXT_FIN, 127, size)
    return header + payload


class DirectFrames:
    """Writes encoded frames straight to one open connection's transport."""

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    def write_frame(self, frame: bytes) -> bool:
        protocol = self._protocol
        if (
            not protocol.handshake_complete
            or protocol.close_sent
            or protocol.disconnected
            or protocol.conn.state is not State.OPEN
            or protocol.transport.is_closing()
        ):
            return False
        protocol.transport.write(frame)
        return True

    def unsent_bytes(self) -> int:
        return self._protocol.transport.get_write_buffer_size()


class LettingGoWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: object) -> None:
        super().handle_connect(event)  # type: ignore[arg-type]
        # The app's task is created but has not run yet: the scope can still be added to.
        if self.response.status_code == 101 and not self.conn.extensions:
            extensions = self.scope.setdefault("extensions", {})
            extensions[FRAMES_EXTENSION] = {"sink": DirectFrames(self)}

    async def run_asgi(self) -> None:
        await super().run_asgi()
        if self.transport.is_closing() and self.transport.get_write_buffer_size() > 0:
            self.transport.abort()
