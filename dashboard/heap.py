"""The served process's garbage collector, for a server that runs for weeks.

Everything the dashboard builds at start-up (modules, compiled templates, the live calls
rebuilt from the database) lives as long as the process, yet CPython's collector walks it
again and again: an older generation's collection took 1-2 ms, long enough to hold up a
push to every viewer behind it. Once the app has started, `gc.freeze` moves what exists
to a generation the collector never walks; only what is made afterwards is collected.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class FreezeAfterStartup:
    """An ASGI app around another: once the app reports its start-up complete, what exists
    is frozen out of the collector's walks. Served by `dashboard serve` only: a process that
    builds many apps (the tests) would keep every one of them."""

    def __init__(self, app: ASGIApp, freeze: Callable[[], None] | None = None) -> None:
        self.app = app
        self.freeze = freeze or freeze_heap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_then_freeze(message: Message) -> None:
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                self.freeze()

        await self.app(scope, receive, send_then_freeze)


def freeze_heap() -> None:
    gc.collect()  # what start-up left as garbage is not kept for good
    gc.freeze()
