"""Watching each PBX: a harmless request every minute, and every board told when one fails.

The probe asks cdr.php for one day of an extension nobody has: read-only, and the same
door (the PBX's web server and its API's allow-list) that commands and CDR fetches use.
When a PBX's problems change, the banner on every board (wallboard, TV, agents' pages) is
pushed again; it clears by itself when the PBX is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import anyio

from dashboard.cdr import ONE_DAY, CdrSync
from dashboard.fragments import Fragments
from dashboard.pbx import PROBE_EXTENSION, CDRShapeError, PBXError
from dashboard.pbxs import PBX, PBXs
from dashboard.publisher import Publisher
from dashboard.reconcile import Reconciler

log = logging.getLogger(__name__)
# A PBX quiet this long has its CDR read (then every SILENCE_CHECK_EVERY while quiet): calls
# there that began since and that no event told of mean its events are not reaching us.
QUIET_AFTER = timedelta(minutes=2)
SILENCE_CHECK_EVERY = timedelta(minutes=1)
# Only the busiest extensions of the last week are asked: a PBX whose events are lost shows
# calls there first, and a PBX of hundreds of extensions is not asked for all every minute.
SILENCE_EXTENSIONS = 8
BUSY_OVER = timedelta(days=7)


async def probe(pbx: PBX, now: datetime) -> tuple[float | None, str]:
    """(round trip in ms, "") when the PBX's API answered; (None, why) when not."""
    today = now.astimezone(ZoneInfo(pbx.config.timezone)).date()
    started = time.perf_counter()
    try:
        await pbx.synapse.cdr(PROBE_EXTENSION, today, today)
    except CDRShapeError:
        pass  # it answered: what cdr.php says of no extension is its own business
    except PBXError as error:
        return None, error.message
    return round((time.perf_counter() - started) * 1000, 1), ""


class PBXWatch:
    def __init__(
        self,
        pbxs: PBXs,
        publisher: Publisher,
        fragments: Fragments,
        clock: Callable[[], datetime],
        cdr: CdrSync | None = None,
        reconciler: Reconciler | None = None,
    ) -> None:
        """`cdr`: how a quiet PBX's records are read (and merged: the calls it did not tell
        of join the history); None: silence is not looked for. `reconciler`: told when a
        PBX that was down is back, for the calls it may have lost."""
        self.reconciler = reconciler
        self.pbxs = pbxs
        self.health = pbxs.health
        self.publisher = publisher
        self.fragments = fragments
        self.clock = clock
        self.cdr = cdr
        self.started_at = clock()
        self.silence_checked: dict[str, datetime] = {}
        self.shown: list[object] = []

    async def check_all(self) -> None:
        """Probe every PBX at once; push the banner if what it says changed."""
        results: dict[str, tuple[float | None, str]] = {}

        async def check(pbx: PBX) -> None:
            results[pbx.name] = await probe(pbx, self.clock())

        async with anyio.create_task_group() as group:
            for pbx in self.pbxs.all:
                group.start_soon(check, pbx)
        for name, (round_trip, error) in results.items():
            down_since = self.health.by_name[name].api_down_since
            if not self.health.note_probe(name, self.clock(), round_trip, error):
                continue
            if error:
                log.warning("the PBX %s is not answering: %s", name, error)
            elif down_since is not None and self.reconciler is not None:
                log.warning("the PBX %s answers again: its calls are looked up", name)
                self.reconciler.suspect_quiet_since(
                    name, down_since, f"the PBX was down from {down_since:%Y-%m-%d %H:%M} UTC"
                )
        self.show()  # what the probes found, before the slower look at quiet PBXs' records
        for pbx in self.pbxs.all:
            if not results[pbx.name][1]:
                await self.look_for_silence(pbx)
        self.show()

    async def look_for_silence(self, pbx: PBX) -> None:
        """A PBX that answers but has been quiet a while: does its CDR hold calls that no
        event told of? Then its events are lost on the way (its Remote APP URL, a firewall)."""
        if self.cdr is None:
            return
        now = self.clock()
        health = self.health.by_name[pbx.name]
        quiet_since = health.last_event_at or self.started_at
        last_check = self.silence_checked.get(pbx.name)
        if now - quiet_since < QUIET_AFTER or (
            last_check is not None and now - last_check < SILENCE_CHECK_EVERY
        ):
            return
        self.silence_checked[pbx.name] = now
        host = pbx.config.host if self.pbxs.hosts_listed else None
        busiest = self.cdr.store.busiest_extensions(host, now - BUSY_OVER, SILENCE_EXTENSIONS)
        configured = pbx.config.extensions or self.cdr.settings.extensions
        busiest = busiest or list(configured[:SILENCE_EXTENSIONS])  # a PBX never heard yet
        if not busiest:
            return  # nowhere to look: no verdict
        today = now.astimezone(ZoneInfo(pbx.config.timezone)).date()
        result = await self.cdr.sync(today - ONE_DAY, today, busiest, pbx.name)
        if result.unfetched:
            return  # no verdict from a CDR read only in part
        # Calls from before the quiet began (or while the dashboard was down) prove nothing.
        unheard = sum(1 for start in result.added_starts if start >= quiet_since)
        if self.health.note_unheard(pbx.name, now, unheard):
            log.warning(
                "the PBX %s has %d calls no event told of: its events are not arriving",
                pbx.name,
                unheard,
            )

    def show(self) -> None:
        problems = self.health.problems()
        if problems != self.shown:
            self.shown = list(problems)
            self.publisher.show_banner(self.fragments.pbx_banner(problems, oob=True))

    async def run(self, interval: float) -> None:
        while True:
            try:
                await self.check_all()
            except Exception:  # a fault of ours must not end the watch
                log.exception("could not check the PBXs")
            await anyio.sleep(interval)
