from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboard.calls import Call, Status, apply
from dashboard.scope import Scope
from dashboard.store import Store
from tests.test_calls import CONNECT, FINAL, FINISH, START, T0

KOLKATA = ZoneInfo("Asia/Kolkata")


def memory_store() -> Store:
    return Store(sqlite3.connect(":memory:", isolation_level=None))


def test_a_call_round_trips_whole() -> None:
    store = memory_store()
    event_id = store.record_event(T0, "CallFinish", '{"event":"CallFinish"}', FINAL)
    assert event_id == 1
    assert store.get_call(FINAL.key) == FINAL
    assert store.get_call_by_uniqueid(FINAL.uniqueid) == FINAL
    assert store.get_call(("other", FINAL.uniqueid)) is None


def test_every_event_is_appended_and_the_call_upserted() -> None:
    store = memory_store()
    ringing = apply(None, START)
    store.record_event(START.received_at, "CallStart", "{1}", ringing)
    connected = apply(ringing, CONNECT)
    store.record_event(CONNECT.received_at, "CallConnect", "{2}", connected)
    store.record_event(CONNECT.received_at, "CallConnect", "{2}", connected)
    assert [(e.id, e.event, e.payload, e.received_at) for e in store.events(FINAL.key)] == [
        (1, "CallStart", "{1}", START.received_at),
        (2, "CallConnect", "{2}", CONNECT.received_at),
        (3, "CallConnect", "{2}", CONNECT.received_at),
    ]
    assert store.all_calls() == [connected]
    assert store.live_calls() == [connected]


def test_live_calls_excludes_finished_ones() -> None:
    store = memory_store()
    live = apply(None, replace(START, uniqueid="live"))
    store.record_event(T0, "CallStart", "{}", live)
    store.record_event(T0, "CallFinish", "{}", FINAL)
    assert store.live_calls() == [live]


def test_rejections_are_kept_with_the_raw_request() -> None:
    store = memory_store()
    store.rejected.record(
        T0, "not_json", "no JSON", method="GET", query="data=x", body="", size=6, remote="10.0.0.9"
    )
    assert store.rejected.all() == [
        {
            "id": 1,
            "received_at": "2026-11-27T10:00:00.000000+00:00",
            "reason": "not_json",
            "detail": "no JSON",
            "method": "GET",
            "query": "data=x",
            "body": "",
            "size": 6,
            "remote": "10.0.0.9",
        }
    ]
    assert store.count("events") == 0 and store.count("calls") == 0


def test_a_file_database_is_in_wal_mode_and_survives_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "calls.db")
    store = Store.open(path)
    live = apply(None, START)
    store.record_event(T0, "CallStart", "{}", live)
    store.close()
    reopened = Store.open(path)
    assert reopened.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert reopened.live_calls() == [live]


def test_a_failed_write_leaves_nothing_half_done() -> None:
    store = memory_store()
    broken = replace(FINAL, extra={"not json": object()})
    with pytest.raises(TypeError):
        store.record_event(T0, "CallFinish", "{}", broken)
    assert store.count("events") == 0 and store.count("calls") == 0


def test_day_counters_come_from_the_days_finished_calls() -> None:
    store = memory_store()
    day = T0.astimezone(KOLKATA).date()
    calls: list[Call] = [
        FINAL,
        replace(FINAL, uniqueid="2", billable_seconds=30),
        replace(
            FINAL, uniqueid="3", direction="incoming", disposition="no_answer", billable_seconds=0
        ),
        replace(FINAL, uniqueid="4", start_time=T0 - timedelta(days=1)),
        replace(FINAL, uniqueid="5", status=Status.RINGING, cdr_seen=False),
    ]
    for call in calls:
        store.record_event(T0, "CallFinish", "{}", call)
    counters, by_extension = store.day_counters(day, KOLKATA)
    assert (counters.answered, counters.missed, counters.talk_seconds) == (2, 1, 42)
    assert store.day_counters(day + timedelta(days=1), KOLKATA)[0].answered == 0
    assert {ext: (c.answered, c.missed) for ext, c in by_extension.items()} == {"70": (2, 1)}


def test_times_are_stored_in_utc_whatever_zone_they_came_in() -> None:
    store = memory_store()
    local = replace(FINAL, start_time=datetime(2015, 5, 5, 15, 19, 21, tzinfo=KOLKATA))
    store.record_event(T0, "CallFinish", "{}", local)
    row = store.db.execute("SELECT start_time, started_at FROM calls").fetchone()
    assert row == ("2015-05-05T09:49:21.000000+00:00", "2015-05-05T09:49:21.000000+00:00")
    stored = store.get_call(local.key)
    assert stored is not None and stored.start_time == datetime(2015, 5, 5, 9, 49, 21, tzinfo=UTC)


def test_events_stored_before_a_check_was_made_stricter_replay_as_stored() -> None:
    """The log is the truth: what it holds reads as it did when it was accepted."""
    store = memory_store()
    old = '{"event":"CallFinish","uniqueid":"../calls/T70.1","duration":"999999999"}'
    call = Call(host="pbx.example", uniqueid="../calls/T70.1", status=Status.FINISHED)
    store.record_event(T0, "CallFinish", old, call)
    [stored] = store.events()
    event = stored.parsed(KOLKATA)
    assert (event.key, event.duration, event.received_at) == (
        ("pbx.example", "../calls/T70.1"),
        999999999,
        T0,
    )


def test_an_event_replays_under_the_host_it_was_stored_under() -> None:
    """Its payload may name no host (the PBX that sent it was known by its token), or name
    it in another case: the call it was stored as is the one it replays to."""
    store = memory_store()
    for payload in (
        '{"event":"CallStart","uniqueid":"2.1"}',
        '{"event":"CallStart","uniqueid":"2.2","asteriskhost":"PBX-B"}',
    ):
        uniqueid = json.loads(payload)["uniqueid"]
        store.record_event(T0, "CallStart", payload, Call(host="pbx-b", uniqueid=uniqueid))
    assert [stored.parsed(KOLKATA).key for stored in store.events()] == [
        ("pbx-b", "2.1"),
        ("pbx-b", "2.2"),
    ]


def stored_rows(store: Store) -> list[tuple[object, ...]]:
    return store.db.execute("SELECT * FROM calls ORDER BY host, uniqueid").fetchall()


def test_writing_only_what_an_event_changed_stores_the_same_rows_as_whole_rows() -> None:
    whole, changed_only = memory_store(), memory_store()
    before: Call | None = None
    for event in (START, CONNECT, CONNECT, FINISH, replace(START, received_at=T0)):
        after = apply(before, event)
        kind = event.kind.value
        whole.write_event_rows(whole.event_rows([(event.received_at, kind, "{}", after)]))
        rows = changed_only.event_rows([(event.received_at, kind, "{}", after)], [before])
        changed_only.write_event_rows(rows)
        assert stored_rows(changed_only) == stored_rows(whole)
        before = after
    assert changed_only.get_call(FINAL.key) == before


def test_a_call_changed_since_its_last_event_is_compared_as_it_is_now() -> None:
    store = memory_store()
    ringing = apply(None, START)
    store.write_event_rows(store.event_rows([(START.received_at, "CallStart", "{}", ringing)]))
    store.db.execute("UPDATE calls SET extension = '99'")  # as another process may have
    moved = replace(ringing, extension="99")
    connected = apply(moved, CONNECT)  # back at 70: a column to write, though 70 once before
    store.write_event_rows(
        store.event_rows([(CONNECT.received_at, "CallConnect", "{}", connected)], [moved])
    )
    assert store.all_calls() == [connected]


def test_a_call_said_to_be_stored_but_not_is_stored_whole() -> None:
    store = memory_store()
    ringing = apply(None, START)
    connected = apply(ringing, CONNECT)
    store.write_event_rows(
        store.event_rows([(CONNECT.received_at, "CallConnect", "{}", connected)], [ringing])
    )
    assert store.all_calls() == [connected]


def test_a_call_said_not_to_be_stored_but_stored_since_is_updated() -> None:
    """A new call's row is inserted without a look first; another process may have stored
    the call meanwhile (a CDR sync): its row is then updated, in the same transaction."""
    store = memory_store()
    ringing = apply(None, START)
    store.write_event_rows(store.event_rows([(START.received_at, "CallStart", "{}", ringing)]))
    connected = apply(ringing, CONNECT)
    rows = store.event_rows([(CONNECT.received_at, "CallConnect", "{}", connected)], [None])
    store.write_event_rows(rows)
    assert store.all_calls() == [connected]
    assert store.count("events") == 2


def test_a_new_call_is_stored_whole_with_its_empty_columns_null() -> None:
    whole, inserted = memory_store(), memory_store()
    ringing = apply(None, START)
    whole.write_event_rows(whole.event_rows([(START.received_at, "CallStart", "{}", ringing)]))
    inserted.write_event_rows(
        inserted.event_rows([(START.received_at, "CallStart", "{}", ringing)], [None])
    )
    assert stored_rows(inserted) == stored_rows(whole)
    assert None in stored_rows(inserted)[0]


def calls_of_extensions() -> list[Call]:
    """Finished and live calls of some extensions (and of none), ending at different times;
    the longest call of 41 started first and ended last."""
    calls = []
    for n, (extension, minutes, length, finished) in enumerate(
        [
            ("41", 0, 500, True),
            ("41", 10, 20, True),
            ("41", 30, 0, False),
            ("40", 5, 30, True),
            ("7001", 1, 10, True),
            (None, 50, 10, True),
            ("42", 60, 0, False),
        ]
    ):
        start = T0 + timedelta(minutes=minutes)
        calls.append(
            replace(
                FINAL,
                uniqueid=f"e.{n}",
                extension=extension,
                start_time=start,
                end_time=start + timedelta(minutes=length) if finished else None,
                status=Status.FINISHED if finished else Status.CONNECTED,
            )
        )
    return calls


def test_last_call_ends_are_each_extensions_latest_finished_end() -> None:
    store = memory_store()
    store.record_events([(T0, "CallFinish", "{}", call) for call in calls_of_extensions()])
    assert store.last_call_ends() == {
        "40": T0 + timedelta(minutes=35),
        "41": T0 + timedelta(minutes=500),
        "7001": T0 + timedelta(minutes=11),
    }


def test_known_extensions_are_every_extension_with_a_call() -> None:
    store = memory_store()
    store.record_events([(T0, "CallFinish", "{}", call) for call in calls_of_extensions()])
    assert store.known_extensions() == ["40", "41", "42", "7001"]


def plan_of(store: Store, sql: str) -> str:
    return "; ".join(row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + sql))


def test_start_up_reads_last_ends_by_seeks_not_a_scan_of_every_call() -> None:
    store = memory_store()
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    store.last_call_ends()
    store.known_extensions()
    store.db.conn.set_trace_callback(None)
    plans = [plan_of(store, sql) for sql in seen if " FROM calls" in sql]
    assert len(plans) == 2
    assert ["SCAN calls" in plan for plan in plans] == [False, False], plans
    assert "idx_calls_finished_ends" in plans[0]


@pytest.mark.parametrize(
    "scope", [None, Scope("70"), Scope("70", frozenset({"10.0.0.1"}))], ids=str
)
def test_a_pop_ups_history_seeks_the_numbers_calls_alone(scope: Scope | None) -> None:
    """However many calls the agent's extension had, the pop-up reads those of the number."""
    store = memory_store()
    call = apply(None, START)
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    store.number_history("9876543210", call, scope)
    store.db.conn.set_trace_callback(None)
    plans = [plan_of(store, sql) for sql in seen if " FROM calls" in sql]
    assert [plan.split(" (")[0] for plan in plans] == [
        "SEARCH calls USING "
        + ("COVERING " if scope is None else "")
        + "INDEX idx_calls_number_key_started_at"
    ]


def test_what_older_versions_stored_and_no_api_could_answer_with_is_read_as_harmless() -> None:
    store = memory_store()
    call = apply(None, START)
    store.record_event(T0, "CallStart", "{}", call)
    stored = '{"big": Infinity, "n": [NaN, "\\udc80ok"], "\\ud800": "\\ud83d\\ude00"}'
    store.db.execute("UPDATE calls SET extra = ?", [stored])
    read = store.get_call(call.key)
    assert read is not None
    assert read.extra == {"big": None, "n": [None, "\ufffdok"], "\ufffd": "\U0001f600"}
    assert json.dumps(read.extra, allow_nan=False, ensure_ascii=False).encode()
