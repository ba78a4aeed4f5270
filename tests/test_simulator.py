from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from dashboard.calls import Call, Status, apply
from dashboard.events import EventKind, extract_json, parse_event
from dashboard.simulator.traffic import Traffic, event_url

KOLKATA = ZoneInfo("Asia/Kolkata")
START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def play(traffic: Traffic) -> tuple[list[str], Call]:
    """One simulated call, sent through the URL the simulator builds and read back."""
    planned = traffic.plan_call(START)
    kinds: list[str] = []
    call: Call | None = None
    for offset, event in traffic.call_events(planned, START, KOLKATA):
        url = urlsplit(event_url("http://dash/synapse/events/t0ken", event))
        assert url.path == "/synapse/events/t0ken"
        parsed = parse_event(
            extract_json(url.query, b"", 65536)[1], tz=KOLKATA, default_host="", received_at=START
        )
        assert parsed.uniqueid == planned.uniqueid and offset >= 0
        kinds.append(parsed.kind.value)
        call = apply(call, parsed)
    assert call is not None
    return kinds, call


def test_simulated_calls_read_back_as_whole_calls() -> None:
    traffic = Traffic(seed=1)
    outcomes = set()
    for _ in range(200):
        kinds, call = play(traffic)
        outcomes.add(call.disposition)
        assert call.status is Status.FINISHED and call.cdr_seen
        assert call.direction in ("incoming", "outgoing")
        assert call.hangupchannel and call.redirectchannel and call.host == "192.168.1.51"
        if call.disposition == "answered":
            assert kinds == [EventKind.START, EventKind.CONNECT, EventKind.FINISH]
            assert call.recordlink and call.recordlink.endswith(".wav")
            assert call.answer_time is not None and call.billable_seconds is not None
        else:
            assert kinds == [EventKind.START, EventKind.FINISH]
            assert call.answer_time is None and call.recordlink is None
        assert call.start_time == START
        assert call.duration is not None and call.end_time is not None
    assert outcomes == {"answered", "no_answer", "busy", "failed"}


def test_the_same_seed_gives_the_same_traffic() -> None:
    first, second = Traffic(seed=5), Traffic(seed=5)
    assert [first.plan_call(START) for _ in range(20)] == [
        second.plan_call(START) for _ in range(20)
    ]
