"""The call state machine and the live-call board. Pure: no I/O, time is passed in.

A call is the merge of all its events:

- the status only moves forward (ringing -> connected -> finished);
- a CallFinish is the call detail record: its fields win over everything;
- before the CallFinish, a later event's non-empty fields win (a transfer is a new
  CallStart with the new extension); after it, other events only fill empty fields;
- times the PBX did not send are taken from when events arrived, keeping the earliest,
  so duplicates and late arrivals do not move them.

So duplicates and any order of a call's events give the same call, as long as the events
agree with each other, as one call's events from the PBX do (a transfer excepted, whose
events only arrive in order after the call was answered).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.events import CallEvent, EventKind
from dashboard.schema import is_answered, is_missed
from dashboard.scope import Scope


class Status(StrEnum):
    RINGING = "ringing"
    CONNECTED = "connected"
    FINISHED = "finished"


STATUS_RANK = {Status.RINGING: 0, Status.CONNECTED: 1, Status.FINISHED: 2}
EVENT_STATUS = {
    EventKind.START: Status.RINGING,
    EventKind.CONNECT: Status.CONNECTED,
    EventKind.FINISH: Status.FINISHED,
}
# Fields copied from events under the "CallFinish wins, otherwise latest wins" rule.
MERGED_FIELDS = (
    "direction",
    "number",
    "extension",
    "hangupchannel",
    "redirectchannel",
    "start_time",
    "answer_time",
    "end_time",
    "duration",
    "billable_seconds",
    "disposition",
    "disposition_raw",
    "recordlink",
)


@dataclass(frozen=True)
class Call:
    host: str
    uniqueid: str
    status: Status = Status.RINGING
    direction: str | None = None
    number: str | None = None
    extension: str | None = None
    hangupchannel: str | None = None
    redirectchannel: str | None = None
    # Times as the PBX reported them (CallFinish carries all three).
    start_time: datetime | None = None
    answer_time: datetime | None = None
    end_time: datetime | None = None
    # When the dashboard first received any event / a CallConnect / a CallFinish.
    first_seen_at: datetime | None = None
    connect_seen_at: datetime | None = None
    finish_seen_at: datetime | None = None
    last_seen_at: datetime | None = None  # the latest event's arrival: the call's last news
    duration: int | None = None
    billable_seconds: int | None = None
    disposition: str | None = None
    disposition_raw: str | None = None
    recordlink: str | None = None
    cdr_seen: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.host, self.uniqueid)

    @property
    def started_at(self) -> datetime | None:
        return self.start_time or self.first_seen_at

    @property
    def answered_at(self) -> datetime | None:
        if self.cdr_seen:
            return self.answer_time
        return self.answer_time or self.connect_seen_at

    @property
    def ended_at(self) -> datetime | None:
        return self.end_time or self.finish_seen_at

    @property
    def is_live(self) -> bool:
        return self.status is not Status.FINISHED

    @property
    def answered(self) -> bool:
        return is_answered(self.disposition, self.answered_at)

    @property
    def missed(self) -> bool:
        return is_missed(self.status.value, self.direction, self.disposition, self.answered)

    @property
    def state_since(self) -> datetime | None:
        """What the wallboard's timer counts from: the answer once talking, else the start."""
        if self.status is Status.CONNECTED:
            return self.answered_at or self.started_at
        return self.started_at


def apply(call: Call | None, event: CallEvent) -> Call:
    """The call after `event`; `call` is what was known before (None for a new call)."""
    base = call or Call(host=event.host, uniqueid=event.uniqueid)
    is_cdr = event.kind is EventKind.FINISH
    authoritative = is_cdr or not base.cdr_seen
    changes: dict[str, Any] = {}
    for name in MERGED_FIELDS:
        new = getattr(event, name)
        if new is not None and (authoritative or getattr(base, name) is None):
            changes[name] = new
    changes["extra"] = (
        {**base.extra, **event.extra} if authoritative else {**event.extra, **base.extra}
    )
    changes["first_seen_at"] = _earliest(base.first_seen_at, event.received_at)
    changes["last_seen_at"] = max(base.last_seen_at or event.received_at, event.received_at)
    if event.kind is EventKind.CONNECT:
        changes["connect_seen_at"] = _earliest(base.connect_seen_at, event.received_at)
    if is_cdr:
        changes["finish_seen_at"] = _earliest(base.finish_seen_at, event.received_at)
        changes["cdr_seen"] = True
    status = EVENT_STATUS[event.kind]
    if STATUS_RANK[status] > STATUS_RANK[base.status]:
        changes["status"] = status
    return _with(base, changes)


def _with(call: Call, changes: dict[str, Any]) -> Call:
    """`dataclasses.replace(call, **changes)` at a tenth of its cost (on every event's path),
    made as `copy.copy` makes a copy: every field of a Call is an init field, with nothing to
    check after __init__, so its __dict__ is exactly its fields (tests/test_calls.py)."""
    new = object.__new__(Call)
    fields = new.__dict__
    fields.update(call.__dict__)
    fields.update(changes)
    return new


def _earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


@dataclass
class DayCounters:
    """Today's totals for the counters strip; `day` is a date in the PBX's time zone."""

    day: date
    answered: int = 0
    missed: int = 0
    talk_seconds: int = 0

    @property
    def average_talk(self) -> int | None:
        return round(self.talk_seconds / self.answered) if self.answered else None

    def count(self, call: Call, tz: ZoneInfo, sign: int = 1) -> None:
        """Add a finished call, if it started on this day (`sign=-1` takes it back)."""
        started = call.started_at
        if started is None or started.astimezone(tz).date() != self.day:
            return
        if call.answered:
            self.answered += sign
            self.talk_seconds += sign * (call.billable_seconds or 0)
        elif call.missed:
            self.missed += sign

    def uncount(self, call: Call, tz: ZoneInfo) -> None:
        self.count(call, tz, sign=-1)


@dataclass(frozen=True)
class Change:
    """What an event did to the board: drives which fragment viewers receive."""

    call: Call
    added: bool  # the call was not on the board before
    finished_now: bool  # the call has just left the live list (it lingers, marked)


class Board:
    """The live calls, plus finished ones lingering briefly so the wallboard can mark them."""

    def __init__(self, linger_seconds: float) -> None:
        self.linger_seconds = linger_seconds
        self.live: dict[tuple[str, str], Call] = {}
        self.lingering: dict[tuple[str, str], tuple[Call, datetime]] = {}

    def load(self, calls: Iterable[Call]) -> None:
        """Put calls on an empty board (at start-up, or when it is reloaded)."""
        self.live.clear()
        self.lingering.clear()
        for call in calls:
            if call.is_live:
                self.live[call.key] = call

    def get(self, key: tuple[str, str]) -> Call | None:
        if key in self.live:
            return self.live[key]
        lingering = self.lingering.get(key)
        return lingering[0] if lingering else None

    def update(self, before: Call | None, call: Call, now: datetime) -> Change | None:
        """Put `call` on the board; None when it concerns no one watching (an old call's CDR)."""
        on_board = call.key in self.live or call.key in self.lingering
        if call.is_live:
            self.live[call.key] = call
            return Change(call, added=not on_board, finished_now=False)
        if not on_board and before is not None:
            return None  # a repeated CDR of a call already gone from the board
        finished_now = self.live.pop(call.key, None) is not None
        since = self.lingering[call.key][1] if call.key in self.lingering else now
        self.lingering[call.key] = (call, since)
        return Change(call, added=not on_board, finished_now=finished_now)

    def expire(self, now: datetime) -> list[Call]:
        """Remove lingering calls whose time is up; returns them."""
        gone = [
            call
            for call, since in self.lingering.values()
            if (now - since).total_seconds() >= self.linger_seconds
        ]
        for call in gone:
            del self.lingering[call.key]
        return gone

    def find(self, uniqueid: str, host: str | None = None) -> Call | None:
        """A call on the board by its uniqueid (and PBX, when several PBXs feed the board)."""
        for call in (*self.live.values(), *(call for call, _ in self.lingering.values())):
            if call.uniqueid == uniqueid and host in (None, call.host):
                return call
        return None

    def snapshot(
        self, scope: Scope | None = None, members: frozenset[str] | None = None
    ) -> list[Call]:
        """Everything on the board (or an agent's or a group's part of it), newest first."""
        calls = [*self.live.values(), *(call for call, _ in self.lingering.values())]
        return sorted(_in_scope(calls, scope, members), key=_newest_first)

    def counts(
        self, scope: Scope | None = None, members: frozenset[str] | None = None
    ) -> dict[str, int]:
        live = _in_scope(self.live.values(), scope, members)
        ringing = sum(1 for call in live if call.status is Status.RINGING)
        return {"live": len(live), "ringing": ringing, "talking": len(live) - ringing}

    def longest_ringing(
        self, scope: Scope | None = None, members: frozenset[str] | None = None
    ) -> Call | None:
        ringing = [
            (call.started_at, call)
            for call in _in_scope(self.live.values(), scope, members)
            if call.status is Status.RINGING and call.started_at
        ]
        return min(ringing, key=lambda pair: pair[0], default=(None, None))[1]


def _in_scope(
    calls: Iterable[Call], scope: Scope | None, members: frozenset[str] | None = None
) -> list[Call]:
    """All calls when `scope` is None, else an agent's (scope.py); `members`: only those at
    one of these extensions (a group's)."""
    return [
        call
        for call in calls
        if (scope is None or scope.covers(call.host, call.extension))
        and (members is None or call.extension in members)
    ]


def _newest_first(call: Call) -> tuple[float, str]:
    started = call.started_at
    return (-(started.timestamp() if started else 0.0), call.uniqueid)
