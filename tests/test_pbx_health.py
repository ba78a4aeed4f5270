"""Each PBX's health, from its events, probes and commands: what the banner and /api/pbxs say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.pbx_health import HealthBoard, Problem

T0 = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)


def board() -> HealthBoard:
    return HealthBoard([("head-office", "192.168.1.51"), ("branch", "10.2.0.5")])


def test_a_pbx_nobody_heard_from_yet() -> None:
    assert board().as_json(T0)[1] == {
        "name": "branch",
        "host": "10.2.0.5",
        "last_event_at": None,
        "events_last_hour": 0,
        "api_ok": None,
        "api_checked_at": None,
        "api_down_since": None,
        "round_trip_ms": None,
        "commands_accepted": 0,
        "commands_failed": 0,
        "last_error": None,
        "last_error_at": None,
        "unheard_calls": 0,
        "silent_since": None,
        "clock_skew_seconds": None,
    }


def test_events_probes_and_commands_are_counted() -> None:
    health = board()
    for minutes in (0, 20, 50, 70):  # across midnight and the year's end
        at = T0 + timedelta(minutes=minutes)
        health.note_event("branch", at, at + timedelta(seconds=3 if minutes else 30))
    now = T0 + timedelta(minutes=80)
    health.note_probe("branch", now, 42.5)
    health.note_command("branch", now)
    health.note_command("branch", now, "The PBX refused: no such channel")
    got = health.as_json(now)[1]
    assert {key: got[key] for key in got if key not in ("name", "host")} == {
        "last_event_at": "2027-01-01T00:40:00+00:00",
        "events_last_hour": 3,  # the one at 23:30 is over an hour ago
        "api_ok": True,
        "api_checked_at": "2027-01-01T00:50:00+00:00",
        "api_down_since": None,
        "round_trip_ms": 42.5,
        "commands_accepted": 1,
        "commands_failed": 1,
        "last_error": "The PBX refused: no such channel",
        "last_error_at": "2027-01-01T00:50:00+00:00",
        "unheard_calls": 0,
        "silent_since": None,
        "clock_skew_seconds": 3.0,  # the median: one odd event does not move it
    }
    assert health.as_json(now)[0]["events_last_hour"] == 0


def test_an_api_that_stops_answering_is_a_problem_until_it_answers() -> None:
    health = board()
    assert health.note_probe("head-office", T0, 12.0) is True  # first news
    assert health.note_probe("head-office", T0 + timedelta(minutes=1), None, "timed out")
    assert not health.note_probe("head-office", T0 + timedelta(minutes=2), None, "timed out")
    assert health.problems() == [
        Problem("head-office", T0 + timedelta(minutes=1), "is not answering")
    ]
    assert health.note_probe("head-office", T0 + timedelta(minutes=3), 15.0) is True
    assert health.problems() == []


def test_a_pbx_whose_cdr_has_calls_we_never_heard_of_is_silent() -> None:
    health = board()
    health.note_event("branch", T0, None)
    assert health.note_unheard("branch", T0 + timedelta(minutes=5), 3) is True
    assert health.note_unheard("branch", T0 + timedelta(minutes=6), 4) is False
    assert health.problems() == [Problem("branch", T0, "has stopped sending call events")]
    health.note_event("branch", T0 + timedelta(minutes=7), None)  # it speaks again
    assert health.problems() == []
    assert health.note_unheard("branch", T0 + timedelta(minutes=8), 0) is False


def test_a_storm_of_events_is_counted_in_a_counter_per_minute_not_a_time_per_event() -> None:
    health = board()
    for n in range(6000):  # 100 a second for a minute, then one more a minute later
        health.note_event("branch", T0 + timedelta(milliseconds=10 * n), None)
    health.note_event("branch", T0 + timedelta(minutes=1, seconds=30), None)
    kept = health.by_name["branch"].recent_minutes
    assert [count for _, count in kept] == [6000, 1]
    assert health.as_json(T0 + timedelta(minutes=60))[1]["events_last_hour"] == 6001
    assert health.as_json(T0 + timedelta(minutes=61))[1]["events_last_hour"] == 1


def test_a_pbx_heard_for_hours_and_never_looked_at_keeps_only_the_last_hours_minutes() -> None:
    health = board()
    for minute in range(180):
        health.note_event("branch", T0 + timedelta(minutes=minute, seconds=1), None)
    kept = health.by_name["branch"].recent_minutes
    assert [start for start, _ in kept] == [T0 + timedelta(minutes=m) for m in range(120, 180)]
