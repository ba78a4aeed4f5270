"""Calls the PBX no longer has must not haunt the board.

A live call with no news for a while (a CallFinish lost while the dashboard was down) is
looked up in its PBX's CDR; past a configurable age it is closed as "expired". A call its
PBX says it no longer has (a command answered "no such channel") is looked up at the next
turn (within a minute), and closed as "lost" if the CDR does not know it either. The calls
of a PBX that was unreachable and is back (a restart ends its calls without a CallFinish;
a network fault ends none) are looked up at once too, and closed as the CDR says: those it
does not know may still be talking, so they stay. A supervisor may close a call by hand
("closed"). None of these ends is ever "answered", nor counted as missed; a later record
from the PBX corrects them. A call with news after it came under suspicion is left alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dashboard.calls import Call
from dashboard.cdr import ONE_DAY, CdrSync
from dashboard.events import parse_event
from dashboard.ingest import Ingestor
from dashboard.schema import CLOSED, EXPIRED, LOST

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Suspicion:
    at: datetime
    why: str
    gone: bool  # its PBX said it has no such channel


class Reconciler:
    def __init__(self, sync: CdrSync, ingestor: Ingestor) -> None:
        self.sync = sync
        self.ingestor = ingestor
        self._asked: dict[tuple[str, str], datetime] = {}  # when each live call was looked up
        # Calls that may be gone at their PBX: when they came under suspicion, why, and
        # whether the PBX said so of them ("no such channel"): only then may they be lost.
        self._suspects: dict[tuple[str, str], Suspicion] = {}

    def suspect(self, calls: Iterable[Call], why: str, *, gone: bool = True) -> None:
        """These calls may be gone at their PBX: look them up at the next turn. `gone`: the
        PBX said it has no such channel (so, if its CDR does not know them, they are lost)."""
        now = self.ingestor.clock()
        for call in calls:
            self._suspects[call.key] = Suspicion(now, why, gone)

    def suspect_quiet_since(self, pbx_name: str, since: datetime, why: str) -> None:
        """A PBX back after being unreachable since `since`: its calls with no news since
        then are looked up (closed only as its CDR says)."""
        pbx = self.sync.pbxs.named(pbx_name)
        quiet = [
            call
            for call in self.ingestor.live.board.live.values()
            if self.sync.pbxs.of_host(call.host) is pbx and (_last_news(call) or since) <= since
        ]
        self.suspect(quiet, why, gone=False)

    async def reconcile(self, now: datetime, ask_after: timedelta, expire_after: timedelta) -> int:
        """Close calls gone at their PBX: from the CDR if it has them, else lost (suspects)
        or, once old enough, expired. Each call with no news is looked up at most once per
        `ask_after`. Returns how many were closed."""
        closed = await self._clear_suspects()
        live = self.ingestor.live.board.live
        stale = [call for call in live.values() if now - (_last_news(call) or now) >= ask_after]
        to_ask = [
            call for call in stale if now - self._asked.get(call.key, now - ask_after) >= ask_after
        ]
        await self._look_up(to_ask)
        for call in to_ask:
            self._asked[call.key] = now
        for call in stale:
            current = live.get(call.key)
            if current is None:
                closed += 1  # the CDR had it
            elif now - (_last_news(current) or now) >= expire_after:
                await self.end(current, EXPIRED, "expired: no news from the PBX")
                closed += 1
        self._asked = {key: at for key, at in self._asked.items() if key in live}
        return closed

    async def _clear_suspects(self) -> int:
        suspects, self._suspects = self._suspects, {}
        live = self.ingestor.live.board.live
        calls = [live[key] for key in suspects if key in live]
        unread = await self._look_up(calls)
        closed = 0
        for call in calls:
            current = live.get(call.key)
            suspicion = suspects[call.key]
            if current is None:
                closed += 1  # the CDR had it
            elif call.key in unread:
                self._suspects[call.key] = suspicion  # no verdict yet: the next turn
            elif suspicion.gone and (_last_news(current) or suspicion.at) <= suspicion.at:
                await self.end(current, LOST, f"lost: {suspicion.why}")
                closed += 1
        return closed

    async def _look_up(self, calls: list[Call]) -> set[tuple[str, str]]:
        """Each call's PBX asked for its extension's records around the call's day; the
        calls whose records could not be read."""
        unread: set[tuple[str, str]] = set()
        for (name, extension), waiting in sorted(self._by_owner(calls).items()):
            zone = ZoneInfo(self.sync.pbxs.named(name).config.timezone)
            days = [call.started_at.astimezone(zone).date() for call in waiting if call.started_at]
            if days:
                first, last = min(days) - ONE_DAY, max(days) + ONE_DAY
                result = await self.sync.sync(first, last, [extension], pbx_name=name)
                if result.unfetched:
                    unread.update(call.key for call in waiting)
        return unread

    def _by_owner(self, calls: list[Call]) -> dict[tuple[str, str], list[Call]]:
        """The calls to look up, by the PBX that has them and their extension (a call of a
        host no PBX has is not looked up: it expires)."""
        owners: dict[tuple[str, str], list[Call]] = {}
        for call in calls:
            pbx = self.sync.pbxs.of_host(call.host)
            if pbx is not None and call.extension:
                owners.setdefault((pbx.name, call.extension), []).append(call)
        return owners

    async def close_by_hand(self, call: Call, who: str) -> None:
        await self.end(call, CLOSED, f"closed by {who}")

    async def end(self, call: Call, disposition: str, why: str) -> None:
        """Finish a live call on the dashboard's own word (the PBX's records may correct it)."""
        obj = {
            "event": "CallFinish",
            "asteriskhost": call.host,
            "uniqueid": call.uniqueid,
            "disposition": disposition.capitalize(),
            "dashboard": why,
        }
        event = parse_event(
            obj,
            tz=self.sync.settings.zone_of(call.host),
            default_host=call.host,
            received_at=self.ingestor.clock(),
            trusted=True,  # a call the dashboard holds, whatever today's checks say of its id
        )
        log.warning(
            "closed call %s at %s as %s (%s)", call.uniqueid, call.extension, disposition, why
        )
        await self.ingestor.submit(event, json.dumps(obj))

    async def run(self, interval: float, ask_after: timedelta, expire_after: timedelta) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reconcile(self.ingestor.clock(), ask_after, expire_after)
            except Exception:  # reconciliation must outlive any one failure
                log.exception("reconciling live calls failed")


def _last_news(call: Call) -> datetime | None:
    return call.last_seen_at or call.first_seen_at
