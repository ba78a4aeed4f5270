"""Live state: the board, today's counters and the grid. Pure: no I/O, time is passed in.

`Live.apply(changes)` is the only way a call changes them, whatever caused the change (a
PBX event, a CDR record, reconciliation, expiry, another process's commit): it takes back
what the call counted for before, counts it anew, keeps the grid's idle times and puts the
call on the board. `start_day` replaces the day's counters (midnight, a reload, or totals
recounted from the database); `load` replaces everything (start-up, a reload).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dashboard.calls import Board, Call, Change, DayCounters
from dashboard.grid import Grid

log = logging.getLogger(__name__)


@dataclass
class Today:
    """Today's counters (in the PBX's zone): everyone's, and each extension's."""

    everyone: DayCounters
    by_extension: dict[str, DayCounters]

    @property
    def day(self) -> date:
        return self.everyone.day

    def of(self, extension: str | None) -> DayCounters:
        if extension is None:
            return self.everyone
        return self.by_extension.setdefault(extension, DayCounters(self.day))

    def of_group(self, extension: str | None, members: frozenset[str] | None) -> DayCounters:
        """One extension's counters, everyone's, or (`members`) a group's: its extensions'
        added up (a call at none of them, such as one missed in a queue, is not the group's)."""
        if members is None:
            return self.of(extension)
        total = DayCounters(self.day)
        for member in members:
            day = self.by_extension.get(member)
            if day is not None and extension in (None, member):
                total.answered += day.answered
                total.missed += day.missed
                total.talk_seconds += day.talk_seconds
        return total

    def counting(self, call: Call) -> list[DayCounters]:
        """The counters a call counts in: everyone's, and its extension's."""
        return [self.everyone, self.of(call.extension)] if call.extension else [self.everyone]


@dataclass(frozen=True)
class CallChange:
    """A call as live state last knew it (None: not known to it) and as it is now; `at` is
    when the news arrived (a finished call lingers on the board from then)."""

    before: Call | None
    after: Call
    at: datetime


@dataclass(frozen=True)
class StoredState:
    """What live state starts from: the database's live calls, the day's totals (everyone's
    and each extension's) and when each extension's last call ended."""

    live: list[Call]
    today: tuple[DayCounters, dict[str, DayCounters]]
    last_end: dict[str, datetime]


class Live:
    def __init__(self, board: Board, grid: Grid, tz: ZoneInfo, state: StoredState) -> None:
        self.board = board
        self.grid = grid
        self.tz = tz
        self.today = Today(*state.today)
        self.load(state)

    def load(self, state: StoredState) -> None:
        self.board.load(state.live)
        self.start_day(*state.today)
        self.grid.last_end = dict(state.last_end)

    def set_names(self, names: dict[str, str]) -> None:
        """The grid's names for extensions (their users')."""
        self.grid.names = dict(names)

    def known_extensions(self) -> list[str]:
        """The grid's extensions: configured, the users', seen today or on a live call."""
        return self.grid.known(self.board, self.today.by_extension)

    def start_day(self, everyone: DayCounters, by_extension: dict[str, DayCounters]) -> None:
        self.today.everyone, self.today.by_extension = everyone, by_extension

    def apply(self, changes: Iterable[CallChange]) -> list[tuple[Call | None, Change]]:
        """Apply changes in order; returns what viewers must be shown (a change that
        concerns no one watching, such as an old call's repeated CDR, shows nothing)."""
        shown: list[tuple[Call | None, Change]] = []
        for change in changes:
            before, call = change.before, change.after
            try:
                self._count(before, call)
                if not call.is_live:
                    self.grid.note_finished(call)
                board_change = self.board.update(before, call, change.at)
            except Exception:  # one odd call must not keep the others off the board
                log.exception("could not show call %s", call.uniqueid)
                continue
            if board_change is not None:
                shown.append((before, board_change))
        return shown

    def expire(self, now: datetime) -> list[Call]:
        """Finished calls whose time on the board is up, taken off it."""
        return self.board.expire(now)

    def _count(self, before: Call | None, call: Call) -> None:
        """Take back what the call counted for before, count it anew (a repeated or
        corrected CDR changes the totals only by what it changed)."""
        if before is not None and not before.is_live:
            for day in self.today.counting(before):
                day.uncount(before, self.tz)
        if not call.is_live:
            for day in self.today.counting(call):
                day.count(call, self.tz)
