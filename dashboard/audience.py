"""Who a live viewer is (what it is pushed) and how its socket is ended.

Viewers of one audience are pushed the very same bytes, so an audience is everything a push
depends on: which calls (every one, one extension's at its PBX, or one group's), whether
with controls, whether the whole board or pop-ups only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from enum import IntEnum

from dashboard.scope import Scope


@dataclass(frozen=True)
class Audience:
    extension: str | None = None  # None: every call; else that extension's alone (an agent)
    hosts: frozenset[str] | None = None  # an agent's: its extension's calls from these (scope.py)
    controls: bool = True  # False: a read-only board (a TV, a viewer)
    popups_only: bool = False  # a page other than the wallboard: only the agent's pop-ups
    group: str | None = None  # a board filtered to a group (`?group=`): its calls, counters, tiles
    wall: bool = False  # a wall screen (/tv): read-only, and sent frames at its own pace
    # The calls of an agent's audience (its extension's, from its hosts); None: every call.
    scope: Scope | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        scope = None if self.extension is None else Scope(self.extension, self.hosts)
        object.__setattr__(self, "scope", scope)

    def read_only(self) -> Audience:
        return replace(self, controls=False)

    def wall_screen(self) -> Audience:
        return replace(self, controls=False, wall=True)

    def popups(self) -> Audience:
        return replace(self, popups_only=True)

    def of_group(self, group: str | None) -> Audience:
        return replace(self, group=group)


EVERY_CALL = Audience()


def wall_frame_interval(seconds: float) -> Callable[[Hashable], float]:
    """The hub's frame interval for an audience: `seconds` for wall screens, else 0 (that of
    every viewer)."""

    def interval(audience: Hashable) -> float:
        return seconds if isinstance(audience, Audience) and audience.wall else 0.0

    return interval


class CloseCode(IntEnum):
    """Why the dashboard ends a live socket (RFC 6455 7.4); htmx reconnects unless 1008."""

    POLICY_VIOLATION = 1008  # not signed in, a foreign origin, revoked credentials
    SERVICE_RESTART = 1012  # shut-down, or a board reloaded: come back to a fresh snapshot
    TRY_AGAIN_LATER = 1013  # a viewer that fell behind: come back to a fresh snapshot
    NO_SUCH_GROUP = 4404  # the board's `?group=` is not (or no longer) a group: reload the page
