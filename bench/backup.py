"""Ingest while `dashboard backup` copies the database, next to ingest without it.

    .venv/bin/python bench/backup.py [--calls 300000]

`dashboard seed` fills a database with history, `dashboard serve` serves it as users run it,
and one client sends call events one after another, timing each answer (the PBX waits for
it). For a while nothing else happens (the baseline); then `dashboard backup` runs, and the
events sent meanwhile are timed too; then the baseline goes on, so that it lasts as long as
the backup did (the worst of a longer run is worse by chance alone). A backup must not stall
ingest for more than a frame (the hub's 10 ms): the figure is the worst answer during the
backup next to the baseline's.
The exit code is 0 whatever the verdict: this is a report.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import summary
from ingest import free_port

FRAME_MS = 10.0
BASELINE_SECONDS = 5.0


def dashboard(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashboard.cli", *args], env=env, capture_output=True, text=True
    )


def send_for(http: httpx.Client, url: str, until: float, first: int) -> list[float]:
    """Events one after another until `until`; each answer's time in ms."""
    times, n = [], first
    while time.monotonic() < until:
        n += 1
        event = {"event": "CallStart", "uniqueid": f"bench.{n}", "extension": "70",
                 "number": "9876543210", "direction": "Incoming"}  # fmt: skip
        started = time.perf_counter()
        answer = http.get(url, params={"data": json.dumps(event)})
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
    return times


def figures(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    p999 = ordered[int(len(ordered) * 0.999) - 1]
    return (
        f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, p99.9 {p999:.1f} ms, "
        f"max {ordered[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300_000, help="history to copy")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as where:
        db = Path(where) / "bench.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHBOARD_", "SYNAPSE_"))}
        env.update(DASHBOARD_DB=str(db), DASHBOARD_PBX_CHECK_SECONDS="0")
        seeded = dashboard("seed", "--calls", str(options.calls), env=env)
        print(seeded.stdout.strip() or seeded.stderr.strip())
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "serve", "--port", str(port),
             "--allow-open-events"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/synapse/events"
        try:
            with httpx.Client(timeout=30) as http:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        if http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        if time.monotonic() > deadline:
                            raise
                    time.sleep(0.05)  # waiting for the server to start
                baseline = send_for(http, url, time.monotonic() + BASELINE_SECONDS, 0)
                copy = subprocess.Popen(
                    [sys.executable, "-m", "dashboard.cli", "backup", str(Path(where) / "copy.db")],
                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                )  # fmt: skip
                started = time.monotonic()
                during: list[float] = []
                while copy.poll() is None:
                    during += send_for(
                        http, url, time.monotonic() + 0.2, len(baseline) + len(during)
                    )
                took = time.monotonic() - started
                baseline += send_for(
                    http, url, time.monotonic() + max(took - BASELINE_SECONDS, 1.0), 10**9
                )
                print(copy.stdout.read().strip() if copy.stdout else "")
                if copy.returncode != 0:
                    raise SystemExit("the backup failed: no figure")
                size_mb = db.stat().st_size / 1e6
        finally:
            server.terminate()
            server.wait(20)
    print(f"database: {options.calls} calls seeded ({size_mb:.0f} MB); backup took {took:.1f} s")
    print(
        f"ingest without a backup (before and after): {len(baseline)} events, {figures(baseline)}"
    )
    print(f"ingest during the backup: {len(during)} events, {figures(during)}")
    extra = max(during) - max(baseline)
    verdict = "PASS" if extra <= FRAME_MS else "FAIL"
    print(f"worst answer during the backup, over the worst without: {extra:+.1f} ms ({verdict})")
    summary.record(
        "backup",
        f"worst ingest answer during a backup of {options.calls} calls, over the baseline's",
        f"{extra:+.1f} ms ({max(during):.1f} vs {max(baseline):.1f})",
        f"<= {FRAME_MS:.0f} ms (a frame)",
        verdict,
    )


if __name__ == "__main__":
    main()
