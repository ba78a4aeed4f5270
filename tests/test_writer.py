"""GroupCommit: which items share a commit, and how long one waits for company."""

from __future__ import annotations

import asyncio

import pytest

from dashboard.writer import MAX_WAITS, GroupCommit


class Recorder:
    """A commit that stores nothing: it notes each batch and answers each item doubled."""

    def __init__(self, failing: set[int] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.failing = failing or set()

    def __call__(self, items: list[int], retry: bool) -> list[int]:
        if self.failing & set(items):
            raise ValueError(f"cannot store {sorted(self.failing & set(items))}")
        self.batches.append(list(items))
        return [item * 2 for item in items]


async def turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_items_of_one_turn_share_a_commit() -> None:
    recorder = Recorder()
    writer = GroupCommit(recorder)
    futures = [writer.submit(n) for n in range(5)]
    assert await asyncio.gather(*futures) == [0, 2, 4, 6, 8]
    assert recorder.batches == [[0, 1, 2, 3, 4]]


async def test_a_lone_item_is_committed_at_the_next_turn() -> None:
    recorder = Recorder()
    writer = GroupCommit(recorder)
    future = writer.submit(7)
    await turns(2)  # the commit's turn, then the one that sees the future settled
    assert future.done() and future.result() == 14
    assert recorder.batches == [[7]]


async def test_a_commit_waits_while_items_keep_arriving() -> None:
    recorder = Recorder()
    writer = GroupCommit(recorder)
    loop = asyncio.get_running_loop()
    futures = [writer.submit(0), writer.submit(1)]  # more than when it was scheduled: it waits
    loop.call_soon(lambda: futures.append(writer.submit(2)))  # read in that turn: waits again
    await turns(2)
    assert recorder.batches == []
    await turns(2)  # none came in the last turn: stored
    assert recorder.batches == [[0, 1, 2]]
    assert [future.result() for future in futures] == [0, 2, 4]


async def test_a_commit_waits_a_bounded_number_of_turns_however_many_arrive() -> None:
    recorder = Recorder()
    writer = GroupCommit(recorder)
    loop = asyncio.get_running_loop()
    futures = [writer.submit(0), writer.submit(1)]
    turn = 0

    def another() -> None:  # one more every turn, for ever
        nonlocal turn
        turn += 1
        futures.append(writer.submit(turn + 1))
        if not futures[0].done():
            loop.call_soon(another)

    loop.call_soon(another)
    await asyncio.wait_for(futures[0], timeout=5)
    assert turn <= MAX_WAITS + 2
    assert recorder.batches[0] == list(range(len(recorder.batches[0])))
    assert len(recorder.batches[0]) <= MAX_WAITS + 2


async def test_a_failed_batch_is_retried_item_by_item() -> None:
    recorder = Recorder(failing={2})
    writer = GroupCommit(recorder)
    futures = [writer.submit(n) for n in range(4)]
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert results[:2] == [0, 2] and results[3] == 6
    assert isinstance(results[2], ValueError)
    assert recorder.batches == [[0], [1], [3]]


@pytest.fixture(autouse=True)
def _quiet_writer_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("CRITICAL", logger="dashboard.writer")
