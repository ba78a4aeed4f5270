"""SQLite storage (sqlite-utils): the event log, refused events and calls.

One connection, one writer: every write happens on the event loop's thread,
each ingested event in one transaction (event row + call row) committed
before the PBX gets its 2xx. WAL mode, so readers never block the writer.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import operator
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from dashboard import report_summaries
from dashboard.calls import Call, DayCounters, Status
from dashboard.contacts import phone_key
from dashboard.events import SURROGATE_ESCAPE, CallEvent, parse_event
from dashboard.rejected import Rejected
from dashboard.results import result_sql
from dashboard.schema import COLUMNS, SQL_TYPES
from dashboard.scope import Scope

CALL_COLUMNS: dict[str, type] = {field.name: SQL_TYPES[field.kind] for field in COLUMNS}
# The history's sorts: key -> SQL expression (never NULL, so keyset comparisons hold). Each
# but "started" (idx_calls_started_at) has an index, idx_calls_by_<key>, that holds what a
# page's keyset needs and its period, so a page reads the index and only its own rows.
SORT_KEYS = {
    "started": "started_at",  # never NULL (see calls.Call.started_at); plain, so indexed
    "direction": "COALESCE(direction, '')",
    "number": "COALESCE(number, '')",
    "extension": "COALESCE(extension, '')",
    "result": result_sql(),
    "duration": "COALESCE(duration, -1)",
    "talk": "COALESCE(billable_seconds, -1)",
    "recording": "(COALESCE(recordlink, '') != '')",
}
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes
INSERT_CALL = (
    f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({', '.join('?' * len(CALL_COLUMNS))})"
)
INSERT_EVENT = (
    "INSERT INTO events (received_at, host, uniqueid, event, payload) VALUES (?, ?, ?, ?, ?)"
)
KEY_POSITIONS = tuple(n for n, name in enumerate(CALL_COLUMNS) if name in ("host", "uniqueid"))
ALL_BUT_KEY = tuple(n for n in range(len(CALL_COLUMNS)) if n not in KEY_POSITIONS)
# The columns whose change can change a finished call's figures in the report summaries.
COUNTED_POSITIONS = frozenset(
    n for n, name in enumerate(CALL_COLUMNS) if name in report_summaries.DEPENDS_ON
) - set(KEY_POSITIONS)
STATUS = list(CALL_COLUMNS).index("status")
UPDATED_AT = list(CALL_COLUMNS).index("updated_at")
CallRow = tuple[Any, ...]  # in CALL_COLUMNS order
REMEMBERED_ROWS = 4096  # calls whose last row is kept, to compare their next event's with
# An event's row, its call's, which of the call's columns changed (None: write them all,
# the call as stored not known), whether the call as known before the event had finished,
# and whether it was known not to be stored.
EventRows = tuple[tuple[Any, ...], CallRow, tuple[int, ...] | None, bool, bool]


@dataclass(frozen=True)
class StoredEvent:
    id: int
    received_at: datetime
    host: str
    uniqueid: str
    event: str
    payload: str

    def parsed(self, tz: ZoneInfo) -> CallEvent:
        """The event as it was read when it arrived (the payload is what was accepted; the
        host it was stored under is the call's, whatever the payload says or leaves out)."""
        event = parse_event(
            json.loads(self.payload),
            tz=tz,
            default_host=self.host,
            received_at=self.received_at,
            trusted=True,
        )
        return replace(event, host=self.host)


class Store:
    def __init__(
        self, conn: sqlite3.Connection, synchronous: str = "NORMAL", phone_digits: int = 10
    ) -> None:
        self.phone_digits = phone_digits  # how numbers are matched (see contacts.phone_key)
        self._last_rows: dict[tuple[str, str], tuple[Call, CallRow]] = {}  # see _old_row
        self.db = sqlite_utils.Database(conn)
        if not self.db.memory:
            self.db.enable_wal()
        self.db.execute(f"PRAGMA synchronous = {synchronous}")
        # The -wal file keeps the size of its biggest burst unless told otherwise.
        self.db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        self.db.execute("PRAGMA busy_timeout = 5000")
        create_schema(self.db)
        self.rejected = Rejected(self.db)

    @classmethod
    def open(cls, path: str, synchronous: str = "NORMAL", phone_digits: int = 10) -> Store:
        # isolation_level=None: transactions are explicit (db.atomic()), never implicit.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        return cls(conn, synchronous, phone_digits)

    def close(self) -> None:
        self.db.close()

    # -- writes ------------------------------------------------------------------------

    def record_event(self, received_at: datetime, kind: str, payload: str, call: Call) -> int:
        """Append the event and store the call it produced, in one transaction."""
        return self.record_events([(received_at, kind, payload, call)])[0]

    def record_events(self, events: list[tuple[datetime, str, str, Call]]) -> list[int]:
        """Append events and store the calls they produced, all in one transaction."""
        return self.write_event_rows(self.event_rows(events))

    def event_rows(
        self,
        events: list[tuple[datetime, str, str, Call]],
        before: list[Call | None] | None = None,
    ) -> list[EventRows]:
        """The `events` and `calls` rows of events (a value that cannot be stored fails here,
        before anything is written). `before`: each call as stored before its event, when
        known, so that only the columns the event changed are written."""
        rows: list[EventRows] = []
        for n, (received_at, kind, payload, call) in enumerate(events):
            row = self._call_row(call, received_at)
            old = before[n] if before else None
            changed = _changed(self._old_row(old, received_at), row) if old else None
            self._remember_row(call, row)
            event = (_iso(received_at), call.host, call.uniqueid, kind, payload)
            was_finished = bool(old and old.status is Status.FINISHED)
            rows.append((event, row, changed, was_finished, before is not None and old is None))
        return rows

    def _old_row(self, call: Call, received_at: datetime) -> CallRow:
        """A call's row as its last event made it (its `updated_at` aside, which `_changed`
        always counts as changed), without converting it again when it was that event's."""
        known = self._last_rows.get(call.key)
        return known[1] if known and known[0] is call else self._call_row(call, received_at)

    def _remember_row(self, call: Call, row: CallRow) -> None:
        if len(self._last_rows) >= REMEMBERED_ROWS:
            self._last_rows.clear()
        self._last_rows[call.key] = (call, row)

    def _call_row(self, call: Call, updated_at: datetime) -> CallRow:
        return call_row(call, updated_at, _number_key(call.number, self.phone_digits))

    def write_event_rows(self, rows: list[EventRows]) -> list[int]:
        """Write them in one transaction; returns the events' ids."""
        ids = []
        conn = self.db.conn
        with self.db.atomic():
            for event, call, changed, was_finished, new in rows:
                ids.append(int(conn.execute(INSERT_EVENT, event).lastrowid or 0))
                if not (new and self._inserted(call)):
                    self._write_call(call, changed, was_finished)
        return ids

    def _inserted(self, row: CallRow) -> bool:
        """The row of a call not stored when its event was applied, inserted; False if it is
        stored after all (another process stored it since: it is then updated)."""
        present = tuple(n for n, value in enumerate(row) if value is not None)
        try:
            self.db.conn.execute(_insert_sql(present), [row[n] for n in present])
        except sqlite3.IntegrityError:
            return False
        return True

    def _write_call(
        self, row: CallRow, changed: tuple[int, ...] | None, was_finished: bool
    ) -> None:
        """A stored call's changed columns (an index is rewritten only when one of its
        columns is set; None: all of them), else the whole row inserted. An update of what
        reports count takes the stored row's figures out of the summaries and puts the new
        row's in (report_summaries: an insert's trigger puts them in)."""
        conn = self.db.conn
        columns = changed or ALL_BUT_KEY
        key = [row[n] for n in KEY_POSITIONS]
        values = [*(row[n] for n in columns), *key]
        counted = not COUNTED_POSITIONS.isdisjoint(columns)
        # Known unfinished, a stored call has no figures to take out; the update checks it.
        known_unfinished = counted and changed is not None and not was_finished
        if known_unfinished and conn.execute(_update_sql(columns, True), values).rowcount:
            self._queue_figures(row, columns, key)
            return
        if counted:
            conn.execute(report_summaries.QUEUE_STORED_OUT, key)
        if conn.execute(_update_sql(columns), values).rowcount == 0:
            conn.execute(INSERT_CALL, row)
        elif counted:
            self._queue_figures(row, columns, key)

    def _queue_figures(self, row: CallRow, columns: tuple[int, ...], key: list[Any]) -> None:
        """The updated call's figures into the summaries, if it counts (a status it was not
        given is as stored: the query checks)."""
        if row[STATUS] == Status.FINISHED or STATUS not in columns:
            self.db.conn.execute(report_summaries.QUEUE_STORED_IN, key)

    # -- reads -------------------------------------------------------------------------

    def get_call(self, key: tuple[str, str]) -> Call | None:
        cursor = self.db.conn.execute("SELECT * FROM calls WHERE host = ? AND uniqueid = ?", key)
        row = cursor.fetchone()
        if row is None:
            return None
        return row_to_call(
            dict(zip([column[0] for column in cursor.description], row, strict=True))
        )

    def get_call_by_uniqueid(self, uniqueid: str) -> Call | None:
        """The newest call with that uniqueid, whichever PBX it came from."""
        rows = list(
            self.db.query(
                "SELECT * FROM calls WHERE uniqueid = ? ORDER BY updated_at DESC LIMIT 1",
                [uniqueid],
            )
        )
        return row_to_call(rows[0]) if rows else None

    def number_history(
        self, number: str | None, before: Call, scope: Scope | None = None
    ) -> tuple[int, datetime | None]:
        """How many calls this number made or got before `before` (of those in an agent's
        `scope`), and when the last was."""
        key = phone_key(number, self.phone_digits)
        if key is None or before.started_at is None:
            return 0, None
        condition, scoped = scope.sql() if scope is not None else ("1 = 1", [])
        # By the number's index: SQLite would pick the extension's (every call it ever had).
        count, last = self.db.execute(
            "SELECT COUNT(*), MAX(started_at) FROM calls INDEXED BY idx_calls_number_key_started_at"
            f" WHERE number_key = ? AND started_at < ? AND {condition}",
            [key, _iso(before.started_at), *scoped],
        ).fetchone()
        return int(count), _parse(last)

    def calls_with_number(
        self, digits: str, scope: Scope | None = None, limit: int = 10
    ) -> list[Call]:
        """The newest calls whose number holds these digits (and in an agent's scope)."""
        if not digits.isdigit():
            return []
        return self._newest_calls("number LIKE ?", [f"%{digits}%"], scope, limit)

    def calls_with_number_keys(
        self, keys: list[str], scope: Scope | None = None, limit: int = 10
    ) -> list[Call]:
        """The newest calls with any of these numbers (by key; and in an agent's scope)."""
        if not keys:
            return []
        marks = ", ".join("?" * len(keys))
        return self._newest_calls(f"number_key IN ({marks})", list(keys), scope, limit)

    def _newest_calls(
        self, where: str, params: list[object], scope: Scope | None, limit: int
    ) -> list[Call]:
        sql = f"SELECT * FROM calls WHERE {where}"
        if scope is not None:
            condition, more = scope.sql()
            sql += f" AND {condition}"
            params = [*params, *more]
        sql += " ORDER BY started_at DESC LIMIT ?"
        return [row_to_call(row) for row in self.db.query(sql, [*params, limit])]

    def live_calls(self) -> list[Call]:
        sql = "SELECT * FROM calls WHERE status != 'finished'"  # literal: the partial index
        return [row_to_call(row) for row in self.db.query(sql)]

    def all_calls(self) -> list[Call]:
        return [row_to_call(row) for row in self.db.query("SELECT * FROM calls")]

    def events(self, key: tuple[str, str] | None = None) -> Iterator[StoredEvent]:
        if key is None:
            rows = self.db.query("SELECT * FROM events ORDER BY id")
        else:
            rows = self.db.query(
                "SELECT * FROM events WHERE host = ? AND uniqueid = ? ORDER BY id", key
            )
        for row in rows:
            yield StoredEvent(**{**row, "received_at": datetime.fromisoformat(row["received_at"])})

    def known_extensions(self) -> list[str]:
        """Every extension the history has a call of (a seek per extension, not a scan)."""
        rows = self.db.execute(
            _each_extension(finished_only=False)
            + " SELECT extension FROM known WHERE extension IS NOT NULL"
        ).fetchall()
        return [row[0] for row in rows]

    def busiest_extensions(self, host: str | None, since: datetime, limit: int) -> list[str]:
        """The extensions with the most calls since `since` (of one host, or any)."""
        where = "extension IS NOT NULL AND started_at >= ?" + (" AND host = ?" if host else "")
        params: list[object] = [_iso(since), *([host] if host else []), limit]
        rows = self.db.execute(
            f"SELECT extension FROM calls WHERE {where}"
            " GROUP BY extension ORDER BY count(*) DESC, extension LIMIT ?",
            params,
        ).fetchall()
        return [row[0] for row in rows]

    def last_event_id(self) -> int:
        return int(self.db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])

    def event_keys_after(self, event_id: int) -> list[tuple[int, tuple[str, str]]]:
        """The events stored after that one: their ids and calls, in order."""
        rows = self.db.execute(
            "SELECT id, host, uniqueid FROM events WHERE id > ? ORDER BY id", [event_id]
        ).fetchall()
        return [(row[0], (row[1], row[2])) for row in rows]

    def data_version(self) -> int:
        """Changes when another connection (another process) has committed."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def count(self, table: str) -> int:
        return self.db.table(table).count

    def day_counters(self, day: date, tz: ZoneInfo) -> tuple[DayCounters, dict[str, DayCounters]]:
        """The day's totals, for all calls and for each extension, in one pass."""
        start = datetime.combine(day, time(), tz)
        end = datetime.combine(day + timedelta(days=1), time(), tz)
        rows = self.db.query(
            # +status: walk the started_at index, not every finished call.
            "SELECT * FROM calls WHERE +status = 'finished' AND started_at >= ? AND started_at < ?",
            [_iso(start), _iso(end)],
        )
        total = DayCounters(day)
        by_extension: dict[str, DayCounters] = {}
        for row in rows:
            call = row_to_call(row)
            total.count(call, tz)
            if call.extension:
                by_extension.setdefault(call.extension, DayCounters(day)).count(call, tz)
        return total, by_extension

    def last_call_ends(self) -> dict[str, datetime]:
        """When each extension's last call ended (for how long it has been idle): a seek per
        extension in idx_calls_finished_ends, which start-up can afford on ten million calls."""
        rows = self.db.execute(
            _each_extension(finished_only=True)
            + " SELECT extension, (SELECT MAX(ended_at) FROM calls"
            " WHERE status = 'finished' AND extension = known.extension)"
            " FROM known WHERE extension IS NOT NULL"
        ).fetchall()
        return {extension: datetime.fromisoformat(ended) for extension, ended in rows if ended}


def _each_extension(finished_only: bool) -> str:
    """A CTE `known(extension)` of the distinct extensions of the calls (finished ones only,
    or all), found by one index seek per extension, not a scan."""
    finished = "status = 'finished' AND " if finished_only else ""
    first = " WHERE status = 'finished'" if finished_only else ""
    return (
        "WITH RECURSIVE known(extension) AS ("
        f" SELECT MIN(extension) FROM calls{first}"
        " UNION ALL SELECT (SELECT MIN(extension) FROM calls"
        f" WHERE {finished}extension > known.extension)"
        " FROM known WHERE known.extension IS NOT NULL)"
    )


def create_schema(db: sqlite_utils.Database) -> None:
    """The event log and the calls table, with their indexes (older databases updated)."""
    db.table("events").create(
        {
            "id": int,
            "received_at": str,
            "host": str,
            "uniqueid": str,
            "event": str,
            "payload": str,
        },
        pk="id",
        not_null={"received_at", "host", "uniqueid", "event", "payload"},
        if_not_exists=True,
    )
    db.table("events").create_index(["host", "uniqueid"], if_not_exists=True)
    db.table("calls").create(
        CALL_COLUMNS,
        pk=("host", "uniqueid"),
        not_null={"host", "uniqueid", "status", "cdr_seen", "extra"},
        if_not_exists=True,
    )
    for column in ("number_key", "last_seen_at"):  # databases made before them
        if column not in db.table("calls").columns_dict:
            db.table("calls").add_column(column, str)
    # Live calls are few among a million finished ones: index only them.
    db.execute("DROP INDEX IF EXISTS idx_calls_status")
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_calls_live ON calls (status) WHERE status != 'finished'"
    )
    # Each extension's last end, read at start-up (only finished calls: one entry a call).
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_calls_finished_ends"
        " ON calls (extension, ended_at) WHERE status = 'finished'"
    )
    # The history's sorts, of finished calls only: an entry is written once a call, when it
    # finishes, not again with each event (the history reads the few live ones beside it).
    for name, key in SORT_KEYS.items():
        if name != "started":
            db.execute(
                f"CREATE INDEX IF NOT EXISTS idx_calls_by_{name}"
                f" ON calls ({key}, host, uniqueid, started_at) WHERE status = 'finished'"
            )
    db.table("calls").create_index(["started_at"], if_not_exists=True)
    db.table("calls").create_index(["number_key", "started_at"], if_not_exists=True)
    db.table("calls").create_index(["extension", "started_at"], if_not_exists=True)
    db.table("calls").create_index(["duration"], if_not_exists=True)
    db.table("calls").create_index(["uniqueid"], if_not_exists=True)
    report_summaries.create(db)  # after the calls table: it may build them from its rows


# A call's times are written again with each of its events, and converting a time from the
# PBX's zone costs more than the rest of its row: each instant is converted once.
@functools.lru_cache(maxsize=4096)
def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


# A call's number is matched again with each of its events.
_number_key = functools.lru_cache(maxsize=4096)(phone_key)


def _changed(old: CallRow, new: CallRow) -> tuple[int, ...]:
    """The positions of the columns that differ (updated_at always: the row is written)."""
    if len(old) != len(new):
        raise ValueError("rows of different shapes")
    differ = list(map(operator.ne, old, new))  # on every event's path: compared in C
    differ[UPDATED_AT] = True
    return tuple(itertools.compress(range(len(new)), differ))


@functools.lru_cache(maxsize=128)  # a few shapes: which columns a new call has
def _insert_sql(present: tuple[int, ...]) -> str:
    """The insert of a call's row with only those columns (the others are NULL): binding a
    None costs the sqlite3 module an adapter lookup that fails, several times a text's."""
    columns = list(CALL_COLUMNS)
    names = ", ".join(columns[n] for n in present)
    return f"INSERT INTO calls ({names}) VALUES ({', '.join('?' * len(present))})"


@functools.lru_cache(maxsize=128)  # a few shapes: what each kind of event changes
def _update_sql(changed: tuple[int, ...], unfinished: bool = False) -> str:
    """The update of those columns of a call (`unfinished`: only if it has not finished)."""
    columns = list(CALL_COLUMNS)
    assignments = ", ".join(f"{columns[n]} = ?" for n in changed)
    keys = " AND ".join(f"{columns[n]} = ?" for n in KEY_POSITIONS)
    if unfinished:
        keys += f" AND status != '{Status.FINISHED.value}'"
    return f"UPDATE calls SET {assignments} WHERE {keys}"


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _stored_json(extra: Any) -> str:
    # ASCII escapes: any text survives as it is (the edges refuse lone surrogates).
    return json.dumps(extra, sort_keys=True) if extra else "{}"


# One decoder for every row: json.loads with an option builds a new one each call.
_STORED_DECODER = json.JSONDecoder(parse_constant=lambda constant: None)


def _read_json(text: str) -> Any:
    """A stored JSON column. Versions before 2026-12 let through what no API can answer with,
    read here as harmless: Infinity and NaN (a number too large) as None, a lone half of a
    surrogate pair as U+FFFD."""
    value = _STORED_DECODER.decode(text)
    if not SURROGATE_ESCAPE.search(text):
        return value
    try:
        return _scrubbed(value)
    except RecursionError:  # nested deeper than Python's stack: not shown at all
        return {}


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    if isinstance(value, dict):
        return {_scrubbed(key): _scrubbed(item) for key, item in value.items()}
    return value


_TO_COLUMN: dict[str, Callable[[Any], Any]] = {"time": _iso, "bool": int, "json": _stored_json}
_FROM_COLUMN: dict[str, Callable[[Any], Any]] = {"time": _parse, "bool": bool, "json": _read_json}
_CALL_ATTRIBUTES = [field.attribute for field in COLUMNS if field.attribute]
_read_attributes = operator.attrgetter(*_CALL_ATTRIBUTES)
_CONVERTED = [  # (position in the row, converter) for the columns that need one
    (n, _TO_COLUMN[field.kind]) for n, field in enumerate(COLUMNS) if field.kind in _TO_COLUMN
]
_STORE_ONLY = [(n, field.name) for n, field in enumerate(COLUMNS) if not field.attribute]
_INIT_FIELDS = {field.name for field in dataclasses.fields(Call)}
_READ = [  # (column, converter) of the columns a Call is built from
    (field.name, _FROM_COLUMN.get(field.kind)) for field in COLUMNS if field.name in _INIT_FIELDS
]


def call_row(call: Call, updated_at: datetime, number_key: str | None = None) -> tuple[Any, ...]:
    """The `calls` row of a call, in CALL_COLUMNS order (on every event's path: kept cheap)."""
    values = list(_read_attributes(call))
    known_here = {"updated_at": updated_at, "number_key": number_key}
    for position, name in _STORE_ONLY:  # the columns a call does not know, in their places
        values.insert(position, known_here[name])
    for position, convert in _CONVERTED:
        values[position] = convert(values[position])
    values[STATUS] = values[STATUS].value  # plain text: the module binds an enum as None's
    return tuple(values)


def row_to_call(row: dict[str, Any]) -> Call:
    fields = {
        name: convert(row[name]) if convert and row[name] is not None else row[name]
        for name, convert in _READ
    }
    fields["status"] = Status(row["status"])
    return Call(**fields)
