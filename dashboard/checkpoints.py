"""WAL checkpoints in a thread of their own, so that no write waits for one.

In WAL mode every commit appends to the `-wal` file, and a checkpoint copies those pages
back into the database file (and, with synchronous=NORMAL, syncs it to disk). SQLite
normally runs one inside whichever commit crosses 1,000 pages: a commit on the event loop,
which stalls every event and every wallboard for as long as the copy and the sync take.
The server turns that off and runs a PASSIVE checkpoint here every second instead: it
never blocks the writer or a reader, and copies what no reader still needs.

A PASSIVE checkpoint copies what was committed when it began, and the WAL starts over
from its beginning only at a commit that finds all of it copied: under a steady stream of
commits (a flood of events, a bulk import) that never happens, and the WAL would grow for
as long as the stream lasts, gigabytes, its index mapped into the server's memory growing
with it. So once the WAL is past WAL_SIZE_LIMIT, a round ends with a RESTART checkpoint: it
holds the next commit back while it copies the little the PASSIVE one left (waiting at
most RESTART_WAIT_MS for a commit or a read under way, or it tries again next round), and
the commit after it starts the WAL over. At a call centre's rate the WAL starts over by
itself between events and this never runs.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from dashboard.store import WAL_SIZE_LIMIT

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 1.0
RESTART_WAIT_MS = 100
CATCH_UP_PASSES = 2


class Checkpointer:
    def __init__(
        self, path: str, interval: float = INTERVAL_SECONDS, wal_limit: int = WAL_SIZE_LIMIT
    ) -> None:
        self.path = path
        self.interval = interval
        self.wal_limit = wal_limit  # bytes of WAL past which a round makes it start over
        self.checkpoints = 0
        self.restarts = 0
        self._page_size = 4096  # the database's, once opened
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)
        self._conn: sqlite3.Connection | None = None

    def start(self) -> None:
        # Opened here, so that a database it cannot open fails the start-up, loudly.
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute(f"PRAGMA busy_timeout = {RESTART_WAIT_MS}")
        self._page_size = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._conn is not None:
            self._conn.close()

    def _run(self) -> None:
        assert self._conn is not None
        while not self._stop.wait(self.interval):
            try:
                self._checkpoint(self._conn)
            except Exception as error:  # the thread must outlive any one failure: next round
                log.warning("WAL checkpoint failed: %s", error)

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        if frames * self._page_size <= self.wal_limit:
            return
        # Each pass copies what was committed during the one before, less and less: what
        # is left for the RESTART, and the time it holds the next commit back, is small.
        for _ in range(CATCH_UP_PASSES):
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        if not busy:
            self.restarts += 1
