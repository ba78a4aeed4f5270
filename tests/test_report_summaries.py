"""Report summaries: whatever writes the calls, a report from the summaries is the report a
scan of every call gives, in any zone and with any business day's start."""

from __future__ import annotations

import logging
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboard.calls import Call, Status
from dashboard.report_summaries import TABLES, TRIGGERS
from dashboard.reports import Report, build_report, scan_report
from dashboard.retention import Keep, Retention
from dashboard.seed import seed
from dashboard.store import Store

ZONES = tuple(
    ZoneInfo(name)
    for name in ("Europe/London", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu")
)
DAY_STARTS = (time(0), time(6), time(6, 30))
FIRST, LAST = date(2026, 10, 1), date(2027, 4, 14)  # both autumn's and spring's clock changes
# London and New York change their clocks; months and a year end, wherever the PBX is.
EDGE_DAYS = (
    date(2026, 10, 25),
    date(2026, 11, 1),
    date(2026, 11, 30),
    date(2026, 12, 31),
    date(2027, 3, 14),
    date(2027, 3, 28),
)
EDGE_CLOCKS = (time(0), time(1), time(2), time(6), time(6, 30))
HOSTS = ("a", "b")
EXTENSIONS = ("40", "41", "70", "100", "", None)
DIRECTIONS = ("incoming", "incoming", "outgoing", "internal", None)
DISPOSITIONS: tuple[str | None, ...] = (None, "", "answered", "answered", "no_answer", "busy")
DISPOSITIONS += ("failed", "expired", "lost", "closed")
FILTERS: tuple[tuple[tuple[str, ...], str | None], ...] = (
    ((), None),
    (("40",), None),
    (("40", "100"), None),
    ((), "a"),
    (("41",), "b"),
)


def new_store(path: str = ":memory:") -> Store:
    return Store(sqlite3.connect(path, isolation_level=None))


def random_call(rnd: random.Random, uniqueid: str, started: datetime) -> Call:
    def later() -> datetime | None:
        return started + timedelta(microseconds=rnd.randrange(-(10**6), 90 * 10**6))

    return Call(
        host=rnd.choice(HOSTS),
        uniqueid=uniqueid,
        status=Status.FINISHED,
        direction=rnd.choice(DIRECTIONS),
        number="98765",
        extension=rnd.choice(EXTENSIONS),
        start_time=started if rnd.random() < 0.9 else None,
        first_seen_at=started,
        answer_time=later() if rnd.random() < 0.6 else None,
        connect_seen_at=later() if rnd.random() < 0.3 else None,
        billable_seconds=rnd.choice((None, 0, rnd.randrange(1, 3600))),
        disposition=rnd.choice(DISPOSITIONS),
        cdr_seen=rnd.random() < 0.5,
    )


def edge_moments(rnd: random.Random) -> Iterator[datetime]:
    """Moments near every zone's midnights, business days' starts and clock changes."""
    for tz in ZONES:
        for day in EDGE_DAYS:
            for clock in EDGE_CLOCKS:
                edge = datetime.combine(day, clock, tz)
                yield edge
                yield edge - timedelta(microseconds=1)
                for _ in range(8):
                    yield edge + timedelta(
                        microseconds=rnd.randrange(-2 * 3600 * 10**6, 2 * 3600 * 10**6)
                    )


def random_calls(rnd: random.Random, prefix: str) -> list[Call]:
    start = datetime.combine(FIRST, time(), UTC) - timedelta(days=1)
    span = int((LAST - FIRST).days + 2) * 86400 * 10**6
    moments = [*edge_moments(rnd)]
    moments += [start + timedelta(microseconds=rnd.randrange(span)) for _ in range(1500)]
    return [random_call(rnd, f"{prefix}.{n}", moment) for n, moment in enumerate(moments)]


def store_calls(store: Store, calls: list[Call], rnd: random.Random) -> None:
    """As ingest stores them: some arrive finished, some ring first and finish later (the
    whole row upserted, or only its changed columns updated)."""
    finished_now: list[Call] = []
    rung_first: list[Call] = []
    for call in calls:
        (finished_now if rnd.random() < 0.4 else rung_first).append(call)
    ringing = [replace(call, status=Status.RINGING, disposition=None) for call in rung_first]
    third = len(ringing) // 3  # known not to be stored (ingest's new calls), and not known
    new: list[Call | None] = [None] * third
    store.write_event_rows(
        store.event_rows([(NOW, "CallStart", "{}", call) for call in ringing[:third]], new)
    )
    store.record_events([(NOW, "CallStart", "{}", call) for call in ringing[third:]])
    half = len(rung_first) // 2
    store.record_events([(NOW, "CallFinish", "{}", call) for call in rung_first[:half]])
    before: list[Call | None] = list(ringing[half:])
    rows = store.event_rows(
        [(NOW, "CallFinish", "{}", call) for call in rung_first[half:]], before=before
    )
    store.write_event_rows(rows)
    store.record_events([(NOW, "CallFinish", "{}", call) for call in finished_now])
    still_live = [
        replace(call, uniqueid=f"live.{call.uniqueid}", status=Status.CONNECTED)
        for call in calls[:50]
    ]
    store.record_events([(NOW, "CallConnect", "{}", call) for call in still_live])


NOW = datetime(2027, 4, 20, tzinfo=UTC)


def reads_calls(conn: sqlite3.Connection, action: Callable[[], object]) -> bool:
    """Whether `action` ran a statement on `calls`."""
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        action()
    finally:
        conn.set_trace_callback(None)
    return any("FROM calls" in sql for sql in seen)


def periods() -> list[tuple[date, date]]:
    around_edges = [(day - timedelta(days=1), day + timedelta(days=1)) for day in EDGE_DAYS]
    return [(FIRST, LAST), *((day, day) for day in EDGE_DAYS), *around_edges]


def differences(store: Store, tz: ZoneInfo, day_starts: time) -> list[tuple[object, ...]]:
    """Every report (periods x filters) whose summaries' version is not the scan's."""
    conn = store.db.conn
    found: list[tuple[object, ...]] = []
    for first, last in periods():
        for extensions, host in FILTERS:
            args = (conn, first, last, tz, day_starts, extensions, host)
            summed, scanned = build_report(*args), scan_report(*args)
            if summed != scanned:
                found.append((first, last, extensions, host, first_difference(summed, scanned)))
    return found


def first_difference(summed: Report, scanned: Report) -> tuple[str, object, object]:
    for name in ("total", "by_extension", "by_day", "heat"):
        if getattr(summed, name) != getattr(scanned, name):
            return name, getattr(summed, name), getattr(scanned, name)
    return "", None, None


@pytest.fixture(scope="module")
def history() -> Store:
    rnd = random.Random(17)
    store = new_store()
    store_calls(store, random_calls(rnd, "r"), rnd)
    return store


@pytest.mark.parametrize("tz", ZONES, ids=str)
@pytest.mark.parametrize("day_starts", DAY_STARTS, ids=str)
def test_reports_from_the_summaries_are_the_scans(
    history: Store, tz: ZoneInfo, day_starts: time
) -> None:
    whole = (history.db.conn, FIRST, LAST, tz, day_starts)
    assert not reads_calls(history.db.conn, lambda: build_report(*whole))  # the summaries
    assert scan_report(*whole).total.calls > 2000  # a report with something in it
    assert differences(history, tz, day_starts) == []


def test_a_day_that_starts_between_quarter_hours_is_scanned(history: Store) -> None:
    args = (history.db.conn, FIRST, LAST, ZONES[2], time(6, 10))
    assert reads_calls(history.db.conn, lambda: build_report(*args))
    assert build_report(*args) == scan_report(*args)


# What a CDR sync may change in a finished call, one column at a time.
CHANGES: tuple[Callable[[random.Random, Call], Call], ...] = (
    lambda rnd, call: replace(call, disposition=rnd.choice(DISPOSITIONS)),
    lambda rnd, call: replace(call, billable_seconds=rnd.randrange(0, 600)),
    lambda rnd, call: replace(call, answer_time=rnd.choice((None, call.first_seen_at))),
    lambda rnd, call: replace(call, cdr_seen=not call.cdr_seen),  # the answer time it reads
    lambda rnd, call: replace(call, extension=rnd.choice(EXTENSIONS)),
    lambda rnd, call: replace(call, direction=rnd.choice(DIRECTIONS)),
    lambda rnd, call: replace(
        call, start_time=(call.started_at or NOW) + timedelta(minutes=rnd.randrange(-90, 90))
    ),
)


def test_calls_changed_after_they_finished_change_the_summaries() -> None:
    rnd = random.Random(18)
    store = new_store()
    calls = random_calls(rnd, "c")
    store_calls(store, calls, rnd)
    for n, change in enumerate(CHANGES):
        stored = calls[n :: len(CHANGES)]
        changed = [(NOW, "Cdr", "{}", change(rnd, call)) for call in stored]
        half = len(changed) // 2
        store.record_events(changed[:half])  # the whole row upserted
        before: list[Call | None] = list(stored[half:])
        store.write_event_rows(store.event_rows(changed[half:], before))  # what changed
    for tz in ZONES:
        assert differences(store, tz, time(6, 30)) == []


def test_a_call_another_writer_finished_meanwhile_is_counted_once() -> None:
    rnd = random.Random(22)
    store = new_store()
    calls = random_calls(rnd, "f")[:600]
    store.record_events([(NOW, "CallFinish", "{}", call) for call in calls])
    # Ingest still knew them ringing: its update finds them finished, and takes the
    # figures they had out before putting the new ones in.
    changed = [replace(call, extension=rnd.choice(EXTENSIONS)) for call in calls]
    ringing: list[Call | None] = [
        replace(call, status=Status.RINGING, disposition=None) for call in calls
    ]
    rows = store.event_rows([(NOW, "CallFinish", "{}", call) for call in changed], ringing)
    store.write_event_rows(rows)
    for tz in ZONES:
        assert differences(store, tz, time(0)) == []


def test_a_call_another_writer_stored_while_ingest_knew_none_is_counted_once() -> None:
    rnd = random.Random(24)
    store = new_store()
    calls = random_calls(rnd, "n")[:600]
    store.record_events([(NOW, "CallFinish", "{}", call) for call in calls])
    # Ingest knew none of them stored: its insert finds each there, and it updates it.
    changed = [replace(call, extension=rnd.choice(EXTENSIONS)) for call in calls]
    unknown: list[Call | None] = [None] * len(changed)
    store.write_event_rows(
        store.event_rows([(NOW, "CallFinish", "{}", call) for call in changed], unknown)
    )
    assert {call.key: call.extension for call in store.all_calls()} == {
        call.key: call.extension for call in changed
    }
    for tz in ZONES:
        assert differences(store, tz, time(0)) == []


def test_the_update_trigger_of_an_older_database_is_dropped_when_opened(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "older.db")
    new_store(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(  # as if it were the old trigger: anything it queued would be counted
        "CREATE TRIGGER report_calls_updated AFTER UPDATE ON calls BEGIN"
        " INSERT INTO report_pending SELECT 0, NEW.host, '', 1, 1, 1, 1, 1, 1, 1, 1; END"
    )
    conn.close()
    store = new_store(path)
    rnd = random.Random(23)
    store_calls(store, random_calls(rnd, "u")[:800], rnd)
    triggers = "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    assert [row[0] for row in store.db.execute(triggers)] == sorted(
        [*TRIGGERS, "report_pending_folded"]
    )
    assert differences(store, ZONES[0], time(0)) == []


def test_deleted_calls_leave_the_summaries() -> None:
    rnd = random.Random(19)
    store = new_store()
    store_calls(store, random_calls(rnd, "d"), rnd)
    # Retention deletes the oldest calls, a batch at a time.
    keep = Keep(calls_days=(NOW - datetime.combine(date(2026, 12, 31), time(12), UTC)).days)
    assert Retention(store.db.conn, keep, batch=500).purge_batch(NOW) == 500
    store.db.execute("DELETE FROM calls WHERE extension = '70' AND host = 'b'")
    for tz in ZONES:
        assert differences(store, tz, time(0)) == []


def test_seeded_calls_are_in_the_summaries() -> None:
    store = new_store()
    rnd = random.Random(20)
    store_calls(store, random_calls(rnd, "s")[:500], rnd)
    for host, tz in (("a", ZONES[1]), ("b", ZONES[3])):  # seeding adds to what is there
        seed(
            store,
            3000,
            days=200,
            tz=tz,
            host=host,
            extensions=("40", "41", "100"),
            now=NOW,
            seed=20,
        )
    store_calls(store, random_calls(rnd, "after")[:500], rnd)  # the triggers are back
    for tz in ZONES:
        assert differences(store, tz, time(6)) == []


def test_a_database_without_summaries_has_them_built_once_when_opened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "old.db")
    store = new_store(path)
    rnd = random.Random(21)
    store_calls(store, random_calls(rnd, "o"), rnd)
    for trigger in TRIGGERS:  # as a database made before the summaries
        store.db.execute(f"DROP TRIGGER {trigger}")
    for table in TABLES:
        store.db.execute(f"DROP TABLE {table}")
    store.close()
    with caplog.at_level(logging.INFO, logger="dashboard.report_summaries"):
        store = new_store(path)
    assert [record.message[:31] for record in caplog.records] == ["report summaries built from the"]
    assert differences(store, ZONES[0], time(6)) == []
    store.close()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dashboard.report_summaries"):
        new_store(path).close()
    assert caplog.records == []
