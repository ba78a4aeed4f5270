"""How long things are kept, on a real database file and an injected clock: what goes, what
stays (a live call's events), in batches, and a file that stops growing once the window is
full."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.audit import AuditLog
from dashboard.callbacks import LOOK_BACK, Callbacks
from dashboard.calls import Call, Status
from dashboard.retention import Keep, Retention
from dashboard.settings import Settings
from dashboard.store import Store

NOW = datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC)  # just past the year's end


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(str(tmp_path / "kept.db"))
    yield opened
    opened.close()


def event_at(store: Store, when: datetime, uniqueid: str, status: Status = Status.FINISHED) -> None:
    call = Call(host="pbx", uniqueid=uniqueid, status=status, first_seen_at=when)
    store.record_event(when, "CallFinish", '{"event":"CallFinish"}', call)


def remaining(store: Store, table: str) -> int:
    return int(store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_what_is_past_its_time_goes_and_a_live_calls_events_stay(store: Store) -> None:
    event_at(store, NOW - timedelta(days=200), "still.live", Status.CONNECTED)  # (in time order,
    for days_ago in (120, 91, 90, 10):  # as events arrive)
        event_at(store, NOW - timedelta(days=days_ago, seconds=1), f"old.{days_ago}")
    audit = AuditLog(store.db)
    for days_ago in (400, 366, 100):
        audit.record(NOW - timedelta(days=days_ago), "sam", "hangup", result="ok")
    for days_ago in (31, 29):
        store.rejected.record(
            NOW - timedelta(days=days_ago), "bad_value", "no", method="GET", query="", body="",
            size=0, remote="10.0.0.1",
        )  # fmt: skip
    retention = Retention(store.db.conn, Keep(), batch=2)
    assert retention.purge_batch(NOW) == 2 + 2 + 1  # at most a batch from each table
    assert await retention.purge(NOW) == 1  # the rest, batch after batch
    kept = [row[0] for row in store.db.execute("SELECT uniqueid FROM events ORDER BY id")]
    assert kept == ["still.live", "old.10"]
    assert [entry.at for entry in audit.entries()] == [NOW - timedelta(days=100)]
    assert remaining(store, "rejected_events") == 1
    assert remaining(store, "calls") == 5  # calls are kept unless a setting says otherwise


async def test_calls_go_only_when_a_setting_says_so(store: Store) -> None:
    event_at(store, NOW - timedelta(days=800), "ancient")
    event_at(store, NOW - timedelta(days=800), "ancient.live", Status.RINGING)
    event_at(store, NOW - timedelta(days=10), "recent")
    assert await Retention(store.db.conn, Keep(calls_days=730)).purge(NOW) >= 1
    calls = {row[0] for row in store.db.execute("SELECT uniqueid FROM calls")}
    assert calls == {"ancient.live", "recent"}


async def test_a_done_older_than_the_worklist_reaches_goes_and_no_list_changes(
    store: Store,
) -> None:
    callbacks = Callbacks(store)
    for number, (missed_days_ago, done_days_ago) in {
        "9876500001": (20, 19),  # both past the reach: the done hides nothing shown
        "9876500002": (10, 9),  # within it: kept, still hiding its call
        "9876500003": (1, 16),  # a miss after an old done: on the list either way
        "9876500004": (14.5, 14.2),  # past the reach, the done within its day's margin
    }.items():
        started = NOW - timedelta(days=missed_days_ago)
        missed = Call(
            host="pbx", uniqueid=f"m.{number}", status=Status.FINISHED, direction="incoming",
            number=number, extension="70", start_time=started, end_time=started,
        )  # fmt: skip
        store.record_event(started, "CallFinish", "{}", missed)
        callbacks.mark_done(number, "sam", NOW - timedelta(days=done_days_ago), None)
    shown = [entry.number_key for entry in callbacks.worklist(NOW - LOOK_BACK)]
    assert await Retention(store.db.conn, Keep(), batch=1).purge(NOW) == 2
    assert [entry.number_key for entry in callbacks.worklist(NOW - LOOK_BACK)] == shown
    assert shown == ["9876500003"]
    left = {row[0] for row in store.db.execute("SELECT number_key FROM callbacks_done")}
    assert left == {"9876500002", "9876500004"}


async def test_nothing_to_purge_in_an_empty_database(store: Store) -> None:
    assert await Retention(store.db.conn, Keep()).purge(NOW) == 0


async def test_the_file_stops_growing_once_the_window_is_full(store: Store, tmp_path: Path) -> None:
    retention = Retention(store.db.conn, Keep(events_days=3, calls_days=3))
    sizes = []
    for day in range(12):
        now = NOW + timedelta(days=day)
        for n in range(1500):
            event_at(store, now + timedelta(seconds=n), f"{day}.{n}")
        await retention.purge(now + timedelta(hours=23))
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sizes.append(os.path.getsize(tmp_path / "kept.db"))
    assert remaining(store, "events") <= 4 * 1500
    assert sizes[-1] <= sizes[5] * 1.1, sizes  # freed pages are used again


def test_the_keeping_times_are_settings() -> None:
    settings = Settings.from_env(
        {"DASHBOARD_KEEP_EVENTS_DAYS": "7", "DASHBOARD_KEEP_CALLS_DAYS": "1095"},
        env_file=Path("/nonexistent/.env"),
    )
    assert settings.keep == Keep(events_days=7, rejected_days=30, audit_days=365, calls_days=1095)
