"""The call declared once: the store's rows, the API's JSON and the export follow
`schema.FIELDS`, and the Python and SQL rules for answered and missed agree everywhere."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dashboard.calls import Call, Status
from dashboard.schema import CSV_HEADINGS, FIELDS, JSON_FIELDS, answered_sql, missed_sql
from dashboard.store import CALL_COLUMNS, Store, call_row
from dashboard.views.api import call_json

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
DISPOSITIONS = (None, "", "answered", "no_answer", "busy", "failed", "congestion", "expired")
DIRECTIONS = (None, "", "incoming", "outgoing", "internal")
# (cdr_seen, answer_time, connect_seen_at): every way a call can have been answered or not
ANSWERS = list(itertools.product((False, True), (None, T0), (None, T0)))


def every_kind_of_call() -> list[Call]:
    combinations = itertools.product(Status, DIRECTIONS, DISPOSITIONS, ANSWERS)
    return [
        Call(
            host="h",
            uniqueid=f"c.{n}",
            status=status,
            direction=direction,
            disposition=disposition,
            cdr_seen=cdr_seen,
            answer_time=answer_time,
            connect_seen_at=connect_seen_at,
            first_seen_at=T0,
        )
        for n, (status, direction, disposition, (cdr_seen, answer_time, connect_seen_at)) in (
            enumerate(combinations)
        )
    ]


def test_the_python_and_sql_rules_for_answered_and_missed_agree_on_every_call() -> None:
    store = Store(sqlite3.connect(":memory:", isolation_level=None))
    calls = every_kind_of_call()
    store.record_events([(T0, "CallFinish", "{}", call) for call in calls])
    rows = store.db.execute(
        f"SELECT c.uniqueid, {answered_sql('c')}, {missed_sql('c')}, {missed_sql()} FROM calls c"
    ).fetchall()
    in_sql = {
        uniqueid: (answered, missed, unaliased) for uniqueid, answered, missed, unaliased in rows
    }
    in_python = {
        call.uniqueid: (int(call.answered), int(call.missed), int(call.missed)) for call in calls
    }
    assert in_sql == in_python
    assert {missed for _, missed, _ in in_sql.values()} == {0, 1}  # both outcomes are covered
    assert {answered for answered, _, _ in in_sql.values()} == {0, 1}


def test_a_call_is_stored_and_read_back_whole() -> None:
    store = Store(sqlite3.connect(":memory:", isolation_level=None))
    every_field = Call(
        host="192.168.1.51",
        uniqueid="1430819361.25418",
        status=Status.FINISHED,
        direction="incoming",
        number="+91 98765 43210",
        extension="70",
        hangupchannel="SIP/70-1",
        redirectchannel="DAHDI/21",
        start_time=T0,
        answer_time=T0 + timedelta(seconds=8),
        end_time=T0 + timedelta(seconds=15),
        first_seen_at=T0,
        connect_seen_at=T0 + timedelta(seconds=9),
        finish_seen_at=T0 + timedelta(seconds=16),
        last_seen_at=T0 + timedelta(seconds=16),
        duration=15,
        billable_seconds=7,
        disposition="answered",
        disposition_raw="ANSWERED",
        recordlink="http://192.168.1.51/callrecord/x.wav",
        cdr_seen=True,
        extra={"queue": "sales", "note": "\U0001f600 caf\u00e9, \\ud800 as text"},
    )
    store.record_event(T0, "CallFinish", "{}", every_field)
    assert store.get_call(every_field.key) == every_field
    row = call_row(every_field, T0, "9876543210")
    assert (
        len(row) == len(CALL_COLUMNS)
        and dict(zip(CALL_COLUMNS, row, strict=True))["number_key"] == "9876543210"
    )


def test_the_json_and_the_export_are_the_declared_fields() -> None:
    call = every_kind_of_call()[0]
    data = call_json(call, ZoneInfo("Asia/Kolkata"))
    assert list(data) == [field.name for field in JSON_FIELDS]
    assert data["first_seen_at"] == "2026-11-27T15:30:00+05:30"
    # The export's columns are a contract with people's spreadsheets: same names, same order.
    assert CSV_HEADINGS == (
        "started_at",
        "answered_at",
        "ended_at",
        "direction",
        "number",
        "extension",
        "status",
        "disposition",
        "duration",
        "billable_seconds",
        "host",
        "uniqueid",
        "recordlink",
    )
    assert {field.name for field in FIELDS if field.column} == set(CALL_COLUMNS)
