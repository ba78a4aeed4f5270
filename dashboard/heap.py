"""The served process's garbage collector, for a server that runs for weeks.

Everything the dashboard builds at start-up (modules, compiled templates, the live calls
rebuilt from the database) lives as long as the process, yet CPython's collector walks it
again and again: an older generation's collection took 1-2 ms, long enough to hold up a
push to every viewer behind it. Once the app has started, `gc.freeze` moves what exists
to a generation the collector never walks; only what is made afterwards is collected.

And the collector runs on a timer, not in the middle of an event: by default CPython
collects the young generation every 700 net allocations, which at a PBX's pace landed in
one event's push out of ten, and the middle generation in one of a hundred (to all its
viewers at once, so right at their p99). Here the young generations are collected once a
second and everything once a minute, between whatever else the loop does; the automatic
thresholds stay, raised, for a flood that allocates faster than the timer collects.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

YOUNG_EVERY = 1.0  # seconds between collections of the young and middle generations
FULL_EVERY = 60  # young collections per full collection
# Net allocations before CPython collects by itself: ~10 s of a busy PBX's events.
FLOOD_THRESHOLD = 50_000


@dataclass
class Collections:
    """When the collector runs: `collect(generation)` every `interval` seconds (the middle
    generation, or all of them every `full_every`-th time)."""

    collect: Callable[[int], object] = gc.collect
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    interval: float = YOUNG_EVERY
    full_every: int = FULL_EVERY

    async def run(self) -> None:
        count = 0
        while True:
            await self.sleep(self.interval)
            count += 1
            self.collect(2 if count % self.full_every == 0 else 1)


class FreezeAfterStartup:
    """An ASGI app around another: once the app reports its start-up complete, what exists
    is frozen out of the collector's walks, and collections run on a timer until the app
    has shut down. Served by `dashboard serve` only: a process that builds many apps (the
    tests) would keep every one of them, and the collector's settings are the process's."""

    def __init__(
        self,
        app: ASGIApp,
        freeze: Callable[[], None] | None = None,
        collections: Collections | None = None,
    ) -> None:
        self.app = app
        self.freeze = freeze or freeze_heap
        self.collections = collections or Collections()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        timer: asyncio.Task[None] | None = None

        async def send_then_freeze(message: Message) -> None:
            nonlocal timer
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                self.freeze()
                timer = asyncio.create_task(self.collections.run())

        try:
            await self.app(scope, receive, send_then_freeze)
        finally:
            if timer is not None:
                timer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await timer


def freeze_heap() -> None:
    gc.collect()  # what start-up left as garbage is not kept for good
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(FLOOD_THRESHOLD, middle, old)
