"""The wallboard page and its live socket."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from dashboard.hub import Hub
from dashboard.ingest import Ingestor

CLOSE_TIMEOUT = 1.0


async def wallboard(request: Request) -> HTMLResponse:
    ingestor: Ingestor = request.app.state.ingestor
    board = ingestor.board
    html = ingestor.fragments.page(
        "wallboard.html", calls=board.snapshot(), counts=board.counts(), day=ingestor.day,
        longest=board.longest_ringing(), now=ingestor.clock(), oob=False,
    )
    return HTMLResponse(html)


async def live_socket(websocket: WebSocket) -> None:
    ingestor: Ingestor = websocket.app.state.ingestor
    hub: Hub = websocket.app.state.hub
    await websocket.accept()
    with hub.subscribe() as subscriber:
        # Subscribing and queueing the snapshot happen with no await in between, so no
        # event can slip between the snapshot and the first pushed fragment.
        subscriber.queue.put_nowait(ingestor.snapshot())
        tasks = {
            asyncio.create_task(_send_queued(websocket, subscriber.queue)),
            asyncio.create_task(_wait_for_disconnect(websocket)),
        }
        evicted = asyncio.create_task(subscriber.evicted.wait())
        try:
            await asyncio.wait({*tasks, evicted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*tasks, evicted):
                task.cancel()
            await asyncio.gather(*tasks, evicted, return_exceptions=True)
    if subscriber.evicted.is_set():
        # A viewer too slow to read may not read the close frame either: do not wait for it.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(code=subscriber.close_code), CLOSE_TIMEOUT)


async def _send_queued(websocket: WebSocket, queue: asyncio.Queue[str]) -> None:
    while True:
        await websocket.send_text(await queue.get())


async def _wait_for_disconnect(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
