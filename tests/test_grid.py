from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from dashboard.calls import Board, DayCounters, apply
from dashboard.grid import IDLE, RINGING, TALKING, Grid, Tile
from dashboard.settings import Settings
from tests.test_calls import CONNECT, FINISH, START, T0

SETTINGS = Settings(extensions=("40", "41", "70"), extension_groups=(("Sales", ("40", "41")),))
TODAY = DayCounters(T0.date())


def grid_after(*events: object) -> tuple[Grid, Board]:
    grid, board = Grid(SETTINGS), Board(linger_seconds=5)
    call = None
    for event in events:
        before = call
        call = apply(call, event)  # type: ignore[arg-type]
        board.update(before, call, event.received_at)  # type: ignore[attr-defined]
        if not call.is_live:
            grid.note_finished(call)
    return grid, board


def test_an_extension_goes_idle_ringing_talking_idle() -> None:
    grid, board = grid_after()
    assert grid.tile("70", board, {}, TODAY) == Tile(
        "70", "", "", IDLE, None, None, DayCounters(T0.date())
    )
    grid, board = grid_after(START)
    tile = grid.tile("70", board, {}, TODAY)
    assert (tile.state, tile.since, tile.call and tile.call.number) == (RINGING, T0, "9876543210")
    grid, board = grid_after(START, CONNECT)
    tile = grid.tile("70", board, {}, TODAY)
    assert (tile.state, tile.since) == (TALKING, CONNECT.received_at)
    grid, board = grid_after(START, CONNECT, FINISH)
    tile = grid.tile("70", board, {}, TODAY)
    assert (tile.state, tile.call, tile.since) == (IDLE, None, FINISH.end_time)


def test_talking_beats_ringing_at_one_extension() -> None:
    grid, board = grid_after(START, CONNECT)
    second = apply(None, replace(START, uniqueid="2", received_at=T0 + timedelta(seconds=30)))
    board.update(None, second, second.first_seen_at)  # type: ignore[arg-type]
    tile = grid.tile("70", board, {}, TODAY)
    assert (tile.state, tile.call and tile.call.uniqueid) == (TALKING, START.uniqueid)


def test_known_extensions_are_configured_users_and_seen_ones_in_order() -> None:
    grid, board = grid_after(replace(START, extension="112"))
    grid.names = {"45": "asha"}
    days = {"9": DayCounters(T0.date())}
    assert grid.known(board, days) == ["9", "40", "41", "45", "70", "112"]
    tiles = {tile.extension: tile for tile in grid.tiles(board, days, TODAY)}
    assert (tiles["40"].group, tiles["45"].name, tiles["112"].state) == ("Sales", "asha", RINGING)
    assert grid.groups == ["Sales"]


def test_a_tile_carries_its_extensions_figures_for_today() -> None:
    grid, board = grid_after()
    day = DayCounters(T0.date(), answered=3, missed=1, talk_seconds=300)
    assert grid.tile("70", board, {"70": day}, TODAY).day == day
