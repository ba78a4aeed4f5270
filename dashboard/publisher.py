"""Publishing: what live state showed, rendered once per audience and handed to the hub.

Changes are pushed at once when the hub's next frame is due, else gathered until it is (one
per `hub.FRAME_INTERVAL`), so a burst costs one render per changed call, not per event. The
publisher knows nothing of SQLite: when what it showed turns out not to be stored, `reset`
drops what is pending and sends every viewer back for a fresh snapshot.
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


class Publisher:
    def __init__(self, hub: Hub, pushes: Pushes) -> None:
        self.hub = hub
        self.pushes = pushes
        self._pending: list[tuple[Call | None, Change]] = []  # shown on the board, not pushed
        self._timer: asyncio.TimerHandle | None = None
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
        if not changes:
            return
        try:
            self.hub.publish(self.pushes.changes(changes))
            self.hub.flush_if_due()
        except Exception:
            log.exception("could not push %d changes", len(changes))

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
        if gone and self.hub.subscribers:  # as in `publish`
            self.hub.publish(self.pushes.removals(gone))

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
        self._cancel_timer()
        self.hub.close_all()

    def close(self) -> None:
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
