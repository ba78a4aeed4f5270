"""A call in words, the same on every list and page: its result (Ringing, Talking,
Answered, Missed, Busy...) in Python and in SQL, and how long it rang and was talked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dashboard.calls import Call, Status
from dashboard.schema import CLOSED, EXPIRED, LOST, answered_sql, missed_sql

# A call's result in one word, as every list shows it (the Result column, its filter and its
# sort): live calls by their state, answered, missed, else the PBX's or the dashboard's end.
RESULTS = {
    "answered": "Answered",
    "missed": "Missed",
    "not_answered": "Not answered",
    "busy": "Busy",
    "failed": "Failed",
    "congestion": "Congestion",
    EXPIRED: "Expired",
    LOST: "Lost",
    CLOSED: "Closed by hand",
    "ringing": "Ringing",
    "talking": "Talking",
}
NAMED_ENDS = ("busy", "failed", "congestion", EXPIRED, LOST, CLOSED)


def result_of(call: Call) -> str:
    """The call's result key (see RESULTS)."""
    if call.status is Status.RINGING:
        return "ringing"
    if call.status is Status.CONNECTED:
        return "talking"
    if call.answered:
        return "answered"
    if call.missed:
        return "missed"
    return call.disposition if call.disposition in NAMED_ENDS else "not_answered"


def result_word(call: Call) -> str:
    return RESULTS[result_of(call)]


def result_sql() -> str:
    """`result_word` over a `calls` row, as an SQL expression (never NULL)."""
    ends = " ".join(f"WHEN '{end}' THEN '{RESULTS[end]}'" for end in NAMED_ENDS)
    return (
        f"(CASE status WHEN '{Status.RINGING}' THEN '{RESULTS['ringing']}'"
        f" WHEN '{Status.CONNECTED}' THEN '{RESULTS['talking']}'"
        f" ELSE (CASE WHEN {answered_sql()} THEN '{RESULTS['answered']}'"
        f" WHEN {missed_sql()} THEN '{RESULTS['missed']}'"
        f" ELSE (CASE COALESCE(disposition, '') {ends} ELSE '{RESULTS['not_answered']}' END)"
        " END) END)"
    )


@dataclass(frozen=True)
class Timings:
    """How long a call rang and how long it was talked, in whole seconds (None: not known, or
    not yet over)."""

    rang: int | None
    talked: int | None


def timings(call: Call) -> Timings:
    started, answered_at, ended = call.started_at, call.answered_at, call.ended_at
    if call.answered and answered_at:
        rang = _seconds(started, answered_at)
    else:
        rang = None if call.is_live else _seconds(started, ended)
    if call.is_live or not call.answered:
        talked = None
    elif call.billable_seconds is not None:
        talked = call.billable_seconds
    else:
        talked = _seconds(answered_at, ended)
    return Timings(rang, talked)


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None or end < start:
        return None
    return round((end - start).total_seconds())
