"""WebSocket fan-out: each message is rendered once, then delivered to every viewer.

A viewer is reached one of two ways:

- through a `FrameSink` (our uvicorn protocol offers one): everything published for an
  audience since the last flush is encoded into one WebSocket frame, once, and the same
  bytes are written to every viewer of that audience. No task per viewer.
- otherwise through its own bounded backlog, which its connection handler drains.

Either way a viewer that stops reading is found out by what it leaves unsent (its backlog
full, or `queue_size` messages written that never left our buffers), and evicted: its
`evicted` event is set and its connection handler closes the socket (a sink's connection is
aborted at once: a viewer that stopped reading would not read a close frame). The others
carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import struct
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from dashboard.audience import EVERY_CALL, CloseCode

log = logging.getLogger(__name__)
# Under a burst, a viewer gets one frame per interval, holding everything published
# meanwhile: a frame costs a write per viewer, however many events it carries. After a quiet
# spell up to FRAME_BURST frames go out at once (a token bucket), so an event never waits
# because the sweeper's removals happened to go just before it.
FRAME_INTERVAL = 0.01  # seconds
FRAME_BURST = 4


class FrameSink(Protocol):
    def write_frame(self, frame: bytes) -> bool:
        """Write one whole encoded frame; False when the connection is closing."""

    def unsent_bytes(self) -> int:
        """Bytes written but not yet taken by the kernel."""

    def abort(self) -> None:
        """Drop the connection now, unsent bytes and all."""


def text_frame(text: str) -> bytes:
    """A whole unmasked, uncompressed WebSocket text frame (RFC 6455 5.2), as servers send."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)  # FIN and the text opcode, then the length
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


@dataclass(eq=False)
class Subscriber:
    audience: Hashable
    limit: int
    owner: str = ""  # whose credentials opened it (a session), to end it when they are revoked
    sink: FrameSink | None = None
    backlog: deque[str] = field(default_factory=deque)
    oldest: float = 0.0  # when the oldest message of the backlog was queued (perf_counter)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    evicted: asyncio.Event = field(default_factory=asyncio.Event)
    # "try again later" for a viewer that fell behind, "restarting" on shut-down:
    # both make the htmx ws extension reconnect, and a reconnect starts with a snapshot;
    # "policy violation" for revoked credentials, which must not reconnect.
    close_code: int = CloseCode.TRY_AGAIN_LATER
    unsent: int = 0  # sink: messages written since its buffer was last empty
    skip: int = 0  # sink: messages already pending when it subscribed (in its first message)

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

    def write(self, frame: bytes, messages: int) -> bool:
        """Write a frame to the sink; False when the viewer has stopped reading."""
        sink = self.sink
        assert sink is not None
        if sink.unsent_bytes() == 0:  # everything written before has left
            self.unsent = 0
        elif self.unsent >= self.limit:
            return False
        if sink.write_frame(frame):
            self.unsent += messages
        return True

    def write_rest(self, messages: list[str]) -> bool:
        """For a sink that subscribed mid-turn: what its snapshot lacks of `messages`."""
        skip, self.skip = self.skip, 0
        if skip >= len(messages):
            return True
        return self.write(text_frame("".join(messages[skip:])), len(messages) - skip)


class Hub:
    def __init__(
        self,
        queue_size: int,
        observe_fanout: Callable[[float], None] | None = None,
        frame_interval: float = FRAME_INTERVAL,
        frame_burst: int = FRAME_BURST,
        paced: Callable[[Hashable], float] | None = None,
        coalesce: Callable[[list[str]], str] = "".join,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue_size = queue_size
        self.observe_fanout = observe_fanout  # seconds from a message's publishing to its send
        self.frame_interval = frame_interval
        self.frame_burst = frame_burst
        self._frames_allowed = float(frame_burst)  # the bucket's tokens, as of _allowed_at
        self._allowed_at = time.perf_counter()
        self.subscribers: set[Subscriber] = set()
        self.evictions = 0
        self._sinks: dict[Hashable, set[Subscriber]] = {}  # audience -> its viewers with a sink
        self._queues: set[Subscriber] = set()  # viewers with a backlog
        self._pending: dict[Hashable, list[str]] = {}  # audience -> messages for its sinks
        self._pending_since = 0.0
        self._flush: asyncio.Handle | None = None
        # Paced audiences (a wall screen): `paced` gives an audience's own frame interval in
        # seconds (0: every viewer's); `coalesce` makes one message of a frame's messages.
        self.paced = paced
        self.coalesce = coalesce
        self.clock = clock
        self._paced_pending: dict[Hashable, list[str]] = {}
        self._paced_sent: dict[Hashable, float] = {}  # audience -> when its last frame went
        self._paced_timer: asyncio.Handle | None = None

    @contextlib.contextmanager
    def subscribe(
        self,
        audience: Hashable = EVERY_CALL,
        owner: str = "",
        sink: FrameSink | None = None,
        first: str | None = None,
    ) -> Iterator[Subscriber]:
        """Add a viewer, whose first message is `first` (its snapshot, rendered with no
        await before this call: messages published before it are already in it)."""
        subscriber = Subscriber(audience, self.queue_size, owner, sink)
        if sink is not None:
            pending = self._pending.get(audience) or self._paced_pending.get(audience) or ()
            subscriber.skip = len(pending)
            if first is not None:
                subscriber.write(text_frame(first), 1)
            self._sinks.setdefault(audience, set()).add(subscriber)
        else:
            if first is not None:
                subscriber.offer(first)
            self._queues.add(subscriber)
        self.subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._forget(subscriber)

    def _forget(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        self._queues.discard(subscriber)
        sinks = self._sinks.get(subscriber.audience)
        if sinks is not None:
            sinks.discard(subscriber)
            if not sinks:
                del self._sinks[subscriber.audience]

    def publish(self, render: Callable[[Any], str | None] | str) -> int:
        """Deliver a message to every subscriber; returns how many it is bound for.

        `render` is the message, or a function of the audience returning it (or
        None when that audience must not see it); it is called once per audience,
        never once per viewer.
        """
        rendered: dict[Hashable, str | None] = {}

        def message_for(audience: Hashable) -> str | None:
            if audience not in rendered:
                rendered[audience] = render if isinstance(render, str) else render(audience)
            return rendered[audience]

        delivered = 0
        for audience, sinks in list(self._sinks.items()):  # a flush may evict from it
            if (message := message_for(audience)) is not None:
                self._queue_for_sinks(audience, message)
                delivered += len(sinks)
        queued = 0
        for subscriber in list(self._queues):
            if (message := message_for(subscriber.audience)) is None:
                continue
            if subscriber.offer(message):
                queued += 1
            else:
                self.evict(subscriber)
        if queued:
            self._spend_frame()
        return delivered + queued

    def _queue_for_sinks(self, audience: Hashable, message: str) -> None:
        if self._pace(audience, message):
            return
        if not self._pending:
            self._pending_since = time.perf_counter()
        self._pending.setdefault(audience, []).append(message)
        if self._flush is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: nothing can be waiting to batch with it
            self.flush()
            return
        wait = self.flush_wait()
        self._flush = loop.call_later(wait, self.flush) if wait > 0 else loop.call_soon(self.flush)

    def flush_wait(self) -> float:
        """Seconds until the next frame is due (0: now); a frame is a flush, or a message
        queued to backlogs."""
        if self.frame_interval <= 0:
            return 0.0
        allowed = self._refill()
        return 0.0 if allowed >= 1 else (1 - allowed) * self.frame_interval

    def _refill(self) -> float:
        now = time.perf_counter()
        earned = (now - self._allowed_at) / self.frame_interval
        self._frames_allowed = min(float(self.frame_burst), self._frames_allowed + earned)
        self._allowed_at = now
        return self._frames_allowed

    def _spend_frame(self) -> None:
        if self.frame_interval > 0:
            self._refill()
            self._frames_allowed -= 1

    def flush_if_due(self) -> None:
        """Flush now, unless no frame is due yet (then one is scheduled)."""
        if self._pending and self.flush_wait() <= 0:
            self.flush()

    def flush(self) -> None:
        """Write what was published since the last flush: one frame per audience, encoded
        once, to every viewer with a sink."""
        if self._flush is not None:  # called directly, before its scheduled turn
            self._flush.cancel()
            self._flush = None
        pending, self._pending = self._pending, {}
        if pending:
            self._spend_frame()
        for audience, messages in pending.items():
            sinks = self._sinks.get(audience)
            if sinks:
                self._write_all(list(sinks), text_frame("".join(messages)), messages)
        if pending and self.observe_fanout is not None:
            self.observe_fanout(time.perf_counter() - self._pending_since)

    def _write_all(self, sinks: list[Subscriber], frame: bytes, messages: list[str]) -> None:
        """One frame, encoded once, to every viewer of an audience; then those that stopped
        reading are evicted. The loop every viewer of every push goes through: nothing in it
        but the write."""
        count, stuck = len(messages), list[Subscriber]()
        for subscriber in sinks:
            try:
                if subscriber.skip:  # it subscribed mid-turn: its snapshot holds the first ones
                    ok = subscriber.write_rest(messages)
                else:
                    ok = subscriber.write(frame, count)
            except Exception:  # one broken connection must not cost the others theirs
                log.exception("could not write to a viewer")
                ok = False
            if not ok:
                stuck.append(subscriber)
        for subscriber in stuck:
            self.evict(subscriber)

    def evict(self, subscriber: Subscriber, close_code: int = CloseCode.TRY_AGAIN_LATER) -> None:
        if subscriber in self.subscribers:
            self._forget(subscriber)
            if close_code == CloseCode.TRY_AGAIN_LATER:
                self.evictions += 1
            subscriber.close_code = close_code
            subscriber.evicted.set()
            if close_code == CloseCode.TRY_AGAIN_LATER and subscriber.sink is not None:
                subscriber.sink.abort()

    def evict_where(self, predicate: Callable[[Subscriber], bool], close_code: int) -> int:
        chosen = [subscriber for subscriber in self.subscribers if predicate(subscriber)]
        for subscriber in chosen:
            self.evict(subscriber, close_code)
        return len(chosen)

    def close_all(self) -> None:
        """Close every viewer ("restarting"), to come back to a fresh snapshot (on shut-down, or
        when the board had to be reloaded)."""
        self._pending.clear()  # what they would have been sent is in their next snapshot
        self._paced_pending.clear()
        self.evict_where(lambda _: True, close_code=CloseCode.SERVICE_RESTART)

    def stats(self) -> dict[str, Any]:
        return {"viewers": len(self.subscribers), "evictions": self.evictions}

    # -- paced audiences: a frame per their own interval, coalesced --------------------------
    # A wall screen needs no 10 ms latency: its viewers with a sink get one frame per its
    # interval, holding `coalesce` of everything published meanwhile (encoded once for the
    # audience, as for others), counted as that many messages towards `queue_size` (so a
    # viewer is given as long to catch up as any other). Not in the fan-out histogram: the
    # wait is on purpose. Viewers without a sink are not paced.

    def _interval(self, audience: Hashable) -> float:
        return self.paced(audience) if self.paced is not None else 0.0

    def _pace(self, audience: Hashable, message: str) -> bool:
        """Hold a message for an audience paced slower than every viewer's frames; False if
        it is not."""
        if self._interval(audience) <= max(self.frame_interval, 0.0):
            return False
        self._paced_pending.setdefault(audience, []).append(message)
        self._schedule_paced()
        return True

    def _paced_due(self, audience: Hashable) -> float:
        return self._paced_sent.get(audience, -math.inf) + self._interval(audience)

    def _schedule_paced(self) -> None:
        if self._paced_timer is not None or not self._paced_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: nothing could send it later
            self.flush_paced(everything=True)
            return
        wait = min(self._paced_due(audience) for audience in self._paced_pending) - self.clock()
        turn = self._paced_turn
        self._paced_timer = loop.call_later(wait, turn) if wait > 0 else loop.call_soon(turn)

    def _paced_turn(self) -> None:
        self._paced_timer = None
        self.flush_paced()

    def flush_paced(self, everything: bool = False) -> None:
        """Send each paced audience whose frame is due (or every one) its frame."""
        now = self.clock()
        for audience in list(self._paced_pending):
            if everything or self._paced_due(audience) <= now:
                self._paced_sent[audience] = now
                self._write_paced(audience, self._paced_pending.pop(audience))
        self._schedule_paced()

    def _write_paced(self, audience: Hashable, messages: list[str]) -> None:
        sinks = self._sinks.get(audience)
        if not sinks:
            self._paced_sent.pop(audience, None)
            return
        # A viewer that subscribed meanwhile gets the messages its snapshot lacks, as they are.
        self._write_all(list(sinks), text_frame(self.coalesce(messages)), messages)
