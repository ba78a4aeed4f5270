"""API tokens: for scripts, monitors and wall screens (Authorization: Bearer syn_...). Only
their SHA-256 digests are stored; a token acts with its user's role until revoked."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from dashboard.passwords import new_token, token_digest
from dashboard.users import AuthError, User, now_iso, user_from_row


class ApiTokens:
    def __init__(self, db: sqlite_utils.Database, existing: Callable[[str], User]) -> None:
        self.db = db
        self._existing = existing  # the user of that name, or AuthError
        db.table("api_tokens").create(
            {
                "id": int,
                "user_id": int,
                "token_hash": str,
                "label": str,
                "created_at": str,
                "revoked_at": str,
            },
            pk="id",
            if_not_exists=True,
        )
        db.table("api_tokens").create_index(["token_hash"], unique=True, if_not_exists=True)

    def create(self, name: str, label: str = "") -> str:
        user = self._existing(name)
        if user.disabled:
            raise AuthError(f"user {name!r} is disabled")
        token = "syn_" + new_token()
        self.db.execute(
            "INSERT INTO api_tokens (user_id, token_hash, label, created_at) VALUES (?, ?, ?, ?)",
            [user.id, token_digest(token), label, now_iso()],
        )
        return token

    def revoke(self, token: str) -> bool:
        cursor = self.db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
            [now_iso(), token_digest(token)],
        )
        return cursor.rowcount > 0

    def revoke_all_of(self, name: str) -> int:
        return self.revoke_user(self._existing(name).id)

    def revoke_user(self, user_id: int) -> int:
        """Revoke every active token of that user; returns how many."""
        cursor = self.db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
            [now_iso(), user_id],
        )
        return cursor.rowcount

    def user(self, token: str) -> User | None:
        return self.user_by_digest(token_digest(token))

    def user_by_digest(self, digest: str) -> User | None:
        rows = list(
            self.db.query(
                "SELECT users.* FROM api_tokens JOIN users ON users.id = api_tokens.user_id"
                " WHERE token_hash = ? AND revoked_at IS NULL",
                [digest],
            )
        )
        if not rows or rows[0]["disabled"]:
            return None
        return user_from_row(rows[0])
