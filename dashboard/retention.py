"""How long things are kept: raw events, refused events, the audit log (and calls, only when
a setting says so), purged in small batches that never hold the write lock long. A missed
caller's "done" goes once it is older than the worklist reaches back: it can no longer hide
any call the worklist shows.

Each of those tables grows in time order with its rowid, so the first row to keep is found
by a binary search over rowids (a few point reads, no scan), and the rows before it are
deleted a batch at a time. SQLite reuses the pages they free, so once the window is full
the file stops growing. The events of a call still live are kept whatever their age.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio

from dashboard.callbacks import LOOK_BACK

BATCH = 500
# Kept past the worklist's reach by a margin: another process's clock may be a little behind.
DONE_MARGIN = timedelta(days=1)
Yield = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Keep:
    """Days each is kept; 0: for ever."""

    events_days: float = 90
    rejected_days: float = 30
    audit_days: float = 365
    calls_days: float = 0


# Table, its time column, and what else must hold for a row to go.
TIMED = {
    "events": ("received_at", "events_days"),
    "rejected_events": ("received_at", "rejected_days"),
    "audit": ("at", "audit_days"),
}
LIVE_CALL = "(host, uniqueid) IN (SELECT host, uniqueid FROM calls WHERE status != 'finished')"


class Retention:
    def __init__(self, conn: sqlite3.Connection, keep: Keep, batch: int = BATCH) -> None:
        self.conn = conn
        self.keep = keep
        self.batch = batch

    async def purge(self, now: datetime, pause: Yield = anyio.lowlevel.checkpoint) -> int:
        """Everything past its time, a batch at a time, letting others write in between."""
        purged = 0
        while True:
            done = self.purge_batch(now)
            purged += done
            if not done:
                return purged
            await pause()

    def purge_batch(self, now: datetime) -> int:
        """At most one batch of each table; how many rows went."""
        deleted = 0
        present = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master")}
        for table, (column, setting) in TIMED.items():
            days = float(getattr(self.keep, setting))
            if days > 0 and table in present:
                deleted += self._older(table, column, now - timedelta(days=days))
        if self.keep.calls_days > 0:
            deleted += self._calls(now - timedelta(days=self.keep.calls_days))
        if "callbacks_done" in present:
            deleted += self._stale_done(now - LOOK_BACK - DONE_MARGIN)
        return deleted

    def _stale_done(self, cutoff: datetime) -> int:
        """A "done" hides a missed call that started before it; the worklist shows only calls
        since LOOK_BACK ago, so one older than that hides nothing (the table is small: one
        row a number marked, and scope)."""
        cursor = self.conn.execute(
            "DELETE FROM callbacks_done WHERE rowid IN (SELECT rowid FROM callbacks_done"
            " WHERE done_at < ? LIMIT ?)",
            [_iso(cutoff), self.batch],
        )
        return cursor.rowcount

    def _older(self, table: str, column: str, cutoff: datetime) -> int:
        first_kept = self._first_id_at_or_after(table, column, _iso(cutoff))
        if first_kept is None:
            return 0
        keep_live = f" AND NOT {LIVE_CALL}" if table == "events" else ""
        cursor = self.conn.execute(
            f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table}"
            f" WHERE rowid < ?{keep_live} ORDER BY rowid LIMIT ?)",
            [first_kept, self.batch],
        )
        return cursor.rowcount

    def _calls(self, cutoff: datetime) -> int:
        cursor = self.conn.execute(
            "DELETE FROM calls WHERE rowid IN (SELECT rowid FROM calls"
            " WHERE started_at < ? AND status = 'finished' LIMIT ?)",
            [_iso(cutoff), self.batch],
        )
        return cursor.rowcount

    def _first_id_at_or_after(self, table: str, column: str, cutoff: str) -> int | None:
        """The smallest rowid whose time is at or after `cutoff` (rows are in time order);
        None if the table is empty, past its end if every row is older."""
        bounds = self.conn.execute(f"SELECT min(rowid), max(rowid) FROM {table}").fetchone()
        if bounds[0] is None:
            return None
        low, high = int(bounds[0]), int(bounds[1])
        high += 1
        while low < high:
            middle = (low + high) // 2
            row = self.conn.execute(
                f"SELECT rowid, {column} FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1",
                [middle],
            ).fetchone()
            if row is None or row[1] >= cutoff:
                high = middle
            else:
                low = int(row[0]) + 1
        return low


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
