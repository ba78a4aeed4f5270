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
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.simulator.audio import Recordings
from dashboard.simulator.state import SavedCall, SimulatorState
from dashboard.simulator.traffic import (
    DISPOSITION_TEXT,
    TRUNK_CHANNEL,
    PlannedCall,
    Traffic,
    connect_event,
    finish_event,
    start_event,
)

log = logging.getLogger(__name__)
CDR_KEPT = 20_000
LATE = timedelta(seconds=1)  # a resumed call's moment this far past: it happened then
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
        state: SimulatorState | None = None,
    ) -> None:
        self.send = send
        self.tz = tz
        self.traffic = traffic or Traffic()
        self.clock = clock
        self.state = state  # where live calls are kept across a restart, if anywhere
        self.calls: dict[str, LiveCall] = {}
        self.recordings = Recordings()
        self.faults = Faults()
        # What cdr.php answers from: the records of the calls that finished here.
        self.cdr: deque[dict[str, str]] = deque(maxlen=CDR_KEPT)
        self._unsent: dict[str, dict[str, str]] = {}  # CallFinish events being delivered
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

    def busy_trunks(self) -> set[int]:
        """The trunk channels live calls hold (a new call gets another)."""
        found = (TRUNK_CHANNEL.fullmatch(c.plan.redirectchannel) for c in self.calls.values())
        return {int(match[1]) for match in found if match}

    def plan_call(self) -> PlannedCall:
        return self.traffic.plan_call(self.clock(), self.busy_trunks())

    def place(self, plan: PlannedCall) -> LiveCall:
        call = LiveCall(self._on_free_channels(plan), self.clock())
        self.calls[plan.uniqueid] = call
        self._save()
        call.task = asyncio.create_task(self._play(call))
        return call

    def _on_free_channels(self, plan: PlannedCall) -> PlannedCall:
        """`plan`, its channels changed for new ones where a live call holds them already."""
        held = {c.plan.hangupchannel for c in self.calls.values()}
        if plan.hangupchannel in held:
            plan = replace(plan, hangupchannel=self.traffic.sip_channel(plan.extension))
        if plan.redirectchannel in {c.plan.redirectchannel for c in self.calls.values()}:
            plan = replace(plan, redirectchannel=self.traffic.trunk_channel(self.busy_trunks()))
        return plan

    async def _play(self, call: LiveCall, *, resumed: bool = False) -> None:
        """The call's events, in real time. A call `resumed` after a restart goes on from
        where it was; when its moments passed meanwhile, it takes them as planned."""
        plan = call.plan
        if not resumed:
            await self._emit(start_event(self.host, plan))
        if call.answered is None:
            await asyncio.sleep(self._left(call.started, plan.ring_seconds, resumed))
            if plan.outcome != "answered":
                await self._finish(call, DISPOSITION_TEXT[plan.outcome], resumed=resumed)
                return
            call.answered = self._moment(call.started, plan.ring_seconds, resumed)
            self._save()
            await self._emit(connect_event(self.host, plan))
        await asyncio.sleep(self._left(call.answered, plan.talk_seconds, resumed))
        await self._finish(call, DISPOSITION_TEXT[plan.outcome], resumed=resumed)

    def _left(self, since: datetime, seconds: float, resumed: bool) -> float:
        if not resumed:
            return seconds
        return max(0.0, (since + timedelta(seconds=seconds) - self.clock()).total_seconds())

    def _moment(self, since: datetime, seconds: float, resumed: bool) -> datetime:
        """Now; or, for a resumed call whose moment passed while the PBX was stopped, that
        moment (its records then say what would have happened, not when it was noticed)."""
        now = self.clock()
        planned = since + timedelta(seconds=seconds)
        return planned if resumed and planned < now - LATE else now

    async def _finish(self, call: LiveCall, disposition: str, *, resumed: bool = False) -> None:
        self.calls.pop(call.plan.uniqueid, None)
        if call.answered is None:
            end = self._moment(call.started, call.plan.ring_seconds, resumed)
        else:
            end = self._moment(call.answered, call.plan.talk_seconds, resumed)
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
        record = {key: value for key, value in event.items() if key != "event"}
        self._remember(record)
        if self.state:
            self.state.add_finished(record)
        await self._deliver(event)

    def _remember(self, record: dict[str, str]) -> None:
        if "recordlink" in record:
            self.recordings.remember(record["recordlink"], float(record["billableseconds"]))
        self.cdr.append(record)

    async def _deliver(self, event: dict[str, str]) -> None:
        """A call's last event, kept on disk until it is sent (a restart sends it then)."""
        self._unsent[event["uniqueid"]] = event
        self._save()
        await self._emit(event)
        self._unsent.pop(event["uniqueid"], None)
        self._save()

    def _save(self) -> None:
        if self.state:
            saved = [SavedCall(c.plan, c.started, c.answered) for c in self.calls.values()]
            self.state.save(saved, self._unsent.values())

    def restore(self) -> int:
        """Go on with what the PBX had when it stopped: the records of its finished calls,
        the events it had not delivered, and its live calls; returns how many of those."""
        if self.state is None:
            return 0
        for record in self.state.finished(CDR_KEPT):
            self._remember(record)
        saved = self.state.load()
        for event in saved.unsent:
            self._spawn(self._deliver(event))
        for kept in saved.calls:
            call = LiveCall(kept.plan, kept.started, kept.answered)
            self.calls[kept.plan.uniqueid] = call
            call.task = asyncio.create_task(self._play(call, resumed=True))
        return len(saved.calls)

    async def run_traffic(self, interval: float, calls: int | None = None) -> None:
        """A new call every `interval` seconds on average (Poisson arrivals)."""
        for _ in itertools.count() if calls is None else range(calls):
            self.place(self.plan_call())
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
            self.plan_call(),
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
        plan = self.plan_call()
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
        self._save()
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
