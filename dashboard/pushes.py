"""What each audience is pushed when the board changes, rendered once per audience.

An audience (audience.py) is a kind of viewer: every call with its controls, every call
read-only (a TV), or one extension's calls (an agent); or, on a page other than the
wallboard, only the agent's pop-ups.

A push covers a whole batch of events: a call changed several times in it is rendered
once, in its latest state, and the counters and the grid's tiles once for the batch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from dashboard.audience import Audience
from dashboard.calls import Call, Change
from dashboard.fragments import Fragments
from dashboard.grid import Tile
from dashboard.live import Live
from dashboard.popup import Popups

Render = Callable[[Audience], str | None]  # audience -> its message, or None: nothing for it


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
        grid = functools.cache(lambda: self._grid_push(touched))  # once, if wanted

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
            grid_part = grid() if extension is None else ""
            return calls + self.counters(extension, oob=True) + popups + grid_part

        return render

    def _call_push(
        self, audience: Audience, step: Step, popup: Callable[[str, tuple[str, str]], str]
    ) -> tuple[str, str]:
        """One call's fragment and pop-up part for an audience (its counters and grid come
        once for the batch)."""
        extension = audience.extension
        before, call = step.before, step.change.call
        if extension is None:
            return self.fragments.call_changed(
                call, step.change.added, controls=audience.controls
            ), ""
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

    def _grid_push(self, extensions: set[str]) -> str:
        """The tiles a batch touches; the whole grid when it brings an extension not shown."""
        if not extensions <= self._grid_shown:
            return self._pushed_grid()
        return "".join(
            self.fragments.tile(
                self.grid.tile(ext, self.board, self.today.by_extension, self.today.everyone),
                oob=True,
            )
            for ext in sorted(extensions)
        )

    def removals(self, gone: list[Call]) -> Render:
        """Finished calls leaving the board, in one message however many leave at once."""
        removals = {call.key: self.fragments.call_removed(call) for call in gone}

        def render(audience: Audience) -> str | None:
            if audience.popups_only:
                return None
            extension = audience.extension
            visible = [removals[call.key] for call in gone if extension in (None, call.extension)]
            return "".join(visible) or None

        return render

    def whole_grid(self, audience: Audience) -> str | None:
        if audience.popups_only or audience.extension is not None:
            return None
        return self._pushed_grid()

    def new_day(self, audience: Audience) -> str | None:
        if audience.popups_only:
            return None
        return self.counters(audience.extension, oob=True)

    def snapshot(self, audience: Audience) -> str:
        """What a viewer of that audience receives first on (re)connecting: its whole board."""
        extension = audience.extension
        popups = self.popups.snapshot(self.board, extension) if extension and self.popups else ""
        if audience.popups_only:
            return popups
        calls = self.fragments.live_calls(
            self.board, extension=extension, controls=audience.controls, oob=True
        )
        grid = self._pushed_grid() if extension is None else ""
        return calls + self.counters(extension, oob=True) + popups + grid

    def whole_board(self, audience: Audience) -> str | None:
        """A board's live calls, counters and grid again (not its pop-ups): what they show
        was rendered with thresholds or groups an admin has just changed."""
        if audience.popups_only:
            return None
        extension = audience.extension
        calls = self.fragments.live_calls(
            self.board, extension=extension, controls=audience.controls, oob=True
        )
        grid = self._pushed_grid() if extension is None else ""
        return calls + self.counters(extension, oob=True) + grid

    def grid_html(self, *, oob: bool = False) -> str:
        return self.fragments.grid(self._tiles(), self.grid.groups, oob=oob)

    def _pushed_grid(self) -> str:
        """The whole grid for viewers (pushed, or in a snapshot): from now on every grid on
        screen has these extensions. A page's grid does not count: its socket's snapshot
        brings the grid again, and a push still pending must not be cut to single tiles."""
        tiles = self._tiles()
        self._grid_shown = {tile.extension for tile in tiles}
        return self.fragments.grid(tiles, self.grid.groups, oob=True)

    def _tiles(self) -> list[Tile]:
        return self.grid.tiles(self.board, self.today.by_extension, self.today.everyone)

    def counters(self, extension: str | None, *, oob: bool = False) -> str:
        return self.fragments.counters(
            self.board, self.today.of(extension), self.clock(), extension=extension, oob=oob
        )
