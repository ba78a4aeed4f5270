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
from datetime import datetime
from zoneinfo import ZoneInfo

import anyio

from dashboard.fragments import Fragments
from dashboard.pbx import CDRShapeError, PBXError
from dashboard.pbxs import PBX, PBXs
from dashboard.publisher import Publisher

log = logging.getLogger(__name__)
PROBE_EXTENSION = "0"  # no such extension: an empty answer, and nothing done


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
    ) -> None:
        self.pbxs = pbxs
        self.health = pbxs.health
        self.publisher = publisher
        self.fragments = fragments
        self.clock = clock
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
            if self.health.note_probe(name, self.clock(), round_trip, error) and error:
                log.warning("the PBX %s is not answering: %s", name, error)
        self.show()

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
