"""An agent's lists beside their calls: their missed callers to return and their recent calls.

Read from the database, so rendered when a page loads and pushed to the agent's own board
when one of their calls leaves it, not when it finishes: boards are shown a change before it
is committed (ingest.py), and a call lingers on the board long after it is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dashboard.callbacks import LOOK_BACK, Callbacks
from dashboard.fragments import Fragments
from dashboard.history import History
from dashboard.scope import Scope

LENGTH = 5  # missed callers and recent calls an agent's board lists


class AgentLists:
    def __init__(
        self,
        callbacks: Callbacks,
        history: History,
        fragments: Fragments,
        clock: Callable[[], datetime],
    ) -> None:
        self.callbacks = callbacks
        self.history = history
        self.fragments = fragments
        self.clock = clock

    def render(self, scope: Scope, *, controls: bool, oob: bool = False) -> str:
        """Both lists of the agent of `scope` (`controls`: with call back and "done"), as of now."""
        now = self.clock()
        since = now - LOOK_BACK
        context = {"now": now, "controls": controls, "oob": oob}
        missed = self.fragments.page(
            "partials/agent_missed.html",
            to_return=self.callbacks.worklist(since, scope, LENGTH),
            to_return_count=self.callbacks.count(since, scope),
            **context,
        )
        recent = self.fragments.page(
            "partials/agent_recent.html", recent=self.history.recent(scope, LENGTH), **context
        )
        return missed + recent
