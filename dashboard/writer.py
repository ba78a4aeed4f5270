"""Group commit: items submitted in the same turn of the event loop are stored together,
and while more keep arriving turn after turn, a commit waits a few turns for them.

One commit for many events is what lets ingest keep up with a busy PBX. Each submitter gets
a future that resolves once its item is stored (or fails with why not). When a batch fails,
its items are retried one at a time, so one bad item does not spoil the others. The writer
knows nothing of what the items are, of rendering or of viewers: `commit(items, retry)`
stores a list of them and returns one result per item.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")
# While events keep arriving, a commit waits up to this many more turns of the event loop
# for them: under a flood the batches grow (a commit's cost is mostly per commit, not per
# event), and a lone event is committed at the next turn as before.
MAX_WAITS = 4
# Stores the items in one transaction, one result per item; `retry` is True when they are
# being retried one at a time after their batch failed.
Commit = Callable[[list[Item], bool], list[Result]]


class GroupCommit(Generic[Item, Result]):
    def __init__(self, commit: Commit[Item, Result]) -> None:
        self._commit = commit
        self._queued: list[tuple[Item, asyncio.Future[Result]]] = []
        self._seen = 0  # how many were queued when the commit last looked
        self._waits = 0

    def submit(self, item: Item) -> asyncio.Future[Result]:
        """Queue an item for the next group commit; the future resolves once it is stored."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._queued.append((item, future))
        if len(self._queued) == 1:
            self._seen, self._waits = 1, 0
            loop.call_soon(self._commit_queued)
        return future

    def _commit_queued(self) -> None:
        if len(self._queued) > self._seen and self._waits < MAX_WAITS:
            self._seen, self._waits = len(self._queued), self._waits + 1
            asyncio.get_running_loop().call_soon(self._commit_queued)
            return
        batch, self._queued = self._queued, []
        try:
            results = self._commit([item for item, _ in batch], False)
        except Exception as error:  # nothing of the batch was stored: none is acknowledged
            if len(batch) > 1:
                for item, future in batch:
                    self._commit_one(item, future)
                return
            _settle(batch[0][1], error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)

    def _commit_one(self, item: Item, future: asyncio.Future[Result]) -> None:
        try:
            [result] = self._commit([item], True)
        except Exception as error:
            _settle(future, error)
            return
        _settle(future, result)


def _settle(future: asyncio.Future[Result], outcome: Result | Exception) -> None:
    """Answer a queued item (unless its submitter has gone): stored, or why not."""
    if isinstance(outcome, Exception):
        log.error("could not store an event: %s", outcome)
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
