"""Missed calls to return: unanswered incoming calls nobody has called back yet.

A number leaves the list by itself when a later outgoing call to it is answered, or when
someone marks it done (who and when is kept; a new missed call puts it back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from dashboard.calls import Call
from dashboard.schema import answered_sql, missed_sql
from dashboard.scope import Scope
from dashboard.store import Store, _iso, row_to_call


@dataclass(frozen=True)
class ToCallBack:
    number_key: str  # how the number is matched (see contacts.phone_key)
    call: Call  # the latest missed call from that number
    attempts: int  # missed calls from it not yet returned


class Callbacks:
    def __init__(self, store: Store) -> None:
        self.store = store
        db: sqlite_utils.Database = store.db
        db.table("callbacks_done").create(
            {"number_key": str, "done_by": str, "done_at": str},
            pk="number_key",
            if_not_exists=True,
        )

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

    def may_mark(self, number_key: str, since: datetime, scope: Scope | None) -> bool:
        """Whether this number is on the user's list (an agent's: their own extension's)."""
        to_return, params = _to_return(since, scope)
        sql = f"SELECT 1 FROM calls m WHERE {to_return} AND m.number_key = ? LIMIT 1"
        return self.store.db.execute(sql, [*params, number_key]).fetchone() is not None

    def mark_done(self, number_key: str, user: str, now: datetime) -> None:
        self.store.db.execute(
            "INSERT INTO callbacks_done (number_key, done_by, done_at) VALUES (?, ?, ?)"
            " ON CONFLICT (number_key) DO UPDATE SET done_by = excluded.done_by,"
            " done_at = excluded.done_at",
            [number_key, user, _iso(now)],
        )

    def done(self, number_key: str) -> tuple[str, datetime] | None:
        row = self.store.db.execute(
            "SELECT done_by, done_at FROM callbacks_done WHERE number_key = ?", [number_key]
        ).fetchone()
        return (row[0], datetime.fromisoformat(row[1])) if row else None


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
                        AND d.done_at >= m.started_at)"""
    return sql, [_iso(since), *scoped]
