"""The call, declared once: its fields (type, column, JSON name, CSV heading, shown or not),
and what "answered" and "missed" mean, in Python and in SQL.

The store's columns and rows, the API's JSON, the call's page and the CSV export are all
derived from `FIELDS`; the state machine, history, reports and the missed-call worklist all
use the rules below (a test checks that the Python rule and the SQL rule agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Kind = Literal["text", "int", "time", "bool", "json"]
FINISHED = "finished"  # calls.Status.FINISHED's value, as stored
INCOMING = "incoming"
EXPIRED = "expired"  # closed by the dashboard for want of news: not known to be missed
LOST = "lost"  # its PBX no longer has it (restarted, or "no such channel"), nor a record of it
CLOSED = "closed"  # closed by a supervisor's hand
# Ends the dashboard gave a call, not the PBX: none of them is known to be a miss.
DASHBOARD_ENDS = (EXPIRED, LOST, CLOSED)


@dataclass(frozen=True)
class Field:
    """One field of a call. `source` names where its value comes from: a `Call` attribute or
    property (the default: its name), or None for what only the store knows."""

    name: str
    kind: Kind = "text"
    column: bool = True  # stored in `calls`
    json: bool = True  # in the API's JSON (and so on the call's page)
    csv: bool = False  # in the CSV export (in this order)
    source: str | None = ""

    @property
    def attribute(self) -> str | None:
        return self.name if self.source == "" else self.source


FIELDS: tuple[Field, ...] = (
    # The export's columns first, in the export's order.
    Field("started_at", "time", csv=True),
    Field("answered_at", "time", csv=True),
    Field("ended_at", "time", csv=True),
    Field("direction", csv=True),
    Field("number", csv=True),
    Field("extension", csv=True),
    Field("status", csv=True),
    Field("disposition", csv=True),
    Field("duration", "int", csv=True),
    Field("billable_seconds", "int", csv=True),
    Field("host", csv=True),
    Field("uniqueid", csv=True),
    Field("recordlink", csv=True),
    Field("hangupchannel"),
    Field("redirectchannel"),
    Field("start_time", "time"),  # as the PBX reported them
    Field("answer_time", "time"),
    Field("end_time", "time"),
    Field("first_seen_at", "time"),  # when the dashboard received the events
    Field("connect_seen_at", "time"),
    Field("finish_seen_at", "time"),
    Field("last_seen_at", "time", json=False),
    Field("disposition_raw"),
    Field("cdr_seen", "bool"),
    Field("answered", "bool", column=False),
    Field("missed", "bool", column=False),
    Field("extra", "json"),
    Field("updated_at", "time", json=False, source=None),  # when the row was last written
    Field("number_key", json=False, source=None),  # how the number is matched
)
COLUMNS = tuple(field for field in FIELDS if field.column)
JSON_FIELDS = tuple(field for field in FIELDS if field.json)
CSV_HEADINGS = tuple(field.name for field in FIELDS if field.csv)
SQL_TYPES: dict[Kind, type] = {"text": str, "int": int, "time": str, "bool": int, "json": str}


def is_answered(disposition: str | None, answered_at: datetime | str | None) -> bool:
    """The PBX's disposition when it gave one, else whether the call was seen answered."""
    if disposition:
        return disposition == "answered"
    return answered_at is not None


def is_missed(status: str, direction: str | None, disposition: str | None, answered: bool) -> bool:
    """An incoming call that finished unanswered (one the dashboard expired is not known to
    be: its CallFinish may simply have been lost)."""
    return (
        status == FINISHED
        and direction == INCOMING
        and not answered
        and disposition not in DASHBOARD_ENDS
    )


def answered_sql(table: str = "") -> str:
    """`is_answered` over a `calls` row, as an SQL expression (0 or 1, never NULL)."""
    t = f"{table}." if table else ""
    return (
        f"(CASE WHEN COALESCE({t}disposition, '') != '' THEN {t}disposition = 'answered'"
        f" ELSE {t}answered_at IS NOT NULL END)"
    )


def missed_sql(table: str = "") -> str:
    """`is_missed` over a `calls` row, as an SQL expression (0 or 1, never NULL)."""
    t = f"{table}." if table else ""
    return (
        f"({t}status = '{FINISHED}' AND COALESCE({t}direction, '') = '{INCOMING}'"
        f" AND NOT {answered_sql(table)}"
        f" AND COALESCE({t}disposition, '') NOT IN ({', '.join(repr(d) for d in DASHBOARD_ENDS)}))"
    )


def json_value(kind: Kind, value: Any, tz: Any) -> Any:
    """A field's value in the API's JSON: times in ISO 8601 in the PBX's zone."""
    if kind == "time":
        return value.astimezone(tz).isoformat() if value else None
    if kind == "json":
        return dict(value)
    return value
