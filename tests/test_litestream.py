"""Disaster recovery with the real Litestream: the database replicated to a directory during
an event storm, the dashboard killed, the database deleted, restored from the replica, and
served again."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import DashboardProcess
from tests.test_backup import Storm, stored_uniqueids
from tests.waiting import wait_until

LITESTREAM = Path(sys.executable).parent / "litestream"


class Replicating:
    def __init__(self, workdir: Path, db: Path) -> None:
        self.config = workdir / "litestream.yml"
        self.config.write_text(
            f"dbs:\n  - path: {db}\n    replicas:\n      - type: file\n"
            f"        path: {workdir / 'replica'}\n        sync-interval: 1s\n"
        )
        self.replica = workdir / "replica"
        self.log = (workdir / "litestream.log").open("wb")
        self.process = subprocess.Popen(
            [str(LITESTREAM), "replicate", "-config", str(self.config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def started(self) -> bool:
        """It has written its first snapshot of the database."""
        return any(self.replica.rglob("*.ltx"))

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(how)
            self.process.wait(30)
        self.log.close()

    def restore(self, db: Path) -> None:
        subprocess.run(
            [str(LITESTREAM), "restore", "-config", str(self.config), "-o", str(db), str(db)],
            check=True,
            capture_output=True,
            timeout=60,
        )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DashboardProcess]:
    process = DashboardProcess(tmp_path, DASHBOARD_CHECKPOINTS="litestream")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def lose_the_disk(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def test_a_machine_lost_in_an_event_storm_is_rebuilt_from_the_replica(
    server: DashboardProcess, tmp_path: Path
) -> None:
    replica = Replicating(tmp_path, server.db_path)
    wait_until(replica.started, 30, "Litestream's first snapshot")
    try:
        with Storm(server) as storm:
            wait_until(lambda: len(storm.acknowledged) >= 1500, 60, "the storm")
            server.kill()  # SIGKILL: the dashboard dies mid-storm
        acknowledged = set(storm.acknowledged)
    finally:
        replica.stop()  # Litestream, still running, ships what the WAL holds, then stops
    lose_the_disk(server.db_path)
    replica.restore(server.db_path)
    conn = sqlite3.connect(server.db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    recovered = stored_uniqueids(server.db_path)
    print(f"recovered {len(recovered & acknowledged)} of {len(acknowledged)} acknowledged events")
    assert acknowledged <= recovered  # nothing acknowledged is lost
    server.start()  # and it serves from the restored database
    assert stored_uniqueids(server.db_path) >= acknowledged


def test_with_litestream_killed_too_at_most_the_last_moments_are_lost(
    server: DashboardProcess, tmp_path: Path
) -> None:
    replica = Replicating(tmp_path, server.db_path)
    wait_until(replica.started, 30, "Litestream's first snapshot")
    with Storm(server) as storm:
        wait_until(lambda: len(storm.acknowledged) >= 1500, 60, "the storm")
        server.kill()
        replica.stop(signal.SIGKILL)  # the whole machine is gone
    acknowledged = storm.acknowledged
    lose_the_disk(server.db_path)
    replica.restore(server.db_path)
    recovered = stored_uniqueids(server.db_path)
    kept = len(recovered & set(acknowledged))
    print(f"recovered {kept} of {len(acknowledged)} acknowledged events (machine lost)")
    assert recovered <= set(acknowledged) | {f"storm.{len(acknowledged) + 1}"}
    # What is kept is a prefix: the replica lags the database, it does not lose from within.
    assert set(acknowledged[:kept]) == recovered & set(acknowledged)
