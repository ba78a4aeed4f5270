"""bench/history.py's measures of the served dashboard, on a copy of its database: start-up
(`dashboard serve`, the CLI as users run it, to the first /healthz 200, with live calls to
rebuild) and a month's CSV export through the real route, each next to a bare baseline.

The copy gets LIVE_CALLS unfinished calls (the newest finished ones, their ends undone) and a
supervisor's API token for the export. The bare start-up runs, in a fresh Python process on
a plain sqlite3 connection, every SELECT the dashboard's start-up ran (captured in this process
with a trace on each connection the lifespan opens). The bare export is the same SELECT as the
export's pages, in one statement, written with Python's csv module.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

import dashboard
from dashboard.app import create_app
from dashboard.auth import Accounts
from dashboard.settings import Settings
from dashboard.store import CALL_COLUMNS, Store, _iso

LIVE_CALLS = 40
STARTUP_TARGET_S = 5.0
SLICE_ROWS = 20_000  # the export's rate is taken per slice of this many rows
STARTUP_WAIT_S = 1800.0  # the first start after an upgrade may build indexes for minutes
# The dashboard this process imported: `python -m` runs the current directory's first.
CODE = Path(dashboard.__file__).resolve().parents[1]


@dataclass
class Served:
    startup_s: float = 0.0
    bare_startup_s: float = 0.0
    startup_statements: list[str] = field(default_factory=list)
    live_rebuilt: int = 0
    export_rows: int = 0
    export_s: float = 0.0
    slice_rates: list[float] = field(default_factory=list)  # rows/s of each slice
    rss_mb: list[float] = field(default_factory=list)  # the server's, at each slice
    bare_rows: int = 0
    bare_export_s: float = 0.0
    bare_slice_rates: list[float] = field(default_factory=list)
    copy_s: float = 0.0
    wal_mb: float = 0.0


def settings_for(path: Path, tz: str, host: str) -> dict[str, str]:
    return {
        **os.environ,
        "DASHBOARD_DB": str(path),
        "SYNAPSE_TIMEZONE": tz,
        # No PBX answers here (start-up must not wait for one); the calls' host is theirs.
        "SYNAPSE_URL": "http://127.0.0.1:9",
        "DASHBOARD_CONFIG": "",
    }


def make_copy(path: Path, copy: Path) -> float:
    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(path, copy)
    return time.perf_counter() - started


def add_live_calls(copy: Path, count: int) -> None:
    """The newest finished calls, copied as unfinished ones (ringing and talking) under new
    uniqueids: what a restart finds when it stopped in the middle of the day's calls."""
    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT * FROM calls ORDER BY started_at DESC LIMIT ?", [count]
        ).fetchall()
        columns = list(CALL_COLUMNS)
        marks = ", ".join("?" * len(columns))
        conn.execute("BEGIN")
        for n, row in enumerate(rows):
            values = dict(row)
            talking = n % 2 == 0
            values |= {
                "uniqueid": f"live-{n}.{values['uniqueid']}",
                "status": "connected" if talking else "ringing",
                "ended_at": None,
                "end_time": None,
                "finish_seen_at": None,
                "disposition": None,
                "disposition_raw": None,
                "duration": None,
                "billable_seconds": None,
                "recordlink": None,
                "cdr_seen": 0,
            }
            if not talking:
                values |= {"answered_at": None, "answer_time": None}
            conn.execute(
                f"INSERT INTO calls ({', '.join(columns)}) VALUES ({marks})",
                [values[c] for c in columns],
            )
        conn.execute("COMMIT")
    finally:
        conn.close()


def supervisor(copy: Path) -> tuple[str, str]:
    """A supervisor's name and password, for signing in to export."""
    password = secrets.token_urlsafe(24)
    store = Store.open(str(copy))
    try:
        Accounts(store.db).add_user("bench", "supervisor", password)
        return "bench", password
    finally:
        store.close()


def signed_in(base: str, name: str, password: str) -> httpx.Client:
    """A client signed in through the real form (the export is a page's link, not the API)."""
    client = httpx.Client(base_url=base, timeout=600)
    form = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    if csrf is None:
        raise RuntimeError("no sign-in form")
    answer = client.post(
        "/login", data={"name": name, "password": password, "csrf_token": csrf[1], "next": "/"}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in refused: {answer.status_code}")
    return client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def captured_startup(copy: Path, tz: str, host: str) -> list[str]:
    """Every SELECT the dashboard's start-up (its lifespan, up to serving) runs, in order."""
    seen: list[str] = []
    connect = sqlite3.connect

    def tracing(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = connect(*args, **kwargs)
        conn.set_trace_callback(seen.append)
        return conn

    env = settings_for(copy, tz, host)
    settings = Settings.from_env(
        {k: v for k, v in env.items() if k.startswith(("DASHBOARD_", "SYNAPSE_"))}
    )
    from starlette.testclient import TestClient  # here: it warns about httpx when imported

    sqlite3.connect = tracing  # type: ignore[assignment]  # the bench's own capture
    try:
        with TestClient(create_app(settings)) as client:
            client.get("/healthz")
    finally:
        sqlite3.connect = connect
    return [sql for sql in seen if sql.lstrip().upper().startswith(("SELECT", "WITH", "PRAGMA"))]


BARE_STARTUP = """
import sqlite3, sys, json
conn = sqlite3.connect(sys.argv[1])
for sql in json.load(open(sys.argv[2])):
    conn.execute(sql).fetchall()
"""


def bare_startup(copy: Path, statements: list[str]) -> float:
    listing = copy.with_name(copy.name + ".startup.json")
    listing.write_text(json.dumps(statements))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE_STARTUP, str(copy), str(listing)], check=True)
    return time.perf_counter() - started


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def serving(
    copy: Path, tz: str, host: str, port: int
) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """`dashboard serve` on the copy; yields the process and its start-up (to /healthz 200)."""
    command = [sys.executable, "-m", "dashboard.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--allow-open-events"]
    log = copy.with_name(copy.name + ".serve.log").open("wb")
    started = time.perf_counter()
    server = subprocess.Popen(
        command, env=settings_for(copy, tz, host), stdout=log, stderr=log, cwd=CODE
    )
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"dashboard serve exited ({server.returncode}): see {log.name}")
            if time.perf_counter() - started > STARTUP_WAIT_S:
                raise RuntimeError("dashboard serve did not answer /healthz")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            time.sleep(0.01)
        yield server, time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def read_stream(lines: Iterator[str], sample: Callable[[], None], rates: list[float]) -> int:
    """Counts the CSV's rows (after its heading), a rate per SLICE_ROWS rows."""
    rows = -1
    mark = time.perf_counter()
    for _ in lines:
        rows += 1
        if rows and rows % SLICE_ROWS == 0:
            now = time.perf_counter()
            rates.append(SLICE_ROWS / (now - mark))
            mark = now
            sample()
    return max(rows, 0)


def export(client: httpx.Client, query: str, pid: int, result: Served) -> None:
    result.rss_mb.append(rss_mb(pid))
    started = time.perf_counter()
    with client.stream("GET", f"/calls.csv?{query}") as response:
        response.raise_for_status()
        result.export_rows = read_stream(
            response.iter_lines(), lambda: result.rss_mb.append(rss_mb(pid)), result.slice_rates
        )
    result.export_s = time.perf_counter() - started
    result.rss_mb.append(rss_mb(pid))


def bare_export(copy: Path, start: str, end: str, result: Served) -> None:
    """The export's SELECT (newest first, the same ORDER BY), one statement, to csv."""
    conn = sqlite3.connect(copy)
    try:
        started = time.perf_counter()
        cursor = conn.execute(
            "SELECT * FROM calls WHERE started_at >= ? AND started_at < ?"
            " ORDER BY started_at DESC, host DESC, uniqueid DESC",
            [start, end],
        )
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([column[0] for column in cursor.description])

        def lines() -> Iterator[str]:
            yield "heading"
            for row in cursor:
                writer.writerow(row)
                if buffer.tell() > 1 << 16:
                    buffer.seek(0)
                    buffer.truncate()
                yield ""

        result.bare_rows = read_stream(lines(), lambda: None, result.bare_slice_rates)
        result.bare_export_s = time.perf_counter() - started
    finally:
        conn.close()


def measure_served(path: Path, tz: str, host: str, last_day: date) -> Served:
    """Start-up and a month's export, on a copy of `path` (removed after)."""
    result = Served()
    copy = path.with_name(path.stem + "-served.db")
    try:
        result.copy_s = make_copy(path, copy)
        add_live_calls(copy, LIVE_CALLS)
        name, password = supervisor(copy)
        result.startup_statements = captured_startup(copy, tz, host)
        result.bare_startup_s = bare_startup(copy, result.startup_statements)
        first = last_day - timedelta(days=29)
        query = f"period=custom&from={first}&to={last_day}"
        port = free_port()
        with serving(copy, tz, host, port) as (server, startup):
            result.startup_s = startup
            client = signed_in(f"http://127.0.0.1:{port}", name, password)
            try:
                active = client.get("/api/calls/active").json()
                result.live_rebuilt = len(active.get("calls", []))
                export(client, query, server.pid, result)
            finally:
                client.close()
        zone = ZoneInfo(tz)
        start = datetime.combine(first, datetime.min.time(), zone)
        end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), zone)
        bare_export(copy, str(_iso(start)), str(_iso(end)), result)
        wal = Path(f"{copy}-wal")
        result.wal_mb = wal.stat().st_size / 1e6 if wal.exists() else 0.0
    finally:
        for suffix in ("", "-wal", "-shm", ".startup.json", ".serving"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
    return result


def steady(result: Served) -> bool:
    """Every slice at least half the median rate, and the server's memory at its peak within
    10 % of what it was after the first slice."""
    rates, rss = result.slice_rates, result.rss_mb
    if len(rates) < 2 or len(rss) < 3:
        return False
    return min(rates) >= statistics.median(rates) / 2 and max(rss) <= rss[1] * 1.10


def spread(rates: list[float]) -> str:
    if not rates:
        return "no full slice"
    return (
        f"min {min(rates):,.0f}, median {statistics.median(rates):,.0f}, max {max(rates):,.0f}"
        f" rows/s over {len(rates)} slices of {SLICE_ROWS:,}"
    )
