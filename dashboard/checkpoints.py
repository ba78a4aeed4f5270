"""WAL checkpoints in a thread of their own, so that no write waits for one.

In WAL mode every commit appends to the `-wal` file, and a checkpoint copies those pages
back into the database file (and, with synchronous=NORMAL, syncs it to disk). SQLite
normally runs one inside whichever commit crosses 1,000 pages: a commit on the event loop,
which stalls every event and every wallboard for as long as the copy and the sync take.
The server turns that off and runs a PASSIVE checkpoint here every second instead: it
never blocks the writer or a reader, and copies what no reader still needs.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 1.0


class Checkpointer:
    def __init__(self, path: str, interval: float = INTERVAL_SECONDS) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)
        self._conn: sqlite3.Connection | None = None

    def start(self) -> None:
        # Opened here, so that a database it cannot open fails the start-up, loudly.
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
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
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.checkpoints += 1
            except Exception as error:  # the thread must outlive any one failure: next round
                log.warning("WAL checkpoint failed: %s", error)
