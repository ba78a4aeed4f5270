"""Missed calls to return: unanswered incoming calls nobody has called back yet.

A number leaves the list by itself when a later outgoing call to it is answered, or when
someone marks it done (who and when is kept; a new missed call puts it back). A supervisor's
or an admin's "done" is everyone's; an agent's is for their own calls alone (their
extension's at their PBX, `Scope`): the number stays on the other extensions' lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from dashboard.calls import Call
from dashboard.schema import answered_sql, missed_sql
from dashboard.scope import Scope
from dashboard.store import Store, _iso, row_to_call

# In callbacks_done, an extension or host of "*": every one (digits and host names are never
# "*"). A supervisor's "done" is kept as ("*", "*"), an agent's as (extension, host), or
# (extension, "*") when its extension's calls come from any host.
EVERY = "*"
LOOK_BACK = timedelta(days=14)  # how far back the worklist reaches


@dataclass(frozen=True)
class MarkedDone:
    by: str
    at: datetime
    extension: str | None = None  # None: at every extension (a supervisor's or admin's)
    host: str | None = None  # None: from any host


@dataclass(frozen=True)
class ToCallBack:
    number_key: str  # how the number is matched (see contacts.phone_key)
    call: Call  # the latest missed call from that number
    attempts: int  # missed calls from it not yet returned


class Callbacks:
    def __init__(self, store: Store) -> None:
        self.store = store
        create_done_table(store.db)

    def worklist(
        self, since: datetime, scope: Scope | None = None, limit: int = 200
    ) -> list[ToCallBack]:
        to_return, params = _to_return(since, scope)
        sql = f"""
            SELECT m.number_key, COUNT(*), MAX(m.started_at) FROM calls m WHERE {to_return}
            GROUP BY m.number_key ORDER BY MAX(m.started_at) DESC LIMIT ?"""
        entries = []
        for key, attempts, last in self.store.db.execute(sql, [*params, limit]).fetchall():
            condition, scoped = scope.sql() if scope is not None else ("1 = 1", [])
            rows = list(
                self.store.db.query(
                    "SELECT * FROM calls WHERE number_key = ? AND started_at = ?"
                    f" AND {condition} LIMIT 1",
                    [key, last, *scoped],
                )
            )
            if rows:
                entries.append(ToCallBack(key, row_to_call(rows[0]), int(attempts)))
        return entries

    def count(self, since: datetime, scope: Scope | None = None) -> int:
        """How many numbers the worklist holds (its length, however many are shown)."""
        to_return, params = _to_return(since, scope)
        sql = f"SELECT COUNT(DISTINCT m.number_key) FROM calls m WHERE {to_return}"
        return int(self.store.db.execute(sql, params).fetchone()[0])

    def may_mark(self, number_key: str, since: datetime, scope: Scope | None) -> bool:
        """Whether this number is on the user's list (an agent's: their own extension's)."""
        to_return, params = _to_return(since, scope)
        sql = f"SELECT 1 FROM calls m WHERE {to_return} AND m.number_key = ? LIMIT 1"
        return self.store.db.execute(sql, [*params, number_key]).fetchone() is not None

    def mark_done(self, number_key: str, user: str, now: datetime, scope: Scope | None) -> None:
        """Mark the number done for `scope` (an agent's own calls; None: everyone's)."""
        with self.store.db.atomic():
            for extension, host in _done_for(scope):
                self.store.db.execute(
                    "INSERT INTO callbacks_done (number_key, extension, host, done_by, done_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (number_key, extension, host)"
                    " DO UPDATE SET done_by = excluded.done_by, done_at = excluded.done_at",
                    [number_key, extension, host, user, _iso(now)],
                )

    def done(self, number_key: str) -> list[MarkedDone]:
        """Who marked the number done, and for whom: the newest first."""
        rows = self.store.db.execute(
            "SELECT done_by, done_at, extension, host FROM callbacks_done WHERE number_key = ?"
            " ORDER BY done_at DESC, extension, host",
            [number_key],
        ).fetchall()
        return [
            MarkedDone(by, datetime.fromisoformat(at), _or_none(extension), _or_none(host))
            for by, at, extension, host in rows
        ]


def create_done_table(db: sqlite_utils.Database) -> None:
    """The "done" marks, one a number and scope; a table of one a number (from before
    agents' own marks) becomes this one, its marks everyone's."""
    table = db.table("callbacks_done")
    with db.atomic():
        if table.exists() and "extension" not in table.columns_dict:
            db.execute("ALTER TABLE callbacks_done RENAME TO callbacks_done_before_scopes")
            _create_done(db)
            db.execute(
                "INSERT INTO callbacks_done (number_key, extension, host, done_by, done_at)"
                " SELECT number_key, ?, ?, done_by, done_at FROM callbacks_done_before_scopes"
                " WHERE number_key IS NOT NULL AND done_at IS NOT NULL",  # (never of effect)
                [EVERY, EVERY],
            )
            db.execute("DROP TABLE callbacks_done_before_scopes")
        _create_done(db)


def _create_done(db: sqlite_utils.Database) -> None:
    db.table("callbacks_done").create(
        {"number_key": str, "extension": str, "host": str, "done_by": str, "done_at": str},
        pk=("number_key", "extension", "host"),
        not_null={"number_key", "extension", "host", "done_at"},
        if_not_exists=True,
    )


def _done_for(scope: Scope | None) -> list[tuple[str, str]]:
    """The (extension, host) rows of a "done" for `scope`."""
    if scope is None:
        return [(EVERY, EVERY)]
    if scope.hosts is None:
        return [(scope.extension, EVERY)]
    return [(scope.extension, host) for host in sorted(scope.hosts)]


def for_whom(scope: Scope | None) -> str:
    """For whom a "done" for `scope` is, as the audit log says it."""
    if scope is None:
        return "for everyone"
    hosts = f" at {', '.join(sorted(scope.hosts))}" if scope.hosts else ""
    return f"for extension {scope.extension}{hosts} alone"


def _or_none(stored: str) -> str | None:
    return None if stored == EVERY else stored


def _to_return(since: datetime, scope: Scope | None) -> tuple[str, list[object]]:
    """The condition on a call `m` of being a missed call still to return (since `since`;
    in an agent's `scope`, unless None), and its parameters."""
    condition, scoped = scope.sql("m") if scope is not None else ("1 = 1", [])
    sql = f"""m.status = 'finished' AND m.number_key IS NOT NULL AND {missed_sql("m")}
        AND m.started_at >= ? AND {condition}
        AND NOT EXISTS (SELECT 1 FROM calls o WHERE o.number_key = m.number_key
                        AND o.direction = 'outgoing' AND o.started_at > m.started_at
                        AND {answered_sql("o")})
        AND NOT EXISTS (SELECT 1 FROM callbacks_done d WHERE d.number_key = m.number_key
                        AND d.done_at >= m.started_at
                        AND d.extension IN (?, m.extension) AND d.host IN (?, m.host))"""
    return sql, [_iso(since), *scoped, EVERY, EVERY]
