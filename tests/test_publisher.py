"""The publisher: what live state showed, handed to the hub (rendered only for viewers)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from dashboard.audience import EVERY_CALL
from dashboard.calls import Call, Change, apply
from dashboard.hub import Hub
from dashboard.publisher import Publisher
from dashboard.pushes import Pushes
from tests.test_calls import START


class CountingPushes:
    """Renders a word for each batch of changes or removals, and counts them."""

    def __init__(self) -> None:
        self.rendered: list[str] = []

    def changes(self, changes: list[tuple[Call | None, Change]]) -> Any:
        self.rendered.append(f"{len(changes)} changes")
        return lambda audience: "changes"

    def removals(self, gone: list[Call]) -> Any:
        self.rendered.append(f"{len(gone)} removals")
        return lambda audience: "removals"


async def test_nothing_is_rendered_while_nobody_watches() -> None:
    hub = Hub(10, frame_interval=0)
    pushes = CountingPushes()
    publisher = Publisher(hub, cast(Pushes, pushes))
    call = apply(None, START)
    publisher.publish([(None, Change(call, added=True, finished_now=False))])
    publisher.removals([call])
    assert pushes.rendered == []
    with hub.subscribe(EVERY_CALL) as viewer:
        publisher.publish([(None, Change(call, added=True, finished_now=False))])
        publisher.removals([call])
        assert await viewer.next_batch() == ["changes"]
        # No change came for the removals to go with: they go on their own, a moment later.
        assert await asyncio.wait_for(viewer.next_batch(), 5) == ["removals"]
    assert pushes.rendered == ["1 changes", "1 removals"]


class NamedPushes:
    """Pushes as the publisher uses them, each rendered as the names of what it holds (here
    a call is its name, a change the name of its call)."""

    def removals(self, gone: list[str]) -> str:
        return "gone " + " ".join(gone) + ";"

    def changes(self, changes: list[tuple[None, str]]) -> str:
        return "changed " + " ".join(change for _, change in changes) + ";"


class Sink:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def write_frame(self, frame: bytes) -> bool:
        self.frames.append(frame)
        return True

    def unsent_bytes(self) -> int:
        return 0

    def abort(self) -> None:
        pass

    def texts(self) -> list[str]:
        return [frame[2:].decode() for frame in self.frames]  # short frames: 2-byte header


def publisher_of(hub: Hub) -> Publisher:
    return Publisher(hub, cast(Any, NamedPushes()))


async def test_calls_leaving_the_board_go_with_the_next_change_in_one_frame() -> None:
    hub = Hub(queue_size=10, frame_interval=0)
    publisher, sink = publisher_of(hub), Sink()
    with hub.subscribe(sink=sink):
        publisher.removals(cast(Any, ["A", "B"]))
        await asyncio.sleep(0)
        assert sink.texts() == []  # not news: they wait for the next change
        publisher.publish(cast(Any, [(None, "C")]))
        await asyncio.sleep(0)
        assert sink.texts() == ["gone A B;changed C;"]
    publisher.close()


async def test_calls_leaving_a_quiet_board_go_on_their_own_soon_after() -> None:
    hub = Hub(queue_size=10, frame_interval=0)
    publisher = publisher_of(hub)
    with hub.subscribe() as viewer:
        publisher.removals(cast(Any, ["A"]))
        assert await asyncio.wait_for(viewer.next_batch(), 5) == ["gone A;"]
    publisher.close()


async def test_a_viewer_arriving_after_a_call_left_is_not_sent_its_removal_late() -> None:
    hub = Hub(queue_size=10, frame_interval=0)
    publisher = publisher_of(hub)
    with hub.subscribe() as there:
        publisher.removals(cast(Any, ["A"]))
        publisher.push_now()  # as a snapshot does, before it is rendered
        with hub.subscribe() as newcomer:
            assert await there.next_batch() == ["gone A;"]
            await asyncio.sleep(0)
            assert not newcomer.ready.is_set()
    publisher.close()
