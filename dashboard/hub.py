"""WebSocket fan-out: each message is rendered once, then queued to every viewer.

Every subscriber owns a bounded backlog. Publishing never waits and costs a few hundred
nanoseconds per viewer: an append and, at most once per turn of the event loop, a wake-up.
A viewer whose backlog is full has stopped reading, so it is evicted (its `evicted` event
is set and its connection handler closes the socket) and the others carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Subscriber:
    audience: str
    limit: int
    owner: str = ""  # whose credentials opened it (a session), to end it when they are revoked
    backlog: deque[str] = field(default_factory=deque)
    oldest: float = 0.0  # when the oldest message of the backlog was queued (perf_counter)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    evicted: asyncio.Event = field(default_factory=asyncio.Event)
    # 1013 "try again later" for a viewer that fell behind, 1012 "restarting" on shut-down:
    # both make the htmx ws extension reconnect, and a reconnect starts with a snapshot;
    # 1008 "policy violation" for revoked credentials, which must not reconnect.
    close_code: int = 1013

    def offer(self, message: str) -> bool:
        """Queue a message; False when the backlog is full."""
        if len(self.backlog) >= self.limit:
            return False
        if not self.backlog:
            self.oldest = time.perf_counter()
        self.backlog.append(message)
        if not self.ready.is_set():
            self.ready.set()
        return True

    async def next_batch(self) -> list[str]:
        """Everything queued so far, in order, waiting for at least one message."""
        await self.ready.wait()
        self.ready.clear()
        batch = list(self.backlog)
        self.backlog.clear()
        return batch


class Hub:
    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self.evictions = 0

    @contextlib.contextmanager
    def subscribe(self, audience: str = "all", owner: str = "") -> Iterator[Subscriber]:
        subscriber = Subscriber(audience, self.queue_size, owner)
        self.subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self.subscribers.discard(subscriber)

    def publish(self, render: Callable[[str], str | None] | str) -> int:
        """Queue a message for every subscriber; returns how many received it.

        `render` is the message, or a function of the audience returning it (or
        None when that audience must not see it); it is called once per audience,
        never once per viewer.
        """
        rendered: dict[str, str | None] = {}
        delivered = 0
        for subscriber in list(self.subscribers):
            if isinstance(render, str):
                message: str | None = render
            else:
                if subscriber.audience not in rendered:
                    rendered[subscriber.audience] = render(subscriber.audience)
                message = rendered[subscriber.audience]
            if message is None:
                continue
            if subscriber.offer(message):
                delivered += 1
            else:
                self.evict(subscriber)
        return delivered

    def evict(self, subscriber: Subscriber, close_code: int = 1013) -> None:
        if subscriber in self.subscribers:
            self.subscribers.discard(subscriber)
            if close_code == 1013:
                self.evictions += 1
            subscriber.close_code = close_code
            subscriber.evicted.set()

    def evict_where(self, predicate: Callable[[Subscriber], bool], close_code: int) -> int:
        chosen = [subscriber for subscriber in self.subscribers if predicate(subscriber)]
        for subscriber in chosen:
            self.evict(subscriber, close_code)
        return len(chosen)

    def close_all(self) -> None:
        """On shut-down: tell every connection handler to close its socket."""
        self.evict_where(lambda _: True, close_code=1012)

    def stats(self) -> dict[str, Any]:
        return {"viewers": len(self.subscribers), "evictions": self.evictions}
