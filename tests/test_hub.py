from __future__ import annotations

import asyncio
import time

import pytest
from websockets.frames import Frame, Opcode

from dashboard.coalesce import coalesce
from dashboard.hub import Hub, text_frame


async def test_every_subscriber_gets_every_message_in_order() -> None:
    hub = Hub(queue_size=10)
    with hub.subscribe() as first, hub.subscribe() as second:
        for n in range(5):
            assert hub.publish(f"m{n}") == 2
        for subscriber in (first, second):
            assert await subscriber.next_batch() == ["m0", "m1", "m2", "m3", "m4"]
            assert not subscriber.ready.is_set()
    assert hub.subscribers == set()


async def test_a_stalled_viewer_is_evicted_and_the_others_still_get_everything() -> None:
    hub = Hub(queue_size=3)
    received: list[str] = []
    with hub.subscribe() as stalled, hub.subscribe() as reader:

        async def read() -> None:
            while len(received) < 10:
                received.extend(await reader.next_batch())

        reading = asyncio.create_task(read())
        for n in range(10):
            hub.publish(f"m{n}")
            await asyncio.sleep(0)  # let the reader run, as the event loop would between events
        await asyncio.wait_for(reading, 1)
        assert received == [f"m{n}" for n in range(10)]
        assert stalled.evicted.is_set() and stalled.close_code == 1013
        assert not reader.evicted.is_set()
        assert hub.subscribers == {reader}
        assert hub.stats() == {"viewers": 1, "evictions": 1}


async def test_a_message_is_rendered_once_per_audience_not_per_viewer() -> None:
    hub = Hub(queue_size=10)
    renders: list[str] = []

    def render(audience: str) -> str | None:
        renders.append(audience)
        return None if audience == "agent-71" else f"for {audience}"

    with hub.subscribe("all") as a, hub.subscribe("all") as b, hub.subscribe("agent-71") as c:
        assert hub.publish(render) == 2
        assert sorted(renders) == ["agent-71", "all"]
        assert await a.next_batch() == await b.next_batch() == ["for all"]
        assert not c.backlog and not c.ready.is_set()


async def test_shutting_down_tells_every_viewer_to_reconnect() -> None:
    hub = Hub(queue_size=10)
    with hub.subscribe() as viewer:
        hub.close_all()
        assert viewer.evicted.is_set() and viewer.close_code == 1012
        assert hub.subscribers == set()


class FakeSink:
    """A connection's transport as the hub sees it: frames written, bytes not yet sent."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.stuck = False  # a viewer that stopped reading: nothing written ever leaves
        self.closing = False
        self.aborted = False

    def write_frame(self, frame: bytes) -> bool:
        if self.closing:
            return False
        self.frames.append(frame)
        return True

    def unsent_bytes(self) -> int:
        return sum(map(len, self.frames)) if self.stuck else 0

    def abort(self) -> None:
        self.aborted = True

    def texts(self) -> list[str]:
        return [frame[2:].decode() for frame in self.frames]  # short frames: 2-byte header

    def payloads(self) -> list[str]:
        """The text of each frame, however long."""
        return [frame[{126: 4, 127: 10}.get(frame[1], 2) :].decode() for frame in self.frames]


async def next_turn() -> None:
    """Let the event loop run what was scheduled with call_soon (the hub's flush)."""
    await asyncio.sleep(0)


async def test_sinks_get_one_frame_per_turn_encoded_once_for_the_audience() -> None:
    hub = Hub(queue_size=10, frame_interval=0)
    renders: list[str] = []

    def render(audience: str) -> str:
        renders.append(audience)
        return f"<{audience}>"

    one, two, agent = FakeSink(), FakeSink(), FakeSink()
    with (
        hub.subscribe("all", sink=one, first="snap"),
        hub.subscribe("all", sink=two, first="snap"),
        hub.subscribe("ext:71", sink=agent, first="mine"),
        hub.subscribe("all") as queued,
    ):
        assert hub.publish(render) == 4
        assert hub.publish("m2") == 4
        assert sorted(renders) == ["all", "ext:71"]
        await next_turn()
        assert one.texts() == two.texts() == ["snap", "<all>m2"]
        assert one.frames[1] is two.frames[1]  # the very same bytes
        assert agent.texts() == ["mine", "<ext:71>m2"]
        assert await queued.next_batch() == ["<all>", "m2"]


async def test_a_sink_that_joins_mid_turn_gets_only_what_its_snapshot_lacks() -> None:
    hub = Hub(queue_size=10, frame_interval=0)
    early = FakeSink()
    with hub.subscribe(sink=early, first="s1"):
        hub.publish("a")  # before the newcomer's snapshot: already in it
        late = FakeSink()
        with hub.subscribe(sink=late, first="s2 (has a)"):
            hub.publish("b")
            await next_turn()
            assert early.texts() == ["s1", "ab"]
            assert late.texts() == ["s2 (has a)", "b"]
            hub.publish("c")
            await next_turn()
            assert early.texts()[-1] == late.texts()[-1] == "c"


async def test_a_stalled_sink_is_evicted_after_queue_size_unsent_messages() -> None:
    hub = Hub(queue_size=3, frame_interval=0)
    stalled, reader = FakeSink(), FakeSink()
    stalled.stuck = True
    with hub.subscribe(sink=stalled) as gone, hub.subscribe(sink=reader) as kept:
        for n in range(10):
            hub.publish(f"m{n}")
            await next_turn()
        assert reader.texts() == [f"m{n}" for n in range(10)]
        assert stalled.texts() == ["m0", "m1", "m2"]
        assert gone.evicted.is_set() and gone.close_code == 1013
        assert stalled.aborted and not reader.aborted  # it would not read a close frame
        assert not kept.evicted.is_set()
        assert hub.subscribers == {kept}
        assert hub.stats() == {"viewers": 1, "evictions": 1}


async def test_a_closing_sink_is_left_to_its_handler() -> None:
    hub = Hub(queue_size=3, frame_interval=0)
    closing = FakeSink()
    closing.closing = True
    with hub.subscribe(sink=closing, first="snap") as viewer:
        hub.publish("m")
        await next_turn()
        assert closing.frames == [] and not viewer.evicted.is_set()
    assert hub.subscribers == set()


async def test_the_fanout_time_of_each_flush_is_observed() -> None:
    seconds: list[float] = []
    hub = Hub(queue_size=3, observe_fanout=seconds.append, frame_interval=0)
    with hub.subscribe(sink=FakeSink()):
        hub.publish("a")
        hub.publish("b")
        await next_turn()
    assert len(seconds) == 1 and 0 <= seconds[0] < 1


async def test_a_burst_is_held_to_one_frame_per_interval() -> None:
    hub = Hub(queue_size=10, frame_interval=0.05, frame_burst=1)
    sink = FakeSink()
    with hub.subscribe(sink=sink):
        hub.publish("a")  # after a quiet spell: at once
        await next_turn()
        assert sink.texts() == ["a"]
        first = time.perf_counter()
        hub.publish("b")
        hub.flush_if_due()  # not due yet: it waits for the interval
        hub.publish("c")
        await next_turn()
        assert sink.texts() == ["a"]
        deadline = first + 5
        while len(sink.frames) < 2 and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        assert sink.texts() == ["a", "bc"]
        assert time.perf_counter() - first >= 0.04


class MovingClock:
    """The hub's clock for pacing, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


WALL_SECONDS = 3600.0  # the hub's own timer never fires in a test: it calls flush_paced


def paced_hub(queue_size: int, clock: MovingClock) -> Hub:
    return Hub(
        queue_size=queue_size,
        frame_interval=0,
        paced=lambda audience: WALL_SECONDS if audience == "wall" else 0.0,
        coalesce=coalesce,
        clock=clock,
    )


def tile(state: str) -> str:
    return f'<article id="ext-41" class="tile is-{state}" hx-swap-oob="true">{state}</article>'


def row(state: str) -> str:
    return f'<article id="call-1" class="call is-{state}" hx-swap-oob="true">{state}</article>'


REMOVED = '<div id="call-1" hx-swap-oob="delete"></div>'


async def test_a_wall_gets_one_frame_per_its_interval_each_elements_latest_removals_kept() -> None:
    clock = MovingClock()
    hub = paced_hub(10, clock)
    wall, desk = FakeSink(), FakeSink()
    with hub.subscribe("wall", sink=wall, first="snap"), hub.subscribe("desk", sink=desk):
        hub.publish(tile("ringing"))  # after a quiet spell: at once
        await next_turn()
        assert wall.payloads() == ["snap", tile("ringing")]
        hub.publish(row("connected") + tile("talking"))
        hub.publish(row("finished") + tile("idle"))
        await next_turn()
        hub.publish(REMOVED)
        await next_turn()
        clock.now += WALL_SECONDS - 1
        hub.flush_paced()  # not due yet
        assert wall.payloads() == ["snap", tile("ringing")]
        assert desk.payloads() == [
            tile("ringing"),
            row("connected") + tile("talking") + row("finished") + tile("idle"),
            REMOVED,
        ]
        clock.now += 1
        hub.flush_paced()
        assert wall.payloads() == ["snap", tile("ringing"), tile("idle") + REMOVED]
        hub.flush_paced()  # nothing new: no frame
        assert len(wall.frames) == 3


async def test_a_wall_that_joins_between_frames_gets_only_what_its_snapshot_lacks() -> None:
    clock = MovingClock()
    hub = paced_hub(10, clock)
    early, late = FakeSink(), FakeSink()
    with hub.subscribe("wall", sink=early, first="s1"):
        hub.publish(tile("ringing"))
        await next_turn()
        hub.publish(row("connected"))  # held for the next frame, and in the newcomer's snapshot
        with hub.subscribe("wall", sink=late, first="s2"):
            hub.publish(tile("talking"))
            clock.now += WALL_SECONDS
            hub.flush_paced()
            assert early.payloads() == ["s1", tile("ringing"), row("connected") + tile("talking")]
            assert late.payloads() == ["s2", tile("talking")]


async def test_a_stalled_wall_is_evicted_after_queue_size_messages_in_its_frames() -> None:
    clock = MovingClock()
    hub = paced_hub(3, clock)
    stalled = FakeSink()
    stalled.stuck = True
    with hub.subscribe("wall", sink=stalled) as gone:
        hub.publish(tile("ringing"))
        await next_turn()
        hub.publish(tile("talking"))
        hub.publish(tile("idle"))
        clock.now += WALL_SECONDS
        hub.flush_paced()  # one frame of two messages: three unsent
        assert stalled.payloads() == [tile("ringing"), tile("idle")]
        assert not gone.evicted.is_set()
        hub.publish(tile("ringing"))
        clock.now += WALL_SECONDS
        hub.flush_paced()
        assert gone.evicted.is_set() and stalled.aborted
        assert hub.stats() == {"viewers": 0, "evictions": 1}


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_a_text_frame_is_what_websockets_would_send(size: int) -> None:
    text = ("é" * size)[: size // 2] + "x" * (size - size // 2)  # some multi-byte characters
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
    assert text_frame(text) == expected


def test_without_an_event_loop_publishing_writes_at_once_and_evicts_safely() -> None:
    hub = Hub(queue_size=1, frame_interval=0)
    stalled = [FakeSink(), FakeSink()]
    for sink in stalled:
        sink.stuck = True
    with (
        hub.subscribe("all", sink=stalled[0]),
        hub.subscribe("view", sink=stalled[1]),
        hub.subscribe("all") as queued,
    ):
        hub.publish("m1")
        assert queued.backlog.popleft() == "m1"
        hub.publish("m2")  # both sinks evicted mid-publish: their audiences vanish
        assert [sink.aborted for sink in stalled] == [True, True]
        assert hub.subscribers == {queued} and list(queued.backlog) == ["m2"]


async def test_after_a_quiet_spell_a_few_frames_may_go_back_to_back() -> None:
    hub = Hub(queue_size=10, frame_interval=3600, frame_burst=3)
    sink = FakeSink()
    with hub.subscribe(sink=sink):
        for message in ("a", "b", "c", "d"):
            hub.publish(message)
            hub.flush_if_due()
        assert sink.texts() == ["a", "b", "c"]  # the fourth waits for its interval
        assert 3599 < hub.flush_wait() <= 3600
