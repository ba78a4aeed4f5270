from __future__ import annotations

import itertools
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dashboard.calls import Board, Call, DayCounters, Status, apply
from dashboard.events import CallEvent, EventKind

KOLKATA = ZoneInfo("Asia/Kolkata")
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
COMMON = dict(
    host="192.168.1.51",
    uniqueid="1430819361.25418",
    direction="outgoing",
    number="9876543210",
    extension="70",
)
START = CallEvent(
    kind=EventKind.START,
    received_at=T0,
    hangupchannel="SIP/70-0001",
    redirectchannel="DAHDI/21",
    **COMMON,
)  # type: ignore[arg-type]
CONNECT = CallEvent(
    kind=EventKind.CONNECT,
    received_at=T0 + timedelta(seconds=8),
    hangupchannel="SIP/70-0001",
    **COMMON,
)  # type: ignore[arg-type]
FINISH = CallEvent(
    kind=EventKind.FINISH,
    received_at=T0 + timedelta(seconds=20),
    start_time=T0 - timedelta(seconds=1),
    answer_time=T0 + timedelta(seconds=7),
    end_time=T0 + timedelta(seconds=19),
    duration=20,
    billable_seconds=12,
    disposition="answered",
    disposition_raw="ANSWERED",
    recordlink="http://192.168.1.51/r.wav",
    extra={"queue": "sales"},
    **COMMON,  # type: ignore[arg-type]
)
FINAL = Call(
    status=Status.FINISHED,
    hangupchannel="SIP/70-0001",
    redirectchannel="DAHDI/21",
    start_time=FINISH.start_time,
    answer_time=FINISH.answer_time,
    end_time=FINISH.end_time,
    first_seen_at=T0,
    connect_seen_at=CONNECT.received_at,
    finish_seen_at=FINISH.received_at,
    last_seen_at=FINISH.received_at,
    duration=20,
    billable_seconds=12,
    disposition="answered",
    disposition_raw="ANSWERED",
    recordlink="http://192.168.1.51/r.wav",
    cdr_seen=True,
    extra={"queue": "sales"},
    **COMMON,  # type: ignore[arg-type]
)


def fold(events: list[CallEvent]) -> Call | None:
    call = None
    for event in events:
        call = apply(call, event)
    return call


def test_a_call_moves_ringing_connected_finished() -> None:
    ringing = apply(None, START)
    assert (ringing.status, ringing.started_at, ringing.state_since) == (Status.RINGING, T0, T0)
    connected = apply(ringing, CONNECT)
    assert (connected.status, connected.answered_at) == (Status.CONNECTED, CONNECT.received_at)
    assert connected.state_since == CONNECT.received_at
    assert apply(connected, FINISH) == FINAL


def test_every_order_and_repetition_of_a_calls_events_converges() -> None:
    events = [START, CONNECT, FINISH]
    for length in range(3, 6):
        for sequence in itertools.product(events, repeat=length):
            if FINISH in sequence and START in sequence and CONNECT in sequence:
                assert fold(list(sequence)) == FINAL, sequence


def test_without_connect_or_start_the_cdr_still_gives_the_final_call() -> None:
    assert fold([START, FINISH]) == replace(FINAL, connect_seen_at=None)
    only_cdr = fold([FINISH])
    assert only_cdr == replace(
        FINAL,
        first_seen_at=FINISH.received_at,
        connect_seen_at=None,
        redirectchannel=None,
        hangupchannel=None,
    )


def test_events_after_the_cdr_only_fill_gaps() -> None:
    late_start = replace(START, number="0000", received_at=T0 + timedelta(minutes=5))
    call = fold([FINISH, late_start])
    assert call is not None
    assert (call.status, call.number, call.redirectchannel) == (
        Status.FINISHED,
        "9876543210",
        "DAHDI/21",
    )


def test_a_transfer_restart_moves_the_call_to_the_new_extension() -> None:
    moved = replace(START, extension="46", received_at=T0 + timedelta(seconds=30))
    call = fold([START, CONNECT, moved])
    assert call is not None
    assert (call.status, call.extension) == (Status.CONNECTED, "46")


def test_missed_and_answered() -> None:
    missed = replace(
        FINISH, direction="incoming", disposition="no_answer", answer_time=None, billable_seconds=0
    )
    call = fold([replace(START, direction="incoming"), missed])
    assert call is not None
    assert (call.answered, call.missed, call.answered_at) == (False, True, None)
    assert FINAL.answered and not FINAL.missed


def test_the_board_keeps_live_calls_and_lingers_finished_ones() -> None:
    board = Board(linger_seconds=5)
    first = board.update(None, ringing := apply(None, START), T0)
    assert first is not None and (first.added, first.finished_now) == (True, False)
    assert board.counts() == {"live": 1, "ringing": 1, "talking": 0}
    assert board.longest_ringing() == ringing
    connected = apply(ringing, CONNECT)
    change = board.update(ringing, connected, T0)
    assert change is not None and (change.added, change.finished_now) == (False, False)
    assert board.counts() == {"live": 1, "ringing": 0, "talking": 1}
    finished = apply(connected, FINISH)
    change = board.update(connected, finished, T0 + timedelta(seconds=20))
    assert change is not None and (change.added, change.finished_now) == (False, True)
    assert board.counts() == {"live": 0, "ringing": 0, "talking": 0}
    assert board.snapshot() == [finished]
    assert board.expire(T0 + timedelta(seconds=24)) == []
    assert board.expire(T0 + timedelta(seconds=25)) == [finished]
    assert board.snapshot() == []
    # A repeated CDR after the call has left the board puts nothing back on it.
    assert board.update(finished, apply(finished, FINISH), T0 + timedelta(seconds=60)) is None
    assert board.snapshot() == []


def test_a_cdr_for_a_call_never_seen_shows_briefly() -> None:
    board = Board(linger_seconds=5)
    change = board.update(None, call := apply(None, FINISH), T0)
    assert change is not None and (change.added, change.finished_now) == (True, False)
    assert board.snapshot() == [call] and board.live == {}


def test_the_snapshot_is_newest_first() -> None:
    board = Board(linger_seconds=5)
    older = apply(None, replace(START, uniqueid="1"))
    newer = apply(None, replace(START, uniqueid="2", received_at=T0 + timedelta(seconds=3)))
    board.load([older, newer, apply(None, replace(FINISH, uniqueid="3"))])
    assert board.snapshot() == [newer, older]


def test_day_counters_count_calls_started_that_day_in_the_pbx_zone() -> None:
    day = DayCounters(T0.astimezone(KOLKATA).date())
    day.count(FINAL, KOLKATA)
    missed = replace(FINAL, direction="incoming", disposition="busy", billable_seconds=0)
    day.count(missed, KOLKATA)
    day.count(replace(FINAL, start_time=T0 - timedelta(days=1)), KOLKATA)
    assert (day.answered, day.missed, day.talk_seconds, day.average_talk) == (1, 1, 12, 12)


def test_a_calls_dict_holds_exactly_its_fields_as_apply_assumes() -> None:
    call = apply(None, CallEvent(EventKind.START, "pbx", "1.1", datetime(2026, 1, 1, tzinfo=UTC)))
    assert all(field.init for field in fields(Call)) and not hasattr(Call, "__post_init__")
    assert list(call.__dict__) == [field.name for field in fields(Call)]
    assert apply(call, CONNECT) == replace(apply(call, CONNECT))  # a whole, equal Call
