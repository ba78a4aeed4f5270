"""HTML rendering: pages and the fragments pushed to wallboards.

The same partial renders an element in the page, in a response and in a push;
pushed fragments are out-of-band swaps targeting the element's stable id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2

from dashboard.calls import Board, Call, DayCounters
from dashboard.events import caller_id_name
from dashboard.grid import Tile
from dashboard.pbx_health import Problem
from dashboard.results import result_word
from dashboard.scope import Scope
from dashboard.thresholds import Thresholds

# (number, the call's extra fields) -> the name to show with the number, if any is known.
NameOf = Callable[[str | None, Mapping[str, Any]], str | None]


class Environment(jinja2.Environment):
    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals are the environment's own dict when it adds none of its own
        (none does): every render copies them into its context, and from Jinja's ChainMap
        that copy costs a Python call per name, a third of a small partial's render. Changes
        to the environment's globals (the thresholds) still show at the next render."""
        return self.globals if not d else super().make_globals(d)


def make_environment(
    templates_dir: Path,
    tz: ZoneInfo,
    thresholds: Thresholds | None = None,
    pbx_names: Mapping[str, str] | None = None,
    name_of: NameOf | None = None,
) -> jinja2.Environment:
    """`pbx_names`: host -> PBX name, given when there are several PBXs (calls show theirs).
    `name_of`: the contacts' look-up (in memory: it runs on every push); without it, calls
    are named by the PBX's caller ID only."""
    look_up = name_of or (lambda number, extra: caller_id_name(extra))
    env = Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=True,  # everything from the PBX or a user is escaped, always
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates are read once (a restart picks up an edit): no stat() of every
        # imported template on each render, which is on every push's path.
        auto_reload=False,
    )
    env.filters.update(
        dom_id=call_dom_id,
        phone=group_digits,
        seconds=format_seconds,
        epoch_ms=epoch_ms,
        local_time=lambda moment: moment.astimezone(tz).strftime("%H:%M:%S") if moment else "",
        local_datetime=lambda moment: (
            moment.astimezone(tz).strftime("%d %b %Y %H:%M") if moment else ""
        ),
        ext_id=extension_dom_id,
        url_part=url_part,
        caller_name=lambda call: look_up(call.number, call.extra) if call else None,
        result=result_word,
        local_day=lambda moment, now: local_day(moment, now, tz),
    )
    env.globals["thresholds"] = thresholds
    env.globals["pbx_names"] = dict(pbx_names or {})
    # Every template may call the macros without importing them: an import costs each
    # render a look-up of the template and of its module.
    macros = env.get_template("partials/macros.html").module
    env.globals["phone_number"] = vars(macros)["phone_number"]
    return env


class Fragments:
    def __init__(self, env: jinja2.Environment) -> None:
        self.env = env
        self._call = env.get_template("partials/call.html")
        self._call_push = env.get_template("partials/call_push.html")
        self._call_removed = env.get_template("partials/call_removed.html")
        self._counters = env.get_template("partials/counters.html")
        self._live_calls = env.get_template("partials/live_calls.html")
        self._tile = env.get_template("partials/tile.html")
        self._grid = env.get_template("partials/grid.html")
        self._pbx_banner = env.get_template("partials/pbx_banner.html")

    @property
    def thresholds(self) -> Thresholds | None:
        """The thresholds the templates apply (their global, read at each render)."""
        value = self.env.globals.get("thresholds")
        return value if isinstance(value, Thresholds) else None

    def tile(self, tile: Tile, now: datetime, *, oob: bool = False) -> str:
        return self._tile.render(tile=tile, now=now, oob=oob)

    def grid(
        self,
        tiles: list[Tile],
        groups: list[str],
        now: datetime,
        group: str | None = None,
        *,
        oob: bool = False,
    ) -> str:
        """The grid; `group`: the one it is filtered to (its filter link marked current)."""
        return self._grid.render(tiles=tiles, groups=groups, now=now, group=group, oob=oob)

    def call(self, call: Call, *, oob: str = "", controls: bool = False) -> str:
        return self._call.render(call=call, oob=oob, controls=controls)

    def counters(
        self,
        board: Board,
        day: DayCounters,
        now: datetime,
        *,
        scope: Scope | None = None,
        members: frozenset[str] | None = None,
        oob: bool = False,
    ) -> str:
        return self._counters.render(
            counts=board.counts(scope, members),
            day=day,
            longest=board.longest_ringing(scope, members),
            now=now,
            oob=oob,
        )

    def live_calls(self, calls: list[Call], *, controls: bool = False, oob: bool = False) -> str:
        return self._live_calls.render(calls=calls, controls=controls, oob=oob)

    def pbx_banner(self, problems: list[Problem], *, oob: bool = False) -> str:
        return self._pbx_banner.render(problems=problems, oob=oob)

    def call_changed(self, call: Call, added: bool, *, controls: bool) -> str:
        """A changed call's push: its partial, inserted into the list or replacing itself."""
        if added:
            return self._call_push.render(call=call, oob="", controls=controls)
        return self._call.render(call=call, oob="true", controls=controls)

    def call_removed(self, call: Call) -> str:
        return self._call_removed.render(call=call)

    def page(self, template: str, /, **context: Any) -> str:
        return self.env.get_template(template).render(**context)


def url_part(value: object) -> str:
    """A value made one URL path segment or query value: every character but letters, digits
    and `_.-~` escaped. Jinja's `urlencode` keeps `/` in a string, so `../calls/T70.1` in
    `/api/calls/{uniqueid}/hangup` would climb to another call's URL."""
    return quote(str(value), safe="")


def call_dom_id(call: Call) -> str:
    digest = hashlib.blake2s(f"{call.host}\x00{call.uniqueid}".encode(), digest_size=8).hexdigest()
    return f"call-{digest}"


def extension_dom_id(extension: str) -> str:
    if extension.isascii() and extension.isalnum():
        return f"ext-{extension}"
    return "ext-" + hashlib.blake2s(extension.encode(), digest_size=8).hexdigest()


def group_digits(number: str | None) -> str:
    """Phone numbers grouped for reading: 9876543210 -> 98765 43210; short or odd ones as sent."""
    if not number:
        return ""
    plus = "+" if number.startswith("+") else ""
    digits = number[len(plus) :]
    if not digits.isdigit() or len(digits) <= 6:
        return number
    groups: list[str] = []
    while len(digits) > 5:
        groups.insert(0, digits[-5:])
        digits = digits[:-5]
    if digits:
        groups.insert(0, digits)
    return plus + " ".join(groups)


def format_seconds(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


IDLE_AS_DATE_AFTER = 86400  # seconds: idle longer than a day reads as a date, not a timer


def local_day(moment: datetime, now: datetime, tz: ZoneInfo) -> str:
    """A day as people write it: 28 Nov, with the year when it is not this year's."""
    local = moment.astimezone(tz)
    year = "" if local.year == now.astimezone(tz).year else f" {local.year}"
    return f"{local.day} {local:%b}{year}"


def epoch_ms(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment else 0
