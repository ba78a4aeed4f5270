"""A board filtered to a group (`?group=`): its page and its pushes show that group's calls,
counters and tiles alone; an unknown group is refused clearly."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dashboard.app import create_app
from dashboard.audience import EVERY_CALL, Audience
from dashboard.settings import Settings
from tests.conftest import CALL_START, FakeClock, just_finished, parts_of, send, sign_in

START = json.loads(CALL_START) | {"direction": "Incoming"}


def start(uniqueid: str, extension: str, number: str) -> dict[str, str]:
    return START | {"uniqueid": uniqueid, "extension": extension, "number": number}


@pytest.fixture
def board(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    grouped = settings.with_changes(
        extensions=("40", "41", "50"),
        extension_groups=(("Sales", ("40", "41")), ("Support", ("50",))),
    )
    with TestClient(create_app(grouped, clock=clock)) as client:
        sign_in(client, "supervisor")
        yield client


def counter(html: str, name: str) -> str:
    found = re.search(rf'data-counter="{name}">([^<]*)<', html)
    assert found is not None, name
    return found[1]


def tiles(html: str) -> list[str]:
    return re.findall(r'<article id="ext-(\w+)" class="tile', html)


def test_a_group_is_part_of_what_a_push_depends_on() -> None:
    sales = EVERY_CALL.of_group("Sales")
    assert sales == Audience(group="Sales") and sales != EVERY_CALL
    assert sales.read_only() == Audience(controls=False, group="Sales")
    assert len({EVERY_CALL, sales, sales.read_only(), EVERY_CALL.of_group("Support")}) == 4


def test_a_board_for_a_group_shows_its_calls_counters_and_tiles_alone(
    board: TestClient, clock: FakeClock, settings: Settings
) -> None:
    send(board, start("1.1", "40", "9811111111"))
    send(board, start("1.2", "50", "9822222222"))
    tz = settings.timezone
    send(board, just_finished(clock(), tz, uniqueid="1.3", extension="41"))
    send(board, just_finished(clock(), tz, uniqueid="1.4", extension="50"))
    send(board, just_finished(clock(), tz, uniqueid="1.5", extension="50"))
    clock.advance(60)
    parts_of(board).live.expire(clock())
    sales = board.get("/", params={"group": "Sales"}).text
    assert "98111 11111" in sales and "98222 22222" not in sales
    assert (counter(sales, "live"), counter(sales, "answered")) == ("1", "1")
    assert tiles(sales) == ["40", "41"]
    assert 'ws-connect="/ws?group=Sales"' in sales
    assert '<a href="?group=Sales" data-group-filter="Sales" aria-current="page">' in sales
    everyone = board.get("/").text
    assert (counter(everyone, "live"), counter(everyone, "answered")) == ("2", "3")
    assert tiles(everyone) == ["40", "41", "50"]
    tv = board.get("/tv", params={"group": "Support"}).text
    assert 'ws-connect="/ws?view=tv&amp;group=Support"' in tv
    assert tiles(tv) == ["50"] and "98222 22222" in tv and "98111 11111" not in tv
    assert counter(tv, "answered") == "2"


@pytest.mark.parametrize("path", ["/", "/tv"])
def test_an_unknown_group_is_refused_in_words(board: TestClient, path: str) -> None:
    response = board.get(path, params={"group": "<Nowhere>"})
    assert response.status_code == 404
    assert "No such group: &#39;&lt;Nowhere&gt;&#39;." in response.text
    assert board.get(path, params={"group": ""}).status_code == 200  # empty: every group
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        board.websocket_connect("/ws?group=Nowhere") as viewer,
    ):
        viewer.receive_text()
    assert closed.value.code == 4404


def test_pushes_to_a_group_carry_its_calls_counters_and_tiles_alone(board: TestClient) -> None:
    with (
        board.websocket_connect("/ws?group=Sales") as sales,
        board.websocket_connect("/ws") as everyone,
    ):
        snapshot = sales.receive_text()
        assert tiles(snapshot) == ["40", "41"]
        everyone.receive_text()
        send(board, start("2.1", "50", "9822222222"))  # Support's: nothing for Sales
        assert "98222 22222" in everyone.receive_text()
        send(board, start("2.2", "41", "9833333333"))
        pushed = sales.receive_text()
        assert "98333 33333" in pushed and "98222 22222" not in pushed
        assert counter(pushed, "live") == "1" and counter(pushed, "ringing") == "1"
        assert tiles(pushed) == ["41"]
        assert counter(everyone.receive_text(), "live") == "2"
        # Transferred out of the group: it leaves the group's board.
        send(board, start("2.2", "50", "9833333333") | {"event": "CallConnect"})
        moved = sales.receive_text()
        assert moved.startswith('<div id="call-') and 'hx-swap-oob="delete"' in moved
        assert counter(moved, "live") == "0"


def test_the_first_render_puts_calls_past_a_threshold_first_then_the_oldest(
    board: TestClient, clock: FakeClock
) -> None:
    send(board, start("3.1", "40", "9800000001"))  # ringing, will be over the alert
    clock.advance(5)
    send(board, start("3.2", "41", "9800000002") | {"event": "CallConnect"})  # talking
    clock.advance(10)
    send(board, start("3.3", "50", "9800000003"))  # ringing, 16 s by the end: amber
    clock.advance(16)
    send(board, start("3.4", "50", "9800000004"))  # ringing, just now
    send(board, start("3.5", "41", "9800000005"))  # ringing, just now: after 3.4
    page = board.get("/").text
    order = re.findall(r'data-number="98000000(\d\d)"', page)
    assert order == ["01", "03", "04", "05", "02"]


def test_a_tile_idle_for_more_than_a_day_says_since_when(
    board: TestClient, clock: FakeClock, settings: Settings
) -> None:
    tz = settings.timezone
    ended = clock() - timedelta(days=2)
    send(board, just_finished(ended, tz, uniqueid="4.1", extension="40"))
    send(board, just_finished(clock() - timedelta(hours=23), tz, uniqueid="4.2", extension="41"))
    page = board.get("/").text
    day = ended.astimezone(tz)
    assert f"data-idle>since {day.day} {day:%b}</time>" in page
    ext_41 = page.split('id="ext-41"')[1].split("</article>")[0]
    assert "data-idle>0:00</time>" in ext_41
    assert (
        '<p class="tile-day" title="Today"><span class="tile-figure"><b>0</b> answered</span>'
        ' <span class="tile-figure"><b>0</b> missed</span>'
        ' <span class="tile-figure"><b>0:00</b> talk</span></p>'
    ) in page.split('id="ext-50"')[1]
