"""Thresholds and groups as admins set them: stored, read back, and the configured ones
whenever nothing (or nothing readable) is stored."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
import sqlite_utils

from dashboard.board_settings import TABLE, BoardSettings, groups_text, parse_groups
from dashboard.extension_ranges import format_ranges, parse_ranges
from dashboard.settings import Settings
from dashboard.thresholds import ThresholdError, Thresholds

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
CONFIGURED = Settings(extension_groups=(("Sales", ("40", "41")),))


def stored() -> BoardSettings:
    db = sqlite_utils.Database(sqlite3.connect(":memory:", isolation_level=None))
    return BoardSettings(db, CONFIGURED)


def test_the_configured_ones_until_an_admin_changes_them() -> None:
    board = stored()
    assert (board.thresholds(), board.groups()) == (
        Thresholds.from_settings(CONFIGURED),
        (("Sales", ("40", "41")),),
    )
    changed = board.thresholds().with_seconds(5, 10, 60, 120)
    board.save_thresholds(changed, NOW, "root")
    board.save_groups((("Support", ("50",)),), NOW, "root")
    assert (board.thresholds(), board.groups()) == (changed, (("Support", ("50",)),))
    assert board.changed("groups") == (NOW, "root")
    assert board.forget("groups") and not board.forget("groups")
    assert board.groups() == (("Sales", ("40", "41")),)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("thresholds", '{"ring_warn": 30, "ring_alert": 10, "talk_warn": 1, "talk_alert": 2}'),
        ("thresholds", '["not", "an", "object"]'),
        ("thresholds", '{"ring_warn": 5}'),
        ("groups", '{"not": "a list"}'),
        ("groups", '[["Sales", ["4x"]]]'),
    ],
)
def test_an_unreadable_stored_value_leaves_the_configured_one(key: str, value: str) -> None:
    board = stored()
    board.db.execute(
        f"INSERT INTO {TABLE} (key, value, changed_at, changed_by) VALUES (?, ?, ?, ?)",
        [key, value, NOW.isoformat(), "someone"],
    )
    assert (board.thresholds(), board.groups()) == (
        Thresholds.from_settings(CONFIGURED),
        (("Sales", ("40", "41")),),
    )


def test_thresholds_must_rise_within_a_day() -> None:
    limits = Thresholds.from_settings(CONFIGURED)
    assert limits.with_seconds(1, 86400, 1, 2).seconds() == {
        "ring_warn": 1,
        "ring_alert": 86400,
        "talk_warn": 1,
        "talk_alert": 2,
    }
    for bad in [(10, 10, 1, 2), (0, 10, 1, 2), (1, 86401, 1, 2), (1, 2, 3, 2)]:
        with pytest.raises(ThresholdError, match="amber must come before red"):
            limits.with_seconds(*bad)


def test_groups_read_as_written_and_written_as_ranges() -> None:
    groups = parse_groups("  Sales : 40-43, 45\n\n Floor 2: 7, 8, 10 \n", 6)
    assert groups == (("Sales", ("40", "41", "42", "43", "45")), ("Floor 2", ("7", "8", "10")))
    assert groups_text(groups) == "Sales: 40-43, 45\nFloor 2: 7-8, 10"
    assert parse_groups(groups_text(groups), 6) == groups


@pytest.mark.parametrize("spec", ["40-49, 52", "7, 9, 11-12", "99-101, 5", "1"])
def test_ranges_are_written_back_as_read(spec: str) -> None:
    assert format_ranges(parse_ranges(spec)) == spec
