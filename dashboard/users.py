"""Who a user is and what their role lets them see and do (accounts: auth.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from dashboard.audience import EVERY_CALL, Audience
from dashboard.calls import Call
from dashboard.scope import Scope


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
    # An agent's extension on its PBX (`placed`, once a request is signed in); unplaced, its
    # extension's calls from any host, as with the one PBX of the SYNAPSE_* variables.
    placed_scope: Scope | None = None

    def placed(self, scope_of: Callable[[str], Scope]) -> User:
        """This user with its extension placed on its PBX (`Settings.agent_scope`)."""
        if self.role is not Role.AGENT:
            return self
        return replace(self, placed_scope=scope_of(self.extension or ""))

    @property
    def scope(self) -> Scope | None:
        """The calls this user may see: an agent's extension's at its PBX; None: every call."""
        if self.role is not Role.AGENT:
            return None
        return self.placed_scope or Scope(self.extension or "")

    @property
    def audience(self) -> Audience:
        """Which pushed fragments this user gets: every call with controls, every call
        read-only (a viewer), or one extension's calls at its PBX (an agent)."""
        scope = self.scope
        if scope is not None:
            return Audience(extension=scope.extension, hosts=scope.hosts)
        return EVERY_CALL.read_only() if self.role is Role.VIEWER else EVERY_CALL

    @property
    def may_control(self) -> bool:
        return self.role is not Role.VIEWER

    def may_control_call(self, call: Call) -> bool:
        return self.may_control and self.may_see_call(call)

    def may_see_call(self, call: Call) -> bool:
        scope = self.scope
        return scope is None or scope.covers(call.host, call.extension)


def agents_on_no_pbx(users: Iterable[User], scope_of: Callable[[str], Scope]) -> list[User]:
    """The enabled agents whose extension no PBX has (`Settings.agent_scope`): they see no
    call until an admin gives the extension to a PBX."""
    return [
        user
        for user in users
        if user.role is Role.AGENT and not user.disabled and scope_of(user.extension or "").nowhere
    ]


def user_from_row(row: dict[str, Any]) -> User:
    return User(row["id"], row["name"], Role(row["role"]), row["extension"], bool(row["disabled"]))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()
