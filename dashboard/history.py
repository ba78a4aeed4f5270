"""Call history: filters read from a URL, keyset pages, and a streamed export.

Filters live in the query string so a search can be bookmarked and shared. Pages are keyset
pages (WHERE (sort, host, uniqueid) < cursor), so a deep page costs what the first does. Each
sort has an index (store.py: idx_calls_by_*) that a page walks when many calls match; a
few are sorted instead. Counts stop at COUNT_CAP: "5,000+ calls" on ten million.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, TypeGuard
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from dashboard.calls import Call
from dashboard.results import RESULTS, result_sql
from dashboard.schema import answered_sql
from dashboard.scope import Scope
from dashboard.store import SORT_KEYS, Store, _iso, row_to_call

PRESETS = {
    "today": "Today",
    "yesterday": "Yesterday",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "custom": "Custom",
    "all": "All time",
}
DIRECTIONS = ("incoming", "outgoing", "internal")
DISPOSITIONS = (
    "answered",
    "no_answer",
    "busy",
    "failed",
    "congestion",
    "expired",
    "lost",
    "closed",
)
SORTS = SORT_KEYS  # sort key -> SQL expression, each with its index
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Counting every match of "all time" on ten million calls takes a second, and counting to
# 10,000 missed calls reads 70,000 calls (30 ms); past this many a page says "5,000+", and
# its position "beyond page 100". An agent's week (about 2,500 calls) is counted exactly.
COUNT_CAP = 5_000
# Up to this many matches are sorted (read by time, or extension, then sorted); more are read
# in the sort's own index, which stops after a page.
SORT_AT_MOST = 5_000
# A cursor holds a sort key, a host and a uniqueid; from calls as stored (texts of at most 2048
# characters), about 22,000 characters at most. Anything longer was not made here.
MAX_CURSOR = 32 * 1024
DAMAGED_CURSOR = "the page link is damaged: start from the first page"


class FilterError(ValueError):
    """A filter value that cannot be read; the message says which and why."""


@dataclass(frozen=True)
class Filters:
    period: str = "7d"
    start: datetime | None = None  # inclusive, aware
    end: datetime | None = None  # exclusive, aware
    day_from: date | None = None  # what "custom" was given, to show it back
    day_to: date | None = None
    extension: str | None = None
    direction: str | None = None
    disposition: str | None = None  # the PBX's word (the API's filter)
    result: str | None = None  # a key of RESULTS: the word the Result column shows
    number: str | None = None  # digits the number contains
    min_duration: int | None = None
    host: str | None = None
    sort: str = "started"
    descending: bool = True

    def query(self, **changes: Any) -> dict[str, str]:
        """These filters as URL parameters (for links: sort headers, next page, export)."""
        values = replace(self, **changes) if changes else self
        params = {
            "period": values.period,
            "from": values.day_from.isoformat()
            if values.period == "custom" and values.day_from
            else "",
            "to": values.day_to.isoformat() if values.period == "custom" and values.day_to else "",
            "extension": values.extension or "",
            "direction": values.direction or "",
            "disposition": values.disposition or "",
            "result": values.result or "",
            "number": values.number or "",
            "min_duration": str(values.min_duration) if values.min_duration else "",
            "host": values.host or "",
            "sort": values.sort,
            "order": "desc" if values.descending else "asc",
        }
        return {key: value for key, value in params.items() if value}


def parse_filters(params: Mapping[str, str], tz: ZoneInfo, today: date) -> Filters:
    """Filters from URL parameters; raises FilterError naming a bad one."""
    period = params.get("period") or "7d"
    if period not in PRESETS:
        raise FilterError(f"period must be one of {', '.join(PRESETS)}")
    day_from = _date(params.get("from"), "from")
    day_to = _date(params.get("to"), "to")
    first, last = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1),) * 2,
        "7d": (today - timedelta(days=6), today),
        "30d": (today - timedelta(days=29), today),
        "custom": (day_from, day_to),
        "all": (None, None),
    }[period]
    if period == "custom" and (first is None or last is None):
        raise FilterError("a custom period needs both from and to dates")
    if first and last and first > last:
        raise FilterError("the period ends before it starts")
    extension = _digits(params.get("extension"), "extension", 10)
    number = "".join(ch for ch in params.get("number", "") if ch.isascii() and ch.isdigit())[:20]
    minimum = _digits(params.get("min_duration"), "min_duration", 6)
    direction, disposition = params.get("direction") or None, params.get("disposition") or None
    if direction and direction not in DIRECTIONS:
        raise FilterError(f"direction must be one of {', '.join(DIRECTIONS)}")
    if disposition and disposition not in DISPOSITIONS:
        raise FilterError(f"disposition must be one of {', '.join(DISPOSITIONS)}")
    result = params.get("result") or None
    if result and result not in RESULTS:
        raise FilterError(f"result must be one of {', '.join(RESULTS)}")
    sort = params.get("sort") or "started"
    if sort not in SORTS:
        raise FilterError(f"sort must be one of {', '.join(SORTS)}")
    return Filters(
        period=period,
        start=datetime.combine(first, time(), tz) if first else None,
        end=datetime.combine(last + timedelta(days=1), time(), tz) if last else None,
        day_from=day_from,
        day_to=day_to,
        extension=extension,
        direction=direction,
        disposition=disposition,
        result=result,
        number=number or None,
        min_duration=int(minimum) if minimum else None,
        host=(params.get("host") or "").strip()[:100] or None,
        sort=sort,
        descending=params.get("order", "desc") != "asc",
    )


def _date(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{name} must be a date like 2026-11-27") from None
    if not 1970 <= day.year < 2200:
        raise FilterError(f"{name} must be a date between 1970 and 2199")
    return day


def _digits(text: str | None, name: str, most: int) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > most:
        raise FilterError(f"{name} must be up to {most} digits")
    return text


def history_link(back: str | None, tz: ZoneInfo, today: date) -> str:
    """Where a call's page goes back to: the history page it came from (`back`, its query
    string), rebuilt from the filters it holds; the plain history when it cannot be read."""
    if not back or len(back) > MAX_CURSOR + 4096:
        return "/calls"
    values = {key: items[0] for key, items in parse_qs(back, keep_blank_values=True).items()}
    try:
        filters = parse_filters(values, tz, today)
        cursor = {key: values[key] for key in ("after", "before") if key in values}
        for text in cursor.values():
            if text:
                _decode_cursor(text)
    except FilterError:
        return "/calls"
    return "/calls?" + urlencode(filters.query() | cursor)


@dataclass(frozen=True)
class Page:
    calls: list[Call]
    next_cursor: str | None
    previous_cursor: str | None = None  # the page before this one ends here (None: the first)
    before: int | None = None  # how many calls come before this page (when asked)


class History:
    def __init__(self, store: Store, sort_at_most: int = SORT_AT_MOST) -> None:
        self.store = store
        self.sort_at_most = sort_at_most  # more matches than this: read in the sort's index

    def where(
        self, filters: Filters, scope: Scope | None, cursor_side: str = ""
    ) -> tuple[str, list[object]]:
        """The WHERE clause of a search; `scope`: the calls an agent may see (scope.py).
        `cursor_side` ("<" or ">"): a cursor on the start time bounds it on that side, more
        tightly than the period does: the period's bound there is kept out of the index
        (+started_at), else SQLite may seek from it and read every call up to the cursor."""
        clauses: list[str] = ["1 = 1"]
        params: list[object] = []
        if filters.start:
            clauses.append(f"{'+' if cursor_side == '>' else ''}started_at >= ?")
            params.append(_iso(filters.start))
        if filters.end:
            clauses.append(f"{'+' if cursor_side == '<' else ''}started_at < ?")
            params.append(_iso(filters.end))
        if scope is not None:
            condition, scoped = scope.sql()
            clauses.append(condition)
            params.extend(scoped)
        for column, value in (
            ("extension", filters.extension),
            ("direction", filters.direction),
            ("host", filters.host),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if filters.disposition == "no_answer":  # unanswered calls without a CDR count too
            clauses.append(
                "(disposition = 'no_answer' OR (COALESCE(disposition, '') = ''"
                f" AND status = 'finished' AND NOT {answered_sql()}))"
            )
        elif filters.disposition:
            clauses.append("disposition = ?")
            params.append(filters.disposition)
        if filters.result:
            clauses.append(f"{result_sql()} = ?")
            params.append(RESULTS[filters.result])
        if filters.number:
            clauses.append("number LIKE ?")
            params.append(f"%{filters.number}%")
        if filters.min_duration:
            clauses.append("duration >= ?")
            params.append(filters.min_duration)
        return " AND ".join(clauses), params

    def page(
        self,
        filters: Filters,
        scope: Scope | None,
        after: str | None,
        size: int = PAGE_SIZE,
        *,
        before: str | None = None,
        count_before: bool = False,
    ) -> Page:
        """The `size` calls after the cursor `after` (or before `before`: the previous page),
        in the filters' order; ties broken by host and uniqueid, so the order is total.
        `count_before`: how many calls come before the page, up to COUNT_CAP + 1."""
        return self._page(
            filters, scope, after, size, before, count_before, self._walk(filters, scope)
        )

    def _page(
        self,
        filters: Filters,
        scope: Scope | None,
        after: str | None,
        size: int,
        before: str | None,
        count_before: bool,
        walk: str | None,
    ) -> Page:
        key = SORTS[filters.sort]
        size = max(1, min(size, MAX_PAGE_SIZE))
        backwards = before is not None
        cursor = before if backwards else after
        # Reading backwards is reading the other order from the cursor, then turning round.
        ascending = filters.descending == backwards
        order, compare = ("ASC", ">") if ascending else ("DESC", "<")
        where, params = self.where(filters, scope, _side(filters, compare, bool(cursor)))
        values = _decode_cursor(cursor) if cursor else None
        rows: list[dict[str, Any]] = []
        for condition, args, order_by in _keyset(key, compare, order, values, walk):
            sql, args = _select(f"*, {key} AS sort_key", where + condition, params + args, walk)
            sql += f" ORDER BY {order_by} LIMIT ?"
            rows.extend(self.store.db.query(sql, [*args, size + 1 - len(rows)]))
            if len(rows) > size:
                break
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
        calls = [row_to_call({k: v for k, v in row.items() if k != "sort_key"}) for row in rows]
        if not rows:
            return Page(calls, None, None, 0 if count_before else None)
        first, last = _row_cursor(rows[0]), _row_cursor(rows[-1])
        beyond = functools.partial(self._beyond, filters, scope, walk=walk)
        earlier = more if backwards else bool(cursor) and beyond(first, True)
        later = (bool(cursor) and beyond(last, False)) if backwards else more
        return Page(
            calls,
            _encode_cursor(last) if later else None,
            _encode_cursor(first) if earlier else None,
            beyond(first, True, count=True) if count_before else None,
        )

    def _walk(self, filters: Filters, scope: Scope | None) -> str | None:
        """The index a page reads `calls` in: the sort's when more than `sort_at_most` calls
        match (it stops after a page); else None: as SQLite chooses (by time or extension,
        then a sort of what matched, which costs what matched)."""
        if filters.sort == "started":
            return None
        if self._capped_count(filters, scope, self.sort_at_most) <= self.sort_at_most:
            return None
        return f"idx_calls_by_{filters.sort}"

    def _beyond(
        self,
        filters: Filters,
        scope: Scope | None,
        cursor: list[Any],
        earlier: bool,
        *,
        walk: str | None,
        count: bool = False,
    ) -> int:
        """Whether (or, with `count`, how many, up to COUNT_CAP + 1) calls come before or
        after a row's cursor."""
        key = SORTS[filters.sort]
        compare = ">" if earlier == filters.descending else "<"
        where, params = self.where(filters, scope, _side(filters, compare, True))
        found = 0
        for condition, args, _ in _keyset(key, compare, "", cursor, walk):
            rows, args = _select("1", where + condition, params + args, walk)
            if count:
                sql = f"SELECT COUNT(*) FROM ({rows} LIMIT ?)"
                args.append(COUNT_CAP + 1 - found)
            else:
                sql = f"SELECT EXISTS ({rows})"
            found += int(self.store.db.execute(sql, args).fetchone()[0])
            if found > (COUNT_CAP if count else 0):
                break
        return found

    def count(self, filters: Filters, scope: Scope | None) -> int:
        """How many calls match, up to COUNT_CAP + 1 (more than COUNT_CAP: "5,000+")."""
        return self._capped_count(filters, scope, COUNT_CAP)

    def _capped_count(self, filters: Filters, scope: Scope | None, most: int) -> int:
        where, params = self.where(filters, scope)
        sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM calls WHERE {where} LIMIT ?)"
        return int(self.store.db.execute(sql, [*params, most + 1]).fetchone()[0])

    def recent(self, scope: Scope, limit: int = 5) -> list[Call]:
        """An agent's last finished calls, the latest to end first (in idx_calls_finished_ends)."""
        condition, params = scope.sql()
        rows = self.store.db.query(
            f"SELECT * FROM calls WHERE status = 'finished' AND {condition}"
            " ORDER BY ended_at DESC, host DESC, uniqueid DESC LIMIT ?",
            [*params, limit],
        )
        return [row_to_call(row) for row in rows]

    def every(self, filters: Filters, scope: Scope | None, chunk: int = 1000) -> Iterator[Call]:
        """Every call the filters match, page by page (for the export)."""
        after: str | None = None
        walk = self._walk(filters, scope)
        while True:
            page = self._page(filters, scope, after, chunk, None, False, walk)
            yield from page.calls
            if page.next_cursor is None:
                return
            after = page.next_cursor


def _side(filters: Filters, compare: str, cursor: bool) -> str:
    """The side a cursor bounds the start time on, if the sort is by start time."""
    return compare if cursor and filters.sort == "started" else ""


def _keyset(
    key: str, compare: str, order: str, cursor: list[Any] | None, index: str | None
) -> list[tuple[str, list[Any], str]]:
    """The rows past a cursor, as parts read one after the other: (condition, its parameters,
    ORDER BY). In the sort's index (`index`), SQLite seeks a row value only after an equal key,
    and scans a whole key otherwise (a million calls with a recording, say): the rest of the
    cursor's key first, then the keys past it."""
    everything = f"{'sort_key' if index else key} {order}, host {order}, uniqueid {order}"
    if cursor is None:
        return [("", [], everything)]
    if index is None:
        # The key alone too: SQLite seeks an index on an expression with it.
        condition = f" AND {key} {compare}= ? AND ({key}, host, uniqueid) {compare} (?, ?, ?)"
        return [(condition, [cursor[0], *cursor], everything)]
    same = f" AND {key} = ? AND (host, uniqueid) {compare} (?, ?)"
    return [
        (same, list(cursor), f"host {order}, uniqueid {order}"),
        (f" AND {key} {compare} ?", [cursor[0]], everything),
    ]


def _select(
    columns: str, condition: str, params: list[Any], index: str | None
) -> tuple[str, list[Any]]:
    """SELECT `columns` FROM calls WHERE `condition`; in `index` (which holds finished calls
    only, written once a call) with the few live calls beside it, in their own index."""
    if index is None:
        return f"SELECT {columns} FROM calls WHERE {condition}", list(params)
    finished = f"FROM calls INDEXED BY {index} WHERE status = 'finished' AND {condition}"
    live = f"FROM calls INDEXED BY idx_calls_live WHERE status != 'finished' AND {condition}"
    sql = f"SELECT {columns} {finished} UNION ALL SELECT {columns} {live}"
    return sql, [*params, *params]


def _row_cursor(row: Mapping[str, Any]) -> list[Any]:
    return [row["sort_key"], row["host"], row["uniqueid"]]


def _encode_cursor(values: list[Any]) -> str:
    text = json.dumps(values, ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(text: str) -> list[Any]:
    """[sort key, host, uniqueid], read defensively: it comes back in a URL anyone can edit."""
    if len(text) > MAX_CURSOR:
        raise FilterError(DAMAGED_CURSOR)
    try:
        values: object = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, RecursionError):  # RecursionError: lists in lists in lists...
        raise FilterError(DAMAGED_CURSOR) from None
    if not _is_cursor(values):
        raise FilterError(DAMAGED_CURSOR)
    return values


def _is_cursor(values: object) -> TypeGuard[list[Any]]:
    if not (isinstance(values, list) and len(values) == 3):
        return False
    key, host, uniqueid = values
    whole = isinstance(key, int) and not isinstance(key, bool) and -(2**63) <= key < 2**63
    texts = [value for value in values if isinstance(value, str)]
    return (
        (whole or isinstance(key, str))
        and isinstance(host, str)
        and isinstance(uniqueid, str)
        and all(_storable(value) for value in texts)
    )


def _storable(text: str) -> bool:
    """Not a lone surrogate (a JSON `\\ud800`), which SQLite could not be handed."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
