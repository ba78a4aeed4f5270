"""What an admin does to users at /admin/users: the list (with each one's lock and last
sign-in), and each change checked first, with the rules the command line leaves to the
operator: extensions the PBX can have, and always one enabled admin left."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from dashboard.audit import AuditLog
from dashboard.auth import Accounts, AuthError, Role, User, checked_role
from dashboard.kiosk import Kiosks
from dashboard.signins import Scope, Throttle

GENERATED_PASSWORD_BYTES = 12  # 16 characters, shown once
MAX_NAME = 64  # as add_user allows


class NotFound(AuthError):
    """No user of that name."""


class Conflict(AuthError):
    """The change cannot be made as things stand (a name taken, the last admin)."""


@dataclass(frozen=True)
class UserRow:
    user: User
    last_sign_in: datetime | None  # None: not in the audit log (never, or purged since)
    locked_until: datetime | None  # the latest lock of their name in force, at any address
    failures: int  # failed sign-ins counted now, across addresses


@dataclass(frozen=True)
class Done:
    """A change made: what the page says, and a password to show once (if one was made)."""

    user: User
    message: str
    password: str = ""


def generated_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


class UserAdmin:
    def __init__(
        self, accounts: Accounts, audit: AuditLog, extension_digits: int, kiosks: Kiosks
    ) -> None:
        self.accounts = accounts
        self.audit = audit
        self.extension_digits = extension_digits
        self.kiosks = kiosks

    def rows(self, now: datetime) -> list[UserRow]:
        signed_in = self.audit.last_sign_ins()
        throttles: dict[str, list[Throttle]] = {}
        for row in self.accounts.sign_ins.rows():
            if row.scope is Scope.NAME:
                throttles.setdefault(row.name, []).append(row)
        return [
            _row(user, signed_in.get(user.name), throttles.get(user.name, []), now)
            for user in self.accounts.users()
        ]

    def add(self, name: str, role: str, extension: str, password: str) -> Done:
        self._check_extension(role, extension)
        if self.accounts.find_user(name) is not None:
            raise Conflict(f"a user named {name.strip().lower()!r} already exists")
        chosen = password or generated_password()
        user = self.accounts.add_user(name, role, chosen, extension or None)
        said = f", extension {user.extension}" if user.extension else ""
        return Done(user, f"Added {user.name} ({user.role}{said}).", "" if password else chosen)

    def change(self, name: str, role: str, extension: str) -> Done:
        user = self._person(name)
        self._check_extension(role, extension)
        if role != Role.ADMIN.value:
            self._keep_an_admin(user, "demote")
        changed = self.accounts.change_user(user.name, role, extension)
        said = f", extension {changed.extension}" if changed.extension else ", no extension"
        return Done(changed, f"{changed.name} is now {changed.role}{said}.")

    def reset_password(self, name: str, password: str) -> Done:
        user = self._person(name)
        chosen = password or generated_password()
        self.accounts.set_password(user.name, chosen)
        message = f"New password for {user.name}; their sessions and API tokens are ended."
        return Done(user, message, "" if password else chosen)

    def disable(self, name: str) -> Done:
        user = self._existing(name)
        self._keep_an_admin(user, "disable")
        self.accounts.disable_user(user.name)
        return Done(user, f"Disabled {user.name}; their sessions and API tokens are ended.")

    def enable(self, name: str) -> Done:
        user = self.accounts.enable_user(self._existing(name).name)
        return Done(user, f"Enabled {user.name}: they may sign in again.")

    def unlock(self, name: str) -> tuple[Done, list[Throttle]]:
        user = self._existing(name)
        cleared = self.accounts.sign_ins.unlock(user.name)
        if not cleared:
            return Done(user, f"Nothing to clear: {user.name} has no failed sign-ins."), []
        return Done(user, f"Cleared {user.name}'s failed sign-ins and locks."), cleared

    def _existing(self, name: str) -> User:
        if len(name.strip()) > MAX_NAME:  # no one's: not echoed into the page and the log
            raise NotFound(f"no user has a name that long (at most {MAX_NAME} characters)")
        user = self.accounts.find_user(name)
        if user is None:
            raise NotFound(f"no user named {name.strip().lower()!r}")
        return user

    def _person(self, name: str) -> User:
        """A user who is not a wall screen: a screen's link must stay a read-only viewer
        that no password signs in as."""
        user = self._existing(name)
        label = self.kiosks.label_of(user.name)
        if label is not None:
            raise Conflict(
                f"{user.name} belongs to the wall screen {label}: it stays a viewer with no"
                " password (its link is managed at /admin/kiosks)"
            )
        return user

    def _check_extension(self, role: str, extension: str) -> None:
        if role == Role.AGENT.value and not extension.strip():
            raise AuthError("an agent needs an extension: the one their calls ring at, e.g. 70")
        checked_role(role, extension)
        if len(extension.strip()) > self.extension_digits:
            raise AuthError(f"an extension has at most {self.extension_digits} digits")

    def _keep_an_admin(self, user: User, verb: str) -> None:
        if user.role is not Role.ADMIN or user.disabled:
            return
        admins = [u for u in self.accounts.users() if u.role is Role.ADMIN and not u.disabled]
        if len(admins) <= 1:
            raise Conflict(
                f"cannot {verb} {user.name}: they are the last enabled admin; make another"
                " admin first"
            )


def _row(user: User, last_sign_in: datetime | None, rows: list[Throttle], now: datetime) -> UserRow:
    locks = [row.locked_until for row in rows if row.locked(now) and row.locked_until]
    failures = sum(row.failures for row in rows if not row.locked(now))
    return UserRow(user, last_sign_in, max(locks) if locks else None, failures)
