from __future__ import annotations

import asyncio

from dashboard.hub import Hub


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
