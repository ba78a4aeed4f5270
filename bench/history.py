"""History pages, reports, start-up and the CSV export over years of calls, each next to a
bare baseline measured in the same run.

    .venv/bin/python bench/history.py            (`make bench`: 1 M calls over 365 days)
    .venv/bin/python bench/history.py --calls 10000000 --days 1000     (10 M: three years)

A database of --calls finished calls over --days days is made once under /var/tmp by
`dashboard seed` (the CLI; its own line, with its calls/s, is kept next to the database) and
reused by later runs: its name holds its size (--fresh makes it anew). 10 M calls take about
20 minutes to seed and 20 GB of disk, and as much again for the copy the served measures use:
that is why `make bench` keeps 1 M. The store is opened once first and timed: the first open
after an upgrade builds the new indexes there.

Each page measure does what the history page does (views/history.py: its capped count, its
rows, whether pages come before and after, how many calls come before), for the periods and
filters below, every sort, and deep pages (page 21, by cursor; the last page); each report
measure calls build_report (30 days, a year). Each runs --repeat times, alternating with
every SELECT it executed (captured by a trace, its parameters written in) run bare on a plain
`sqlite3.connect` of the same file: the ratio (p95 over bare p95) is what the dashboard adds
to SQLite's own work. Targets, at p95: a history page under 50 ms, a report under 1 s.

Then, on a copy with 40 unfinished calls (bench/history_serve.py): start-up, from `dashboard
serve` to the first /healthz 200 with the live calls rebuilt (target under 5 s), next to the
start-up's SELECTs run bare in a fresh Python; and a month's CSV export through the real
route, rows/s per slice of 20,000 rows and the server's RSS, next to the same SELECT written
with the csv module. And the database's size per million calls (and its WAL's).

Last, every statement's query plan (EXPLAIN QUERY PLAN) and bare time, with known rewrites.
`--try SQL` (repeatable) re-measures on a copy with the statement applied first. The exit
code is 0 whatever the verdict: this is a report.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import history_serve
import summary

import dashboard
from dashboard.history import PAGE_SIZE, SORTS, Filters, History, parse_filters
from dashboard.reports import build_report
from dashboard.seed import DEFAULT_HOST
from dashboard.store import Store

TZ = ZoneInfo("Asia/Kolkata")
SEED = 2026  # the same database whenever it is made anew
LAYOUT = 1  # bump when dashboard.seed changes what it makes: older databases are not reused
PAGE_TARGET_MS = 50.0
REPORT_TARGET_MS = 1000.0
WARMUP = 2
DEEP_PAGES = 20
SLOW_MS = 300.0  # a measure slower than this is run a tenth as often
# Statement rewrites known to change the plan: (what is replaced, by what, why).
REWRITES = (
    (
        "COALESCE(started_at, '')",
        "started_at",
        "sort on the indexed column started_at, not COALESCE(started_at, '')",
    ),
    (
        "WHERE status = 'finished'",
        "WHERE +status = 'finished'",
        "+status: keep the planner off idx_calls_status (every call is finished)",
    ),
)

Statement = tuple[str, list[Any]]


@dataclass
class Measure:
    name: str
    target_ms: float | None  # None: shown for information
    run: Callable[[], object]
    repeat: int
    statements: list[Statement] = field(default_factory=list)
    app_ms: list[float] = field(default_factory=list)
    bare_ms: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return statistics.median(self.app_ms)

    @property
    def p95(self) -> float:
        return percentile(self.app_ms, 0.95)

    @property
    def bare_p95(self) -> float:
        return percentile(self.bare_ms, 0.95)

    @property
    def verdict(self) -> str:
        if self.target_ms is None:
            return "info"
        return "PASS" if self.p95 < self.target_ms else "FAIL"


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def millis(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


# -- the database -------------------------------------------------------------------------


def database_path(directory: Path, calls: int, days: int) -> Path:
    return directory / f"dashboard-bench-history-{calls}calls-{days}days-v{LAYOUT}.db"


def seeding_env(path: Path) -> dict[str, str]:
    """`dashboard seed`'s environment: this file, the bench's zone, PBX and extensions."""
    return {
        **os.environ,
        "DASHBOARD_DB": str(path),
        "SYNAPSE_TIMEZONE": TZ.key,
        "SYNAPSE_URL": f"http://{DEFAULT_HOST}",
        "DASHBOARD_EXTENSIONS": "",  # seed's own (DEFAULT_EXTENSIONS)
        "DASHBOARD_CONFIG": "",
    }


def prepare(path: Path, calls: int, days: int, fresh: bool) -> str:
    """Make the database unless a complete one is there; says which it did. It is made by
    `dashboard seed` (the CLI, as a user runs it), whose own line (time and calls/s) is kept
    next to the database, so that a run reusing it still says how it was made."""
    told = path.with_name(path.name + ".seeded")
    if path.exists() and not fresh:
        conn = sqlite3.connect(path)
        try:
            found = conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        except sqlite3.DatabaseError:
            found = None
        finally:
            conn.close()
        if found == calls:
            return "reused; " + (told.read_text().strip() if told.exists() else "seeded earlier")
    building = path.with_name(path.name + ".building")
    for stale in (path, building):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{stale}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    command = [sys.executable, "-m", "dashboard.cli", "seed", "--calls", str(calls)]
    command += ["--days", str(days), "--seed", str(SEED)]
    code = Path(dashboard.__file__).resolve().parents[1]  # not the current directory's
    done = subprocess.run(
        command, env=seeding_env(building), capture_output=True, text=True, check=False, cwd=code
    )
    if done.returncode != 0:
        raise RuntimeError(f"dashboard seed failed: {done.stderr.strip()}")
    line = done.stdout.strip().splitlines()[-1]
    conn = sqlite3.connect(building)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    seeded = f"seeded in {time.perf_counter() - started:.0f} s; dashboard seed said: {line}"
    seeded = seeded.replace(str(building), str(path))
    told.write_text(seeded + "\n")
    os.replace(building, path)  # only a complete database ever has the name that is reused
    return seeded


def last_day(store: Store) -> date:
    """The day of the newest call: "the last 7 days" as of when the database was seeded."""
    newest = store.db.execute("SELECT MAX(started_at) FROM calls").fetchone()[0]
    return datetime.fromisoformat(newest).astimezone(TZ).date()


# -- the measures -------------------------------------------------------------------------


def capture(store: Store, action: Callable[[], object]) -> list[Statement]:
    """Every SELECT that `action` executes on the store's connection, in order, as SQLite
    expanded it (its parameters written in): a history page runs several (its count, its
    rows, whether pages come before and after), a report one or more."""
    seen: list[Statement] = []

    def trace(sql: str) -> None:
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((sql, []))

    store.db.conn.set_trace_callback(trace)
    try:
        action()
    finally:
        store.db.conn.set_trace_callback(None)
    if not seen:
        raise RuntimeError("the measure executed no SELECT")
    return seen


def history_page(
    history: History, filters: Filters, after: str | None = None, before: str | None = None
) -> Callable[[], object]:
    """What the history page (views/history.py: calls_page) asks of History."""

    def show() -> object:
        total = history.count(filters, None)
        size = (total % PAGE_SIZE or PAGE_SIZE) if before == "" else PAGE_SIZE
        return history.page(filters, None, after, size, before=before, count_before=True)

    return show


def build_measures(store: Store, repeat: int, only: Sequence[str]) -> list[Measure]:
    history = History(store)
    today = last_day(store)

    def page(params: dict[str, str], depth: int = 0, last: bool = False) -> Callable[[], object]:
        filters: Filters = parse_filters(params, TZ, today)
        after: str | None = None
        for _ in range(depth):
            after = history.page(filters, None, after).next_cursor
        return history_page(history, filters, after, "" if last else None)

    busiest = store.db.execute(
        "SELECT extension FROM calls WHERE started_at >= ? GROUP BY extension"
        " ORDER BY COUNT(*) DESC LIMIT 1",
        [(datetime.combine(today, clock_time(), TZ) - timedelta(days=30)).isoformat()],
    ).fetchone()[0]
    month = {"period": "30d"}
    measures = [
        Measure("page: last 7 days", PAGE_TARGET_MS, page({"period": "7d"}), repeat),
        Measure(
            f"page: 30 days, extension {busiest}",
            PAGE_TARGET_MS,
            page(month | {"extension": busiest}),
            repeat,
        ),
        Measure(
            "page: 30 days, missed incoming",
            PAGE_TARGET_MS,
            page(month | {"direction": "incoming", "disposition": "no_answer"}),
            repeat,
        ),
        Measure(
            f"page: 30 days, page {DEEP_PAGES + 1}", PAGE_TARGET_MS, page(month, DEEP_PAGES), repeat
        ),
        Measure("page: 30 days, the last", PAGE_TARGET_MS, page(month, last=True), repeat),
        Measure(
            "page: 30 days, oldest first", PAGE_TARGET_MS, page(month | {"order": "asc"}), repeat
        ),
        Measure("page: all time", PAGE_TARGET_MS, page({"period": "all"}), repeat),
    ]
    for sort in SORTS:
        if sort == "started":
            continue
        by = month | {"sort": sort}
        measures.append(Measure(f"page: 30 days by {sort}", PAGE_TARGET_MS, page(by), repeat))
        measures.append(
            Measure(
                f"page: 30 days by {sort}, page {DEEP_PAGES + 1}",
                PAGE_TARGET_MS,
                page(by, DEEP_PAGES),
                repeat,
            )
        )
    for days in (30, 365):
        first = today - timedelta(days=days - 1)
        measures.append(
            Measure(
                f"report: {'a year' if days == 365 else f'{days} days'}",
                REPORT_TARGET_MS,
                lambda first=first: build_report(
                    store.db.conn, first, today, TZ, clock_time(0), []
                ),  # type: ignore[misc]
                repeat,
            )
        )
    if only:
        measures = [m for m in measures if any(part in m.name for part in only)]
    for measure in measures:
        measure.statements = capture(store, measure.run)
    return measures


def run_bare(bare: sqlite3.Connection, statements: list[Statement]) -> None:
    for sql, params in statements:
        bare.execute(sql, params).fetchall()


def run_measures(measures: list[Measure], bare: sqlite3.Connection) -> None:
    for measure in measures:
        repeat = measure.repeat
        if millis(measure.run) > SLOW_MS:  # seconds a run: fewer of them
            repeat = max(3, repeat // 10)
        for n in range(WARMUP + repeat):  # alternating: both see the same machine
            app = millis(measure.run)
            plain = millis(lambda: run_bare(bare, measure.statements))  # noqa: B023
            if n >= WARMUP:
                measure.app_ms.append(app)
                measure.bare_ms.append(plain)


def measure_database(path: Path, repeat: int, only: Sequence[str] = ()) -> list[Measure]:
    store = Store.open(str(path))
    bare = sqlite3.connect(path)
    try:
        measures = build_measures(store, repeat, only)
        run_measures(measures, bare)
    finally:
        bare.close()
        store.close()
    return measures


# -- the report ---------------------------------------------------------------------------


def print_table(measures: list[Measure]) -> None:
    header = (
        f"{'measure':<34} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'bare p95':>9} {'ratio':>6}"
        f" {'target':>7}  verdict"
    )
    print(header)
    print("-" * len(header))
    for m in measures:
        ratio = m.p95 / m.bare_p95 if m.bare_p95 else 0.0
        target = "-" if m.target_ms is None else f"< {m.target_ms:.0f}"
        print(
            f"{m.name:<34} {len(m.app_ms):>3} {m.p50:>8.1f} {m.p95:>8.1f} {m.bare_p95:>9.1f}"
            f" {ratio:>6.2f} {target:>7}  {m.verdict}"
        )


def plan(bare: sqlite3.Connection, statement: Statement) -> str:
    sql, params = statement
    rows = bare.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return "; ".join(str(row[3]) for row in rows)


def print_plans(path: Path, measures: list[Measure], repeat: int) -> None:
    """Each statement's plan and bare time, and known rewrites of it timed bare (the same
    file): which of a measure's statements is slow, and why."""
    bare = sqlite3.connect(path)
    runs = WARMUP + max(3, min(repeat, 10))
    try:
        for m in measures:
            print(f"\n{m.name} ({m.verdict}, p95 {m.p95:.1f} ms, bare {m.bare_p95:.1f} ms):")
            for statement in m.statements:
                sql, params = statement
                times = [
                    millis(lambda: bare.execute(sql, params).fetchall())  # noqa: B023
                    for _ in range(runs)
                ][WARMUP:]
                print(f"  sql:  {sql}")
                print(f"  plan: {plan(bare, statement)}")
                print(f"  bare p50 {statistics.median(times):.1f} ms")
                for old, new, why in REWRITES:
                    if old not in sql or "INDEXED BY" in sql:  # +status: not that index
                        continue
                    rewritten = (sql.replace(old, new), params)
                    again = [
                        millis(lambda: bare.execute(*rewritten).fetchall())  # noqa: B023
                        for _ in range(runs)
                    ][WARMUP:]
                    same = (
                        bare.execute(*rewritten).fetchall() == bare.execute(*statement).fetchall()
                    )
                    print(f"  rewrite: {why}")
                    print(
                        f"    bare p50 {statistics.median(again):.1f} ms;"
                        f" {'same rows' if same else 'DIFFERENT ROWS'}"
                    )
                    print(f"    plan: {plan(bare, rewritten)}")
    finally:
        bare.close()


def try_statements(path: Path, statements: list[str], before: list[Measure], repeat: int) -> None:
    """The measures again, on a copy of the database with `statements` applied first."""
    print("\n\nOn a copy of the database, after:")
    with tempfile.TemporaryDirectory(prefix="dashboard-bench-try-", dir=path.parent) as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        conn = sqlite3.connect(copy, isolation_level=None)
        try:
            for statement in statements:
                started = time.perf_counter()
                conn.execute(statement)
                print(f"  {statement}  ({time.perf_counter() - started:.1f} s)")
        finally:
            conn.close()
        measures = measure_database(copy, repeat)
        print()
        print_table(measures)
        print()
        for m, was in zip(measures, before, strict=True):
            print(f"  {m.name:<34} p95 {was.p95:>8.1f} ms -> {m.p95:>8.1f} ms")
        print_plans(copy, measures, repeat)


def size_per_million(path: Path, calls: int) -> None:
    wal = Path(f"{path}-wal")
    per_million = path.stat().st_size / 1e6 / (calls / 1e6)
    wal_mb = wal.stat().st_size / 1e6 if wal.exists() else 0.0
    figure = f"{per_million:,.0f} MB per 1M calls (WAL {wal_mb:,.1f} MB)"
    print(f"\nDatabase: {figure}")
    summary.record("history", "database size", figure, "-", "info")


def served(path: Path) -> None:
    """Start-up and a month's CSV export through `dashboard serve`, on a copy."""
    store = Store.open(str(path))
    try:
        today = last_day(store)
    finally:
        store.close()
    result = history_serve.measure_served(path, TZ.key, DEFAULT_HOST, today)
    n = history_serve.LIVE_CALLS
    startup = f"{result.startup_s:.2f} s (bare {result.bare_startup_s:.2f} s)"
    target = history_serve.STARTUP_TARGET_S
    print(
        f"\nServed, on a copy ({result.copy_s:.0f} s to copy), with {n} unfinished calls:"
        f"\n  start-up to /healthz 200: {startup}; live calls rebuilt: {result.live_rebuilt}"
        f"\n  start-up's statements: {len(result.startup_statements)}, these on calls or events:"
    )
    for sql in result.startup_statements:
        if " calls" in sql or " events" in sql:
            print(f"    {sql[:160]}")
    verdict = "PASS" if result.startup_s < target and result.live_rebuilt == n else "FAIL"
    summary.record("history", f"start-up, {n} live calls", startup, f"< {target:.0f} s", verdict)
    rate = result.export_rows / result.export_s if result.export_s else 0.0
    bare_rate = result.bare_rows / result.bare_export_s if result.bare_export_s else 0.0
    rss = result.rss_mb
    print(
        f"  export of a month: {result.export_rows:,} rows in {result.export_s:.1f} s"
        f" ({rate:,.0f} rows/s; {history_serve.spread(result.slice_rates)})"
        f"\n    server RSS MB before, per slice, after: {', '.join(f'{m:.0f}' for m in rss)}"
        f"\n  bare (one SELECT, csv module): {result.bare_rows:,} rows in"
        f" {result.bare_export_s:.1f} s ({bare_rate:,.0f} rows/s;"
        f" {history_serve.spread(result.bare_slice_rates)})"
        f"\n  WAL after serving: {result.wal_mb:.1f} MB"
    )
    peak = max(rss) if rss else 0.0
    first = rss[1] if len(rss) > 1 else 0.0  # after the first slice
    summary.record(
        "history",
        "export: a month (rows/s, RSS)",
        f"{rate:,.0f}/s (bare {bare_rate:,.0f}); RSS {first:.0f}->{peak:.0f} MB",
        "steady, flat",
        "PASS" if history_serve.steady(result) else "FAIL",
    )


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls in the database")
    parser.add_argument("--days", type=int, default=365, help="over this many days")
    parser.add_argument("--repeat", type=int, default=50, help="timed runs per measure")
    parser.add_argument(
        "--dir", type=Path, default=Path("/var/tmp"), help="where the database is kept"
    )
    parser.add_argument("--fresh", action="store_true", help="seed the database anew")
    parser.add_argument(
        "--no-serve",
        dest="serve",
        action="store_false",
        help="skip start-up and the export (they run `dashboard serve` on a copy)",
    )
    parser.add_argument(
        "--no-pages",
        dest="pages",
        action="store_false",
        help="only start-up, the export and the size (no pages, reports or plans)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="only the page and report measures whose name holds TEXT (repeatable)",
    )
    parser.add_argument(
        "--try",
        dest="statements",
        action="append",
        default=[],
        metavar="SQL",
        help="re-measure on a copy with this statement applied first, e.g. ANALYZE",
    )
    return parser.parse_args()


def main() -> None:
    options = parse_options()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    path = database_path(options.dir, options.calls, options.days)
    how = prepare(path, options.calls, options.days, options.fresh)
    said = re.search(r"in ([0-9.]+) s \(([0-9,]+) calls/s\)", how)
    seeded = f"{said[2]} calls/s, {said[1]} s" if said else "(not said)"
    summary.record("history", f"seed: {options.calls:,} calls", seeded, "-", "info")
    opening = time.perf_counter()
    Store.open(str(path)).close()  # the first open after an upgrade builds new indexes
    opened = time.perf_counter() - opening
    print(f"The store opened in {opened:.1f} s (its schema brought up to date).")
    size_mb = path.stat().st_size / 1e6
    if not options.pages:
        size_per_million(path, options.calls)
        served(path)
        return
    measures = measure_database(path, options.repeat, options.only)
    print(
        f"\nHistory and reports on {options.calls:,} calls over {options.days} days"
        f" ({path}, {size_mb:,.0f} MB, {how}).\nDashboard code vs the same SQL on a bare"
        f" sqlite3 connection, alternating, after {WARMUP} warm-up runs"
        f" ({time.perf_counter() - started:.0f} s in all; {os.cpu_count()} CPUs,"
        f" load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after;"
        f" SQLite {sqlite3.sqlite_version}).\n"
    )
    print_table(measures)
    for m in measures:
        target = "-" if m.target_ms is None else f"p95 < {m.target_ms:.0f} ms"
        figure = f"p95 {m.p95:.1f} ms (bare {m.bare_p95:.1f})"
        summary.record("history", m.name, figure, target, m.verdict)
    size_per_million(path, options.calls)
    if options.serve:
        served(path)
    print_plans(path, measures, options.repeat)
    if options.statements:
        try_statements(path, options.statements, measures, options.repeat)


if __name__ == "__main__":
    main()
