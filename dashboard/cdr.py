"""CDR sync: the PBXs' call detail records merged into the history.

Records go the road events go, and only when they change something, so a sync run twice
changes nothing: in the serving dashboard, `Ingestor.submit` (stored, then on every board);
from the command line, `StoredOnly` (stored; the serving dashboard's watcher shows them).
(Calls left live with no news are looked up here by reconcile.py.)

A sync asks the PBX for a few extensions at a time and stops waiting at a deadline
(`DASHBOARD_CDR_SYNC_SECONDS`): what came in time is merged, and what did not is reported,
extension by extension, with the reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import anyio

from dashboard import calls
from dashboard.calls import Call
from dashboard.events import CallEvent, EventError, check_storable, parse_event
from dashboard.ingest import Accepted, Clock
from dashboard.pbx import CDRShapeError, PBXError
from dashboard.pbxs import PBX, PBXs
from dashboard.settings import Settings
from dashboard.store import Store

log = logging.getLogger(__name__)
# A live call is looked up from the day before it started to the day after: a call that
# crosses midnight, or a PBX whose clock is some hours off, files it under another day.
ONE_DAY = timedelta(days=1)
FETCHES_AT_ONCE = 4  # extensions asked at once: a slow one does not hold up the others
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Unfetched:
    """An extension whose records a sync could not fetch, and why."""

    extension: str
    reason: str  # "timeout", "unreachable", "refused" or "unreadable"
    detail: str  # the cause, in words a supervisor understands (it names the PBX's URL)
    pbx: str = ""  # the PBX asked (its name)


Asking = tuple[PBX, str]  # a PBX, and one of its extensions


@dataclass
class SyncResult:
    first: date
    last: date
    asked: int = 0  # extensions asked for
    fetched: int = 0
    added: int = 0  # calls the dashboard had not seen
    updated: int = 0  # calls the records changed
    unchanged: int = 0
    unfetched: list[Unfetched] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # records that could not be read
    added_starts: list[datetime] = field(default_factory=list)  # when the calls added began

    @property
    def complete(self) -> bool:
        return not self.unfetched and not self.problems

    def summary(self) -> str:
        text = (
            f"{self.fetched} records: {self.added} calls added, {self.updated} updated,"
            f" {self.unchanged} already known"
        )
        if self.unfetched:
            text += f"; {len(self.unfetched)} of {self.asked} extensions not fetched"
        return text + (f"; {len(self.problems)} problems" if self.problems else "")

    def not_fetched(self) -> list[str]:
        """One sentence per cause: which extensions, for which days, and why."""
        days = str(self.first) if self.first == self.last else f"{self.first} to {self.last}"
        by_cause: dict[str, list[str]] = {}
        for miss in self.unfetched:
            by_cause.setdefault(miss.detail, []).append(miss.extension)
        return [
            f"Not fetched: {_extensions(extensions)}, {days}: {detail}"
            for detail, extensions in by_cause.items()
        ]


def _extensions(extensions: list[str]) -> str:
    return ("extension " if len(extensions) == 1 else "extensions ") + ", ".join(extensions)


class Road(Protocol):
    """Where records go: the serving dashboard's ingest road, or `StoredOnly`."""

    def known(self, key: tuple[str, str]) -> Call | None: ...

    def submit(self, event: CallEvent, payload: str) -> Awaitable[Accepted]: ...


class StoredOnly:
    """The road of a process with no board (the command line): calls go straight to the
    database, where a serving dashboard's watcher finds them and shows them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def known(self, key: tuple[str, str]) -> Call | None:
        return self.store.get_call(key)

    async def submit(self, event: CallEvent, payload: str) -> Accepted:
        call = calls.apply(self.store.get_call(event.key), event)
        [event_id] = self.store.record_events(
            [(event.received_at, event.kind.value, payload, call)]
        )
        return Accepted(event_id, call)


class CdrSync:
    def __init__(
        self,
        road: Road,
        store: Store,
        pbxs: PBXs,
        settings: Settings,
        clock: Clock,
        *,
        sleep: Sleep = anyio.sleep,
        fetches_at_once: int = FETCHES_AT_ONCE,
    ) -> None:
        self.road = road
        self.store = store
        self.pbxs = pbxs
        self.settings = settings
        self.clock = clock
        self.sleep = sleep  # how the deadline is waited for (a test passes its own)
        self.fetches_at_once = fetches_at_once
        self.asked_by_hand = anyio.Lock()  # one supervisors' fetch at a time

    def extensions(self) -> list[str]:
        """Every extension worth asking about: configured, and seen in the history."""
        return sorted({*self.settings.extensions, *self.store.known_extensions()})

    def asking(
        self, extensions: list[str] | None, pbx_name: str | None
    ) -> tuple[list[Asking], list[str]]:
        """Which PBX is asked for which extensions, and the extensions no PBX owns. Named, a
        PBX is asked for the extensions given (or its own list); else each extension given
        goes to the PBX that owns it; else each PBX is asked for its own list (one PBX
        without one: every extension worth asking about)."""
        chosen = [self.pbxs.named(pbx_name)] if pbx_name else self.pbxs.all
        if extensions and pbx_name:
            return [(chosen[0], extension) for extension in extensions], []
        if extensions:
            owned = [
                (pbx, extension)
                for extension in extensions
                for pbx in chosen
                if pbx.config.owns(extension)
            ]
            unowned = [e for e in extensions if not any(p.config.owns(e) for p in chosen)]
            return owned, unowned
        return [
            (pbx, extension)
            for pbx in chosen
            for extension in (list(pbx.config.extensions) or self.extensions())
        ], []

    async def sync(
        self,
        first: date,
        last: date,
        extensions: list[str] | None = None,
        pbx_name: str | None = None,
    ) -> SyncResult:
        """Fetch the records of every extension (a few at a time) from the PBX that owns it,
        until the deadline, then merge what came: records fetched in time are merged even
        when others were not. `pbx_name`: only that PBX."""
        wanted, unowned = self.asking(extensions, pbx_name)
        result = SyncResult(first, last, asked=len(wanted))
        result.problems.extend(
            f"no PBX here owns extension {extension}: name the PBX to ask" for extension in unowned
        )
        asked: set[Asking] = set()  # those the PBX was asked for (the others waited their turn)
        outcomes = await self._fetch_all(wanted, first, last, asked)
        for pbx, extension in wanted:
            key = (pbx, extension)
            outcome = outcomes[key] if key in outcomes else self._out_of_time(key, asked)
            if isinstance(outcome, Unfetched):
                result.unfetched.append(outcome)
                continue
            for record in outcome:
                await self.merge(record, result, pbx)
        return result

    async def _fetch_all(
        self, wanted: list[Asking], first: date, last: date, asked: set[Asking]
    ) -> dict[Asking, list[dict[str, Any]] | Unfetched]:
        """Each extension's records, or why not; those still out at the deadline are missing."""
        outcomes: dict[Asking, list[dict[str, Any]] | Unfetched] = {}
        at_once = anyio.Semaphore(self.fetches_at_once)

        async def fetch(key: Asking) -> None:
            async with at_once:
                asked.add(key)
                outcomes[key] = await self._fetch(key, first, last)

        async with anyio.create_task_group() as race:

            async def fetch_every_one() -> None:
                async with anyio.create_task_group() as fetches:
                    for key in wanted:
                        fetches.start_soon(fetch, key)
                race.cancel_scope.cancel()

            async def deadline() -> None:
                await self.sleep(self.settings.cdr_sync_seconds)
                race.cancel_scope.cancel()

            race.start_soon(fetch_every_one)
            race.start_soon(deadline)
        return outcomes

    async def _fetch(
        self, key: Asking, first: date, last: date
    ) -> list[dict[str, Any]] | Unfetched:
        pbx, extension = key
        try:
            return await pbx.synapse.cdr(extension, first, last)
        except PBXError as error:
            return Unfetched(extension, error.outcome, error.message, pbx.name)
        except CDRShapeError as error:
            return Unfetched(
                extension, "unreadable", f"The PBX's answer could not be read: {error}", pbx.name
            )

    def _out_of_time(self, key: Asking, asked: set[Asking]) -> Unfetched:
        pbx, extension = key
        shown = pbx.synapse.shown_url
        seconds = f"{self.settings.cdr_sync_seconds:g} s (DASHBOARD_CDR_SYNC_SECONDS)"
        if key in asked:
            detail = f"The PBX at {shown} did not send the records within {seconds}"
        else:
            detail = f"Not asked: the PBX at {shown} was slow, and the {seconds} ran out first"
        return Unfetched(extension, "timeout", detail, pbx.name)

    async def merge(self, record: dict[str, object], result: SyncResult, pbx: PBX) -> None:
        """One record of `pbx`'s, read in its zone, as its call (on its host)."""
        result.fetched += 1
        obj = {"event": "CallFinish", **record}
        host = pbx.config.host  # (the one PBX of the environment: SYNAPSE_URL's host)
        try:
            check_storable(obj)
            event = parse_event(
                obj, tz=ZoneInfo(pbx.config.timezone), default_host=host, received_at=self.clock()
            )
        except EventError as error:
            result.problems.append(f"record {str(record.get('uniqueid'))[:40]}: {error.detail}")
            return
        if self.pbxs.hosts_listed and event.host.lower() != host.lower():
            result.problems.append(
                f"record {event.uniqueid[:40]}: the PBX {pbx.name} sent a call of {event.host}"
            )
            return
        before = self.road.known(event.key)
        if before is not None and _same(calls.apply(before, event), before):
            result.unchanged += 1
            return
        await self.road.submit(event, json.dumps(obj, ensure_ascii=False))
        if before is None:
            result.added += 1
            if event.start_time is not None:
                result.added_starts.append(event.start_time)
        else:
            result.updated += 1


def _same(merged: Call, before: Call) -> bool:
    """Whether a record adds nothing (its arrival time aside)."""
    return (
        replace(merged, finish_seen_at=before.finish_seen_at, last_seen_at=before.last_seen_at)
        == before
    )
