"""A soak: a million events with a hundred viewers connected throughout.

    .venv/bin/python bench/soak.py [--events 1000000] [--viewers 100]

The dashboard as bench/ingest.py runs it (a fresh database), 100 WebSocket viewers
(bench/viewers.py) from the start to the end, and 8 keep-alive connections playing answered
calls (CallStart, CallConnect, CallFinish, as bench/loadgen.py builds them) as fast as the
dashboard answers, until the given number of events has been acknowledged. The server's
resident memory is read after every 100,000 events, with its heap and its mapped files
apart, and the WAL file's size: SQLite's WAL index is a mapped file, as long as the longest
the WAL has been (a WAL that never started over was once most of the growth).

Must hold: the memory at the end within 10 % of the memory after the first 100,000 events;
no viewer dropped, and every viewer saw every call leave the board; and the database holds
every call, finished and answered with the duration the PBX said, and every event.
The exit code is 0 whatever the verdict: this is a report.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import summary
from ingest import HOST, SETTLE, free_port, running_server, running_viewers
from loadgen import EventRequests, read_response, run

CONNECTIONS = 8
EVENTS_PER_CALL = 3
CHECKPOINT = 100_000
MEMORY_GROWTH_LIMIT = 0.10


@dataclass
class Progress:
    target: int
    acknowledged: int = 0
    errors: int = 0
    next_checkpoint: int = CHECKPOINT
    memory_mb: list[tuple[int, float]] = field(default_factory=list)


def resident_mb(pid: int, field: str = "VmRSS") -> float:
    """VmRSS, or RssAnon (its heap) or RssFile (its mapped files: code, SQLite's WAL index)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def wal_mb(db: Path) -> float:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size / 2**20 if wal.exists() else 0.0


async def play(
    port: int, calls: int, prefix: str, progress: Progress, on_ack: Callable[[], None]
) -> None:
    head = b"GET /synapse/events"
    tail = f" HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    requests = EventRequests(head, tail, prefix)
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        for _ in range(calls * EVENTS_PER_CALL):
            request = requests()
            while True:
                writer.write(request)
                status, _ = await read_response(reader)
                if status == 200:
                    break
                progress.errors += 1  # a refusal would be a defect; the event is sent again
            progress.acknowledged += 1
            on_ack()
    finally:
        writer.close()


async def soak(port: int, server_pid: int, calls: int, db: Path) -> Progress:
    progress = Progress(target=calls * EVENTS_PER_CALL)

    def on_ack() -> None:
        if progress.acknowledged >= progress.next_checkpoint:
            progress.memory_mb.append((progress.acknowledged, resident_mb(server_pid)))
            print(
                f"  {progress.acknowledged:>9,} events  server {progress.memory_mb[-1][1]:.1f} MB"
                f" (heap {resident_mb(server_pid, 'RssAnon'):.1f}, mapped files"
                f" {resident_mb(server_pid, 'RssFile'):.1f}); WAL file {wal_mb(db):.0f} MB",
                flush=True,
            )
            progress.next_checkpoint += CHECKPOINT

    share, extra = divmod(calls, CONNECTIONS)
    await asyncio.gather(
        *(
            play(port, share + (1 if n < extra else 0), f"soak-{n}-", progress, on_ack)
            for n in range(CONNECTIONS)
        )
    )
    return progress


def stored(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        calls, right = conn.execute(
            "SELECT count(*), sum(status = 'finished' AND disposition = 'answered'"
            " AND duration = 90 AND billable_seconds = 80) FROM calls"
        ).fetchone()
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()
    return {"calls": calls, "calls_right": right or 0, "events": events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--viewers", type=int, default=100)
    options = parser.parse_args()
    calls = -(-options.events // EVENTS_PER_CALL)
    viewers: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir="/var/tmp") as where:
        tmp = Path(where)
        with (
            running_server(free_port(), tmp, None) as server,
            running_viewers(server, options.viewers, viewers),
        ):
            started = time.perf_counter()
            progress = run(soak(server.port, server.pid, calls, tmp / "bench.db"))
            took = time.perf_counter() - started
            time.sleep(SETTLE)  # the last calls leave the board
            end_mb = resident_mb(server.pid)
        facts = stored(tmp / "bench.db")
    report(options, calls, progress, took, end_mb, viewers, facts)


def report(
    options: argparse.Namespace,
    calls: int,
    progress: Progress,
    took: float,
    end_mb: float,
    viewers: dict[str, Any],
    facts: dict[str, int],
) -> None:
    first_mb = progress.memory_mb[0][1] if progress.memory_mb else end_mb
    growth = end_mb / first_mb - 1
    dropped = viewers.get("dropped", options.viewers)
    saw_every_removal = viewers.get("removals_min", 0) >= calls
    whole = facts == {"calls": calls, "calls_right": calls, "events": progress.acknowledged}
    memory_ok = growth <= MEMORY_GROWTH_LIMIT
    rate = progress.acknowledged / took
    print(f"{progress.acknowledged:,} events ({calls:,} calls) in {took:.0f} s "
          f"({rate:,.0f}/s), {progress.errors} refused and resent")  # fmt: skip
    print(
        f"server memory: {first_mb:.0f} MB after the first {CHECKPOINT:,} events, "
        f"{end_mb:.0f} MB at the end ({growth:+.1%}; limit +{MEMORY_GROWTH_LIMIT:.0%})"
    )
    print(f"viewers: {options.viewers} connected, {dropped} dropped, fewest removals seen "
          f"{viewers.get('removals_min', 0):,} of {calls:,} calls")  # fmt: skip
    print(f"database: {facts['calls']:,} calls ({facts['calls_right']:,} as the PBX said), "
          f"{facts['events']:,} events of {progress.acknowledged:,} acknowledged")  # fmt: skip
    summary.record(
        "soak",
        f"server memory over {progress.acknowledged:,} events, {options.viewers} viewers",
        f"{growth:+.1%} ({first_mb:.0f} -> {end_mb:.0f} MB)",
        f"<= +{MEMORY_GROWTH_LIMIT:.0%}",
        "PASS" if memory_ok else "FAIL",
    )
    summary.record(
        "soak",
        "viewers dropped; every call seen leaving by every viewer; every call and event stored",
        f"{dropped} dropped; {'all' if saw_every_removal else 'NOT all'} seen; "
        f"{'all' if whole else 'NOT all'} stored",
        "0; all; all",
        "PASS" if dropped == 0 and saw_every_removal and whole else "FAIL",
    )


if __name__ == "__main__":
    main()
