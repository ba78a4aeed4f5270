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

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            while not self._stop.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.checkpoints += 1
                except sqlite3.Error as error:  # the next round tries again
                    log.warning("WAL checkpoint failed: %s", error)
        finally:
            conn.close()
