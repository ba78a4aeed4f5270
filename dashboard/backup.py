"""Backups: a consistent copy of the database while the dashboard serves, and putting one
back while it does not.

`VACUUM INTO` reads one snapshot of the database (in WAL mode a reader never blocks the
writer, so events keep being stored meanwhile) into a new, compact file. A serving dashboard
holds a shared lock on `<database>.serving`; `restore` takes it exclusively, so it refuses
while any dashboard serves that database.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path


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


def backup(db_path: str, target: Path) -> int:
    """Copy the database to `target` (which must not exist), consistently; its size."""
    if target.exists():
        raise BackupError(f"{target} exists: give a new file name")
    if not Path(db_path).exists():
        raise BackupError(f"there is no database at {db_path}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        conn.execute("VACUUM INTO ?", [str(partial)])
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"could not copy {db_path}: {error}") from error
    finally:
        conn.close()
    _check(partial)
    os.replace(partial, target)  # whole or not at all
    return target.stat().st_size


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
