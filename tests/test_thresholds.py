from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.calls import apply
from dashboard.settings import Settings, SettingsError
from dashboard.thresholds import ALERT, OK, WARN, Thresholds
from tests.test_calls import CONNECT, FINISH, START, T0

LIMITS = Thresholds.from_settings(
    Settings(
        ring_warn_seconds=15,
        ring_alert_seconds=30,
        talk_warn_minutes=10,
        talk_alert_minutes=20,
        ringing_warn=3,
        ringing_alert=6,
    )
)


@pytest.mark.parametrize(
    ("seconds", "level"), [(0, OK), (14.9, OK), (15, WARN), (29, WARN), (30, ALERT), (600, ALERT)]
)
def test_a_ringing_call_crosses_its_thresholds_in_time(seconds: float, level: str) -> None:
    ringing = apply(None, START)
    assert LIMITS.call_level(ringing, T0 + timedelta(seconds=seconds)) == level


def test_a_call_in_progress_counts_from_its_answer() -> None:
    talking = apply(apply(None, START), CONNECT)
    answered = CONNECT.received_at
    assert LIMITS.call_level(talking, answered + timedelta(minutes=9)) == OK
    assert LIMITS.call_level(talking, answered + timedelta(minutes=10)) == WARN
    assert LIMITS.call_level(talking, answered + timedelta(minutes=20)) == ALERT
    finished = apply(talking, FINISH)
    assert LIMITS.call_level(finished, answered + timedelta(hours=5)) == OK
    assert LIMITS.limits(talking) == (600, 1200) and LIMITS.limits(finished) is None


def test_too_many_calls_ringing_at_once() -> None:
    assert [LIMITS.ringing_level(n) for n in (0, 2, 3, 5, 6, 9)] == [
        OK,
        OK,
        WARN,
        WARN,
        ALERT,
        ALERT,
    ]


def test_thresholds_must_rise() -> None:
    with pytest.raises(SettingsError, match="ring thresholds"):
        Settings(ring_warn_seconds=30, ring_alert_seconds=15)
    with pytest.raises(SettingsError, match="ringing thresholds"):
        Settings(ringing_warn=0)
