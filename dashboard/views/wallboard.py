"""The wallboard page and its live socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import anyio
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
        "wallboard.html",
        calls=board.snapshot(),
        counts=board.counts(),
        day=ingestor.day,
        longest=board.longest_ringing(),
        now=ingestor.clock(),
        oob=False,
        linger=ingestor.settings.finished_linger_seconds,
        timezone=ingestor.settings.synapse_timezone,
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
        async with anyio.create_task_group() as tasks:

            async def until_done(wait: Callable[[], Awaitable[object]]) -> None:
                await wait()
                tasks.cancel_scope.cancel()  # whichever ends first ends the connection

            tasks.start_soon(until_done, lambda: _send_queued(websocket, subscriber.queue))
            tasks.start_soon(until_done, lambda: _wait_for_disconnect(websocket))
            tasks.start_soon(until_done, subscriber.evicted.wait)
    if subscriber.evicted.is_set():
        # A viewer too slow to read may not read the close frame either: do not wait for it.
        with contextlib.suppress(Exception), anyio.move_on_after(CLOSE_TIMEOUT):
            await websocket.close(code=subscriber.close_code)


async def _send_queued(websocket: WebSocket, queue: asyncio.Queue[str]) -> None:
    while True:
        await websocket.send_text(await queue.get())


async def _wait_for_disconnect(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
