"""The cost of rendering a push: microseconds per render of each pushed partial.

    .venv/bin/python bench/render.py [--loops 2000] [--repeats 7]   (under a minute)

The dashboard in-process (`create_app`, its lifespan run by Starlette's TestClient, on a fresh
database), with contacts to name callers and a board of live calls fed as the PBX feeds it.
Then, for a connected incoming call whose caller is a contact, each partial a push holds,
rendered as `dashboard/pushes.py` renders it: the call's row (replacing itself, and new to
the list; for a read-only viewer and with controls), a call leaving, the counters (every
call's, one agent's), a grid tile; and whole pushes of that one change (for one read-only
audience, as the viewers of bench/fanout.py are, and for the five audiences of a busy
centre). Figures: the least over the repeats of the mean time of a render in a repeat (the
machine is shared: a neighbour's work only ever adds time).

The baseline, measured in the same run: the same bytes as a template of constant text in the
dashboard's own Jinja environment (what a render costs that has nothing left to compute or
escape: the environment's fixed cost per render).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import summary
from loadgen import PLACEHOLDER, call_events
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.audience import Audience
from dashboard.calls import Call, Change, Status
from dashboard.pushes import Pushes
from dashboard.scope import Scope
from dashboard.settings import Settings
from dashboard.state import STATE_KEY, Parts

LIVE_CALLS = 20  # on the board while measuring, over as many extensions
CONTACTS = 1000
BUSY_CENTRE = (  # the audiences of a busy centre's viewers
    Audience(),  # a supervisor
    Audience(controls=False),  # a viewer
    Audience().wall_screen(),  # a TV
    Audience(extension="42"),  # the agent on the call
    Audience(extension="42").popups(),  # that agent on another page
)


@dataclass(frozen=True)
class Measure:
    name: str
    render: Callable[[], str | None]


def timed(render: Callable[[], object], loops: int, repeats: int) -> float:
    """Microseconds per call: the least over `repeats` of the mean over `loops`."""
    means = []
    for _ in range(repeats):
        began = time.perf_counter()
        for _ in range(loops):
            render()
        means.append((time.perf_counter() - began) / loops * 1e6)
    return min(means)


def send(client: TestClient, event: dict[str, str]) -> None:
    response = client.get("/synapse/events?data=" + quote(json.dumps(event), safe=""))
    response.raise_for_status()


def fill_board(client: TestClient, parts: Parts) -> Call:
    """Contacts and live calls (the first: connected, its caller a contact); that call."""
    rows = "".join(f"98{n:08},Caller {n} & Co <{n}>\n" for n in range(CONTACTS))
    parts.contacts.import_csv("number,name\n" + rows)
    start, connect, _ = call_events(datetime.now(UTC))
    for n in range(LIVE_CALLS):
        uniqueid = f"1700000000.{n}"
        fields = {"uniqueid": uniqueid, "number": f"98{n:08}", "extension": str(42 + n)}
        send(client, start | fields)
        if n % 2 == 0:
            send(client, connect | fields)
    call = parts.live.board.get(("192.168.1.51", "1700000000.0"))
    assert call is not None and call.status is Status.CONNECTED and PLACEHOLDER
    parts.publisher.pushes.snapshot(Audience(controls=False))  # a viewer's: the grid on screen
    return call


def measures(pushes: Pushes, call: Call) -> list[Measure]:
    fragments = pushes.fragments
    ext = call.extension or ""
    change = [(call, Change(call, added=False, finished_now=False))]
    viewer = Audience(controls=False)

    def busy_centre() -> str:
        render = pushes.changes(change)
        return "".join(render(audience) or "" for audience in BUSY_CENTRE)

    return [
        Measure("call row, read-only", lambda: fragments.call_changed(call, False, controls=False)),
        Measure("call row, controls", lambda: fragments.call_changed(call, False, controls=True)),
        Measure(
            "call row added, read-only", lambda: fragments.call_changed(call, True, controls=False)
        ),
        Measure("call leaving", lambda: fragments.call_removed(call)),
        Measure("counters, every call", lambda: pushes.counters(None, oob=True)),
        Measure("counters, one agent", lambda: pushes.counters(Scope(ext), oob=True)),
        Measure("grid tile", lambda: pushes._grid_push({ext}, None, whole=False)),
        Measure("push, one read-only audience", lambda: pushes.changes(change)(viewer)),
        Measure("push, 5 audiences", busy_centre),
    ]


def baseline_of(pushes: Pushes, measure: Measure) -> Callable[[], str]:
    """A template of constant text, the same bytes as the measure's render."""
    html = measure.render() or ""
    assert "{% endraw %}" not in html
    template = pushes.fragments.env.from_string("{% raw %}" + html + "{% endraw %}")
    return template.render


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loops", type=int, default=2000, help="renders per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(db_path=str(Path(folder) / "render.db"), pbx_check_seconds=0)
        app = create_app(settings)
        with TestClient(app) as client:
            parts: Parts = client.app_state[STATE_KEY]
            call = fill_board(client, parts)
            pushes = parts.publisher.pushes
            print(f"\nRendering a push ({args.repeats} x {args.loops} renders, µs per render)\n")
            print(f"{'partial':<32} {'µs':>8} {'bare µs':>8} {'ratio':>6} {'bytes':>6}")
            for measure in measures(pushes, call):
                size = len(measure.render() or "")
                bare = timed(baseline_of(pushes, measure), args.loops, args.repeats)
                spent = timed(measure.render, args.loops, args.repeats)
                ratio = spent / bare
                print(f"{measure.name:<32} {spent:8.1f} {bare:8.1f} {ratio:6.1f} {size:6}")
                figure = f"{spent:.1f} µs (constant text: {bare:.1f} µs, {ratio:.1f}x)"
                summary.record("render", measure.name, figure, "-", "info")


if __name__ == "__main__":
    main()
