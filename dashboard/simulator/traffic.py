"""Realistic call traffic: `Traffic.plan_call` draws one call (seeded), the event
builders write its events exactly as Synapse does, and `event_url` is the GET that
carries one to the Remote APP URL."""

from __future__ import annotations

import itertools
import json
import logging
import random
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

log = logging.getLogger(__name__)
PBX_TIME = "%Y%m%d%H:%M:%S"
EXTENSIONS = tuple(str(n) for n in range(40, 60)) + tuple(str(n) for n in range(70, 80))
OUTCOMES = (("answered", 0.72), ("no_answer", 0.18), ("busy", 0.07), ("failed", 0.03))
DISPOSITION_TEXT = {
    "answered": "Answered",
    "no_answer": "No Answer",
    "busy": "Busy",
    "failed": "Failed",
}


@dataclass(frozen=True)
class PlannedCall:
    uniqueid: str
    direction: str  # "Incoming" or "Outgoing", as Synapse spells it
    number: str
    extension: str
    outcome: str
    ring_seconds: float
    talk_seconds: float
    hangupchannel: str
    redirectchannel: str


# Customers who call again and again (a share of the calls; the demo knows them as contacts),
# and everyone else, a new number each time.
REGULAR_CALLERS = tuple(f"98450{n:05d}" for n in range(11, 35))
REGULAR_SHARE = 0.35
TRUNK_CHANNELS = 30  # an E1 trunk's voice channels: DAHDI/1 to DAHDI/30
TRUNK_CHANNEL = re.compile(r"DAHDI/([0-9]+)-[0-9]+")


class Traffic:
    """Draws calls; the same seed gives the same calls."""

    def __init__(
        self,
        seed: int | None = None,
        host: str = "192.168.1.51",
        extensions: tuple[str, ...] = EXTENSIONS,
        speed: float = 1.0,
        recording_base: str | None = None,
    ) -> None:
        self.random = random.Random(seed)
        self.host = host
        # Where recording links point (e.g. "http://127.0.0.1:8001"); else http://{host}.
        self.recording_base = recording_base
        self.extensions = extensions
        self.speed = speed  # >1 shortens rings and talks (for tests and demos)
        self._sequence = itertools.count(self.random.randrange(10_000, 90_000))
        # Channel names as Asterisk makes them: a SIP channel's suffix counts up per PBX,
        # a DAHDI channel's per channel; so no two calls ever share one.
        self._sip_channels = itertools.count(self.random.randrange(16**6))
        self._trunk_uses: dict[int, int] = {}

    def sip_channel(self, extension: str) -> str:
        """A new channel to the phone at `extension`, e.g. SIP/70-0000a1b2."""
        return f"SIP/{extension}-{next(self._sip_channels):08x}"

    def trunk_channel(self, busy: Collection[int] = ()) -> str:
        """A new call on a trunk channel no live call holds (`busy`), e.g. DAHDI/4-2: a
        free one of the trunk's, or past them when every one is taken."""
        free = [n for n in range(1, TRUNK_CHANNELS + 1) if n not in busy]
        channel = self.random.choice(free) if free else max(busy) + 1
        self._trunk_uses[channel] = self._trunk_uses.get(channel, 0) + 1
        return f"DAHDI/{channel}-{self._trunk_uses[channel]}"

    def plan_call(self, now: datetime, busy_trunks: Collection[int] = ()) -> PlannedCall:
        """One call starting `now`, on a trunk channel not in `busy_trunks`."""
        rnd = self.random
        outcome = rnd.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
        extension = rnd.choice(self.extensions)
        talk = rnd.lognormvariate(4.3, 0.8) if outcome == "answered" else 0.0  # median ~75 s
        ring = rnd.uniform(2, 14) if outcome != "no_answer" else rnd.uniform(20, 35)
        if outcome in ("busy", "failed"):
            ring = rnd.uniform(0.5, 2)
        return PlannedCall(
            uniqueid=f"{int(now.timestamp())}.{next(self._sequence)}",
            direction=rnd.choice(("Incoming", "Incoming", "Outgoing")),
            number=self._caller_number(),
            extension=extension,
            outcome=outcome,
            ring_seconds=min(ring, 600) / self.speed,
            talk_seconds=min(talk, 3600) / self.speed,
            hangupchannel=self.sip_channel(extension),
            redirectchannel=self.trunk_channel(busy_trunks),
        )

    def _caller_number(self) -> str:
        rnd = self.random
        if rnd.random() < REGULAR_SHARE:
            return rnd.choice(REGULAR_CALLERS)
        return rnd.choice(("98", "97", "96", "88", "70")) + f"{rnd.randrange(10**8):08d}"

    def call_events(
        self, call: PlannedCall, start: datetime, tz: ZoneInfo
    ) -> list[tuple[float, dict[str, str]]]:
        """The events of one call and how many seconds after `start` each is sent."""
        answered = call.outcome == "answered"
        end_offset = call.ring_seconds + call.talk_seconds
        answer = start + timedelta(seconds=call.ring_seconds) if answered else None
        end = start + timedelta(seconds=end_offset)
        events: list[tuple[float, dict[str, str]]] = [(0.0, start_event(self.host, call))]
        if answered:
            events.append((call.ring_seconds, connect_event(self.host, call)))
        finish = finish_event(
            self.host,
            call,
            tz,
            start,
            answer,
            end,
            DISPOSITION_TEXT[call.outcome],
            recording_base=self.recording_base,
        )
        events.append((end_offset, finish))
        return events


def _common(host: str, call: PlannedCall) -> dict[str, str]:
    return {
        "asteriskhost": host,
        "direction": call.direction,
        "number": call.number,
        "extension": call.extension,
        "uniqueid": call.uniqueid,
    }


def start_event(host: str, call: PlannedCall) -> dict[str, str]:
    channels = {"hangupchannel": call.hangupchannel, "redirectchannel": call.redirectchannel}
    return {"event": "CallStart", **_common(host, call), **channels}


def connect_event(host: str, call: PlannedCall) -> dict[str, str]:
    channels = {"hangupchannel": call.hangupchannel, "redirectchannel": call.redirectchannel}
    return {"event": "CallConnect", **_common(host, call), **channels}


def finish_event(
    host: str,
    call: PlannedCall,
    tz: ZoneInfo,
    start: datetime,
    answer: datetime | None,
    end: datetime,
    disposition: str,
    *,
    recording_base: str | None = None,
) -> dict[str, str]:
    """The CDR: times in the PBX's local time, as Synapse writes them."""
    local_start = start.astimezone(tz)
    finish = {
        "event": "CallFinish",
        **_common(host, call),
        "starttime": local_start.strftime(PBX_TIME),
        "answertime": answer.astimezone(tz).strftime(PBX_TIME) if answer else "",
        "endtime": end.astimezone(tz).strftime(PBX_TIME),
        "duration": str(round((end - start).total_seconds())),
        "billableseconds": str(round((end - answer).total_seconds())) if answer else "0",
        "disposition": disposition,
    }
    if answer:
        base = (recording_base or f"http://{host}").rstrip("/")
        finish["recordlink"] = (
            f"{base}/callrecord/{local_start:%Y/%b/%d%m%Y}/{local_start:%d%m%Y}{call.uniqueid}.wav"
        )
    return finish


def event_url(events_url: str, event: dict[str, Any]) -> str:
    """The URL Synapse calls: the Remote APP URL, its query carrying the JSON string."""
    separator = "&" if "?" in events_url else "?"
    return events_url + separator + httpx.QueryParams({"data": json.dumps(event)}).__str__()
