"""What each audience is pushed: a part every audience shows alike is rendered once a push."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import datetime

import pytest
from starlette.testclient import TestClient

from dashboard.agent_lists import AgentLists
from dashboard.audience import Audience
from dashboard.calls import Board, Call, Change, DayCounters
from dashboard.fragments import Fragments
from dashboard.grid import Tile
from dashboard.pushes import Pushes
from dashboard.scope import Scope
from tests.conftest import CALL_START, FakeClock, parts_of, send

AUDIENCES = (
    Audience(),  # a supervisor
    Audience(controls=False),  # a viewer
    Audience().wall_screen(),  # a TV
    Audience(extension="70"),  # the agent on the call
    Audience(extension="70").popups(),  # that agent on another page
    Audience(extension="71"),  # another agent
)


class CountedFragments(Fragments):
    """Fragments that count the rows and counters they render."""

    rendered: Counter[str]

    def call_changed(self, call: Call, added: bool, *, controls: bool) -> str:
        self.rendered[f"row, controls {controls}"] += 1
        return super().call_changed(call, added, controls=controls)

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
        self.rendered[f"counters of {scope.extension if scope else None}"] += 1
        return super().counters(board, day, now, scope=scope, members=members, oob=oob)

    def tile(self, tile: Tile, now: datetime, *, oob: bool = False) -> str:
        self.rendered["tile"] += 1
        return super().tile(tile, now, oob=oob)

    def grid(
        self,
        tiles: list[Tile],
        groups: list[str],
        now: datetime,
        group: str | None = None,
        *,
        oob: bool = False,
    ) -> str:
        self.rendered["grid"] += 1
        return super().grid(tiles, groups, now, group, oob=oob)


def test_a_push_renders_a_part_once_for_every_audience_that_shows_it(
    client: TestClient, clock: FakeClock
) -> None:
    send(client, json.loads(CALL_START) | {"direction": "Incoming"})
    parts = parts_of(client)
    call = parts.live.board.get(("192.168.1.51", "1430819361.25418"))
    assert call is not None
    batch = [(call, Change(call, added=False, finished_now=False))]
    fragments = CountedFragments(parts.fragments.env)
    fragments.rendered = Counter()
    render = Pushes(fragments, parts.live, clock, parts.popups).changes(batch)
    pushed = {audience: render(audience) for audience in AUDIENCES}
    assert fragments.rendered == {
        "row, controls True": 1,  # the supervisor's and the agent's
        "row, controls False": 1,  # the viewer's and the TV's
        "counters of None": 1,
        "counters of 70": 1,
        "grid": 1,  # the boards of every call's (a grid on screen lacks the extension)
        "tile": 1,  # the agent's own tile, on the agent's board alone
    }
    assert pushed[Audience().wall_screen()] is pushed[Audience(controls=False)]
    # Each as it is when rendered for that audience alone.
    alone = {
        audience: Pushes(parts.fragments, parts.live, clock, parts.popups).changes(batch)(audience)
        for audience in AUDIENCES
    }
    assert pushed == alone
    assert pushed[Audience(extension="71")] is None
    assert 'id="popup-' in (pushed[Audience(extension="70").popups()] or "")


def test_an_agents_push_renders_its_own_tile_and_no_grid(
    client: TestClient, clock: FakeClock
) -> None:
    send(client, json.loads(CALL_START) | {"direction": "Incoming"})
    parts = parts_of(client)
    call = parts.live.board.get(("192.168.1.51", "1430819361.25418"))
    assert call is not None
    fragments = CountedFragments(parts.fragments.env)
    fragments.rendered = Counter()
    pushes = Pushes(fragments, parts.live, clock, parts.popups)
    render = pushes.changes([(call, Change(call, added=False, finished_now=False))])
    assert 'id="call-' in (render(Audience(extension="70")) or "")
    assert fragments.rendered == {"row, controls True": 1, "counters of 70": 1, "tile": 1}


class UnreadableLists(AgentLists):
    def render(self, scope: Scope, *, controls: bool, oob: bool = False) -> str:
        raise sqlite3.OperationalError("database is locked")


def test_a_call_leaves_the_agents_board_even_when_their_lists_cannot_be_read(
    client: TestClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    send(client, json.loads(CALL_START) | {"direction": "Incoming"})
    parts = parts_of(client)
    call = parts.live.board.get(("192.168.1.51", "1430819361.25418"))
    assert call is not None
    lists = UnreadableLists(parts.callbacks, parts.history, parts.fragments, clock)
    pushes = Pushes(parts.fragments, parts.live, clock, parts.popups, lists)
    removal = parts.fragments.call_removed(call)
    assert pushes.removals([call])(Audience(extension="70")) == removal
    assert "could not read the lists of extension 70" in caplog.text
