"""Noticing what other processes commit: a `dashboard cdr sync` run from a shell while the
dashboard serves writes calls through its own connection, and the board must show them.

SQLite's `PRAGMA data_version` changes when another connection has committed; only then are
the events appended since the last look read, and each call they touched is compared with
what live state knows. The call as live state knew it is the board's, or else the replay of
its events up to the last look (the invariant the store keeps: a call is the fold of its
events), so counters take back exactly what the call counted for before.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import datetime

from dashboard import calls
from dashboard.calls import Call
from dashboard.live import CallChange
from dashboard.settings import Settings
from dashboard.store import Store, StoredEvent


class Watcher:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.caught_up()

    def caught_up(self) -> None:
        """Live state reflects everything stored now (start-up, a reload)."""
        self._version = self.store.data_version()
        self._seen = self.store.last_event_id()
        self._own: set[int] = set()  # events this process stored past `_seen`

    def note_own(self, ids: list[int]) -> None:
        """Events this process just stored (and already showed)."""
        if not ids:
            return
        if self.store.data_version() == self._version:  # no one else wrote meanwhile
            self._seen = max(self._seen, *ids)
        else:
            self._own.update(ids)

    def foreign_changes(
        self, known: Callable[[tuple[str, str]], Call | None], now: datetime
    ) -> list[CallChange] | None:
        """The calls other processes changed since the last look, as changes to live state
        (`known`: a call as live state knows it, if it is on the board); None when no other
        process has committed since."""
        version = self.store.data_version()
        if version == self._version:
            return None
        self._version = version
        seen, own = self._seen, self._own
        touched: dict[tuple[str, str], None] = {}
        for event_id, key in self.store.event_keys_after(seen):
            self._seen = max(self._seen, event_id)
            if event_id not in own:
                touched[key] = None
        self._own = set()
        changes = []
        for key in touched:
            after = self.store.get_call(key)
            before = known(key) or self._replayed(key, up_to=seen)
            if after is not None and after != before:
                changes.append(CallChange(before, after, now))
        return changes

    def _replayed(self, key: tuple[str, str], up_to: int) -> Call | None:
        events = itertools.takewhile(lambda stored: stored.id <= up_to, self.store.events(key))
        return fold(events, self.settings).get(key)


def fold(events: Iterable[StoredEvent], settings: Settings) -> dict[tuple[str, str], Call]:
    """Calls recomputed from stored events alone, applied in the order they were stored."""
    result: dict[tuple[str, str], Call] = {}
    for stored in events:
        event = stored.parsed(settings.zone_of(stored.host))
        result[event.key] = calls.apply(result.get(event.key), event)
    return result
