"""The audit log: who did what, when, from where, and how it ended."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    user: str
    action: str
    target: str
    result: str
    remote: str
    detail: str


class AuditLog:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        db.table("audit").create(
            {
                "id": int,
                "at": str,
                "user": str,
                "action": str,
                "target": str,
                "result": str,
                "remote": str,
                "detail": str,
            },
            pk="id",
            not_null={"at", "user", "action", "result"},
            if_not_exists=True,
        )
        db.table("audit").create_index(["at"], if_not_exists=True)
        db.table("audit").create_index(["action", "user"], if_not_exists=True)

    def record(
        self,
        at: datetime,
        user: str,
        action: str,
        *,
        result: str = "ok",
        target: str = "",
        remote: str = "",
        detail: str = "",
    ) -> None:
        self.db.execute(
            "INSERT INTO audit (at, user, action, target, result, remote, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [at.isoformat(), user, action, target, result, remote, detail],
        )

    def entries(
        self,
        limit: int = 100,
        before_id: int | None = None,
        where: AuditFilter | None = None,
    ) -> list[AuditEntry]:
        """Newest first; page with `before_id` (keyset, stays fast on a long log)."""
        sql, params = (where or AuditFilter()).sql()
        if before_id is not None:
            sql += " AND id < ?"
            params.append(before_id)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [_entry(row) for row in self.db.query(sql, params)]

    def every(self, where: AuditFilter, batch: int = 500) -> Iterator[AuditEntry]:
        """Every matching entry, newest first, read a page at a time."""
        before: int | None = None
        while entries := self.entries(batch, before, where):
            yield from entries
            before = entries[-1].id

    def actions(self) -> list[str]:
        """Every kind of action recorded, for the filter's choices."""
        rows = self.db.execute("SELECT DISTINCT action FROM audit ORDER BY action").fetchall()
        return [row[0] for row in rows]

    def last_sign_ins(self) -> dict[str, datetime]:
        """User name -> their latest successful sign-in still in the log."""
        rows = self.db.execute(
            "SELECT user, MAX(at) FROM audit WHERE action = 'sign-in' AND result = 'ok'"
            " GROUP BY user"
        ).fetchall()
        return {user: datetime.fromisoformat(at) for user, at in rows}


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to show: by whom (part of the name), which action, and when (UTC
    instants: `since` included, `until` not)."""

    user: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def sql(self) -> tuple[str, list[object]]:
        sql = "SELECT * FROM audit WHERE 1 = 1"
        params: list[object] = []
        if self.user:
            sql += " AND user LIKE ? ESCAPE '\\'"
            params.append("%" + _like_escaped(self.user) + "%")
        if self.action:
            sql += " AND action = ?"
            params.append(self.action)
        # Stored as UTC ISO strings, which sort as the instants do.
        if self.since is not None:
            sql += " AND at >= ?"
            params.append(self.since.astimezone(UTC).isoformat())
        if self.until is not None:
            sql += " AND at < ?"
            params.append(self.until.astimezone(UTC).isoformat())
        return sql, params


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(**{**row, "at": datetime.fromisoformat(row["at"])})
