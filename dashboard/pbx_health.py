"""What the dashboard knows of each PBX's health: its events, its API, its commands, its clock.

The worst failure a wallboard can have is silence: a PBX that stops sending events while the
board still looks live. So each PBX keeps when its last event came and how many came in the
last hour, what the last probe of its API said (and how long it took), how its commands
fared, and how far its clock is from ours; `problems` says, per PBX, what every board must
show in a banner. Pure: the time is passed in.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
SKEW_SAMPLES = 21


@dataclass
class Health:
    name: str
    host: str
    last_event_at: datetime | None = None
    # Events counted per minute (the minute's start, its count), the last hour's: a time per
    # event would hold 18 million of them for an hour at 5,000 events a second.
    recent_minutes: deque[list[Any]] = field(default_factory=deque)
    api_ok: bool | None = None  # None: not probed yet
    api_checked_at: datetime | None = None
    api_down_since: datetime | None = None
    round_trip_ms: float | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    commands_accepted: int = 0
    commands_failed: int = 0
    unheard_calls: int = 0  # calls in its CDR that no event told of, at the last check
    silent_since: datetime | None = None
    skews: deque[float] = field(default_factory=lambda: deque(maxlen=SKEW_SAMPLES))

    def count_event(self, arrived_at: datetime) -> None:
        minute = arrived_at.replace(second=0, microsecond=0)
        if self.recent_minutes and self.recent_minutes[-1][0] == minute:
            self.recent_minutes[-1][1] += 1
        else:  # the hour's minutes are forgotten as a new one starts, not at every event
            self._forget_before(arrived_at)
            self.recent_minutes.append([minute, 1])

    def events_in_last_hour(self, now: datetime) -> int:
        """Those of the minutes that started within the hour (to the minute, not the second)."""
        self._forget_before(now)
        return sum(count for _, count in self.recent_minutes)

    def _forget_before(self, now: datetime) -> None:
        while self.recent_minutes and now - self.recent_minutes[0][0] > HOUR:
            self.recent_minutes.popleft()

    @property
    def clock_skew_seconds(self) -> float | None:
        """How far ahead of ours the PBX's clock runs (the median of recent events)."""
        return round(statistics.median(self.skews), 1) if self.skews else None


@dataclass(frozen=True)
class Problem:
    name: str
    since: datetime
    what: str  # "is not answering", "has stopped sending call events"


class HealthBoard:
    def __init__(self, pbxs: Iterable[tuple[str, str]]) -> None:
        self.by_name = {name: Health(name, host) for name, host in pbxs}

    def note_event(self, name: str, arrived_at: datetime, pbx_time: datetime | None) -> None:
        health = self.by_name[name]
        health.last_event_at = arrived_at
        health.count_event(arrived_at)
        health.silent_since = None
        health.unheard_calls = 0
        if pbx_time is not None:
            health.skews.append((pbx_time - arrived_at).total_seconds())

    def note_probe(
        self, name: str, at: datetime, round_trip_ms: float | None, error: str = ""
    ) -> bool:
        """The API answered (error empty) or not; True when that changed."""
        health = self.by_name[name]
        ok = not error
        changed = health.api_ok is not ok
        health.api_ok, health.api_checked_at = ok, at
        health.round_trip_ms = round_trip_ms if ok else None
        if ok:
            health.api_down_since = None
        else:
            health.api_down_since = health.api_down_since or at
            health.last_error, health.last_error_at = error, at
        return changed

    def note_command(self, name: str, at: datetime, error: str = "") -> None:
        health = self.by_name[name]
        if error:
            health.commands_failed += 1
            health.last_error, health.last_error_at = error, at
        else:
            health.commands_accepted += 1

    def note_unheard(self, name: str, at: datetime, calls: int) -> bool:
        """The CDR holds `calls` that no event told of: the PBX is silent to us, until its
        next event (a CDR with nothing new proves nothing: it may just be a quiet hour).
        True when that made it silent."""
        health = self.by_name[name]
        if not calls:
            return False
        health.unheard_calls += calls
        if health.silent_since is not None:
            return False
        health.silent_since = health.last_event_at or at
        return True

    def problems(self) -> list[Problem]:
        found = []
        for health in self.by_name.values():
            if health.api_down_since is not None:
                found.append(Problem(health.name, health.api_down_since, "is not answering"))
            elif health.silent_since is not None:
                found.append(
                    Problem(health.name, health.silent_since, "has stopped sending call events")
                )
        return found

    def as_json(self, now: datetime) -> list[dict[str, object]]:
        return [_json(health, now) for health in self.by_name.values()]


def _json(health: Health, now: datetime) -> dict[str, object]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "name": health.name,
        "host": health.host,
        "last_event_at": iso(health.last_event_at),
        "events_last_hour": health.events_in_last_hour(now),
        "api_ok": health.api_ok,
        "api_checked_at": iso(health.api_checked_at),
        "api_down_since": iso(health.api_down_since),
        "round_trip_ms": health.round_trip_ms,
        "commands_accepted": health.commands_accepted,
        "commands_failed": health.commands_failed,
        "last_error": health.last_error or None,
        "last_error_at": iso(health.last_error_at),
        "unheard_calls": health.unheard_calls,
        "silent_since": iso(health.silent_since),
        "clock_skew_seconds": health.clock_skew_seconds,
    }
