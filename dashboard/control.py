"""Acting on calls: the rules around the PBX commands.

Who may do what (an agent only from and on its own extension), where the PBX may be asked
to ring (destinations.py: one policy for originate, callback and transfer), how often
(per-user rates, calls out in flight), and an audit entry for every attempt. The PBX only
*accepts* a command here: what then happens to the call comes back as call events, like
every other change.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from dashboard.audit import AuditLog
from dashboard.auth import User
from dashboard.calls import Call
from dashboard.destinations import External, extension_number
from dashboard.errors import Refusal
from dashboard.grid import IDLE, RINGING, TALKING, Tile
from dashboard.ingest import Clock
from dashboard.metrics import Timings
from dashboard.pbx import Accepted, PBXError
from dashboard.pbxs import PBX, PBXs
from dashboard.replies import Asked
from dashboard.settings import Settings


class ControlError(Refusal):
    """A command refused before or by the PBX (then with what the PBX answered, if it did)."""

    pbx_status: int = 0
    pbx_reply: str = ""


@dataclass(frozen=True)
class Done:
    message: str  # for a program: "Hang-up sent to the PBX"
    reply: str  # what the PBX answered
    asked: Asked  # what was done, for words to a person (replies.py)


class RateLimit:
    """At most `per_minute` commands per user in any 60 seconds."""

    def __init__(
        self, per_minute: int, what: str, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self.what = what  # "calls", "transfers"
        self.monotonic = monotonic
        self.recent: dict[int, deque[float]] = defaultdict(deque)

    def take(self, user_id: int) -> None:
        now = self.monotonic()
        recent = self.recent[user_id]
        while recent and now - recent[0] >= 60:
            recent.popleft()
        if len(recent) >= self.per_minute:
            wait = max(1, round(60 - (now - recent[0])))
            raise ControlError(
                429,
                "rate_limited",
                f"at most {self.per_minute} {self.what} a minute: try again in {wait} s",
            )
        recent.append(now)


class Repeats:
    """The same command from the same user within `window` seconds is a double click (or a
    script retrying): refused, because a second Originate dials the customer twice."""

    def __init__(self, window: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.monotonic = monotonic
        self.seen: dict[tuple[object, ...], float] = {}

    def refuse_repeat(self, keys: Collection[tuple[object, ...]]) -> None:
        now = self.monotonic()
        self.seen = {key: at for key, at in self.seen.items() if now - at < self.window}
        for key in keys:
            if key in self.seen:
                ago = max(1, round(now - self.seen[key]))
                raise ControlError(
                    409,
                    "duplicate",
                    f"the same command was sent {ago} s ago: it is not sent twice",
                )

    def note(self, keys: Collection[tuple[object, ...]]) -> None:
        now = self.monotonic()
        self.seen.update(dict.fromkeys(keys, now))

    def forget(self, keys: Collection[tuple[object, ...]]) -> None:
        for key in keys:
            self.seen.pop(key, None)


REPEAT_WINDOW_SECONDS = 5.0


@dataclass(frozen=True)
class Target:
    """An extension a call may be transferred to, as the grid sees it now."""

    extension: str
    name: str  # its user's, if any
    state: str  # grid.py's: idle, ringing, talking


FREE_FIRST = {IDLE: 0, RINGING: 1, TALKING: 2}


class CallsGone(Protocol):
    def suspect(self, calls: Iterable[Call], why: str) -> None: ...

    async def close_by_hand(self, call: Call, who: str) -> None: ...


class Controls:
    def __init__(
        self,
        settings: Settings,
        pbxs: PBXs,
        audit: AuditLog,
        clock: Clock,
        known_extensions: Callable[[], Collection[str]] = frozenset,
        monotonic: Callable[[], float] = time.monotonic,
        timings: Timings | None = None,
        calls_gone: CallsGone | None = None,
    ) -> None:
        """`calls_gone`: told of calls the PBX said it no longer has, and asked to close one
        by hand (the reconciler)."""
        self.settings = settings
        self.timings = timings
        self.pbxs = pbxs
        self.audit = audit
        self.clock = clock
        self.known_extensions = known_extensions
        self.calls_gone = calls_gone
        self.dial_rate = RateLimit(settings.originates_per_minute, "calls", monotonic)
        self.transfer_rate = RateLimit(settings.transfers_per_minute, "transfers", monotonic)
        self.repeats = Repeats(REPEAT_WINDOW_SECONDS, monotonic)
        self.in_flight = 0
        self.outcomes: dict[tuple[str, str], int] = defaultdict(int)  # (action, outcome) -> count

    async def originate(
        self,
        user: User,
        extension: str | None,
        number: str,
        remote: str,
        idempotency_key: str = "",
        pbx_name: str | None = None,
    ) -> Done:
        target = f"{extension or user.extension or '?'} -> {number.strip()[:40]}"
        with self._audited(user, "originate", target, remote) as note:
            if not user.may_control:
                raise ControlError(403, "forbidden", f"a {user.role} may not place calls")
            if user.role == "agent":
                if extension not in (None, "", user.extension):
                    raise ControlError(403, "forbidden", "an agent dials from its own extension")
                extension = user.extension
            extension = extension or user.extension
            if not extension:
                raise ControlError(
                    422, "bad_extension", "say which extension dials: fill in the dial box's From"
                )
            from_extension = extension_number(extension)
            if len(from_extension) > self.settings.extension_digits:
                raise ControlError(
                    422,
                    "bad_extension",
                    f"a call is placed from an extension of at most"
                    f" {self.settings.extension_digits} digits (DASHBOARD_EXTENSION_DIGITS)",
                )
            to_number = self.settings.dial_rules.number(number)
            pbx = self.pbxs.for_extension(from_extension, pbx_name)
            destination = self.settings.dial_rules.same_destination(to_number)
            once: list[tuple[object, ...]] = [(user.id, "originate", from_extension, destination)]
            if idempotency_key:
                once.append((user.id, "key", idempotency_key[:100]))
            with self._dialling_out(user, once):
                reply = await self._send(
                    "originate", pbx.synapse.originate(from_extension, to_number)
                )
            note.detail = f"PBX: {reply}"
            return Done(
                f"Calling {to_number} from extension {from_extension}",
                reply,
                Asked("originate", to_number, from_extension),
            )

    async def hangup(self, user: User, call: Call | None, remote: str) -> Done:
        with self._audited(user, "hangup", _describe(call), remote) as note:
            live = self._controllable(user, call)
            if not live.hangupchannel:
                raise ControlError(
                    409, "no_channel", "the PBX has not said which channel to hang up"
                )
            synapse = self._pbx_of(live).synapse
            with self._gone_if_no_channel(live):
                reply = await self._send("hangup", synapse.hangup(live.hangupchannel))
            note.detail = f"PBX: {reply}"
            return Done("Hang-up sent to the PBX", reply, Asked("hangup", live.number or ""))

    async def close(self, user: User, call: Call | None, remote: str) -> Done:
        """A supervisor ends a call the PBX no longer has (it stays "on a call" otherwise)."""
        with self._audited(user, "close", _describe(call), remote) as note:
            if user.role not in ("admin", "supervisor"):
                raise ControlError(403, "forbidden", f"a {user.role} may not close calls")
            live = self._controllable(user, call)
            if self.calls_gone is None:
                raise ControlError(409, "not_possible", "calls cannot be closed here")
            await self.calls_gone.close_by_hand(live, user.name)
            note.detail = "closed by hand"
            return Done("Call closed: marked as closed by hand", "", Asked("close"))

    @contextlib.contextmanager
    def _gone_if_no_channel(self, call: Call) -> Iterator[None]:
        """The PBX answering "no such channel" says the call is gone there: look it up."""
        try:
            yield
        except ControlError as error:
            if self.calls_gone and "no such channel" in error.detail.lower():
                self.calls_gone.suspect([call], "the PBX answered: no such channel")
            raise

    async def transfer(
        self, user: User, call: Call | None, new_extension: str, remote: str
    ) -> Done:
        with self._audited(
            user, "transfer", f"{_describe(call)} -> {new_extension[:12]}", remote
        ) as note:
            live = self._controllable(user, call)
            if not live.redirectchannel:
                raise ControlError(
                    409, "no_channel", "the PBX has not said which channel to transfer"
                )
            pbx = self._pbx_of(live)
            synapse = pbx.synapse
            rules = self.settings.transfer_rules
            # Its own PBX's extensions: a transfer cannot cross to another PBX.
            known = [ext for ext in self.known_extensions() if pbx.config.owns(ext)]
            target = rules.target(new_extension, known)
            if isinstance(target, External):
                self._may_transfer_out(user)
                number = self.settings.dial_rules.number(target.number)
                destination = self.settings.dial_rules.same_destination(number)
                with (
                    self._dialling_out(user, [(user.id, "transfer", live.uniqueid, destination)]),
                    self._gone_if_no_channel(live),
                ):
                    reply = await self._send(
                        "transfer", synapse.transfer(live.redirectchannel, number)
                    )
                note.detail = f"PBX: {reply}"
                return Done(
                    f"Transfer to {number} sent to the PBX", reply, Asked("transfer", number)
                )
            if target.extension == live.extension:
                raise ControlError(
                    422, "bad_extension", f"the call is already at {target.extension}"
                )
            once = [(user.id, "transfer", live.uniqueid, target.extension)]
            self.repeats.refuse_repeat(once)
            self.transfer_rate.take(user.id)
            self.repeats.note(once)
            try:
                with self._gone_if_no_channel(live):
                    reply = await self._send(
                        "transfer", synapse.transfer(live.redirectchannel, target.extension)
                    )
            except ControlError:
                self.repeats.forget(once)
                raise
            note.detail = f"PBX: {reply}"
            return Done(
                f"Transfer to {target.extension} sent to the PBX",
                reply,
                Asked("transfer", extension=target.extension),
            )

    def transfer_targets(
        self, user: User, call: Call | None, tiles: Iterable[Tile], typed: str = ""
    ) -> list[Target]:
        """Where this user may transfer this call among the grid's extensions: its own PBX's,
        not where it is, those matching what is typed (digits or a name); free ones first."""
        live = self._controllable(user, call)
        pbx = self._pbx_of(live)
        longest = self.settings.transfer_rules.extension_digits
        typed = typed.strip().lower()
        targets = [
            Target(tile.extension, tile.name, tile.state)
            for tile in tiles
            if tile.extension != live.extension
            and tile.extension.isascii()
            and tile.extension.isdigit()
            and len(tile.extension) <= longest
            and pbx.config.owns(tile.extension)
            and (not typed or tile.extension.startswith(typed) or typed in tile.name.lower())
        ]
        return sorted(targets, key=lambda target: FREE_FIRST.get(target.state, 3))

    def _pbx_of(self, call: Call) -> PBX:
        pbx = self.pbxs.of_host(call.host)
        if pbx is None:
            raise ControlError(
                409,
                "watch_only",
                f"the call is on {call.host}, a PBX not configured here: it is only watched",
            )
        return pbx

    def _may_transfer_out(self, user: User) -> None:
        allowed = self.settings.transfer_out
        if allowed == "nobody" or (allowed == "supervisors" and user.role == "agent"):
            raise ControlError(  # a destination refused, like a blocked number: 422
                422,
                "transfer_out_forbidden",
                "transfers to outside numbers are not allowed"
                + (" for agents" if allowed == "supervisors" else ""),
            )

    @contextlib.contextmanager
    def _dialling_out(self, user: User, once: Collection[tuple[object, ...]]) -> Iterator[None]:
        """A call out of the PBX: at most so many at once, so many a minute per user, and
        not the same one twice in a few seconds."""
        if self.in_flight >= self.settings.originates_in_flight:
            raise ControlError(429, "busy", "too many calls are being placed: try again shortly")
        self.repeats.refuse_repeat(once)
        self.dial_rate.take(user.id)
        self.repeats.note(once)
        self.in_flight += 1
        try:
            yield
        except ControlError:
            self.repeats.forget(once)  # told it failed, the user may deliberately try again
            raise
        finally:
            self.in_flight -= 1

    def _controllable(self, user: User, call: Call | None) -> Call:
        if call is None or not user.may_see_call(call):
            raise ControlError(404, "not_found", "no such live call that you may see")
        if not user.may_control_call(call):
            raise ControlError(403, "forbidden", f"a {user.role} may not act on calls")
        if not call.is_live:
            raise ControlError(409, "not_live", "the call has already ended")
        return call

    async def _send(self, action: str, command: Awaitable[Accepted]) -> str:
        started = time.perf_counter()
        try:
            accepted = await command
        except PBXError as error:
            self._count(action, error.outcome, started)
            refusal = ControlError(error.status, f"pbx_{error.outcome}", error.message)
            refusal.pbx_status, refusal.pbx_reply = error.http_status, error.reply
            raise refusal from None
        self._count(action, "accepted", started)
        return accepted.reply

    def _count(self, action: str, outcome: str, started: float) -> None:
        self.outcomes[(action, outcome)] += 1
        if self.timings:
            self.timings.pbx.observe(time.perf_counter() - started, action=action)

    @contextlib.contextmanager
    def _audited(self, user: User, action: str, target: str, remote: str) -> Iterator[Note]:
        """Every attempt goes on the record: refused, failed, cancelled or done."""
        note = Note()

        def record(result: str, detail: str) -> None:
            self.audit.record(
                self.clock(),
                user.name,
                action,
                target=target,
                remote=remote,
                result=result,
                detail=detail,
            )

        try:
            yield note
        except Refusal as error:
            record(error.error, error.detail)
            raise
        except BaseException as error:  # cancelled, or a fault of ours: still on the record
            record("error", type(error).__name__)
            raise
        record("ok", note.detail)


@dataclass
class Note:
    detail: str = ""


def _describe(call: Call | None) -> str:
    if call is None:
        return "unknown call"
    return f"{call.uniqueid} ({call.number or '?'} at {call.extension or '?'})"
