"""History pages and a 30-day report over a year of calls, next to the same SQL run bare.

    .venv/bin/python bench/history.py            (what `make bench` runs after bench/ingest.py)

A database of --calls finished calls over --days days (dashboard.seed) is made once under
/var/tmp and reused by later runs: its name holds its size (--fresh makes it anew, which is
also how to drop an index the store no longer creates). Each measure calls the dashboard's
own code (History.page, build_report) --repeat times, alternating with the SQL statement
that code executes (captured once with sqlite-utils' tracer) run bare on a plain
`sqlite3.connect` of the same file: the ratio (p95 over bare p95) is what the dashboard adds
to SQLite's own work. Targets, at p95: a history page under 50 ms, a 30-day report under 1 s.

Then, for every measure, the query plan (EXPLAIN QUERY PLAN) and, where a rewrite of the
statement is known to change the plan, that rewrite timed bare with its plan: the evidence
for a fix. `--try SQL` (repeatable) re-measures everything on a copy of the database with
the statement applied first (an index, ANALYZE, ...), and prints both tables.
The exit code is 0 whatever the verdict: this is a report.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import summary

from dashboard.history import Filters, History, parse_filters
from dashboard.reports import build_report
from dashboard.seed import DEFAULT_EXTENSIONS, DEFAULT_HOST, seed
from dashboard.store import Store

TZ = ZoneInfo("Asia/Kolkata")
SEED = 2026  # the same database whenever it is made anew
LAYOUT = 1  # bump when dashboard.seed changes what it makes: older databases are not reused
PAGE_TARGET_MS = 50.0
REPORT_TARGET_MS = 1000.0
WARMUP = 2
DEEP_PAGES = 20
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
    statement: Statement = ("", [])
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


def prepare(path: Path, calls: int, days: int, fresh: bool) -> str:
    """Make the database unless a complete one is there; says which it did."""
    if path.exists() and not fresh:
        conn = sqlite3.connect(path)
        try:
            found = conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        except sqlite3.DatabaseError:
            found = None
        finally:
            conn.close()
        if found == calls:
            return "reused"
    building = path.with_name(path.name + ".building")
    for stale in (path, building):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{stale}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    store = Store.open(str(building))
    try:
        seed(
            store,
            calls,
            days=days,
            tz=TZ,
            host=DEFAULT_HOST,
            extensions=DEFAULT_EXTENSIONS,
            now=datetime.now(UTC),
            seed=SEED,
        )
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    os.replace(building, path)  # only a complete database ever has the name that is reused
    return f"seeded in {time.perf_counter() - started:.0f} s"


def last_day(store: Store) -> date:
    """The day of the newest call: "the last 7 days" as of when the database was seeded."""
    newest = store.db.execute("SELECT MAX(started_at) FROM calls").fetchone()[0]
    return datetime.fromisoformat(newest).astimezone(TZ).date()


# -- the measures -------------------------------------------------------------------------


def capture(store: Store, action: Callable[[], object]) -> Statement:
    """The statement on `calls` that `action` executes (savepoints and pragmas aside): with
    its parameters when it goes through sqlite-utils, else (a report, which runs on the
    connection itself) as SQLite expanded it."""
    seen: list[Statement] = []
    expanded: list[Statement] = []

    def trace(sql: str, params: Any) -> None:
        if " FROM calls" in sql:
            seen.append((sql, list(params or [])))

    def trace_connection(sql: str) -> None:
        if " FROM calls" in sql:
            expanded.append((sql, []))

    store.db.conn.set_trace_callback(trace_connection)
    try:
        with store.db.tracer(trace):
            action()
    finally:
        store.db.conn.set_trace_callback(None)
    found = seen or expanded
    if len(found) != 1:
        raise RuntimeError(f"expected one statement on calls, saw {len(found)}")
    return found[0]


def build_measures(store: Store, repeat: int) -> list[Measure]:
    history = History(store)
    today = last_day(store)

    def page(params: dict[str, str], depth: int = 0) -> Callable[[], object]:
        filters: Filters = parse_filters(params, TZ, today)
        after: str | None = None
        for _ in range(depth):
            after = history.page(filters, None, after).next_cursor
        return lambda: history.page(filters, scope=None, after=after)

    def count(params: dict[str, str]) -> Callable[[], object]:
        filters = parse_filters(params, TZ, today)
        return lambda: history.count(filters, scope=None)

    first = today - timedelta(days=29)
    busiest = store.db.execute(
        "SELECT extension FROM calls GROUP BY extension ORDER BY COUNT(*) DESC LIMIT 1"
    ).fetchone()[0]
    seven = {"period": "7d"}
    extension = {"period": "30d", "extension": busiest}
    missed = {"period": "30d", "direction": "incoming", "disposition": "no_answer"}
    everything = {"period": "all"}
    rare = max(3, repeat // 10)  # for statements taking seconds
    measures = [
        Measure("page: last 7 days", PAGE_TARGET_MS, page(seven), repeat),
        Measure(f"page: 30 days, extension {busiest}", PAGE_TARGET_MS, page(extension), repeat),
        Measure("page: 30 days, missed incoming", PAGE_TARGET_MS, page(missed), repeat),
        Measure(
            f"page: 30 days, page {DEEP_PAGES + 1}",
            PAGE_TARGET_MS,
            page({"period": "30d"}, DEEP_PAGES),
            repeat,
        ),
        Measure("page: all time", PAGE_TARGET_MS, page(everything), rare),
        Measure(
            "report: 30 days",
            REPORT_TARGET_MS,
            lambda: build_report(store.db.conn, first, today, TZ, clock_time(0), []),
            repeat,
        ),
        # The history page also shows how many calls match: History.count, on every page.
        Measure("count: last 7 days", None, count(seven), repeat),
        Measure(f"count: 30 days, extension {busiest}", None, count(extension), repeat),
        Measure("count: 30 days, missed incoming", None, count(missed), repeat),
        Measure("count: all time", None, count(everything), repeat),
    ]
    for measure in measures:
        measure.statement = capture(store, measure.run)
    return measures


def run_measures(measures: list[Measure], bare: sqlite3.Connection) -> None:
    for measure in measures:
        sql, params = measure.statement
        for n in range(WARMUP + measure.repeat):  # alternating: both see the same machine
            app = millis(measure.run)
            plain = millis(lambda: bare.execute(sql, params).fetchall())  # noqa: B023
            if n >= WARMUP:
                measure.app_ms.append(app)
                measure.bare_ms.append(plain)


def measure_database(path: Path, repeat: int) -> list[Measure]:
    store = Store.open(str(path))
    bare = sqlite3.connect(path)
    try:
        measures = build_measures(store, repeat)
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
    """Each statement's plan, and known rewrites of it timed bare (the same file)."""
    bare = sqlite3.connect(path)
    try:
        for m in measures:
            sql, params = m.statement
            print(f"\n{m.name} ({m.verdict}, p95 {m.p95:.1f} ms, bare {m.bare_p95:.1f} ms):")
            print(f"  sql:  {sql}")
            print(f"  plan: {plan(bare, m.statement)}")
            for old, new, why in REWRITES:
                if old not in sql:
                    continue
                rewritten = (sql.replace(old, new), params)
                runs = [
                    millis(lambda: bare.execute(*rewritten).fetchall())  # noqa: B023
                    for _ in range(WARMUP + min(repeat, len(m.bare_ms)))
                ][WARMUP:]
                same = bare.execute(*rewritten).fetchall() == bare.execute(sql, params).fetchall()
                print(f"  rewrite: {why}")
                print(
                    f"    bare p50 {statistics.median(runs):.1f} ms, p95"
                    f" {percentile(runs, 0.95):.1f} ms (was {m.bare_p95:.1f});"
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
    size_mb = path.stat().st_size / 1e6
    measures = measure_database(path, options.repeat)
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
    print_plans(path, measures, options.repeat)
    if options.statements:
        try_statements(path, options.statements, measures, options.repeat)


if __name__ == "__main__":
    main()
