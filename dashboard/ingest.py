"""The road every change of live state takes, whoever caused it.

    PBX event ── extract_json, parse_event ──┐
    CDR sync, reconciliation, expiry ────────┴─ submit ─> GroupCommit (writer.py)
                                                              │ one batch per turn of the loop
                                                              │ (more while they keep coming)
        commit(batch):  calls.apply each event
                        Live.apply(changes) ─> Publisher.publish     (push before commit)
                        Store.event_rows, write_event_rows ─> the futures, the PBX's 2xx
                        on failure: live state reloaded from the database, Publisher.reset
    another process's commit ─ Watcher (PRAGMA data_version) ─> Live.apply ─> Publisher
                                 (after each batch's push, and each second)
    the sweeper: midnight ─> Live.start_day, lingering calls ─> Live.expire ─> Publisher

"Push before commit" is a policy: viewers are shown a batch before its commit, so its time
is not added to their latency. A screen is not an acknowledgement: the PBX's 2xx still
waits for the commit. If the commit fails, live state is reloaded from the database and
every viewer reconnects to it, so no screen keeps showing what was not stored. Retried one
at a time after a failed batch, events are shown only once stored. Nothing that can wait
goes before the push, not even making the rows to store (a value that cannot be stored
fails there, as a failed write does). Nothing in a commit awaits: a viewer that subscribes
sees all of a batch or none of it.

Two reads of the database wait until after the push too, as they nearly always find
nothing: whether a call not on the board that a CallStart begins is stored already (every
call not finished is on the board: a stored one is an old call's, sent again), and whether
another process (a `dashboard cdr sync` from a shell) committed since the last batch; its
news is shown after the batch. If either finds that the batch was applied to what one of
its calls is not, live state is reloaded, the batch applied to it, and every viewer
reconnects, as after a failed commit. A retried event, and the first batch of a new day
(counted from the database), come after the news instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from dashboard import calls
from dashboard.agent_lists import AgentLists
from dashboard.audience import Audience
from dashboard.callbacks import Callbacks
from dashboard.calls import Board, Call
from dashboard.event_summary import EventTally
from dashboard.events import (
    CallEvent,
    EventError,
    EventKind,
    extract_json,
    parse_event,
    redact_secrets,
)
from dashboard.fragments import Fragments
from dashboard.grid import Grid
from dashboard.history import History
from dashboard.hub import Hub
from dashboard.live import CallChange, Live, StoredState
from dashboard.metrics import Timings
from dashboard.popup import Popups
from dashboard.publisher import Publisher
from dashboard.pushes import Pushes
from dashboard.settings import Settings
from dashboard.store import Store
from dashboard.watcher import Watcher, fold
from dashboard.writer import GroupCommit

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
KEEP_REJECTED_BYTES = 4096


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Accepted:
    event_id: int
    call: Call


def stored_state(store: Store, day: date, tz: ZoneInfo) -> StoredState:
    """What live state starts from: the database's."""
    return StoredState(store.live_calls(), store.day_counters(day, tz), store.last_call_ends())


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        live: Live,
        publisher: Publisher,
        clock: Clock = utc_now,
        timings: Timings | None = None,
        names: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.settings = settings
        self.names = names  # extension -> the name of its user
        self.tz = settings.timezone
        self.store = store
        self.live = live
        self.publisher = publisher
        self.clock = clock
        self.timings = timings
        self.watcher = Watcher(store, settings)
        self.writer: GroupCommit[tuple[CallEvent, str], Accepted] = GroupCommit(self._commit)
        self.accepted = 0
        self.rejected: dict[str, int] = {}
        self.refused_senders = 0
        self.tally = EventTally(clock)  # what the event endpoint answered, for the log
        self._needs_reload = False  # a commit failed after live state had changed

    def local_date(self) -> date:
        return self.clock().astimezone(self.tz).date()

    async def ingest(
        self,
        raw_query: str,
        body: bytes,
        *,
        method: str,
        remote: str,
        hosts: Sequence[str] | None = None,
    ) -> Accepted:
        """Store and apply one event from a request, or record why not and raise `EventError`.
        `hosts`: those of the PBXs whose token and address the request had (None: any)."""
        now = self.clock()
        try:
            payload, obj = extract_json(raw_query, body, self.settings.max_event_bytes)
            default_host = hosts[0] if hosts else self.settings.synapse_host
            named = obj.get("asteriskhost")
            host = named.strip() if isinstance(named, str) and named.strip() else default_host
            zone = self.settings.zone_of(host)
            event = parse_event(obj, tz=zone, default_host=default_host, received_at=now)
            if hosts is not None:
                self._check_sender(event.host, hosts)
            self._check_extension(event)
        except EventError as error:
            self.reject(error, now, raw_query=raw_query, body=body, method=method, remote=remote)
            raise
        except Exception as unexpected:  # a gap in the parser: still a refusal, never a 500
            log.exception("could not read an event")
            refusal = EventError(
                422, "bad_value", f"the event could not be read: {unexpected}"[:300]
            )
            self.reject(refusal, now, raw_query=raw_query, body=body, method=method, remote=remote)
            raise refusal from None
        return await self.submit(event, payload)

    def _check_sender(self, host: str, hosts: Sequence[str]) -> None:
        """An event names the PBX that sent it: one whose token and address it came with."""
        if host.lower() in (allowed.lower() for allowed in hosts):
            return
        owner = next((p for p in self.settings.pbxs if p.host.lower() == host.lower()), None)
        if owner is not None:
            raise EventError(
                403,
                "wrong_sender",
                f"the event is from {host} (the PBX {owner.name}), sent without its token"
                " or from outside its addresses",
            )
        if not self.settings.allow_unknown_hosts:
            raise EventError(
                422,
                "unknown_host",
                f"no PBX configured here has the host {host}: add it to DASHBOARD_CONFIG",
            )

    def _check_extension(self, event: CallEvent) -> None:
        """With several PBXs each extension is one PBX's: an event of another host naming
        it would reach that PBX's agent (a pop-up, a call to act on), so it is refused, a
        host no PBX has (watched only) included."""
        configs = self.settings.pbx_configs
        if event.extension is None or len(configs) < 2:
            return
        owner = next((pbx for pbx in configs if event.extension in pbx.owned), None)
        if owner is not None and owner.host.lower() != event.host.lower():
            raise EventError(
                422,
                "foreign_extension",
                f"the extension {event.extension} is the PBX {owner.name}'s, and the event"
                f" is from {event.host}",
            )

    def submit(self, event: CallEvent, payload: str) -> asyncio.Future[Accepted]:
        """Queue an event for the next group commit; the future resolves once it is stored."""
        return self.writer.submit((event, payload))

    def known(self, key: tuple[str, str]) -> Call | None:
        """A call as the dashboard knows it now: on the board, else as stored."""
        return self.live.board.get(key) or self.store.get_call(key)

    def _commit(self, items: list[tuple[CallEvent, str]], retry: bool) -> list[Accepted]:
        """Apply events to live state, push them, and store them in one transaction (see the
        module's docstring for the order, and for `retry`)."""
        push_first = not retry
        if self._needs_reload:
            self._reload()  # a failed reload: no event is applied to state not known right
        # Another process's news comes before a retried event, and before a new day, which
        # is counted from the database (adopted after it, the news would count twice).
        today = self.local_date()
        news_first = retry or today != self.live.today.day
        if news_first:
            self._adopt_foreign_logged()
        self._roll_day(today)  # before storing, so a reloaded day does not count these calls twice
        unread: set[tuple[str, str]] = set()  # calls the push takes for new, unread
        changes = self._changes(items, unread if push_first else None)
        if push_first:  # nothing before it that can wait: the rows are made after it
            self._show(changes)
        try:  # a value that cannot be stored fails as a failed write does, and a failed read
            if push_first:
                changes = self._checked_after_push(items, changes, unread, news=not news_first)
            rows = self.store.event_rows(
                [
                    (change.at, event.kind.value, payload, change.after)
                    for (event, payload), change in zip(items, changes, strict=True)
                ],
                [change.before for change in changes],
            )
            started = time.perf_counter()
            ids = self.store.write_event_rows(rows)
        except Exception:
            if push_first:
                self._needs_reload = True
                with contextlib.suppress(Exception):  # logged; retried before the next batch
                    self._reload()
            raise
        self.watcher.note_own(ids)
        if self.timings:
            self.timings.db_write.observe(time.perf_counter() - started)
        self.accepted += len(changes)
        if not push_first:
            self._show(changes)
        return [
            Accepted(event_id, change.after) for event_id, change in zip(ids, changes, strict=True)
        ]

    def _changes(
        self, items: list[tuple[CallEvent, str]], unread: set[tuple[str, str]] | None = None
    ) -> list[CallChange]:
        """Each event applied to its call as the dashboard knows it (not yet to live state).
        With `unread`, the CallStart of a call not on the board is taken for a new call's
        without reading the database (every call not finished is on the board), and its key
        is added to `unread`."""
        latest: dict[tuple[str, str], Call] = {}
        changes: list[CallChange] = []
        for event, _ in items:
            key = event.key
            before = latest.get(key) or self.live.board.get(key)
            if before is None and unread is not None and event.kind is EventKind.START:
                unread.add(key)
            elif before is None:
                before = self.store.get_call(key)
            call = latest[key] = calls.apply(before, event)
            changes.append(CallChange(before, call, event.received_at))
        return changes

    def _show(self, changes: list[CallChange]) -> None:
        self.publisher.publish(self.live.apply(changes))

    def _checked_after_push(
        self,
        items: list[tuple[CallEvent, str]],
        changes: list[CallChange],
        unread: set[tuple[str, str]],
        *,
        news: bool,
    ) -> list[CallChange]:
        """What the push took on trust, checked once it is out (reads of the database, which
        nearly always find nothing): that no call it took for new is stored, and (`news`)
        that no other process changed one of its calls; their news is shown after the batch.
        If either is wrong, the batch was applied to what its calls are not: live state is
        reloaded from the database, the batch applied to it, and every viewer reconnects to a
        fresh snapshot. Returns the batch's changes, as they are to be stored."""
        known_before: dict[tuple[str, str], Call | None] = {}
        for change in changes:
            known_before.setdefault(change.after.key, change.before)

        def as_known(key: tuple[str, str]) -> Call | None:  # as live state knew it before
            return known_before[key] if key in known_before else self.live.board.get(key)

        stale = any(self.store.get_call(key) is not None for key in unread)
        found = self._news(as_known) if news and not stale else None
        if found is not None and any(change.after.key in known_before for change in found):
            stale = True
        if stale:
            log.info("a call of this batch was not as live state knew it: live state reloaded")
            self._needs_reload = True  # until the reload succeeds
            self._reload()
            self.refresh_names()  # news of users, too, if that was news: caught up with it
            changes = self._changes(items)
            self.live.apply(changes)  # no viewer to push to: they reconnect to it
            return changes
        if found is not None:
            try:
                self._adopt(found)
            except Exception:  # never a reason to refuse the PBX's events
                log.exception("could not show what other processes stored")
        return changes

    def _news(self, known: Callable[[tuple[str, str]], Call | None]) -> list[CallChange] | None:
        """Another process's news, as changes to the calls as `known` (None: none, or it
        could not be read, which is logged)."""
        try:
            return self.watcher.foreign_changes(known, self.clock())
        except Exception:  # never a reason to refuse the PBX's events
            log.exception("could not read what other processes stored")
            return None

    def _adopt_foreign_logged(self) -> None:
        try:
            self.adopt_foreign()
        except Exception:  # never a reason to refuse the PBX's events
            log.exception("could not read what other processes stored")

    def adopt_foreign(self) -> int:
        """What other processes stored (a CDR sync, a user added, from the command line) onto
        live state and every screen, by the same road as events; returns how many calls it
        changed."""
        news = self.watcher.foreign_changes(self.live.board.get, self.clock())
        if news is None:
            return 0
        self._adopt(news)
        return len(news)

    def _adopt(self, news: list[CallChange]) -> None:
        if self.refresh_names():
            self.publisher.grid()
        if news:
            self._show(news)

    def refresh_names(self) -> bool:
        """The grid's names for extensions (its users'), as stored now; True if they changed."""
        names = self.names() if self.names else {}
        if names == self.live.grid.names:
            return False
        self.live.set_names(names)
        return True

    def _reload(self) -> None:
        """Back to what the database holds, and every viewer back to a fresh snapshot."""
        self.publisher.reset()
        try:
            state = stored_state(self.store, self.local_date(), self.tz)
        except Exception:
            log.exception("could not reload live state from the database")
            raise
        self.live.load(state)
        self.watcher.caught_up()
        self._needs_reload = False

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
        self.store.rejected.record(
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
        (in one message, however many leave at once); show the new day's counters at
        midnight; bring in what other processes stored."""
        self.publisher.push_now()  # a call's removal must follow its last change
        self.adopt_foreign()
        if self._roll_day():
            self.publisher.new_day()
        self.publisher.removals(self.live.expire(self.clock()))

    async def run_sweeper(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                self.sweep()
            except Exception:  # the sweeper must outlive any one failure
                log.exception("sweeping the board failed")

    def snapshot(self, audience: Audience) -> str:
        """What a viewer of that audience receives first on (re)connecting: its whole board."""
        if self._needs_reload:  # a failed commit: not a board to show anyone
            with contextlib.suppress(Exception):
                self._reload()
        self._roll_day()
        return self.publisher.snapshot(audience)

    def _roll_day(self, today: date | None = None) -> bool:
        """At midnight (in the PBX's zone) start the new day's counters; True if it did.
        `today`: the PBX's date now, if known."""
        today = today or self.local_date()
        if today == self.live.today.day:
            return False
        self.live.start_day(*self.store.day_counters(today, self.tz))
        return True


def assemble(
    settings: Settings,
    store: Store,
    hub: Hub,
    fragments: Fragments,
    clock: Clock = utc_now,
    popups: Popups | None = None,
    timings: Timings | None = None,
    names: Callable[[], dict[str, str]] | None = None,
) -> Ingestor:
    """The road's parts, from the database's state: live state, its publisher, the road."""
    today = clock().astimezone(settings.timezone).date()
    live = Live(
        Board(settings.finished_linger_seconds),
        Grid(settings),
        settings.timezone,
        stored_state(store, today, settings.timezone),
    )
    agent_lists = AgentLists(Callbacks(store), History(store), fragments, clock)
    publisher = Publisher(hub, Pushes(fragments, live, clock, popups, agent_lists))
    ingestor = Ingestor(settings, store, live, publisher, clock, timings, names)
    ingestor.refresh_names()
    return ingestor


def replay(store: Store, settings: Settings) -> dict[tuple[str, str], Call]:
    """Every call recomputed from the stored events alone (to check or rebuild `calls`)."""
    return fold(store.events(), settings)
