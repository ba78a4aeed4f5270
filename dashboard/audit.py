"""The audit log: who did what, when, from where, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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

    def entries(self, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        """Newest first; page with `before_id` (keyset, stays fast on a long log)."""
        sql = "SELECT * FROM audit"
        params: list[object] = []
        if before_id is not None:
            sql += " WHERE id < ?"
            params.append(before_id)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [
            AuditEntry(**{**row, "at": datetime.fromisoformat(row["at"])})
            for row in self.db.query(sql, params)
        ]
