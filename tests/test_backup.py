"""Backups taken while a real dashboard stores an event storm, and restores refused while
one serves the database."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dashboard.backup import BackupError, backup, restore
from tests.conftest import CALL_START
from tests.servers import DashboardProcess
from tests.waiting import wait_until


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DashboardProcess]:
    process = DashboardProcess(tmp_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


class Storm:
    """Events sent one after another until stopped; the uniqueids the dashboard acknowledged."""

    def __init__(self, server: DashboardProcess) -> None:
        self.server = server
        self.acknowledged: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            n = 0
            while not self.stopping.is_set():
                n += 1
                uniqueid = f"storm.{n}"
                event = json.loads(CALL_START) | {"uniqueid": uniqueid}
                try:
                    answer = http.get(self.server.events_url, params={"data": json.dumps(event)})
                except httpx.TransportError:
                    return  # the server is gone (a crash test kills it mid-storm)
                if answer.status_code == 200:
                    self.acknowledged.append(uniqueid)

    def __enter__(self) -> Storm:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(30)


def stored_uniqueids(path: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT uniqueid FROM events")}
    finally:
        conn.close()


def dashboard(server: DashboardProcess, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dashboard.cli", *args]
    return subprocess.run(
        command, cwd=server.workdir, env=server.env, capture_output=True, text=True, timeout=120
    )


def test_a_backup_taken_in_an_event_storm_is_whole_and_holds_every_event_acknowledged(
    server: DashboardProcess, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.db"
    with Storm(server) as storm:
        wait_until(lambda: len(storm.acknowledged) >= 200, 30, "the storm to be under way")
        before = list(storm.acknowledged)
        done = dashboard(server, "backup", str(copy))
        during = len(storm.acknowledged) - len(before)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"backed up {server.db_path} to {copy} (")
    assert during > 0  # events went on being stored while the copy was taken
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    assert set(before) <= stored_uniqueids(copy)
    again = dashboard(server, "backup", str(copy))
    assert (again.returncode, again.stderr) == (
        1,
        f"dashboard: {copy} exists: give a new file name\n",
    )


def test_a_restore_waits_for_the_dashboard_to_stop_then_puts_the_backup_back(
    server: DashboardProcess, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.db"
    with Storm(server) as storm:
        wait_until(lambda: len(storm.acknowledged) >= 20, 30, "some events")
        assert dashboard(server, "backup", str(copy)).returncode == 0
    in_the_copy = stored_uniqueids(copy)
    refused = dashboard(server, "restore", str(copy))
    assert (refused.returncode, refused.stderr) == (
        1,
        f"dashboard: a dashboard is serving {server.db_path}: stop it first"
        " (systemctl stop, or Ctrl-C)\n",
    )
    assert stored_uniqueids(server.db_path) >= in_the_copy  # nothing was touched
    server.stop()
    restored = dashboard(server, "restore", str(copy))
    assert restored.returncode == 0, restored.stderr
    assert stored_uniqueids(server.db_path) == in_the_copy
    server.start()  # and it serves from the restored database
    assert httpx.get(server.base_url + "/healthz").status_code == 200


def test_a_file_that_is_not_a_backup_is_not_restored(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError) as refused:
        restore(garbage, str(tmp_path / "dashboard.db"))
    assert str(refused.value).startswith(f"{garbage} is not a dashboard database: ")
    with pytest.raises(BackupError) as missing:
        backup(str(tmp_path / "none.db"), tmp_path / "copy.db")
    assert str(missing.value) == f"there is no database at {tmp_path / 'none.db'}"


def test_a_backup_in_many_steps_copies_the_one_snapshot_it_started_from(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    setup = sqlite3.connect(db)
    setup.execute("PRAGMA journal_mode = WAL")
    setup.execute("CREATE TABLE events (uniqueid TEXT)")
    setup.executemany(
        "INSERT INTO events VALUES (?)", [(f"old.{n:05}" + "x" * 400,) for n in range(3000)]
    )
    setup.commit()
    setup.close()
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        writer = sqlite3.connect(db)
        while not stop.is_set():
            writer.execute("INSERT INTO events VALUES ('new')")
            writer.commit()
            written.append(1)
        writer.close()

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        wait_until(lambda: len(written) >= 10, 10, "the writer to be under way")
        backup(str(db), tmp_path / "copy.db", step_pages=1, pause_seconds=0.0005)
        after = len(written)
    finally:
        stop.set()
        thread.join(10)
    copied = sqlite3.connect(tmp_path / "copy.db")
    old, new = copied.execute(
        "SELECT sum(uniqueid != 'new'), sum(uniqueid = 'new') FROM events"
    ).fetchone()
    copied.close()
    assert old == 3000
    assert 10 <= new < after  # the writer went on while the copy was taken, unseen by it
