"""Users, roles, sessions and CSRF (secrets: passwords.py; failed sign-ins: signins.py;
API tokens: tokens.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from dashboard.passwords import hash_password, new_token, token_digest
from dashboard.signins import Limits, SignIns
from dashboard.tokens import ApiTokens
from dashboard.users import AuthError as AuthError
from dashboard.users import Role as Role
from dashboard.users import User as User
from dashboard.users import now_iso, user_from_row

SESSION_COOKIE = "dashboard_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")


@dataclass(frozen=True)
class Session:
    id_hash: str
    user: User
    csrf_token: str
    expires_at: datetime


# -- the accounts database -----------------------------------------------------------------


class Accounts:
    """Users, sessions, API tokens and failed sign-ins, in the dashboard's SQLite database."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        *,
        kdf_n: int = 2**15,
        session_hours: float = 12,
        sign_in_limits: Limits | None = None,
    ) -> None:
        self.db = db
        self.kdf_n = kdf_n
        self.session_lifetime = timedelta(hours=session_hours)
        self._decoy_hash = hash_password(new_token(), kdf_n)
        self.sign_ins = SignIns(db, sign_in_limits)
        self.tokens = ApiTokens(db, self._existing)
        self._create_schema()

    def _create_schema(self) -> None:
        self.db.table("users").create(
            {
                "id": int,
                "name": str,
                "role": str,
                "extension": str,
                "password_hash": str,
                "disabled": int,
                "created_at": str,
            },
            pk="id",
            not_null={"name", "role", "password_hash", "disabled"},
            if_not_exists=True,
        )
        self.db.table("users").create_index(["name"], unique=True, if_not_exists=True)
        self.db.table("sessions").create(
            {
                "id_hash": str,
                "user_id": int,
                "csrf_token": str,
                "created_at": str,
                "expires_at": str,
                "remote": str,
            },
            pk="id_hash",
            if_not_exists=True,
        )

    # users

    def add_user(self, name: str, role: str, password: str, extension: str | None = None) -> User:
        name = name.strip().lower()
        if not name or not set(name) <= NAME_CHARS or len(name) > 64:
            raise AuthError("a user name is 1 to 64 of a-z, 0-9, '.', '_', '-', '@'")
        role_value, extension = checked_role(role, extension)
        check_password_strength(password)
        if self.find_user(name) is not None:
            raise AuthError(f"a user named {name!r} already exists")
        self.db.execute(
            "INSERT INTO users (name, role, extension, password_hash, disabled, created_at)"
            " VALUES (?, ?, ?, ?, 0, ?)",
            [
                name,
                role_value.value,
                extension or None,
                hash_password(password, self.kdf_n),
                now_iso(),
            ],
        )
        user = self.find_user(name)
        assert user is not None
        return user

    def find_user(self, name: str) -> User | None:
        rows = list(self.db.query("SELECT * FROM users WHERE name = ?", [name.strip().lower()]))
        return user_from_row(rows[0]) if rows else None

    def get_user(self, user_id: int) -> User | None:
        rows = list(self.db.query("SELECT * FROM users WHERE id = ?", [user_id]))
        return user_from_row(rows[0]) if rows else None

    def extension_names(self) -> dict[str, str]:
        """Extension -> the name of the (enabled) user it belongs to, for the grid."""
        rows = self.db.execute(
            "SELECT extension, name FROM users WHERE extension IS NOT NULL AND disabled = 0"
            " ORDER BY name"
        ).fetchall()
        return {extension: name for extension, name in rows}

    def users(self) -> list[User]:
        return [user_from_row(row) for row in self.db.query("SELECT * FROM users ORDER BY name")]

    def set_password(self, name: str, password: str) -> User:
        """A new password ends every way in the old one opened: sessions and API tokens."""
        user = self._existing(name)
        check_password_strength(password)
        with self.db.atomic():
            self.db.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?",
                [hash_password(password, self.kdf_n), user.id],
            )
            self.end_sessions(user.id)
            self.tokens.revoke_user(user.id)
        return user

    def disable_user(self, name: str) -> User:
        user = self._existing(name)
        with self.db.atomic():
            self.db.execute("UPDATE users SET disabled = 1 WHERE id = ?", [user.id])
            self.end_sessions(user.id)
            self.tokens.revoke_user(user.id)
        return user

    def enable_user(self, name: str) -> User:
        user = self._existing(name)
        self.db.execute("UPDATE users SET disabled = 0 WHERE id = ?", [user.id])
        return self._existing(name)

    def change_user(self, name: str, role: str, extension: str | None) -> User:
        """A new role or extension; the user stays signed in (their next request, and their
        live board once it reconnects, go by the new one)."""
        user = self._existing(name)
        role_value, extension = checked_role(role, extension)
        self.db.execute(
            "UPDATE users SET role = ?, extension = ? WHERE id = ?",
            [role_value.value, extension, user.id],
        )
        return self._existing(name)

    def owners_of(self, user_id: int) -> set[str]:
        """Who a user's live sockets are opened by (as `valid_owners` names them)."""
        sessions = self.db.execute("SELECT id_hash FROM sessions WHERE user_id = ?", [user_id])
        tokens = self.db.execute(
            "SELECT token_hash FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL",
            [user_id],
        )
        return {row[0] for row in sessions} | {f"token:{row[0]}" for row in tokens}

    def _existing(self, name: str) -> User:
        user = self.find_user(name)
        if user is None:
            raise AuthError(f"no user named {name!r}")
        return user

    # sign-in

    def credentials(self, name: str) -> tuple[User | None, str]:
        """The user and the stored hash to check a password against. For an unknown name, a
        hash of nothing anyone knows: checking it costs the same, so timing tells no names."""
        rows = list(self.db.query("SELECT * FROM users WHERE name = ?", [name.strip().lower()]))
        if not rows:
            return None, self._decoy_hash
        return user_from_row(rows[0]), rows[0]["password_hash"]

    def purge(self, now: datetime) -> None:
        """Forget expired sessions and stale sign-in counts (the tables stay small)."""
        self.db.execute("DELETE FROM sessions WHERE expires_at < ?", [now.isoformat()])
        self.sign_ins.purge(now)

    # sessions

    def start_session(
        self, user: User, now: datetime, remote: str, lifetime: timedelta | None = None
    ) -> tuple[str, Session]:
        """A new session; returns the cookie value (shown once, stored only as a digest)."""
        token = new_token()
        expires = now + (lifetime or self.session_lifetime)
        session = Session(token_digest(token), user, new_token(), expires)
        self.db.execute(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, remote)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                session.id_hash,
                user.id,
                session.csrf_token,
                now.isoformat(),
                session.expires_at.isoformat(),
                remote,
            ],
        )
        return token, session

    def session(self, token: str, now: datetime) -> Session | None:
        rows = list(
            self.db.query(
                "SELECT sessions.*, users.* FROM sessions JOIN users ON users.id = sessions.user_id"
                " WHERE id_hash = ?",
                [token_digest(token)],
            )
        )
        if not rows:
            return None
        row = rows[0]
        expires = datetime.fromisoformat(row["expires_at"])
        if row["disabled"] or expires <= now:
            return None
        return Session(row["id_hash"], user_from_row(row), row["csrf_token"], expires)

    def valid_owners(self, owners: set[str], now: datetime) -> set[str]:
        """Which of these socket owners (session digests, or "token:DIGEST" for API tokens) are
        still signed in and enabled."""
        valid: set[str] = set()
        for owner in owners:
            if owner.startswith("token:"):
                if self.tokens.user_by_digest(owner.removeprefix("token:")) is not None:
                    valid.add(owner)
                continue
            rows = list(
                self.db.query(
                    "SELECT expires_at, disabled FROM sessions JOIN users ON users.id = user_id"
                    " WHERE id_hash = ?",
                    [owner],
                )
            )
            if (
                rows
                and not rows[0]["disabled"]
                and datetime.fromisoformat(rows[0]["expires_at"]) > now
            ):
                valid.add(owner)
        return valid

    def end_session(self, id_hash: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE id_hash = ?", [id_hash])

    def end_sessions(self, user_id: int) -> None:
        self.db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])


def checked_role(role: str, extension: str | None) -> tuple[Role, str | None]:
    """The role, and the extension (None for none) that goes with it."""
    try:
        role_value = Role(role)
    except ValueError:
        raise AuthError(f"unknown role {role!r}: use admin, supervisor, agent or viewer") from None
    extension = (extension or "").strip() or None
    if role_value is Role.AGENT and extension is None:
        raise AuthError("an agent needs an extension (digits), e.g. --extension 70")
    if extension is not None and not (extension.isascii() and extension.isdigit()):
        raise AuthError("an extension is digits only")
    return role_value, extension


def check_password_strength(password: str) -> None:
    if len(password) < 10:
        raise AuthError("a password needs at least 10 characters")
    if len(password) > 1024:
        raise AuthError("a password may not be longer than 1024 characters")
