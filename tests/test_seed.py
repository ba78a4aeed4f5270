"""Seeded history: stored as ingest stores calls, rebuilt alike from the event log, and shaped
like a real office's traffic."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboard.calls import Call, Status
from dashboard.contacts import phone_key
from dashboard.ingest import replay
from dashboard.pbx_config import PBXConfig
from dashboard.recording_links import check_link
from dashboard.seed import DEFAULT_EXTENSIONS, SeedError, cmd_seed, seed
from dashboard.settings import Settings
from dashboard.store import CALL_COLUMNS, Store, call_row
from tests.conftest import Moment, at_edges

KOLKATA = "Asia/Kolkata"
NOW = datetime(2026, 11, 27, 12, 30, tzinfo=UTC)
HOST = "192.168.1.51"


def settings_for(tmp_path: Path, zone: str = KOLKATA) -> Settings:
    return Settings(db_path=str(tmp_path / "seed.db"), synapse_timezone=zone)


def seeded(
    settings: Settings, calls: int = 2000, days: int = 30, now: datetime = NOW, value: int = 7
) -> Store:
    store = Store.open(settings.db_path)
    added = seed(
        store,
        calls,
        days=days,
        tz=settings.timezone,
        host=HOST,
        extensions=DEFAULT_EXTENSIONS,
        now=now,
        seed=value,
    )
    assert added == calls
    return store


@pytest.fixture(scope="module")
def kolkata(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Store, list[Call]]:
    settings = settings_for(tmp_path_factory.mktemp("seed"))
    store = seeded(settings)
    return settings, store, store.all_calls()


def stored_rows(store: Store) -> dict[tuple[str, str], tuple[object, ...]]:
    cursor = store.db.conn.execute(f"SELECT {', '.join(CALL_COLUMNS)} FROM calls")
    host, uniqueid = list(CALL_COLUMNS).index("host"), list(CALL_COLUMNS).index("uniqueid")
    return {(row[host], row[uniqueid]): tuple(row) for row in cursor}


def assert_replay_matches(store: Store, settings: Settings) -> None:
    """The event log alone gives the calls table, down to every stored string."""
    replayed = replay(store, settings)
    assert replayed == {call.key: call for call in store.all_calls()}
    rows = stored_rows(store)
    for key, call in replayed.items():
        assert call.finish_seen_at is not None
        number_key = phone_key(call.number, store.phone_digits)
        assert call_row(call, call.finish_seen_at, number_key) == rows[key]


def test_every_seeded_call_has_its_one_callfinish_event(
    kolkata: tuple[Settings, Store, list[Call]],
) -> None:
    _, store, calls = kolkata
    assert store.count("calls") == store.count("events") == len(calls) == 2000
    per_call = Counter(store.db.execute("SELECT host, uniqueid FROM events").fetchall())
    assert set(per_call.values()) == {1}
    assert set(per_call) == {call.key for call in calls}
    kinds = {row[0] for row in store.db.execute("SELECT DISTINCT event FROM events")}
    assert kinds == {"CallFinish"}
    assert all(call.uniqueid.startswith("seed-") for call in calls)


def test_replay_of_the_event_log_equals_the_calls_table(
    kolkata: tuple[Settings, Store, list[Call]],
) -> None:
    settings, store, _ = kolkata
    assert_replay_matches(store, settings)


def test_replay_holds_across_daylight_saving_changes(tmp_path: Path) -> None:
    # 120 days back from late November cover New York's change back to standard time.
    settings = settings_for(tmp_path, "America/New_York")
    store = seeded(settings, calls=1500, days=120)
    assert_replay_matches(store, settings)
    tz = settings.timezone
    local_hours = Counter(
        call.start_time.astimezone(tz).hour for call in store.all_calls() if call.start_time
    )
    assert local_hours[10] > local_hours[3]


def test_calls_are_finished_complete_and_inside_the_period(
    kolkata: tuple[Settings, Store, list[Call]],
) -> None:
    settings, _, calls = kolkata
    for call in calls:
        assert call.status is Status.FINISHED and call.cdr_seen and call.host == HOST
        assert call.start_time and call.end_time and call.finish_seen_at
        assert NOW - timedelta(days=30) <= call.start_time <= call.end_time < NOW
        assert call.end_time < call.finish_seen_at < NOW
        assert call.duration == (call.end_time - call.start_time).total_seconds()
        assert call.extension in DEFAULT_EXTENSIONS
        assert call.direction in ("incoming", "outgoing")
        if call.disposition == "answered":
            assert call.answer_time and call.start_time <= call.answer_time <= call.end_time
            assert call.billable_seconds == (call.end_time - call.answer_time).total_seconds()
            local = call.start_time.astimezone(settings.timezone)
            assert call.recordlink == (
                f"http://{HOST}/callrecord/{local:%Y/%b/%d%m%Y}/{local:%d%m%Y}{call.uniqueid}.wav"
            )
        else:
            assert call.answer_time is None and call.recordlink is None
            assert call.billable_seconds == 0
            assert call.disposition in ("no_answer", "busy", "failed")


def test_the_traffic_looks_like_an_office(kolkata: tuple[Settings, Store, list[Call]]) -> None:
    settings, _, calls = kolkata
    tz = settings.timezone
    answered = sum(call.answered for call in calls) / len(calls)
    assert 0.6 <= answered <= 0.8
    starts = [call.start_time.astimezone(tz) for call in calls if call.start_time]
    hours = Counter(start.hour for start in starts)
    assert hours[10] > 5 * max(1, hours[3])
    assert hours[11] > hours[20] > hours[3]
    weekdays = Counter(start.weekday() for start in starts)
    assert min(weekdays[day] for day in range(5)) > weekdays[5] > weekdays[6]
    directions = Counter(call.direction for call in calls)
    assert 0.5 < directions["incoming"] / len(calls) < 0.7
    dispositions = Counter(call.disposition for call in calls)
    assert dispositions["no_answer"] > dispositions["busy"] > dispositions["failed"] > 0
    talks = sorted(call.billable_seconds or 0 for call in calls if call.answered)
    assert 40 <= talks[len(talks) // 2] <= 180  # median talk: a minute or two
    assert talks[-1] > 10 * talks[len(talks) // 2]  # with a long tail
    assert len({call.extension for call in calls}) == len(DEFAULT_EXTENSIONS)


def test_numbers_repeat_and_missed_calls_get_called_back(
    kolkata: tuple[Settings, Store, list[Call]],
) -> None:
    _, store, calls = kolkata
    keys = Counter(phone_key(call.number, store.phone_digits) for call in calls)
    assert len(keys) < 0.8 * len(calls)
    assert keys.most_common(1)[0][1] >= 5
    outgoing: dict[tuple[str | None, str | None], list[datetime]] = {}
    for call in calls:
        if call.direction == "outgoing" and call.start_time:
            key = (phone_key(call.number, store.phone_digits), call.extension)
            outgoing.setdefault(key, []).append(call.start_time)
    called_back = [
        call
        for call in calls
        if call.missed
        and any(
            call.start_time and call.start_time < later <= call.start_time + timedelta(days=2)
            for later in outgoing.get(
                (phone_key(call.number, store.phone_digits), call.extension), []
            )
        )
    ]
    assert len(called_back) >= 20
    # Dialled out with a trunk zero or not, a number is one number.
    assert any(call.number and call.number.startswith("0") for call in calls)


def test_events_carry_the_payload_a_pbx_sends(kolkata: tuple[Settings, Store, list[Call]]) -> None:
    settings, store, _ = kolkata
    payload = json.loads(next(iter(store.events())).payload)
    assert payload["event"] == "CallFinish" and payload["asteriskhost"] == HOST
    assert payload["direction"] in ("Incoming", "Outgoing")
    assert len(payload["starttime"]) == len("2015050515:19:21")
    call = store.get_call((HOST, payload["uniqueid"]))
    assert call is not None and call.start_time is not None
    assert (
        call.start_time.astimezone(settings.timezone).strftime("%Y%m%d%H:%M:%S")
        == payload["starttime"]
    )


def test_seeded_recording_links_pass_the_recording_check(
    kolkata: tuple[Settings, Store, list[Call]],
) -> None:
    _, _, calls = kolkata
    links = [call.recordlink for call in calls if call.recordlink]
    assert len(links) > 1000
    for link in links:
        checked = check_link(link, f"http://{HOST}", Settings().recording_path_prefix)
        assert str(checked.url) == link


def test_seeding_twice_adds_calls_without_collisions(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    store = seeded(settings, calls=500)
    first = {call.key for call in store.all_calls()}
    store.close()
    store = seeded(settings, calls=700)  # the same random seed: the same times, new ids
    both = {call.key for call in store.all_calls()}
    assert first < both and len(both) == store.count("calls") == store.count("events") == 1200
    assert_replay_matches(store, settings)


def test_seeding_nothing_adds_nothing_and_bad_arguments_are_refused(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "empty.db"))

    def attempt(calls: int, host: str = HOST, extensions: tuple[str, ...] = ("40",)) -> int:
        return seed(
            store,
            calls,
            days=3 if calls >= 0 else 0,
            tz=ZoneInfo(KOLKATA),
            host=host,
            extensions=extensions,
            now=NOW,
            seed=1,
        )

    assert attempt(0) == 0
    with pytest.raises(SeedError, match="host"):
        attempt(5, host='bad"host')
    with pytest.raises(SeedError, match="extensions"):
        attempt(5, extensions=())
    with pytest.raises(SeedError, match="days"):
        attempt(-1)
    assert store.count("calls") == store.count("events") == 0


def test_the_command_seeds_the_configured_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        db_path=str(tmp_path / "cli.db"),
        synapse_url="http://10.0.0.9",
        synapse_timezone=KOLKATA,
        extensions=("201", "202"),
    )
    assert cmd_seed(argparse.Namespace(calls=300, days=5, seed=3), settings) == 0
    assert "added 300 calls" in capsys.readouterr().out
    store = Store.open(settings.db_path)
    calls = store.all_calls()
    assert len(calls) == 300
    assert {call.host for call in calls} == {"10.0.0.9"}
    assert {call.extension for call in calls} == {"201", "202"}
    assert cmd_seed(argparse.Namespace(calls=-1, days=5), settings) == 2


@at_edges
def test_seeding_at_any_moment_fills_the_days_before_it(tmp_path: Path, moment: Moment) -> None:
    settings = settings_for(tmp_path, moment.zone)
    store = seeded(settings, calls=300, days=3, now=moment.at)
    calls = store.all_calls()
    for call in calls:
        assert call.start_time and call.end_time and call.finish_seen_at
        assert moment.at - timedelta(days=3) <= call.start_time <= call.end_time < moment.at
        assert call.finish_seen_at < moment.at
    days = {call.start_time.astimezone(moment.tz).date() for call in calls if call.start_time}
    assert days <= {moment.today - timedelta(days=n) for n in range(4)}
    assert_replay_matches(store, settings)


def test_with_a_pbx_file_the_calls_seeded_are_its_first_pbxs(tmp_path: Path) -> None:
    first = PBXConfig(
        name="Head", url="http://127.0.0.1:9", host="pbx-a.example", extensions=("70", "71")
    )
    other = PBXConfig(name="Branch", url="http://127.0.0.1:9", host="10.0.0.2", extensions=("46",))
    settings = Settings(
        db_path=str(tmp_path / "cli.db"),
        synapse_url="http://192.168.1.51",
        synapse_timezone=KOLKATA,
        pbx_configs=(first, other),
    )
    assert cmd_seed(argparse.Namespace(calls=50, days=2, seed=1), settings) == 0
    calls = Store.open(settings.db_path).all_calls()
    assert {call.host for call in calls} == {"pbx-a.example"}
    assert {call.extension for call in calls} == {"70", "71"}
