"""What each audience is pushed when the board changes, rendered once per audience.

An audience (audience.py) is a kind of viewer: every call with its controls, every call
read-only (a TV), or one extension's calls at its PBX (an agent: scope.py); each maybe
filtered to one group (its calls, counters and tiles alone); or, on a page other than the
wallboard, only the agent's pop-ups.

A push covers a whole batch of events: a call changed several times in it is rendered
once, in its latest state, and the counters and the grid's tiles once for the batch. A part
that several audiences show alike is rendered once for all of them (`Once`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar, cast

from dashboard.agent_lists import AgentLists
from dashboard.audience import Audience
from dashboard.calls import Call, Change, DayCounters
from dashboard.fragments import Fragments
from dashboard.grid import Tile
from dashboard.live import Live
from dashboard.popup import Popups
from dashboard.scope import Scope
from dashboard.urgency import most_urgent_first

log = logging.getLogger(__name__)
T = TypeVar("T")
Render = Callable[[Audience], str | None]  # audience -> its message, or None: nothing for it


@dataclass(frozen=True)
class BoardView:
    """What an audience's board shows: its calls (most urgent first), counters and day."""

    calls: list[Call]
    counts: dict[str, int]
    day: DayCounters
    longest: Call | None


@dataclass(frozen=True)
class Step:
    """One call's change in a batch: as viewers last saw it, and as it is now."""

    before: Call | None
    change: Change

    def then(self, later: Change) -> Step:
        """Two changes of one call in a batch: viewers only need the net effect."""
        finished_now = self.change.finished_now or later.finished_now
        return Step(self.before, Change(later.call, self.change.added, finished_now))


class Once:
    """What one push renders, each part once however many audiences show it (an agent's
    board and a supervisor's show the same row with controls, every read-only board the
    same row without)."""

    def __init__(self) -> None:
        self._rendered: dict[Hashable, object] = {}

    def __call__(self, key: Hashable, render: Callable[[], T]) -> T:
        if key not in self._rendered:
            self._rendered[key] = render()
        return cast(T, self._rendered[key])


class Pushes:
    def __init__(
        self,
        fragments: Fragments,
        live: Live,
        clock: Callable[[], datetime],
        popups: Popups | None = None,
        agent_lists: AgentLists | None = None,
    ) -> None:
        self.fragments = fragments
        self.agent_lists = agent_lists
        self.board = live.board  # read only: live state changes in `Live.apply` alone
        self.grid = live.grid
        self.today = live.today
        self.clock = clock
        self.popups = popups
        self._grid_shown: set[str] = set()  # the extensions every grid on screen has

    def changes(self, changes: Iterable[tuple[Call | None, Change]]) -> Render:
        """The push for a batch of changes (in the order they happened)."""
        steps: dict[tuple[str, str], Step] = {}
        for before, change in changes:
            key = change.call.key
            steps[key] = steps[key].then(change) if key in steps else Step(before, change)
        touched = {
            ext
            for step in steps.values()
            for ext in (step.change.call.extension, step.before and step.before.extension)
            if ext
        }
        once = Once()
        # Whether the grids on screen lack an extension: decided once, before any is pushed.
        whole = not touched <= self._grid_shown

        def render(audience: Audience) -> str | None:
            # A wall screen is paced, not shown anything else: its push is the viewers'.
            shown = replace(audience, wall=False) if audience.wall else audience
            return once(shown, lambda: self._changes_for(shown, steps, touched, whole, once))

        return render

    def _changes_for(
        self,
        audience: Audience,
        steps: dict[tuple[str, str], Step],
        touched: set[str],
        whole: bool,
        once: Once,
    ) -> str | None:
        parts = [self._call_push(audience, step, once) for step in steps.values()]
        calls = "".join(call for call, _ in parts)
        popups = "".join(popup for _, popup in parts)
        if audience.popups_only:
            return popups or None
        if not calls:
            return None
        scope, group = audience.scope, audience.group
        counters = once(("counters", scope, group), lambda: self.counters(scope, group, oob=True))
        if scope is not None:  # an agent's board has no grid: its own extension's tile
            tile = once(("agent tile", scope), lambda: self.agent_tile(scope, oob=True))
            return calls + counters + popups + tile
        grid = once(("grid", group), lambda: self._grid_push(touched, group, whole))
        return calls + counters + popups + grid

    def _call_push(self, audience: Audience, step: Step, once: Once) -> tuple[str, str]:
        """One call's fragment and pop-up part for an audience (its counters and grid come
        once for the batch)."""
        scope = audience.scope
        before, call = step.before, step.change.call
        if scope is None and audience.group is None:
            return self._changed(call, step.change.added, audience.controls, once), ""
        if scope is None:
            return self._group_call_push(audience, step, once), ""
        popup_part = once(("popup", scope, call.key), lambda: self._popup(scope, step))
        if audience.popups_only:
            return "", popup_part
        if scope.covers(call.host, call.extension):
            # A call transferred to this extension is new to its agent's board.
            moved_here = before is not None and not scope.covers(before.host, before.extension)
            added = step.change.added or moved_here
            return self._changed(call, added, audience.controls, once), popup_part
        if before is not None and scope.covers(before.host, before.extension):  # moved away
            return self._removed(call, once), popup_part
        return "", ""

    def _group_call_push(self, audience: Audience, step: Step, once: Once) -> str:
        """A call's fragment for a board filtered to a group: a call moving into the group
        is new to it, one moving out leaves it."""
        members = self.grid.group_members(audience.group) or frozenset()
        before, call = step.before, step.change.call
        if call.extension in members:
            moved_in = before is not None and before.extension not in members
            added = step.change.added or moved_in
            return self._changed(call, added, audience.controls, once)
        if before is not None and before.extension in members:
            return self._removed(call, once)
        return ""

    def _changed(self, call: Call, added: bool, controls: bool, once: Once) -> str:
        render = self.fragments.call_changed
        return once(
            ("changed", call.key, added, controls), lambda: render(call, added, controls=controls)
        )

    def _removed(self, call: Call, once: Once) -> str:
        return once(("removed", call.key), lambda: self.fragments.call_removed(call))

    def _popup(self, scope: Scope, step: Step) -> str:
        """An agent's pop-up part, the same for its wallboard and its other pages."""
        if self.popups is None:
            return ""
        return self.popups.change(scope, step.before, step.change.call)

    def _grid_push(self, extensions: set[str], group: str | None, whole: bool) -> str:
        """The tiles a batch touches (those of the group, if the grid is a group's); the whole
        grid when it brings an extension not shown."""
        if whole:
            return self._pushed_grid(group)
        members = self.grid.group_members(group)
        now = self.clock()
        return "".join(
            self.fragments.tile(
                self.grid.tile(ext, self.board, self.today.by_extension, self.today.everyone),
                now,
                oob=True,
            )
            for ext in sorted(extensions)
            if members is None or ext in members
        )

    def removals(self, gone: list[Call]) -> Render:
        """Finished calls leaving the board, in one message however many leave at once."""
        removals = {call.key: self.fragments.call_removed(call) for call in gone}

        def render(audience: Audience) -> str | None:
            if audience.popups_only:
                return None
            scope = audience.scope
            members = self.grid.group_members(audience.group)
            visible = [
                removals[call.key]
                for call in gone
                if (scope is None or scope.covers(call.host, call.extension))
                and (members is None or call.extension in members)
            ]
            if not visible:
                return None
            if scope is not None:  # the agent's own call left: stored by now, it may change
                return "".join(visible) + self._agent_lists(scope, audience.controls)
            return "".join(visible)

        return render

    def agent_lists_again(self, audience: Audience) -> str | None:
        """An agent's lists again, on each of their boards (a missed caller was marked done:
        by them, or by a supervisor for everyone)."""
        if audience.popups_only or audience.scope is None:
            return None
        return self._agent_lists(audience.scope, audience.controls) or None

    def _agent_lists(self, scope: Scope, controls: bool) -> str:
        """An agent's lists, pushed; without them (logged) if the database cannot be read:
        the removals still go to every board."""
        if self.agent_lists is None:
            return ""
        try:
            return self.agent_lists.render(scope, controls=controls, oob=True)
        except sqlite3.Error:
            log.exception("could not read the lists of extension %s", scope.extension)
            return ""

    def whole_grid(self, audience: Audience) -> str | None:
        if audience.popups_only:
            return None
        if audience.scope is not None:  # a name changed: the agent's tile shows theirs
            return self.agent_tile(audience.scope, oob=True)
        return self._pushed_grid(audience.group)

    def new_day(self, audience: Audience) -> str | None:
        if audience.popups_only:
            return None
        return self.counters(audience.scope, audience.group, oob=True)

    def snapshot(self, audience: Audience) -> str:
        """What a viewer of that audience receives first on (re)connecting: its whole board."""
        scope = audience.scope
        popups = ""
        if scope is not None and self.popups is not None:
            popups = self.popups.snapshot(self.board, scope)
        if audience.popups_only:
            return popups
        view = self.view(audience)
        calls = self.fragments.live_calls(view.calls, controls=audience.controls, oob=True)
        grid = self._grid_or_tile(audience)
        # An agent's lists too: what changed while the socket was down (a reconnection).
        lists = self._agent_lists(scope, audience.controls) if scope is not None else ""
        return calls + self.counters(scope, audience.group, oob=True) + popups + grid + lists

    def view(self, audience: Audience) -> BoardView:
        """An audience's board: its calls, most urgent first, and its counters."""
        scope = audience.scope
        members = self.grid.group_members(audience.group)
        calls = self.board.snapshot(scope, members)
        return BoardView(
            most_urgent_first(calls, self.fragments.thresholds, self.clock()),
            self.board.counts(scope, members),
            self.today.of_group(audience.extension, members),
            self.board.longest_ringing(scope, members),
        )

    def whole_board(self, audience: Audience) -> str | None:
        """A board's live calls, counters and grid again (not its pop-ups): what they show
        was rendered with thresholds or groups an admin has just changed."""
        if audience.popups_only:
            return None
        scope = audience.scope
        view = self.view(audience)
        calls = self.fragments.live_calls(view.calls, controls=audience.controls, oob=True)
        grid = self._grid_or_tile(audience)
        return calls + self.counters(scope, audience.group, oob=True) + grid

    def _grid_or_tile(self, audience: Audience) -> str:
        """A whole board's grid: every tile (of its group), or an agent's own tile alone."""
        if audience.scope is not None:
            return self.agent_tile(audience.scope, oob=True)
        return self._pushed_grid(audience.group)

    def agent_tile(self, scope: Scope, *, oob: bool = False) -> str:
        """The tile of an agent's extension, as the grid shows it, from that agent's calls
        alone (its extension's at its PBX); the same element, by id, in page and push."""
        today = self.today
        tile = self.grid.tile(
            scope.extension, self.board, today.by_extension, today.everyone, scope
        )
        return self.fragments.tile(tile, self.clock(), oob=oob)

    def grid_html(self, group: str | None = None, *, oob: bool = False) -> str:
        tiles = self._tiles(group)
        return self.fragments.grid(tiles, self.grid.groups, self.clock(), group, oob=oob)

    def _pushed_grid(self, group: str | None = None) -> str:
        """The whole grid for viewers (pushed, or in a snapshot): from now on every grid on
        screen has these extensions (a group's grid those of them in the group). A page's
        grid does not count: its socket's snapshot brings the grid again, and a push still
        pending must not be cut to single tiles."""
        tiles = self._tiles()
        self._grid_shown = {tile.extension for tile in tiles}
        members = self.grid.group_members(group)
        if members is not None:
            tiles = [tile for tile in tiles if tile.extension in members]
        return self.fragments.grid(tiles, self.grid.groups, self.clock(), group, oob=True)

    def _tiles(self, group: str | None = None) -> list[Tile]:
        members = self.grid.group_members(group)
        return self.grid.tiles(self.board, self.today.by_extension, self.today.everyone, members)

    def counters(self, scope: Scope | None, group: str | None = None, *, oob: bool = False) -> str:
        members = self.grid.group_members(group)
        return self.fragments.counters(
            self.board,
            # Today's totals are an extension's, whichever PBX's its calls were.
            self.today.of_group(scope.extension if scope else None, members),
            self.clock(),
            scope=scope,
            members=members,
            oob=oob,
        )
