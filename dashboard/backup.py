"""Backups: a consistent copy of the database while the dashboard serves, and putting one
back while it does not.

A backup holds one read transaction on the database for the whole copy, so it copies one
snapshot (in WAL mode a reader never blocks the writer: events keep being stored meanwhile),
and copies it with SQLite's backup API a few megabytes at a time, each step flushed to disk
and followed by a pause. A copy in one go (`VACUUM INTO`) leaves hundreds of megabytes of
dirty pages for the kernel to write back at once, and the dashboard's own writes then queue
behind them; in small paced steps they do not.

A serving dashboard holds a shared lock on `<database>.serving`; `restore` takes it
exclusively, so it refuses while any dashboard serves that database.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

STEP_PAGES = 1024  # 4 MB of 4 KB pages per step
STEP_PAUSE_SECONDS = 0.005


class BackupError(Exception):
    """A backup or a restore that cannot be done, and why."""


def serving_lock_path(db_path: str) -> Path:
    return Path(db_path + ".serving")


@contextlib.contextmanager
def serving(db_path: str) -> Iterator[None]:
    """Held while a dashboard serves the database (several may: the lock is shared)."""
    with serving_lock_path(db_path).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def backup(
    db_path: str,
    target: Path,
    *,
    step_pages: int = STEP_PAGES,
    pause_seconds: float = STEP_PAUSE_SECONDS,
) -> int:
    """Copy the database to `target` (which must not exist), consistently; its size."""
    if target.exists():
        raise BackupError(f"{target} exists: give a new file name")
    if not Path(db_path).exists():
        raise BackupError(f"there is no database at {db_path}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        _copy_snapshot(db_path, partial, step_pages, pause_seconds)
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"could not copy {db_path}: {error}") from error
    _check(partial)
    os.replace(partial, target)  # whole or not at all
    _sync_directory(target.parent)
    return target.stat().st_size


def _copy_snapshot(db_path: str, partial: Path, step_pages: int, pause_seconds: float) -> None:
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, isolation_level=None)
    copy = sqlite3.connect(partial, isolation_level=None)
    try:
        # The copy is checked whole before it is kept, so it needs no journal of its own.
        copy.execute("PRAGMA journal_mode = OFF")
        copy.execute("PRAGMA synchronous = OFF")
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master")  # the snapshot, held to the end
        with partial.open("rb") as written:

            def paced(_status: int, _remaining: int, _total: int) -> None:
                os.fdatasync(written.fileno())
                time.sleep(pause_seconds)

            source.backup(copy, pages=step_pages, progress=paced)
            os.fsync(written.fileno())
        source.execute("COMMIT")
    finally:
        copy.close()
        source.close()


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restore(source: Path, db_path: str) -> None:
    """Put a backup back in place of the database; refused while a dashboard serves it."""
    if not source.is_file():
        raise BackupError(f"there is no backup at {source}")
    _check(source)
    with serving_lock_path(db_path).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"a dashboard is serving {db_path}: stop it first (systemctl stop, or Ctrl-C)"
            ) from None
        try:
            _copy(source, db_path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _copy(source: Path, db_path: str) -> None:
    """SQLite's own backup, page by page, into the database (its WAL included)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(db_path)
    try:
        src.backup(dst)
        dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        dst.close()
        src.close()


def _check(path: Path) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        conn.execute("SELECT count(*) FROM events").fetchone()
    except sqlite3.Error as error:
        raise BackupError(f"{path} is not a dashboard database: {error}") from error
    finally:
        conn.close()
    if verdict != "ok":
        raise BackupError(f"{path} is damaged: {verdict}")
