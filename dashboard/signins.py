"""Failed sign-ins, counted per name: after MAX_FAILURES_BEFORE_LOCK in a row the name is
locked for LOCK_MINUTES. An attempt is counted before its password is checked."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlite_utils

MAX_FAILURES_BEFORE_LOCK = 5
LOCK_MINUTES = 15


class SignIns:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        db.table("sign_in_failures").create(
            {"name": str, "failures": int, "locked_until": str, "last_at": str},
            pk="name",
            if_not_exists=True,
        )
        if "last_at" not in db.table("sign_in_failures").columns_dict:  # older databases
            db.table("sign_in_failures").add_column("last_at", str)

    def succeeded(self, name: str) -> None:
        self.db.execute("DELETE FROM sign_in_failures WHERE name = ?", [name.strip().lower()])

    def begin(self, name: str, now: datetime) -> datetime | None:
        """Count an attempt *before* its password is checked, so that guesses sent all at
        once are counted too. Returns when the name's lock ends if it is (or now becomes)
        locked: then the password must not be checked at all."""
        key = name.strip().lower()
        locked = self.locked_until(key, now)
        if locked is not None:
            return locked
        attempts = self.failures(key) + 1
        until = (
            now + timedelta(minutes=LOCK_MINUTES) if attempts > MAX_FAILURES_BEFORE_LOCK else None
        )
        self.db.execute(
            "INSERT INTO sign_in_failures (name, failures, locked_until, last_at)"
            " VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET failures = excluded.failures,"
            " locked_until = excluded.locked_until, last_at = excluded.last_at",
            [key, 0 if until else attempts, until.isoformat() if until else None, now.isoformat()],
        )
        return until

    def purge(self, now: datetime) -> None:
        """Forget stale counts (the table stays small); a lock still on is kept."""
        self.db.execute(
            "DELETE FROM sign_in_failures WHERE (locked_until IS NULL OR locked_until < ?)"
            " AND last_at < ?",
            [now.isoformat(), (now - timedelta(days=1)).isoformat()],
        )

    def failures(self, name: str) -> int:
        row = next(
            iter(
                self.db.query(
                    "SELECT failures FROM sign_in_failures WHERE name = ?", [name.strip().lower()]
                )
            ),
            None,
        )
        return int(row["failures"]) if row else 0

    def locked_until(self, name: str, now: datetime) -> datetime | None:
        row = next(
            iter(
                self.db.query(
                    "SELECT locked_until FROM sign_in_failures WHERE name = ?",
                    [name.strip().lower()],
                )
            ),
            None,
        )
        if row and row["locked_until"]:
            until = datetime.fromisoformat(row["locked_until"])
            if until > now:
                return until
        return None
