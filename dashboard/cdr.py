"""CDR sync and reconciliation: the PBX's call detail records merged into the history.

Records go the road events go (`Ingestor.submit`: stored, then on the board), and only when
they change something, so a sync run twice changes nothing. Calls left live with no news
(a CallFinish lost while the dashboard was down) are first looked up in the CDR; past a
configurable age they are closed as "expired", never as answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from dashboard import calls
from dashboard.calls import Call
from dashboard.events import EventError, parse_event
from dashboard.ingest import Ingestor
from dashboard.pbx import CDRShapeError, PBXError, Synapse

log = logging.getLogger(__name__)
EXPIRED = "Expired"
# A live call is looked up from the day before it started to the day after: a call that
# crosses midnight, or a PBX whose clock is some hours off, files it under another day.
ONE_DAY = timedelta(days=1)


@dataclass
class SyncResult:
    fetched: int = 0
    added: int = 0  # calls the dashboard had not seen
    updated: int = 0  # calls the records changed
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.fetched} records: {self.added} calls added, {self.updated} updated,"
            f" {self.unchanged} already known"
        )
        return text + (f"; {len(self.problems)} problems" if self.problems else "")


class CdrSync:
    def __init__(self, ingestor: Ingestor, synapse: Synapse) -> None:
        self.ingestor = ingestor
        self.synapse = synapse
        self._asked: dict[tuple[str, str], datetime] = {}  # when each live call was looked up

    def extensions(self) -> list[str]:
        """Every extension worth asking about: configured, and seen in the history."""
        rows = self.ingestor.store.db.execute(
            "SELECT DISTINCT extension FROM calls WHERE extension IS NOT NULL"
        ).fetchall()
        return sorted({*self.ingestor.settings.extensions, *(row[0] for row in rows)})

    async def sync(
        self, first: date, last: date, extensions: list[str] | None = None
    ) -> SyncResult:
        result = SyncResult()
        for extension in extensions or self.extensions():
            try:
                records = await self.synapse.cdr(extension, first, last)
            except (PBXError, CDRShapeError) as error:
                result.problems.append(f"extension {extension}: {error}")
                continue
            for record in records:
                await self.merge(record, result)
        return result

    async def merge(self, record: dict[str, object], result: SyncResult) -> None:
        result.fetched += 1
        obj = {"event": "CallFinish", **record}
        try:
            event = parse_event(
                obj,
                tz=self.ingestor.tz,
                default_host=self.ingestor.settings.synapse_host,
                received_at=self.ingestor.clock(),
            )
        except EventError as error:
            result.problems.append(f"record {str(record.get('uniqueid'))[:40]}: {error.detail}")
            return
        before = self.ingestor.board.get(event.key) or self.ingestor.store.get_call(event.key)
        if before is not None and _same(calls.apply(before, event), before):
            result.unchanged += 1
            return
        await self.ingestor.submit(event, json.dumps(obj, ensure_ascii=False))
        if before is None:
            result.added += 1
        else:
            result.updated += 1

    async def reconcile(self, now: datetime, ask_after: timedelta, expire_after: timedelta) -> int:
        """Close calls left live with no news: from the CDR if it has them, else expired
        once old enough. Each call is looked up at most once per `ask_after`. Returns how
        many were closed."""
        self.adopt_finished_elsewhere()
        stale = [
            call
            for call in self.ingestor.board.live.values()
            if now - (_last_news(call) or now) >= ask_after
        ]
        to_ask = [
            call for call in stale if now - self._asked.get(call.key, now - ask_after) >= ask_after
        ]
        for extension in sorted({call.extension for call in to_ask if call.extension}):
            days = [
                c.started_at.astimezone(self.ingestor.tz).date()
                for c in to_ask
                if c.extension == extension and c.started_at
            ]
            await self.sync(min(days) - ONE_DAY, max(days) + ONE_DAY, [extension])
        for call in to_ask:
            self._asked[call.key] = now
        closed = 0
        for call in stale:
            current = self.ingestor.board.live.get(call.key)
            if current is None:
                closed += 1  # the CDR had it
            elif now - (_last_news(current) or now) >= expire_after:
                await self.expire(current)
                closed += 1
        live = self.ingestor.board.live
        self._asked = {key: at for key, at in self._asked.items() if key in live}
        return closed

    async def expire(self, call: Call) -> None:
        obj = {
            "event": "CallFinish",
            "asteriskhost": call.host,
            "uniqueid": call.uniqueid,
            "disposition": EXPIRED,
            "dashboard": "expired: no news from the PBX",
        }
        event = parse_event(
            obj, tz=self.ingestor.tz, default_host=call.host, received_at=self.ingestor.clock()
        )
        log.warning("expired call %s at %s: no news from the PBX", call.uniqueid, call.extension)
        await self.ingestor.submit(event, json.dumps(obj))

    def adopt_finished_elsewhere(self) -> None:
        """Calls a sync in another process (the command line) finished: off the board."""
        for key, live in list(self.ingestor.board.live.items()):
            stored = self.ingestor.store.get_call(key)
            if stored is not None and not stored.is_live:
                self.ingestor.board.update(live, stored, self.ingestor.clock())

    async def run(self, interval: float, ask_after: timedelta, expire_after: timedelta) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reconcile(self.ingestor.clock(), ask_after, expire_after)
            except Exception:  # reconciliation must outlive any one failure
                log.exception("reconciling live calls failed")


def _last_news(call: Call) -> datetime | None:
    return call.last_seen_at or call.first_seen_at


def _same(merged: Call, before: Call) -> bool:
    """Whether a record adds nothing (its arrival time aside)."""
    return (
        replace(merged, finish_seen_at=before.finish_seen_at, last_seen_at=before.last_seen_at)
        == before
    )
