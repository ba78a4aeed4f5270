"""Refused events, kept with why they were refused, for an operator to inspect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlite_utils


class Rejected:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        db.table("rejected_events").create(
            {
                "id": int,
                "received_at": str,
                "reason": str,
                "detail": str,
                "method": str,
                "query": str,
                "body": str,
                "size": int,
                "remote": str,
            },
            pk="id",
            if_not_exists=True,
        )

    def record(
        self,
        received_at: datetime,
        reason: str,
        detail: str,
        *,
        method: str,
        query: str,
        body: str,
        size: int,
        remote: str,
    ) -> None:
        self.db.execute(
            "INSERT INTO rejected_events"
            " (received_at, reason, detail, method, query, body, size, remote)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (_iso(received_at), reason, detail, method, query, body, size, remote),
        )

    def all(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM rejected_events ORDER BY id"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
