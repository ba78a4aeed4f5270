"""Kiosk links: a wall screen signs itself in as a viewer, for good, until an admin revokes it.

Each link is its own viewer account (so revoking it is disabling that account, which ends its
sessions and live sockets with the machinery every account has) and a secret token, stored
only as a digest.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import sqlite_utils

from dashboard.auth import Accounts, AuthError, Role, User
from dashboard.passwords import new_token, token_digest

KIOSK_SESSION = timedelta(days=3650)  # "never expires until revoked"


@dataclass(frozen=True)
class KioskLink:
    id: int
    label: str
    user: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    group: str = ""  # the group the screen shows ("": every call)

    @property
    def board_path(self) -> str:
        """Where the screen goes once signed in."""
        return "/tv" + (f"?{urlencode({'group': self.group})}" if self.group else "")


class Kiosks:
    def __init__(self, db: sqlite_utils.Database, accounts: Accounts) -> None:
        self.db = db
        self.accounts = accounts
        db.table("kiosk_links").create(
            {
                "id": int,
                "label": str,
                "user": str,
                "token_hash": str,
                "created_by": str,
                "created_at": str,
                "revoked_at": str,
            },
            pk="id",
            not_null={"label", "user", "token_hash"},
            if_not_exists=True,
        )
        db.table("kiosk_links").create_index(["token_hash"], unique=True, if_not_exists=True)
        if "board_group" not in db.table("kiosk_links").columns_dict:  # made before groups
            db.table("kiosk_links").add_column("board_group", str)

    def create(self, label: str, created_by: str, group: str = "") -> tuple[KioskLink, str]:
        """A new link (to a group's board, given one the caller checked); returns it and its
        token (shown once)."""
        label = " ".join(label.split())[:60]
        if not label:
            raise AuthError("name the screen, e.g. 'Sales floor TV'")
        name = f"kiosk-{secrets.token_hex(4)}"
        self.accounts.add_user(name, Role.VIEWER.value, new_token())  # a password no one knows
        token = new_token()
        self.db.execute(
            "INSERT INTO kiosk_links"
            " (label, user, token_hash, created_by, created_at, board_group)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [label, name, token_digest(token), created_by, datetime.now(UTC).isoformat(), group],
        )
        return self.links()[0], token

    def links(self) -> list[KioskLink]:
        rows = self.db.execute(
            "SELECT id, label, user, created_by, created_at, revoked_at, board_group"
            " FROM kiosk_links ORDER BY id DESC"
        ).fetchall()
        return [
            KioskLink(
                id_,
                label,
                user,
                by,
                datetime.fromisoformat(at),
                datetime.fromisoformat(revoked) if revoked else None,
                group or "",
            )
            for id_, label, user, by, at, revoked, group in rows
        ]

    def label_of(self, user_name: str) -> str | None:
        """The screen whose account this is (None: a person's account)."""
        row = self.db.execute(
            "SELECT label FROM kiosk_links WHERE user = ? ORDER BY id DESC LIMIT 1", [user_name]
        ).fetchone()
        return row[0] if row else None

    def user_for(self, token: str) -> User | None:
        """The viewer a link signs in as, unless it was revoked."""
        found = self.link_for(token)
        return found[1] if found else None

    def link_for(self, token: str) -> tuple[KioskLink, User] | None:
        """A link that is not revoked, and the viewer it signs in as."""
        row = self.db.execute(
            "SELECT id FROM kiosk_links WHERE token_hash = ? AND revoked_at IS NULL",
            [token_digest(token)],
        ).fetchone()
        link = next((link for link in self.links() if row and link.id == row[0]), None)
        user = self.accounts.find_user(link.user) if link else None
        if link is None or user is None or user.disabled:
            return None
        return link, user

    def revoke(self, link_id: int) -> KioskLink:
        link = next((link for link in self.links() if link.id == link_id), None)
        if link is None:
            raise AuthError("no such kiosk link")
        with self.db.atomic():
            self.db.execute(
                "UPDATE kiosk_links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                [datetime.now(UTC).isoformat(), link_id],
            )
            self.accounts.disable_user(link.user)  # ends its sessions, and so its sockets
        return link
