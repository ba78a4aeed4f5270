from __future__ import annotations

import asyncio
from typing import Any

from dashboard.heap import FreezeAfterStartup


def lifespan_run(scope_type: str) -> list[str]:
    """What happens, in order, as an app around which the freeze sits starts."""
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": f"{scope['type']}.startup.complete"})
        seen.append("app carried on")

    async def send(message: Any) -> None:
        seen.append("sent " + message["type"])

    async def receive() -> Any:
        return {}

    wrapped = FreezeAfterStartup(app, freeze=lambda: seen.append("froze"))
    asyncio.run(wrapped({"type": scope_type}, receive, send))
    return seen


def test_the_heap_is_frozen_once_startup_is_complete() -> None:
    assert lifespan_run("lifespan") == [
        "sent lifespan.startup.complete",
        "froze",
        "app carried on",
    ]


def test_requests_pass_through_untouched() -> None:
    assert lifespan_run("http") == ["sent http.startup.complete", "app carried on"]
