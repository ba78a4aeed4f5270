"""The road every call event takes: parse, store, apply, render once, publish.

Everything between reading the request and answering it runs without an
`await`, so events are applied one at a time in arrival order and a viewer
that subscribes in between sees either all of an event or none of it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from dashboard import calls
from dashboard.calls import Board, Call
from dashboard.events import CallEvent, EventError, extract_json, parse_event
from dashboard.fragments import Fragments
from dashboard.hub import Hub
from dashboard.settings import Settings
from dashboard.store import Store

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
KEEP_REJECTED_BYTES = 4096


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Accepted:
    event_id: int
    call: Call


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        hub: Hub,
        fragments: Fragments,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.tz = settings.timezone
        self.store = store
        self.hub = hub
        self.fragments = fragments
        self.clock = clock
        self.board = Board(settings.finished_linger_seconds)
        self.board.load(store.live_calls())
        self.day = store.day_counters(self.today(), self.tz)
        self.accepted = 0
        self.rejected: dict[str, int] = {}

    def today(self) -> date:
        return self.clock().astimezone(self.tz).date()

    def ingest(self, raw_query: str, body: bytes, *, method: str, remote: str) -> Accepted:
        """Store and apply one event from a request, or record why not and raise `EventError`."""
        now = self.clock()
        try:
            obj = extract_json(raw_query, body, self.settings.max_event_bytes)
            event = parse_event(
                obj, tz=self.tz, default_host=self.settings.synapse_host, received_at=now
            )
        except EventError as error:
            self.reject(error, now, raw_query=raw_query, body=body, method=method, remote=remote)
            raise
        return self.apply(event, json.dumps(obj, ensure_ascii=False, separators=(",", ":")))

    def apply(self, event: CallEvent, payload: str) -> Accepted:
        self._roll_day()  # before storing, so a reloaded day does not count this call twice
        before = self.board.get(event.key) or self.store.get_call(event.key)
        call = calls.apply(before, event)
        event_id = self.store.record_event(event.received_at, event.kind.value, payload, call)
        self.accepted += 1
        if (before is None or before.is_live) and not call.is_live:
            self.day.count(call, self.tz)
        change = self.board.update(before, call, event.received_at)
        if change is not None:
            counters = self.fragments.counters(self.board, self.day, event.received_at, oob=True)
            self.hub.publish(self.fragments.call_changed(change.call, change.added, counters))
        return Accepted(event_id, call)

    def reject(
        self,
        error: EventError,
        now: datetime,
        *,
        raw_query: str,
        body: bytes,
        method: str,
        remote: str,
    ) -> None:
        self.rejected[error.reason] = self.rejected.get(error.reason, 0) + 1
        log.warning("refused an event from %s: %s (%s)", remote, error.reason, error.detail)
        self.store.record_rejection(
            now,
            error.reason,
            error.detail,
            method=method,
            remote=remote,
            query=raw_query[:KEEP_REJECTED_BYTES],
            body=body[:KEEP_REJECTED_BYTES].decode("utf-8", errors="replace"),
            size=len(raw_query) + len(body),
        )

    def sweep(self) -> None:
        """Take finished calls off the board once they have been shown long enough."""
        self._roll_day()
        for call in self.board.expire(self.clock()):
            self.hub.publish(self.fragments.call_removed(call))

    async def run_sweeper(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                self.sweep()
            except Exception:  # the sweeper must outlive any one failure
                log.exception("sweeping the board failed")

    def snapshot(self) -> str:
        self._roll_day()
        return self.fragments.snapshot(self.board, self.day, self.clock())

    def _roll_day(self) -> None:
        today = self.today()
        if today != self.day.day:
            self.day = self.store.day_counters(today, self.tz)


def replay(store: Store, settings: Settings) -> dict[tuple[str, str], Call]:
    """Every call recomputed from the stored events alone (to check or rebuild `calls`)."""
    result: dict[tuple[str, str], Call] = {}
    for stored in store.events():
        event = parse_event(
            json.loads(stored.payload),
            tz=settings.timezone,
            default_host=settings.synapse_host,
            received_at=stored.received_at,
        )
        result[event.key] = calls.apply(result.get(event.key), event)
    return result
