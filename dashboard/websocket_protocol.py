"""uvicorn's WebSocket protocol, made to let go of a viewer that stopped reading.

When the app is done with a connection (a viewer too slow was evicted), uvicorn closes the
transport, and a close waits for unsent data to drain: from a viewer that never reads again,
never. The socket and its buffers would stay until the client's machine gives up. Here, a
connection closed with data still unsent is aborted instead.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class LettingGoWebSocketProtocol(WebSocketsSansIOProtocol):
    async def run_asgi(self) -> None:
        await super().run_asgi()
        if self.transport.is_closing() and self.transport.get_write_buffer_size() > 0:
            self.transport.abort()
