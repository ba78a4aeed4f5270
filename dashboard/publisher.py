"""Publishing: what live state showed, rendered once per audience and handed to the hub.

Changes are pushed at once when the hub's next frame is due, else gathered until it is (one
per `hub.FRAME_INTERVAL`), so a burst costs one render per changed call, not per event.
Calls leaving the board are not news: they go with the next change, or REMOVALS_HOLD
later, rather than in a frame of their own (a frame costs a write to every viewer,
whatever it holds). The publisher knows nothing of SQLite: when what it showed turns out
not to be stored, `reset` drops what is pending and sends every viewer back for a fresh
snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from dashboard.audience import Audience
from dashboard.calls import Call, Change
from dashboard.hub import Hub
from dashboard.pushes import Pushes

log = logging.getLogger(__name__)
REMOVALS_HOLD = 0.25  # seconds


class Publisher:
    def __init__(self, hub: Hub, pushes: Pushes) -> None:
        self.hub = hub
        self.pushes = pushes
        self._pending: list[tuple[Call | None, Change]] = []  # shown on the board, not pushed
        self._gone: list[Call] = []  # off the board, not pushed
        self._timer: asyncio.TimerHandle | None = None
        self._gone_timer: asyncio.TimerHandle | None = None
        self.banner = ""  # what every board shows of the PBXs' health (an out-of-band swap)

    def publish(self, changes: list[tuple[Call | None, Change]]) -> None:
        """Push now, or when the hub's next frame is due: a burst is rendered once per
        frame, each call in it once, however many events it brought."""
        if not self.hub.subscribers:  # nobody to show them: whoever comes gets a snapshot
            return
        self._pending.extend(changes)
        if not self._pending or self._timer is not None:
            return
        wait = self.hub.flush_wait()
        if wait > 0:
            with contextlib.suppress(RuntimeError):  # no event loop: push now
                self._timer = asyncio.get_running_loop().call_later(wait, self.push_now)
                return
        self.push_now()

    def push_now(self) -> None:
        """Render and send what changed since the last push (it must be out before a viewer's
        snapshot is rendered, or the viewer would get it twice)."""
        self._cancel_timer()
        changes, self._pending = self._pending, []
        gone, self._gone = self._gone, []
        if not changes and not gone:
            return
        try:
            if gone:  # first: a call that left and came back is added again after
                self.hub.publish(self.pushes.removals(gone))
            if changes:
                self.hub.publish(self.pushes.changes(changes))
            self.hub.flush_if_due()  # in one frame, both
        except Exception:
            log.exception("could not push %d changes and %d removals", len(changes), len(gone))

    def grid(self) -> None:
        """The whole grid again (its extensions or names changed)."""
        self.hub.publish(self.pushes.whole_grid)

    def whole_board(self) -> None:
        """Every board's calls, counters and grid again, at once (an admin changed the
        thresholds or groups they are rendered with)."""
        self.push_now()  # pending first: after the board, an added call would be added twice
        self.hub.publish(self.pushes.whole_board)

    def new_day(self) -> None:
        self.hub.publish(self.pushes.new_day)

    def removals(self, gone: list[Call]) -> None:
        """Calls leaving the board: pushed with the next change, or REMOVALS_HOLD from now."""
        if not gone or not self.hub.subscribers:  # as in `publish`
            return
        self._gone.extend(gone)
        if self._gone_timer is None:
            with contextlib.suppress(RuntimeError):  # no event loop: push now
                self._gone_timer = asyncio.get_running_loop().call_later(
                    REMOVALS_HOLD, self.push_now
                )
                return
            self.push_now()

    def agent_lists(self) -> None:
        """Every agent's lists again, read from the database (a missed caller marked done)."""
        self.hub.publish(self.pushes.agent_lists_again)

    def show_banner(self, html: str) -> None:
        """Every board, whatever its audience, shows the PBXs' problems (or no longer)."""
        self.banner = html
        self.hub.publish(html)

    def snapshot(self, audience: Audience) -> str:
        """What a viewer of that audience receives first on (re)connecting."""
        self.push_now()
        return self.pushes.snapshot(audience) + self.banner

    def reset(self) -> None:
        """Forget what is pending; every viewer reconnects to a fresh snapshot instead."""
        self._pending.clear()
        self._gone.clear()
        self._cancel_timer()
        self.hub.close_all()

    def close(self) -> None:
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        for timer in (self._timer, self._gone_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._gone_timer = None
