"""A simulated Synapse PBX: live calls that play out in real time, sending their events,
and that obey the commands a dashboard sends (Originate, Hangup, Transfer)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.simulator.audio import Recordings
from dashboard.simulator.traffic import (
    DISPOSITION_TEXT,
    PlannedCall,
    Traffic,
    connect_event,
    finish_event,
    start_event,
)

log = logging.getLogger(__name__)
CDR_KEPT = 20_000
Send = Callable[[dict[str, str]], Coroutine[Any, Any, None]]
Clock = Callable[[], datetime]


@dataclass
class Faults:
    """How badly this PBX behaves, for tests of a dashboard facing a bad one."""

    mode: str = "ok"  # ok | slow (answers commands after `delay`) | error (500) | garbage
    delay: float = 30.0
    drop: float = 0.0  # the share of call events never sent


FAULT_MODES = ("ok", "slow", "error", "garbage")


class CommandRefused(ValueError):
    """A command the PBX will not carry out; `status` is the HTTP status it answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class LiveCall:
    plan: PlannedCall
    started: datetime
    answered: datetime | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class SimulatedPBX:
    def __init__(
        self,
        send: Send,
        *,
        tz: ZoneInfo,
        traffic: Traffic | None = None,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.send = send
        self.tz = tz
        self.traffic = traffic or Traffic()
        self.clock = clock
        self.calls: dict[str, LiveCall] = {}
        self.recordings = Recordings()
        self.faults = Faults()
        # What cdr.php answers from: the records of the calls that finished here.
        self.cdr: deque[dict[str, str]] = deque(maxlen=CDR_KEPT)
        self._originated = itertools.count(1)
        self._background: set[asyncio.Task[None]] = set()

    async def _emit(self, event: dict[str, str]) -> None:
        if self.faults.drop and self.traffic.random.random() < self.faults.drop:
            log.info("dropped %s of %s, as asked", event["event"], event["uniqueid"])
            return
        await self.send(event)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @property
    def host(self) -> str:
        return self.traffic.host

    # -- calls playing out -----------------------------------------------------------------

    def place(self, plan: PlannedCall) -> LiveCall:
        call = LiveCall(plan, self.clock())
        self.calls[plan.uniqueid] = call
        call.task = asyncio.create_task(self._play(call))
        return call

    async def _play(self, call: LiveCall) -> None:
        await self._emit(start_event(self.host, call.plan))
        await asyncio.sleep(call.plan.ring_seconds)
        if call.plan.outcome == "answered":
            call.answered = self.clock()
            await self._emit(connect_event(self.host, call.plan))
            await asyncio.sleep(call.plan.talk_seconds)
        await self._finish(call, DISPOSITION_TEXT[call.plan.outcome])

    async def _finish(self, call: LiveCall, disposition: str) -> None:
        self.calls.pop(call.plan.uniqueid, None)
        end = self.clock()
        event = finish_event(
            self.host,
            call.plan,
            self.tz,
            call.started,
            call.answered,
            end,
            disposition,
            recording_base=self.traffic.recording_base,
        )
        if "recordlink" in event:
            self.recordings.remember(event["recordlink"], float(event["billableseconds"]))
        self.cdr.append({key: value for key, value in event.items() if key != "event"})
        await self._emit(event)

    async def run_traffic(self, interval: float, calls: int | None = None) -> None:
        """A new call every `interval` seconds on average (Poisson arrivals)."""
        for _ in itertools.count() if calls is None else range(calls):
            self.place(self.traffic.plan_call(self.clock()))
            await asyncio.sleep(self.traffic.random.expovariate(1 / interval))

    async def close(self) -> None:
        tasks = [call.task for call in self.calls.values() if call.task] + list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- commands --------------------------------------------------------------------------

    def command(self, action: dict[str, Any]) -> str:
        """Carry out one `actiondetails` object; returns the reply text or raises."""
        name = action.get("action")
        if name == "Originate":
            return self.originate(
                _field(action, "extension"), _field(action, "number"), _field(action, "context")
            )
        if name == "Hangup":
            return self.hangup(_field(action, "hangupchannel"))
        if name == "Transfer":
            return self.transfer(
                _field(action, "transferchannel"),
                _field(action, "newextension"),
                _field(action, "context"),
            )
        raise CommandRefused(f"Error: unknown action {str(name)[:40]!r}")

    def ring(
        self, extension: str, number: str, ring_seconds: float, talk_seconds: float
    ) -> LiveCall:
        """An incoming call from `number` ringing `extension` (for demos and tests)."""
        if not extension.isdigit() or not number.lstrip("+").isdigit():
            raise CommandRefused("Error: invalid extension or number")
        plan = replace(
            self.traffic.plan_call(self.clock()),
            direction="Incoming",
            extension=extension,
            number=number,
            outcome="answered" if talk_seconds > 0 else "no_answer",
            ring_seconds=ring_seconds,
            talk_seconds=talk_seconds,
        )
        plan = replace(plan, hangupchannel=f"SIP/{extension}-{plan.hangupchannel[-8:]}")
        return self.place(plan)

    def records(self, extension: str, first: date, last: date) -> list[dict[str, str]]:
        """cdr.php: the records of an extension's calls that started between two days."""
        wanted = []
        for record in self.cdr:
            started = datetime.strptime(record["starttime"], "%Y%m%d%H:%M:%S").date()
            if record["extension"] == extension and first <= started <= last:
                wanted.append(record)
        return wanted

    def originate(self, extension: str, number: str, context: str) -> str:
        # The guide shows both "70" and "SIP/70": accept either.
        extension = extension.removeprefix("SIP/")
        if not extension.isdigit() or not number.lstrip("+").isdigit():
            raise CommandRefused("Error: invalid extension or number")
        plan = self.traffic.plan_call(self.clock())
        outcome = "answered" if self.traffic.random.random() < 0.85 else "no_answer"
        plan = replace(
            plan,
            direction="Outgoing",
            extension=extension,
            number=number,
            outcome=outcome,
            uniqueid=f"{plan.uniqueid}{next(self._originated)}",
            hangupchannel=f"SIP/{extension}-{plan.hangupchannel[-8:]}",
            ring_seconds=max(plan.ring_seconds, 1.0),
            talk_seconds=max(plan.talk_seconds, 30.0 / self.traffic.speed),
        )
        self.place(plan)
        return f"Success: originating {plan.uniqueid} in {context}"

    def hangup(self, channel: str) -> str:
        call = self._by_channel(channel, "hangupchannel")
        self.calls.pop(call.plan.uniqueid, None)  # a second Hangup finds no such channel
        if call.task:
            call.task.cancel()
        disposition = "Answered" if call.answered else "No Answer"
        self._spawn(self._finish_after(call, disposition))
        return f"Success: hanging up {channel}"

    async def _finish_after(self, call: LiveCall, disposition: str) -> None:
        if call.task:
            with contextlib.suppress(asyncio.CancelledError):
                await call.task
        await self._finish(call, disposition)

    def transfer(self, channel: str, new_extension: str, context: str) -> str:
        call = self._by_channel(channel, "redirectchannel")
        if not new_extension.isdigit():
            raise CommandRefused("Error: invalid extension")
        call.plan = replace(
            call.plan,
            extension=new_extension,
            hangupchannel=f"SIP/{new_extension}-{call.plan.hangupchannel[-8:]}",
        )
        self._spawn(self._emit(start_event(self.host, call.plan)))
        return f"Success: transferring {channel} to {new_extension} in {context}"

    def _by_channel(self, channel: str, kind: str) -> LiveCall:
        """The live call whose hangup (or redirect) channel this is; no other will do."""
        for call in self.calls.values():
            if getattr(call.plan, kind) == channel:
                return call
        raise CommandRefused(f"Error: no such channel {channel[:60]!r}", status=404)


def _field(action: dict[str, Any], name: str) -> str:
    value = action.get(name)
    if not isinstance(value, str) or not value:
        raise CommandRefused(f"Error: missing {name}")
    return value
