"""The publisher: what live state showed, handed to the hub (rendered only for viewers)."""

from __future__ import annotations

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
        assert await viewer.next_batch() == ["changes", "removals"]
    assert pushes.rendered == ["1 changes", "1 removals"]
