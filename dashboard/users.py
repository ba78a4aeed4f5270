"""Who a user is and what their role lets them see and do (accounts: auth.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from dashboard.audience import EVERY_CALL, Audience


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    VIEWER = "viewer"


class AuthError(ValueError):
    """A request about accounts that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    extension: str | None
    disabled: bool

    @property
    def scope(self) -> str | None:
        """The one extension whose calls this user may see; None: every call."""
        return (self.extension or "") if self.role is Role.AGENT else None

    @property
    def audience(self) -> Audience:
        """Which pushed fragments this user gets: every call with controls, every call
        read-only (a viewer), or one extension's calls (an agent)."""
        if self.scope is not None:
            return Audience(extension=self.scope)
        return EVERY_CALL.read_only() if self.role is Role.VIEWER else EVERY_CALL

    @property
    def may_control(self) -> bool:
        return self.role is not Role.VIEWER

    def may_control_call(self, extension: str | None) -> bool:
        return self.may_control and self.may_see_extension(extension)

    def may_see_extension(self, extension: str | None) -> bool:
        return self.role is not Role.AGENT or (
            extension is not None and extension == self.extension
        )


def user_from_row(row: dict[str, Any]) -> User:
    return User(row["id"], row["name"], Role(row["role"]), row["extension"], bool(row["disabled"]))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()
