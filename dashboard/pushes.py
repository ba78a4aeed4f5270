"""What each audience is pushed when the board changes, rendered once per audience.

An audience (audience.py) is a kind of viewer: every call with its controls, every call
read-only (a TV), or one extension's calls (an agent); each maybe filtered to one group (its
calls, counters and tiles alone); or, on a page other than the wallboard, only the agent's
pop-ups.

A push covers a whole batch of events: a call changed several times in it is rendered
once, in its latest state, and the counters and the grid's tiles once for the batch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from dashboard.audience import Audience
from dashboard.calls import Call, Change, DayCounters
from dashboard.fragments import Fragments
from dashboard.grid import Tile
from dashboard.live import Live
from dashboard.popup import Popups
from dashboard.urgency import most_urgent_first

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


class Pushes:
    def __init__(
        self,
        fragments: Fragments,
        live: Live,
        clock: Callable[[], datetime],
        popups: Popups | None = None,
    ) -> None:
        self.fragments = fragments
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
        # Whether the grids on screen lack an extension: decided once, before any is pushed.
        whole = functools.cache(lambda: not touched <= self._grid_shown)
        grid = functools.cache(lambda group: self._grid_push(touched, group, whole()))

        @functools.cache  # once per extension, for the agent's wallboard and other pages alike
        def popup(extension: str, key: tuple[str, str]) -> str:
            step = steps[key]
            return (
                self.popups.change(extension, step.before, step.change.call) if self.popups else ""
            )

        def render(audience: Audience) -> str | None:
            parts = [self._call_push(audience, step, popup) for step in steps.values()]
            calls = "".join(call for call, _ in parts)
            popups = "".join(popup for _, popup in parts)
            if audience.popups_only:
                return popups or None
            if not calls:
                return None
            extension = audience.extension
            grid_part = grid(audience.group) if extension is None else ""
            return calls + self.counters(extension, audience.group, oob=True) + popups + grid_part

        return render

    def _call_push(
        self, audience: Audience, step: Step, popup: Callable[[str, tuple[str, str]], str]
    ) -> tuple[str, str]:
        """One call's fragment and pop-up part for an audience (its counters and grid come
        once for the batch)."""
        extension = audience.extension
        before, call = step.before, step.change.call
        if extension is None and audience.group is None:
            return self.fragments.call_changed(
                call, step.change.added, controls=audience.controls
            ), ""
        if extension is None:
            return self._group_call_push(audience, step), ""
        popup_part = popup(extension, call.key)
        if audience.popups_only:
            return "", popup_part
        if call.extension == extension:
            # A call transferred to this extension is new to its agent's board.
            moved_here = before is not None and before.extension != extension
            added = step.change.added or moved_here
            controls = audience.controls
            return self.fragments.call_changed(call, added, controls=controls), popup_part
        if before is not None and before.extension == extension:  # transferred away
            return self.fragments.call_removed(call), popup_part
        return "", ""

    def _group_call_push(self, audience: Audience, step: Step) -> str:
        """A call's fragment for a board filtered to a group: a call moving into the group
        is new to it, one moving out leaves it."""
        members = self.grid.group_members(audience.group) or frozenset()
        before, call = step.before, step.change.call
        if call.extension in members:
            moved_in = before is not None and before.extension not in members
            added = step.change.added or moved_in
            return self.fragments.call_changed(call, added, controls=audience.controls)
        if before is not None and before.extension in members:
            return self.fragments.call_removed(call)
        return ""

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
            extension = audience.extension
            members = self.grid.group_members(audience.group)
            visible = [
                removals[call.key]
                for call in gone
                if extension in (None, call.extension)
                and (members is None or call.extension in members)
            ]
            return "".join(visible) or None

        return render

    def whole_grid(self, audience: Audience) -> str | None:
        if audience.popups_only or audience.extension is not None:
            return None
        return self._pushed_grid(audience.group)

    def new_day(self, audience: Audience) -> str | None:
        if audience.popups_only:
            return None
        return self.counters(audience.extension, audience.group, oob=True)

    def snapshot(self, audience: Audience) -> str:
        """What a viewer of that audience receives first on (re)connecting: its whole board."""
        extension = audience.extension
        popups = self.popups.snapshot(self.board, extension) if extension and self.popups else ""
        if audience.popups_only:
            return popups
        view = self.view(audience)
        calls = self.fragments.live_calls(view.calls, controls=audience.controls, oob=True)
        grid = self._pushed_grid(audience.group) if extension is None else ""
        return calls + self.counters(extension, audience.group, oob=True) + popups + grid

    def view(self, audience: Audience) -> BoardView:
        """An audience's board: its calls, most urgent first, and its counters."""
        extension = audience.extension
        members = self.grid.group_members(audience.group)
        calls = self.board.snapshot(extension, members)
        return BoardView(
            most_urgent_first(calls, self.fragments.thresholds, self.clock()),
            self.board.counts(extension, members),
            self.today.of_group(extension, members),
            self.board.longest_ringing(extension, members),
        )

    def whole_board(self, audience: Audience) -> str | None:
        """A board's live calls, counters and grid again (not its pop-ups): what they show
        was rendered with thresholds or groups an admin has just changed."""
        if audience.popups_only:
            return None
        extension = audience.extension
        view = self.view(audience)
        calls = self.fragments.live_calls(view.calls, controls=audience.controls, oob=True)
        grid = self._pushed_grid(audience.group) if extension is None else ""
        return calls + self.counters(extension, audience.group, oob=True) + grid

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

    def counters(
        self, extension: str | None, group: str | None = None, *, oob: bool = False
    ) -> str:
        members = self.grid.group_members(group)
        return self.fragments.counters(
            self.board,
            self.today.of_group(extension, members),
            self.clock(),
            extension=extension,
            members=members,
            oob=oob,
        )
