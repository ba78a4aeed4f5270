"""The road every call event takes: parse, apply, push, store, answer.

Events arriving in the same turn of the event loop make one batch: applied to the board in
arrival order, stored in one transaction, and only then answered 2xx. What changed is
pushed to viewers before the commit when a frame is due, else at the next frame (one per
`hub.FRAME_INTERVAL`), so a burst costs one render per changed call, not per event. Nothing
in between awaits: a viewer that subscribes sees all of a batch or none of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from dashboard import calls
from dashboard.calls import Board, Call, Change, DayCounters
from dashboard.events import CallEvent, EventError, extract_json, parse_event, redact_secrets
from dashboard.fragments import Fragments
from dashboard.grid import Grid
from dashboard.hub import Hub
from dashboard.metrics import Timings
from dashboard.popup import Popups
from dashboard.pushes import Pushes, Today
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
        popups: Popups | None = None,
        timings: Timings | None = None,
    ) -> None:
        self.settings = settings
        self.timings = timings
        self.popups = popups
        self.tz = settings.timezone
        self.store = store
        self.hub = hub
        self.fragments = fragments
        self.clock = clock
        self.board = Board(settings.finished_linger_seconds)
        self.grid = Grid(settings)
        live, today, self.grid.last_end = self._stored_state()
        self.board.load(live)
        self.today = Today(*today)
        self.pushes = Pushes(fragments, self.board, self.grid, self.today, clock, popups)
        self.accepted = 0
        self.rejected: dict[str, int] = {}
        self.refused_senders = 0
        self._queued: list[tuple[CallEvent, str, asyncio.Future[Accepted]]] = []
        self._unpushed: list[tuple[Call | None, Change]] = []  # shown on the board, not pushed
        self._needs_reload = False  # a commit failed after the board had changed
        self._push_timer: asyncio.TimerHandle | None = None

    def local_date(self) -> date:
        return self.clock().astimezone(self.tz).date()

    async def ingest(self, raw_query: str, body: bytes, *, method: str, remote: str) -> Accepted:
        """Store and apply one event from a request, or record why not and raise `EventError`."""
        now = self.clock()
        try:
            payload, obj = extract_json(raw_query, body, self.settings.max_event_bytes)
            event = parse_event(
                obj, tz=self.tz, default_host=self.settings.synapse_host, received_at=now
            )
        except EventError as error:
            self.reject(error, now, raw_query=raw_query, body=body, method=method, remote=remote)
            raise
        except Exception as unexpected:  # a gap in the parser: still a refusal, never a 500
            log.exception("could not read an event")
            refusal = EventError(
                "bad_value", f"the event could not be read: {unexpected}"[:300], 422
            )
            self.reject(refusal, now, raw_query=raw_query, body=body, method=method, remote=remote)
            raise refusal from None
        return await self.submit(event, payload)

    def submit(self, event: CallEvent, payload: str) -> asyncio.Future[Accepted]:
        """Queue an event for the next group commit; the future resolves once it is stored.

        Events that arrive in the same turn of the event loop share one transaction: one
        commit for many events is what lets ingest keep up with a busy PBX.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Accepted] = loop.create_future()
        self._queued.append((event, payload, future))
        if len(self._queued) == 1:
            loop.call_soon(self._commit_queued)
        return future

    def _commit_queued(self) -> None:
        batch, self._queued = self._queued, []
        try:
            results = self.apply_batch([(event, payload) for event, payload, _ in batch])
        except Exception as error:  # nothing of the batch was stored: none is acknowledged
            if len(batch) > 1:  # one bad apple must not spoil the others: one at a time,
                for event, payload, future in batch:  # stored before being shown
                    self._commit_one(event, payload, future)
                return
            for *_, future in batch:
                _settle(future, error)
            return
        for (*_, future), accepted in zip(batch, results, strict=True):
            _settle(future, accepted)

    def _commit_one(self, event: CallEvent, payload: str, future: asyncio.Future[Accepted]) -> None:
        try:
            [accepted] = self.apply_batch([(event, payload)], push_first=False)
        except Exception as error:
            _settle(future, error)
            return
        _settle(future, accepted)

    def apply_batch(
        self, items: list[tuple[CallEvent, str]], *, push_first: bool = True
    ) -> list[Accepted]:
        """Apply events to the board, push them, and store them in one transaction.

        The viewers are shown the batch before its commit, so its time is not added to
        their latency: a screen is not an acknowledgement, the PBX's 2xx still waits for the
        commit. If the commit fails, the board is reloaded from the database and every
        viewer reconnects to it, so no screen keeps showing what was not stored. With
        `push_first=False` (retrying events one at a time) they are shown only once stored.
        """
        if self._needs_reload:
            self._reload()  # a failed reload: no event is applied to a board not known right
        self._roll_day()  # before storing, so a reloaded day does not count these calls twice
        latest: dict[tuple[str, str], Call] = {}
        steps: list[tuple[CallEvent, str, Call | None, Call]] = []
        for event, payload in items:
            before = latest.get(event.key) or self.board.get(event.key)
            before = before or self.store.get_call(event.key)
            call = latest[event.key] = calls.apply(before, event)
            steps.append((event, payload, before, call))
        rows = self.store.event_rows(  # a value that cannot be stored fails before the push
            [
                (event.received_at, event.kind.value, payload, call)
                for event, payload, _, call in steps
            ]
        )
        if push_first:
            self._show(steps)
        started = time.perf_counter()
        try:
            ids = self.store.write_event_rows(rows)
        except Exception:
            if push_first:
                self._needs_reload = True
                with contextlib.suppress(Exception):  # logged; retried before the next batch
                    self._reload()
            raise
        if self.timings:
            self.timings.db_write.observe(time.perf_counter() - started)
        self.accepted += len(steps)
        if not push_first:
            self._show(steps)
        return [Accepted(event_id, step[3]) for event_id, step in zip(ids, steps, strict=True)]

    def _reload(self) -> None:
        """Back to what the database holds, and every viewer back to a fresh snapshot."""
        self._unpushed.clear()  # every viewer reconnects to the reloaded board instead
        if self._push_timer is not None:
            self._push_timer.cancel()
            self._push_timer = None
        self.hub.close_all()
        try:
            live, today, last_end = self._stored_state()
        except Exception:
            log.exception("could not reload the board from the database")
            raise
        self.board.load(live)
        self.today.everyone, self.today.by_extension = today
        self.grid.last_end = last_end
        self._needs_reload = False

    def _stored_state(
        self,
    ) -> tuple[list[Call], tuple[DayCounters, dict[str, DayCounters]], dict[str, datetime]]:
        """What the board, today's counters and the grid start from: the database's."""
        today = self.store.day_counters(self.local_date(), self.tz)
        return self.store.live_calls(), today, self.store.last_call_ends()

    def _show(self, steps: list[tuple[CallEvent, str, Call | None, Call]]) -> None:
        """Counters, board, and one push for the batch, sent now. A failure here is logged:
        the events are stored whatever happens."""
        changes: list[tuple[Call | None, Change]] = []
        for event, _, before, call in steps:
            try:
                self._count(before, call)
                if not call.is_live:
                    self.grid.note_finished(call)
                change = self.board.update(before, call, event.received_at)
                if change is not None:
                    changes.append((before, change))
            except Exception:
                log.exception("could not show call %s", call.uniqueid)
        self._unpushed.extend(changes)
        self._push_when_due()

    def _push_when_due(self) -> None:
        """Push now (before the commit), or when the hub's next frame is due: a burst is
        rendered once per frame, each call in it once, however many events it brought."""
        if not self._unpushed or self._push_timer is not None:
            return
        wait = self.hub.flush_wait()
        if wait > 0:
            with contextlib.suppress(RuntimeError):  # no event loop: push now
                self._push_timer = asyncio.get_running_loop().call_later(wait, self.push_now)
                return
        self.push_now()

    def push_now(self) -> None:
        """Render and send what changed since the last push (it must be out before a viewer's
        snapshot is rendered, or the viewer would get it twice)."""
        if self._push_timer is not None:
            self._push_timer.cancel()
            self._push_timer = None
        changes, self._unpushed = self._unpushed, []
        if not changes:
            return
        try:
            self.hub.publish(self.pushes.changes(changes))
            self.hub.flush_if_due()
        except Exception:
            log.exception("could not push %d changes", len(changes))

    def _count(self, before: Call | None, call: Call) -> None:
        """Today's counters: take back what the call counted for before, count it anew (a
        repeated or corrected CDR changes the totals only by what it changed)."""
        if before is not None and not before.is_live:
            for day in self.today.counting(before):
                day.uncount(before, self.tz)
        if not call.is_live:
            for day in self.today.counting(call):
                day.count(call, self.tz)

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
            query=redact_secrets(raw_query[:KEEP_REJECTED_BYTES]),
            body=body[:KEEP_REJECTED_BYTES].decode("utf-8", errors="replace"),
            size=len(raw_query) + len(body),
        )

    def sweep(self) -> None:
        """Take finished calls off the board once they have been shown long enough
        (in one message, however many leave at once); show the new day's counters at midnight."""
        self.push_now()  # a call's removal must follow its last change
        if self._roll_day():
            self.hub.publish(self.pushes.new_day)
        gone = self.board.expire(self.clock())
        if gone:
            self.hub.publish(self.pushes.removals(gone))

    async def run_sweeper(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                self.sweep()
            except Exception:  # the sweeper must outlive any one failure
                log.exception("sweeping the board failed")

    def snapshot(self, audience: str) -> str:
        """What a viewer of that audience receives first on (re)connecting: its whole board."""
        if self._needs_reload:  # a failed commit: not a board to show anyone
            with contextlib.suppress(Exception):
                self._reload()
        self.push_now()
        self._roll_day()
        return self.pushes.snapshot(audience)

    def _roll_day(self) -> bool:
        """At midnight (in the PBX's zone) start the new day's counters; True if it did."""
        today = self.local_date()
        if today == self.today.day:
            return False
        self.today.everyone, self.today.by_extension = self.store.day_counters(today, self.tz)
        return True


def _settle(future: asyncio.Future[Accepted], outcome: Accepted | Exception) -> None:
    """Answer a queued event (unless its request has gone): stored, or why not."""
    if isinstance(outcome, Exception):
        log.error("could not store an event: %s", outcome)
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


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
