"""The extension grid: every known extension as a tile (idle, ringing or on a call).

Known extensions are the configured ones (and those each PBX owns), the users' own, and
every extension seen today or on a live call. Pure: the tiles are computed from the board
and today's counters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from dashboard.calls import Board, Call, DayCounters, Status
from dashboard.scope import Scope
from dashboard.settings import Settings

IDLE, RINGING, TALKING = "idle", "ringing", "talking"


@dataclass(frozen=True)
class Tile:
    extension: str
    name: str  # the user whose extension it is, if any
    group: str
    state: str
    call: Call | None  # the call that sets the state (talking beats ringing)
    since: datetime | None  # in that state since (for idle: since its last call ended)
    day: DayCounters
    pbx: str = ""  # the PBX that owns it, when there are several


class Grid:
    def __init__(self, settings: Settings) -> None:
        owned = (extension for pbx in settings.pbxs for extension in pbx.extensions)
        self.configured = tuple(dict.fromkeys((*settings.extensions, *owned)))
        self.group_of = {
            ext: name for name, members in settings.extension_groups for ext in members
        }
        several = len(settings.pbxs) > 1
        self.pbx_of = {ext: pbx.name for pbx in settings.pbxs if several for ext in pbx.extensions}
        # The filter's choices: the configured groups, then each PBX (when there are several).
        self.groups = [name for name, _ in settings.extension_groups]
        self.groups += [pbx.name for pbx in settings.pbxs if several]
        self._pbx_choices = self.groups[len(settings.extension_groups) :]
        # Each choice's extensions: a group's members, or the extensions a PBX owns.
        self._pbx_members = {
            pbx.name: frozenset(pbx.extensions) for pbx in settings.pbxs if several
        }
        self.members: dict[str, frozenset[str]] = {}
        self._set_members(settings.extension_groups)
        self.names: dict[str, str] = {}  # extension -> user name, refreshed by the app
        self.last_end: dict[str, datetime] = {}  # extension -> when its last call ended

    def group_members(self, group: str | None) -> frozenset[str] | None:
        """The extensions a group filter shows; None: every extension (no filter)."""
        if group is None:
            return None
        return self.members.get(group, frozenset())  # a group removed since shows nothing

    def known(self, board: Board, days: Mapping[str, DayCounters]) -> list[str]:
        live = (call.extension for call in board.live.values() if call.extension)
        found = {*self.configured, *self.names, *days, *live, *self.group_of}
        return sorted(found, key=_extension_order)

    def tiles(
        self,
        board: Board,
        days: Mapping[str, DayCounters],
        today: DayCounters,
        members: frozenset[str] | None = None,
    ) -> list[Tile]:
        """Every known extension's tile, or (`members`) a group's alone."""
        known = self.known(board, days)
        shown = known if members is None else [ext for ext in known if ext in members]
        return [self.tile(ext, board, days, today) for ext in shown]

    def tile(
        self,
        extension: str,
        board: Board,
        days: Mapping[str, DayCounters],
        today: DayCounters,
        scope: Scope | None = None,
    ) -> Tile:
        """An extension's tile; `scope`: from its agent's calls alone (the same extension
        number on another PBX is someone else's phone)."""
        calls = [
            call
            for call in board.live.values()
            if call.extension == extension
            and (scope is None or scope.covers(call.host, call.extension))
        ]
        talking = [call for call in calls if call.status is Status.CONNECTED]
        ringing = [call for call in calls if call.status is Status.RINGING]
        day = days.get(extension) or DayCounters(today.day)
        name, group = self.names.get(extension, ""), self.group_of.get(extension, "")
        pbx = self.pbx_of.get(extension, "")
        if talking or ringing:
            call = _oldest(talking or ringing)
            state = TALKING if talking else RINGING
            return Tile(extension, name, group, state, call, call.state_since, day, pbx)
        return Tile(extension, name, group, IDLE, None, self.last_end.get(extension), day, pbx)

    def note_finished(self, call: Call) -> None:
        """An extension is idle since its last call ended."""
        ended = call.ended_at
        if not call.extension or ended is None:
            return
        previous = self.last_end.get(call.extension)
        if previous is None or ended > previous:
            self.last_end[call.extension] = ended

    def set_groups(self, groups: Iterable[tuple[str, Iterable[str]]]) -> None:
        """Named groups of extensions, as an admin set them (/admin/settings)."""
        groups = [(name, tuple(members)) for name, members in groups]
        self.group_of = {ext: name for name, members in groups for ext in members}
        self.groups = [name for name, _ in groups] + self._pbx_choices
        self._set_members(groups)

    def _set_members(self, groups: Iterable[tuple[str, Iterable[str]]]) -> None:
        members: dict[str, frozenset[str]] = {}
        for name, extensions in groups:
            members[name] = members.get(name, frozenset()) | frozenset(extensions)
        for name, extensions in self._pbx_members.items():
            members[name] = members.get(name, frozenset()) | extensions
        self.members = members


def _oldest(calls: Iterable[Call]) -> Call:
    return min(calls, key=lambda call: call.state_since.timestamp() if call.state_since else 0.0)


def _extension_order(extension: str) -> tuple[int, int, str]:
    return (0, int(extension), "") if extension.isdigit() else (1, 0, extension)
