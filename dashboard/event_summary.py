"""A quiet console: the event endpoint's traffic as one log line a minute, not a line an event.

A busy PBX sends thousands of events a minute; an access line for each buries everything else
in the log (and was a tenth of an event's cost). `serve` leaves them out (other routes keep
theirs) and logs instead, when there was traffic:

    events in the last 60 s: 12,345 accepted, 3 refused (2 bad_value, 1 forbidden), p50 1.2 ms

DASHBOARD_LOG_EVERY_EVENT brings the per-event lines back, for debugging.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

log = logging.getLogger(__name__)
SUMMARY_SECONDS = 60.0
EVENT_PATH = "/synapse/events"
# Latency buckets 5 % apart from 10 µs to over a minute: a median within 5 %, in bounded
# memory however many events a minute brings.
STEP = 1.05
BOUNDS = tuple(1e-5 * STEP**n for n in range(330))


class EventTally:
    """What the event endpoint answered since the last summary."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._start()

    def _start(self) -> None:
        self.since = self.clock()
        self.accepted = 0
        self.refused: Counter[str] = Counter()
        self.latencies = [0] * (len(BOUNDS) + 1)

    def note_accepted(self, seconds: float) -> None:
        """An event stored and answered 2xx, `seconds` after its request arrived."""
        self.accepted += 1
        self.latencies[bisect.bisect_left(BOUNDS, seconds)] += 1

    def note_refused(self, reason: str) -> None:
        self.refused[reason] += 1

    def summary(self) -> str | None:
        """The line for the period since the last one (None: no traffic), and a new period."""
        now = self.clock()
        line = self._line((now - self.since).total_seconds()) if self._traffic() else None
        self._start()
        return line

    def _traffic(self) -> bool:
        return bool(self.accepted or self.refused)

    def _line(self, seconds: float) -> str:
        refused = sum(self.refused.values())
        line = (
            f"events in the last {seconds:.0f} s: {self.accepted:,} accepted, {refused:,} refused"
        )
        if refused:
            reasons = sorted(self.refused.items(), key=lambda item: (-item[1], item[0]))
            line += f" ({', '.join(f'{n:,} {reason}' for reason, n in reasons)})"
        median = self.median()
        if median is not None:
            line += f", p50 {_milliseconds(median)}"
        return line

    def median(self) -> float | None:
        """The accepted events' median latency, to within 5 % (None: none accepted)."""
        if not self.accepted:
            return None
        middle, seen = (self.accepted + 1) // 2, 0
        for bucket, count in enumerate(self.latencies):
            seen += count
            if seen >= middle:
                return _bucket_value(bucket)
        raise AssertionError("the buckets hold every accepted event")


def _bucket_value(bucket: int) -> float:
    """A value for what fell in a bucket: the middle of its bounds (its one bound at an end)."""
    if bucket == 0:
        return BOUNDS[0]
    if bucket == len(BOUNDS):
        return BOUNDS[-1]
    return float((BOUNDS[bucket - 1] * BOUNDS[bucket]) ** 0.5)


def _milliseconds(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.2f} ms" if ms < 1 else f"{ms:.1f} ms" if ms < 100 else f"{ms:,.0f} ms"


async def log_summaries(tally: EventTally, interval: float = SUMMARY_SECONDS) -> None:
    """Log the tally's summary every `interval` seconds."""
    while True:
        await asyncio.sleep(interval)
        log_summary(tally)


def log_summary(tally: EventTally) -> None:
    """The summary of the period just ended, in the log (nothing when there was no traffic)."""
    line = tally.summary()
    if line is not None:
        log.info("%s", line)


def is_event_request(path: str) -> bool:
    """A PBX's call event: /synapse/events, perhaps with a token and a query."""
    if not path.startswith(EVENT_PATH):
        return False
    rest = path[len(EVENT_PATH) :]
    return not rest or rest[0] in "/?"


class QuietEvents(logging.Filter):
    """Leaves uvicorn's access line of every call event out (the summary counts them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 2 and isinstance(args[2], str):
            return not is_event_request(args[2])
        return True
