from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from dashboard.calls import Call, Status, apply
from dashboard.events import EventKind, extract_json, parse_event
from dashboard.simulator.pbx import SimulatedPBX
from dashboard.simulator.state import SimulatorState
from dashboard.simulator.traffic import REGULAR_CALLERS, PlannedCall, Traffic, event_url

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


def live_pbx(
    traffic: Traffic, state: SimulatorState | None = None
) -> tuple[SimulatedPBX, list[dict[str, str]]]:
    sent: list[dict[str, str]] = []

    async def record(event: dict[str, str]) -> None:
        sent.append(event)

    pbx = SimulatedPBX(record, tz=KOLKATA, traffic=traffic, state=state)
    return pbx, sent


def test_regular_callers_call_again_and_again_and_everyone_else_once() -> None:
    traffic = Traffic(seed=5)
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    numbers = [traffic.plan_call(now).number for _ in range(400)]
    regular = [number for number in numbers if number in REGULAR_CALLERS]
    others = [number for number in numbers if number not in REGULAR_CALLERS]
    assert 100 < len(regular) < 180  # about 35 % of the calls
    assert len(set(regular)) > len(REGULAR_CALLERS) * 3 // 4
    assert len(set(others)) == len(others)


def test_live_calls_never_share_a_channel_so_a_transfer_moves_one_call() -> None:
    async def scenario() -> None:
        pbx, _ = live_pbx(Traffic(seed=2))
        for _ in range(45):  # more calls than the trunk has channels
            pbx.ring("70", "9876543210", ring_seconds=60, talk_seconds=60)
        live = [call.plan for call in pbx.calls.values()]
        assert len({p.redirectchannel for p in live}) == len(live) == 45
        assert len({p.hangupchannel for p in live}) == 45
        first = live[0]
        pbx.transfer(first.redirectchannel, "41", "DLPN_all")
        assert [c.plan.extension for c in pbx.calls.values()] == ["41"] + ["70"] * 44
        await pbx.close()

    asyncio.run(scenario())


def test_a_restarted_simulator_goes_on_with_its_live_calls(tmp_path: Path) -> None:
    """Its live calls kept on disk: the next one ends them when they end, on their channels,
    and answers cdr.php with the records of the calls the first one finished."""

    async def first_run() -> list[PlannedCall]:
        pbx, sent = live_pbx(Traffic(seed=4), SimulatorState(tmp_path))
        short = pbx.ring("41", "9876543210", ring_seconds=0, talk_seconds=0.01)
        pbx.ring("42", "9876543211", ring_seconds=0, talk_seconds=60)
        pbx.ring("43", "9876543212", ring_seconds=60, talk_seconds=60)
        while not any(e["uniqueid"] == short.plan.uniqueid for e in sent if "disposition" in e):
            await asyncio.sleep(0.01)
        live = [call.plan for call in pbx.calls.values()]
        await pbx.close()
        return live

    async def second_run(kept: list[PlannedCall]) -> None:
        pbx, sent = live_pbx(Traffic(seed=4), SimulatorState(tmp_path))
        assert pbx.restore() == 2
        assert [call.plan for call in pbx.calls.values()] == kept
        assert [r["extension"] for r in pbx.records("41", date(2000, 1, 1), date(2100, 1, 1))] == [
            "41"
        ]
        for plan in kept:
            pbx.hangup(plan.hangupchannel)
        while len(sent) < 2:
            await asyncio.sleep(0.01)
        finished = {e["uniqueid"]: e["disposition"] for e in sent if e["event"] == "CallFinish"}
        assert finished == {kept[0].uniqueid: "Answered", kept[1].uniqueid: "No Answer"}
        await pbx.close()

    kept = asyncio.run(first_run())
    assert [plan.extension for plan in kept] == ["42", "43"]
    asyncio.run(second_run(kept))
