"""Report summaries: a finished call's figures added up by UTC quarter-hour (and by UTC day),
kept up to date by triggers on `calls`, so that a report over a year reads thousands of
summary rows instead of millions of calls.

They are keyed by UTC time because the PBX's zone and the business day's start are settings
that may change: reports.py does the zone work when it reads them. Every UTC offset in use is
a multiple of 15 minutes, so a UTC quarter-hour lies wholly in one local hour and, when days
start on a quarter-hour, in one business day.

- report_quarters (quarter, host): the totals, the heat map and the days.
- report_quarter_extensions (extension, quarter, host): the same for extension-filtered
  reports, and the by-extension table's partial UTC days at a period's two ends.
- report_day_extensions (day, host, extension): the by-extension table over whole UTC days.

A row holds the figures of reports.Figures; `ring` in microseconds. Each change to a finished
row queues its figures, and the opposite of the figures of the row it was, in report_pending:
one append per change. Triggers do it for INSERT and DELETE, whoever writes (ingest, seed,
retention). An UPDATE is queued by the one writer that updates calls (store.Store's writes
of events, CDR sync's included): `QUEUE_STORED_OUT` before it, `QUEUE_STORED_IN` after.
(An UPDATE trigger made every call's finishing update about three times dearer, the write
it rides on touching a dozen indexes: a fifth of what storing an event cost.) Every
FOLD_EVERY rows a trigger adds the queue into the three tables at once and empties it; a
report reads the tables and the queue. A database made before them has them built once
when it is opened (`create`).
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils

from dashboard.schema import FINISHED, INCOMING, answered_sql, missed_sql

log = logging.getLogger(__name__)

QUARTER = 900  # seconds
DAY = 86400
FIGURES = ("calls", "answered", "missed", "talk", "ring", "rung", "incoming", "incoming_answered")
# The columns of a call that its figures (or its place in the summaries) depend on.
DEPENDS_ON = (
    "status",
    "started_at",
    "answered_at",
    "extension",
    "direction",
    "billable_seconds",
    "disposition",
    "host",
)


def _seconds(column: str) -> str:
    """Whole seconds since 1970 of a time as store._iso writes it
    ('2026-03-01T10:00:00.123456+00:00'), the fraction left out: SQLite would round it to
    milliseconds, which could carry into the next second."""
    return f"unixepoch(substr({column}, 1, 19) || substr({column}, 27))"


def _micros(column: str) -> str:
    return f"CAST(substr({column}, 21, 6) AS INTEGER)"


def figures_sql(row: str) -> dict[str, str]:
    """A `calls` row's figures (`row`: NEW, OLD or a table name), as SQL expressions, the same
    rules as reports.scan_report's."""
    answered = answered_sql(row)
    rung = f"({answered} AND {row}.answered_at IS NOT NULL)"
    ring = (
        f"(({_seconds(f'{row}.answered_at')} - {_seconds(f'{row}.started_at')}) * 1000000"
        f" + {_micros(f'{row}.answered_at')} - {_micros(f'{row}.started_at')})"
    )
    incoming = f"(COALESCE({row}.direction, '') = '{INCOMING}')"
    return {
        "calls": "1",
        "answered": answered,
        "missed": missed_sql(row),
        "talk": f"(CASE WHEN {answered} THEN COALESCE({row}.billable_seconds, 0) ELSE 0 END)",
        "ring": f"(CASE WHEN {rung} THEN {ring} ELSE 0 END)",
        "rung": rung,
        "incoming": incoming,
        "incoming_answered": f"({incoming} AND {answered})",
    }


def keys_sql(row: str) -> dict[str, str]:
    start = _seconds(f"{row}.started_at")
    return {
        "quarter": f"({start} / {QUARTER})",
        "day": f"({start} / {DAY})",
        "host": f"{row}.host",
        "extension": f"COALESCE({row}.extension, '')",  # reports show '' and NULL alike
    }


TABLES: dict[str, tuple[str, ...]] = {
    "report_quarters": ("quarter", "host"),
    "report_quarter_extensions": ("extension", "quarter", "host"),
    "report_day_extensions": ("day", "host", "extension"),
}
KEY_TYPES = {"quarter": "INTEGER", "day": "INTEGER", "host": "TEXT", "extension": "TEXT"}


def _create_table(name: str, keys: tuple[str, ...]) -> str:
    columns = [f"{key} {KEY_TYPES[key]} NOT NULL" for key in keys]
    columns += [f"{figure} INTEGER NOT NULL" for figure in FIGURES]
    return (
        f"CREATE TABLE {name} ({', '.join(columns)}, PRIMARY KEY ({', '.join(keys)})) WITHOUT ROWID"
    )


PENDING = "report_pending"  # figures not yet added into the tables: at most FOLD_EVERY rows
FOLD_EVERY = 256
PENDING_KEYS = ("quarter", "host", "extension")


def _pending(row: str, sign: str, where: str = "", source: str = "") -> str:
    """Queue a row's figures (sign '') or their opposite (sign '-'), if `where`: one append,
    the figures computed once, instead of an upsert into each table. `source`: the table
    `row` is read from (none for a trigger's NEW and OLD)."""
    key_sql, figure_sql = keys_sql(row), figures_sql(row)
    values = [key_sql[key] for key in PENDING_KEYS] + [f"{sign}{figure_sql[f]}" for f in FIGURES]
    return (
        f"INSERT INTO {PENDING} ({', '.join((*PENDING_KEYS, *FIGURES))})"
        f" SELECT {', '.join(values)}{f' FROM {source}' if source else ''}"
        f"{f' WHERE {where}' if where else ''}"
    )


def _fold_trigger() -> str:
    """Every FOLD_EVERY queued rows, add them into every table at once."""
    body = "; ".join(_fold(name, PENDING, FROM_FINEST) for name in TABLES)
    return (
        f"CREATE TRIGGER {FOLD} AFTER INSERT ON {PENDING} WHEN NEW.rowid >= {FOLD_EVERY}"
        f" BEGIN {body}; DELETE FROM {PENDING}; END"
    )


def _counted(row: str) -> str:
    return f"{row}.status = '{FINISHED}' AND {row}.started_at IS NOT NULL"


# One trigger per kind of write (each costs every write of its kind a call).
TRIGGERS = {
    "report_calls_inserted": (
        f"INSERT ON calls WHEN {_counted('NEW')}",
        _pending("NEW", ""),
    ),
    "report_calls_deleted": (
        f"DELETE ON calls WHEN {_counted('OLD')}",
        _pending("OLD", "-"),
    ),
}
FOLD = "report_pending_folded"
# Of older layouts. An update trigger is dropped from a database that has one, its tables
# kept: they are right, and Store's writes queue updates from now on.
UPDATE_TRIGGER = "report_calls_updated"
OLDER_TRIGGERS = ("report_calls_updated_from", "report_calls_updated_to", UPDATE_TRIGGER)


def _queue_stored(sign: str) -> str:
    """Queue the figures of the stored call `?host`, `?uniqueid` if it counts (sign ''), or
    their opposite (sign '-'): the opposite before an update of a column in DEPENDS_ON, the
    figures after it."""
    return _pending("calls", sign, f"{_counted('calls')} AND host = ? AND uniqueid = ?", "calls")


QUEUE_STORED_OUT = _queue_stored("-")
QUEUE_STORED_IN = _queue_stored("")


FINEST = "report_quarter_extensions"  # the others' rows add up from its rows
FROM_FINEST = {"quarter": "quarter", "day": f"quarter / {DAY // QUARTER}"}


def _fold(name: str, source: str, source_keys: dict[str, str]) -> str:
    """Add the figures of `source`'s rows (FIGURES, and `source_keys`: how each of the
    table's keys comes from a row) into the table, summed by its keys first."""
    keys = TABLES[name]
    return (
        f"INSERT INTO {name} ({', '.join((*keys, *FIGURES))})"
        f" SELECT {', '.join(source_keys.get(key, key) for key in keys)},"
        f" {', '.join(f'SUM({figure})' for figure in FIGURES)}"
        f" FROM {source} WHERE true GROUP BY {', '.join(str(n) for n in range(1, len(keys) + 1))}"
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
        + ", ".join(f"{figure} = {figure} + excluded.{figure}" for figure in FIGURES)
    )


def _calls_figures(where: str) -> str:
    """The finished calls (and `where`), each with its figures and the finest keys."""
    key_sql, figure_sql = keys_sql("calls"), figures_sql("calls")
    columns = [f"{key_sql[key]} AS {key}" for key in TABLES[FINEST]]
    columns += [f"{figure_sql[figure]} AS {figure}" for figure in FIGURES]
    return f"(SELECT {', '.join(columns)} FROM calls WHERE {_counted('calls')}{where})"


def _add_up(db: sqlite_utils.Database, where: str = "") -> None:
    """Add the figures of the calls (those `where` says) into every table: one pass over the
    calls, into the finest table (or a temporary one), and the others from that."""
    if where:
        db.execute("DROP TABLE IF EXISTS temp.report_new")
        db.execute(f"CREATE TEMP TABLE report_new AS SELECT * FROM {_calls_figures(where)}")
        db.execute(_fold(FINEST, "(SELECT * FROM temp.report_new)", {}))
        source = "(SELECT * FROM temp.report_new)"
    else:
        db.execute(_fold(FINEST, _calls_figures(""), {}))
        source = FINEST
    for name in TABLES:
        if name != FINEST:
            db.execute(_fold(name, source, FROM_FINEST))
    db.execute("DROP TABLE IF EXISTS temp.report_new")


def _triggers(db: sqlite_utils.Database) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}


def present(db: sqlite_utils.Database) -> bool:
    return {*TRIGGERS, FOLD} <= _triggers(db)


def _create_triggers(db: sqlite_utils.Database) -> None:
    for name, (event, body) in TRIGGERS.items():
        db.execute(f"CREATE TRIGGER {name} AFTER {event} BEGIN {body}; END")


def create(db: sqlite_utils.Database) -> None:
    """The summary tables and their triggers, built from `calls` when they are not there
    (all in one transaction: a database that has the triggers has their whole tables)."""
    if present(db):
        _drop_update_trigger(db)
        return
    started = time.perf_counter()
    with db.atomic():
        if present(db):  # another process built them meanwhile
            return
        for name in (*TRIGGERS, *OLDER_TRIGGERS, FOLD):  # of an older layout
            db.execute(f"DROP TRIGGER IF EXISTS {name}")
        for table, keys in TABLES.items():
            db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute(_create_table(table, keys))
        db.execute(f"DROP TABLE IF EXISTS {PENDING}")
        columns = [f"{key} {KEY_TYPES[key]} NOT NULL" for key in PENDING_KEYS]
        columns += [f"{figure} INTEGER NOT NULL" for figure in FIGURES]
        db.execute(f"CREATE TABLE {PENDING} ({', '.join(columns)})")
        _add_up(db)
        _create_triggers(db)
        db.execute(_fold_trigger())
    log.info("report summaries built from the calls in %.1f s", time.perf_counter() - started)


def _drop_update_trigger(db: sqlite_utils.Database) -> None:
    if UPDATE_TRIGGER in _triggers(db):  # only then a write
        db.execute(f"DROP TRIGGER {UPDATE_TRIGGER}")


@contextmanager
def inserting_in_bulk(db: sqlite_utils.Database) -> Iterator[None]:
    """Inside a transaction that only inserts calls, many (dashboard seed): their figures
    are added up once at the end instead of by the triggers, call by call. The triggers are
    dropped meanwhile, in the same transaction: no other connection ever sees them gone."""
    if not db.conn.in_transaction:
        raise RuntimeError("inserting_in_bulk needs a transaction")
    mark = int(db.execute("SELECT COALESCE(MAX(rowid), 0) FROM calls").fetchone()[0])
    for name in TRIGGERS:
        db.execute(f"DROP TRIGGER {name}")
    yield
    _add_up(db, f" AND calls.rowid > {mark}")  # new rows come after every older one
    _create_triggers(db)


# -- reading ------------------------------------------------------------------------------

Sums = tuple[int, ...]  # in FIGURES order
_SUMS = ", ".join(f"SUM({figure})" for figure in FIGURES)
_COLUMNS = ", ".join(FIGURES)


def _filters(chosen: tuple[str, ...], host: str | None) -> tuple[str, list[object]]:
    sql = ""
    params: list[object] = []
    if chosen:
        sql += f" AND extension IN ({', '.join('?' * len(chosen))})"
        params.extend(chosen)
    if host is not None:
        sql += " AND host = ?"
        params.append(host)
    return sql, params


def local_hours(
    conn: sqlite3.Connection,
    quarters: tuple[int, int],
    offsets: list[tuple[int, int]],
    shift: int,
    chosen: tuple[str, ...],
    host: str | None,
) -> list[tuple[int, int, int, Sums]]:
    """The figures of the quarters in [first, end) by (business day, local day, local hour),
    days counted from 1970-01-01. `offsets`: (first quarter, UTC offset in seconds) of each
    stretch with one offset, in order; `shift`: when a business day starts, in seconds."""
    offset = f"{offsets[-1][1]}"
    for (_, before), (changes_at, _) in reversed(list(itertools.pairwise(offsets))):
        offset = f"CASE WHEN quarter < {changes_at} THEN {before} ELSE {offset} END"
    table = "report_quarter_extensions" if chosen else "report_quarters"
    where, params = _filters(chosen, host)
    rows_of = "SELECT quarter, {columns} FROM {table} WHERE quarter >= ? AND quarter < ?{where}"
    both = " UNION ALL ".join(
        rows_of.format(columns=_COLUMNS, table=name, where=where) for name in (table, PENDING)
    )
    sql = (
        f"SELECT (local - {shift}) / {DAY}, local / {DAY}, local % {DAY} / 3600, {_SUMS}"
        f" FROM (SELECT quarter * {QUARTER} + {offset} AS local, {_COLUMNS} FROM ({both}))"
        " GROUP BY 1, 2, 3"
    )
    rows = conn.execute(sql, [*quarters, *params, *quarters, *params])
    return [(row[0], row[1], row[2], row[3:]) for row in rows]


def by_extension(
    conn: sqlite3.Connection,
    quarters: tuple[int, int],
    chosen: tuple[str, ...],
    host: str | None,
) -> list[tuple[str, Sums]]:
    """The figures of the quarters in [first, end) by extension ('' for none): whole UTC days
    from the daily table, the partial days at either end from the quarters', and what is
    pending."""
    first, end = quarters
    per_day = DAY // QUARTER
    head_end = min(end, -(-first // per_day) * per_day)
    tail_start = max(head_end, end // per_day * per_day)
    where, filter_params = _filters(chosen, host)
    parts: list[str] = []
    params: list[object] = []
    if head_end < tail_start:
        parts.append(
            f"SELECT extension, {_COLUMNS} FROM report_day_extensions"
            f" WHERE day >= ? AND day < ?{where}"
        )
        params += [head_end // per_day, tail_start // per_day, *filter_params]
    for part_first, part_end in ((first, head_end), (tail_start, end)):
        if part_first >= part_end:
            continue
        # The extensions with calls that UTC day: the quarters' table is walked by extension.
        named, named_params = (
            ("", [])
            if chosen
            else (
                " AND extension IN (SELECT extension FROM report_day_extensions WHERE day = ?"
                + (" AND host = ?)" if host is not None else ")"),
                [part_first // per_day, *([host] if host is not None else [])],
            )
        )
        parts.append(
            f"SELECT extension, {_COLUMNS} FROM report_quarter_extensions"
            f" WHERE quarter >= ? AND quarter < ?{named}{where}"
        )
        params += [part_first, part_end, *named_params, *filter_params]
    parts.append(  # the figures not yet in the tables
        f"SELECT extension, {_COLUMNS} FROM {PENDING} WHERE quarter >= ? AND quarter < ?{where}"
    )
    params += [first, end, *filter_params]
    sql = f"SELECT extension, {_SUMS} FROM ({' UNION ALL '.join(parts)}) GROUP BY extension"
    return [(row[0], row[1:]) for row in conn.execute(sql, params)]
