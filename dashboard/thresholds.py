"""Thresholds: when a call has rung or talked too long, or too many calls ring at once.

The wallboard's script applies the same rules every second in the browser (from the
data attributes the partials carry), so a call turns amber then red without a push.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from dashboard.calls import Call, Status
from dashboard.settings import Settings

OK, WARN, ALERT = "ok", "warn", "alert"
MAX_SECONDS = 24 * 3600  # as set on /admin/settings: a threshold past a day means none


class ThresholdError(ValueError):
    """Seconds that cannot be thresholds; the message says which and why."""


@dataclass(frozen=True)
class Thresholds:
    ring_warn: float  # seconds
    ring_alert: float
    talk_warn: float
    talk_alert: float
    ringing_warn: int  # calls ringing at once
    ringing_alert: int
    sound: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            settings.ring_warn_seconds,
            settings.ring_alert_seconds,
            settings.talk_warn_minutes * 60,
            settings.talk_alert_minutes * 60,
            settings.ringing_warn,
            settings.ringing_alert,
            settings.alert_sound,
        )

    def with_seconds(
        self, ring_warn: int, ring_alert: int, talk_warn: int, talk_alert: int
    ) -> Thresholds:
        """These with new warn/alert seconds for ringing and talking, checked."""
        for what, warn, alert in (
            ("ringing", ring_warn, ring_alert),
            ("talking", talk_warn, talk_alert),
        ):
            if not 0 < warn < alert <= MAX_SECONDS:
                raise ThresholdError(
                    f"{what}: amber must come before red, both from 1 to {MAX_SECONDS} seconds"
                    f" (got amber {warn}, red {alert})"
                )
        return replace(
            self,
            ring_warn=ring_warn,
            ring_alert=ring_alert,
            talk_warn=talk_warn,
            talk_alert=talk_alert,
        )

    def seconds(self) -> dict[str, int]:
        """The warn/alert seconds an admin may change, by name."""
        return {
            "ring_warn": int(self.ring_warn),
            "ring_alert": int(self.ring_alert),
            "talk_warn": int(self.talk_warn),
            "talk_alert": int(self.talk_alert),
        }

    def limits(self, call: Call) -> tuple[float, float] | None:
        """The (warn, alert) seconds that apply to a call in its present state."""
        if call.status is Status.RINGING:
            return self.ring_warn, self.ring_alert
        if call.status is Status.CONNECTED:
            return self.talk_warn, self.talk_alert
        return None

    def call_level(self, call: Call, now: datetime) -> str:
        limits = self.limits(call)
        since = call.state_since
        if limits is None or since is None:
            return OK
        return _level((now - since).total_seconds(), *limits)

    def ringing_level(self, ringing: int) -> str:
        return _level(ringing, self.ringing_warn, self.ringing_alert)


def _level(value: float, warn: float, alert: float) -> str:
    return ALERT if value >= alert else WARN if value >= warn else OK
