from __future__ import annotations

import asyncio
from typing import Any

from dashboard.heap import Collections, FreezeAfterStartup


class Ticks:
    """A sleep that lets `ticks` intervals pass, then waits until cancelled."""

    def __init__(self, ticks: int, seen: list[str]) -> None:
        self.left = ticks
        self.seen = seen
        self.spent = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        if self.left == 0:
            self.spent.set()
            await asyncio.Event().wait()
        self.left -= 1


def lifespan_run(scope_type: str, ticks: int = 0) -> list[str]:
    """What happens, in order, as an app around which the freeze sits starts (and, for a
    lifespan, shuts down once `ticks` intervals of the collections' timer have passed)."""
    seen: list[str] = []
    sleep = Ticks(ticks, seen)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": f"{scope['type']}.startup.complete"})
        seen.append("app carried on")
        if scope["type"] == "lifespan":
            await sleep.spent.wait()
            seen.append("app shut down")

    async def send(message: Any) -> None:
        seen.append("sent " + message["type"])

    async def receive() -> Any:
        return {}

    collections = Collections(
        collect=lambda generation: seen.append(f"collected {generation}"),
        sleep=sleep,
        full_every=3,
    )
    wrapped = FreezeAfterStartup(app, freeze=lambda: seen.append("froze"), collections=collections)
    asyncio.run(wrapped({"type": scope_type}, receive, send))
    return seen


def test_the_heap_is_frozen_once_startup_is_complete() -> None:
    assert lifespan_run("lifespan") == [
        "sent lifespan.startup.complete",
        "froze",
        "app carried on",
        "app shut down",
    ]


def test_collections_run_on_a_timer_with_a_full_one_every_few_until_shut_down() -> None:
    assert lifespan_run("lifespan", ticks=7) == [
        "sent lifespan.startup.complete",
        "froze",
        "app carried on",
        "collected 1",
        "collected 1",
        "collected 2",
        "collected 1",
        "collected 1",
        "collected 2",
        "collected 1",
        "app shut down",
    ]


def test_requests_pass_through_untouched() -> None:
    assert lifespan_run("http") == ["sent http.startup.complete", "app carried on"]
