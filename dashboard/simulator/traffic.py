"""Realistic call traffic, sent the way Synapse sends it: an HTTP GET to the
Remote APP URL whose query carries the event's JSON string.

`plan_call` draws one call (pure, seeded); `call_events` turns it into the
events Synapse would send and when; `run_traffic` plays calls in real time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from dashboard.settings import Settings

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


class Traffic:
    """Draws calls; the same seed gives the same calls."""

    def __init__(
        self,
        seed: int | None = None,
        host: str = "192.168.1.51",
        extensions: tuple[str, ...] = EXTENSIONS,
        speed: float = 1.0,
    ) -> None:
        self.random = random.Random(seed)
        self.host = host
        self.extensions = extensions
        self.speed = speed  # >1 shortens rings and talks (for tests and demos)
        self._sequence = itertools.count(self.random.randrange(10_000, 90_000))

    def plan_call(self, now: datetime) -> PlannedCall:
        rnd = self.random
        outcome = rnd.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
        extension = rnd.choice(self.extensions)
        talk = rnd.lognormvariate(4.3, 0.8) if outcome == "answered" else 0.0  # median ~75 s
        ring = rnd.uniform(2, 14) if outcome != "no_answer" else rnd.uniform(20, 35)
        if outcome in ("busy", "failed"):
            ring = rnd.uniform(0.5, 2)
        trunk = rnd.randrange(1, 31)
        return PlannedCall(
            uniqueid=f"{int(now.timestamp())}.{next(self._sequence)}",
            direction=rnd.choice(("Incoming", "Incoming", "Outgoing")),
            number=rnd.choice(("98", "97", "96", "88", "70")) + f"{rnd.randrange(10**8):08d}",
            extension=extension,
            outcome=outcome,
            ring_seconds=min(ring, 600) / self.speed,
            talk_seconds=min(talk, 3600) / self.speed,
            hangupchannel=f"SIP/{extension}-{rnd.randrange(16**8):08x}",
            redirectchannel=f"DAHDI/{trunk}-1",
        )

    def call_events(
        self, call: PlannedCall, start: datetime, tz: ZoneInfo
    ) -> list[tuple[float, dict[str, str]]]:
        """The events of one call and how many seconds after `start` each is sent."""
        common = {
            "asteriskhost": self.host,
            "direction": call.direction,
            "number": call.number,
            "extension": call.extension,
            "uniqueid": call.uniqueid,
        }
        channels = {"hangupchannel": call.hangupchannel, "redirectchannel": call.redirectchannel}
        answered = call.outcome == "answered"
        end_offset = call.ring_seconds + call.talk_seconds
        local_start = start.astimezone(tz)
        answer_time = local_start + timedelta(seconds=call.ring_seconds)
        end_time = local_start + timedelta(seconds=end_offset)
        events: list[tuple[float, dict[str, str]]] = [
            (0.0, {"event": "CallStart", **common, **channels})
        ]
        if answered:
            events.append((call.ring_seconds, {"event": "CallConnect", **common, **channels}))
        finish = {
            "event": "CallFinish",
            **common,
            "starttime": local_start.strftime(PBX_TIME),
            "answertime": answer_time.strftime(PBX_TIME) if answered else "",
            "endtime": end_time.strftime(PBX_TIME),
            "duration": str(round(end_offset)),
            "billableseconds": str(round(call.talk_seconds)) if answered else "0",
            "disposition": DISPOSITION_TEXT[call.outcome],
        }
        if answered:
            finish["recordlink"] = (
                f"http://{self.host}/callrecord/{local_start:%Y/%b/%d%m%Y}/"
                f"{local_start:%d%m%Y}{call.uniqueid}.wav"
            )
        events.append((end_offset, finish))
        return events


def event_url(events_url: str, event: dict[str, Any]) -> str:
    """The URL Synapse calls: the Remote APP URL, its query carrying the JSON string."""
    separator = "&" if "?" in events_url else "?"
    return events_url + separator + httpx.QueryParams({"data": json.dumps(event)}).__str__()


async def send_event(client: httpx.AsyncClient, events_url: str, event: dict[str, Any]) -> None:
    """One GET, retried a few times while the dashboard is unreachable (it may be starting)."""
    delays: Iterator[float] = iter((0.2, 0.5, 1.0, 2.0, 4.0))
    while True:
        try:
            response = await client.get(event_url(events_url, event))
            if response.status_code >= 400:
                log.warning("the dashboard refused %s: %s", event["event"], response.text[:200])
            return
        except httpx.TransportError as error:
            delay = next(delays, None)
            if delay is None:
                log.warning("could not deliver %s %s: %s", event["event"], event["uniqueid"], error)
                return
            await asyncio.sleep(delay)


async def play_call(
    client: httpx.AsyncClient, events_url: str, events: list[tuple[float, dict[str, str]]]
) -> None:
    elapsed = 0.0
    for offset, event in events:
        await asyncio.sleep(max(0.0, offset - elapsed))
        elapsed = offset
        await send_event(client, events_url, event)


async def run_traffic(
    events_url: str, *, tz: ZoneInfo, interval: float, traffic: Traffic, calls: int | None = None
) -> None:
    """Start a call every `interval` seconds on average (Poisson arrivals); stop after `calls`."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        running: set[asyncio.Task[None]] = set()
        try:
            for _ in itertools.count() if calls is None else range(calls):
                now = datetime.now(tz)
                call = traffic.plan_call(now)
                task = asyncio.create_task(
                    play_call(client, events_url, traffic.call_events(call, now, tz))
                )
                running.add(task)
                task.add_done_callback(running.discard)
                await asyncio.sleep(traffic.random.expovariate(1 / interval))
            await asyncio.gather(*running)
        finally:
            for task in running:
                task.cancel()


async def run_demo_traffic(settings: Settings) -> None:
    await asyncio.sleep(0.5)  # let the server start listening
    await run_traffic(
        settings.demo_events_url,
        tz=settings.timezone,
        interval=settings.demo_call_interval,
        traffic=Traffic(host=settings.synapse_host or "192.168.1.51", speed=3.0),
    )
