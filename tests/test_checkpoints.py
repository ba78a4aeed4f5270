from __future__ import annotations

import os
import time
from pathlib import Path

from dashboard.checkpoints import Checkpointer
from dashboard.store import WAL_SIZE_LIMIT, Store


def test_the_writer_never_checkpoints_and_the_checkpointer_does(tmp_path: Path) -> None:
    path = str(tmp_path / "dashboard.db")
    store = Store.open(path)
    store.db.execute("PRAGMA wal_autocheckpoint = 0")
    size_before = os.path.getsize(path)
    with store.db.atomic():
        for n in range(3000):  # well over the 1,000 pages of an automatic checkpoint
            store.db.conn.execute(
                "INSERT INTO rejected_events (received_at, reason, detail, method, query,"
                " body, size, remote) VALUES ('t', 'r', 'd', 'GET', ?, '', 0, 'x')",
                [f"{n}" * 2000],
            )
    assert os.path.getsize(path) == size_before  # all of it still in the -wal file only
    checkpointer = Checkpointer(path, interval=0.01)
    checkpointer.start()
    try:
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert os.path.getsize(path) > size_before + 3000 * 2000
    finally:
        checkpointer.stop()
        store.close()


def test_the_store_caps_the_wal_file_it_leaves_after_a_burst(tmp_path: Path) -> None:
    path = str(tmp_path / "dashboard.db")
    store = Store.open(path)
    try:
        limit = store.db.execute("PRAGMA journal_size_limit").fetchone()[0]
        assert limit == WAL_SIZE_LIMIT
    finally:
        store.close()


def test_the_wal_starts_over_though_commits_never_pause(tmp_path: Path) -> None:
    # A PASSIVE checkpoint copies what was committed when it began; the next commit starts
    # the WAL from the beginning only if nothing was committed meanwhile. Under a steady
    # stream of commits that never happens, and the WAL (and its index, mapped into the
    # server's memory) would grow for as long as the stream lasts.
    path = str(tmp_path / "dashboard.db")
    store = Store.open(path)
    store.db.execute("PRAGMA wal_autocheckpoint = 0")
    checkpointer = Checkpointer(path, interval=0.01, wal_limit=64 * 4096)
    checkpointer.start()
    commits = 0
    try:
        while commits < 5000:  # a commit every few tenths of a millisecond
            with store.db.atomic():
                store.db.conn.execute(
                    "INSERT INTO rejected_events (received_at, reason, detail, method, query,"
                    " body, size, remote) VALUES ('t', 'r', 'd', 'GET', 'q', '', 0, 'x')"
                )
            commits += 1
            time.sleep(0.0002)  # the server's work between two commits: the lock is free
        checkpointer.stop()
        _, frames, _ = store.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        checkpointer.stop()
        store.close()
    assert checkpointer.restarts > 0
    # Every commit adds a frame at least: in use now, what came since it last started over.
    assert frames < commits / 4
