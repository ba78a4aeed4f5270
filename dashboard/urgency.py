"""The live list's order: the calls that need attention first.

Past a threshold (red before amber) at the top, then ringing calls, then calls talking, each
oldest first; finished calls (lingering a few seconds) last. The wallboard's script sorts the
list by the same rule every second, so a call that crosses a threshold rises without a push.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from dashboard.calls import Call, Status
from dashboard.thresholds import ALERT, WARN, Thresholds

LEVEL_RANK = {ALERT: 0, WARN: 1}  # anything else (ok) ranks after them


def most_urgent_first(
    calls: Iterable[Call], thresholds: Thresholds | None, now: datetime
) -> list[Call]:
    return sorted(calls, key=lambda call: _urgency(call, thresholds, now))


def _urgency(
    call: Call, thresholds: Thresholds | None, now: datetime
) -> tuple[int, int, int, float, str]:
    level = thresholds.call_level(call, now) if thresholds and call.is_live else ""
    since = call.state_since
    return (
        0 if call.is_live else 1,
        LEVEL_RANK.get(level, len(LEVEL_RANK)),
        0 if call.status is Status.RINGING else 1,
        since.timestamp() if since else 0.0,
        call.uniqueid,
    )
