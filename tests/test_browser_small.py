"""Real-browser tests where the layout or the page's own behaviour is the point: a finished
row's result on one line, an agent's pop-up collapsed for the rest of its call, the call
page's tables one under the other. A real `dashboard serve`; events over real HTTP."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, FloatRect, Locator, Page, ViewportSize, expect

from dashboard.simulator.traffic import PlannedCall, Traffic, event_url
from tests.browser import ARTIFACTS, EXPECT_MS, LIVE, chromium, sign_in
from tests.servers import DashboardProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.browser
PASSWORD = "a long test password"
_ids = itertools.count(1)
WIDE: ViewportSize = {"width": 1920, "height": 1080}
LAPTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
COLLAPSED = re.compile(r"\bis-collapsed\b")


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[DashboardProcess]:
    process = DashboardProcess(tmp_path, DASHBOARD_FINISHED_LINGER="300")
    process.start()
    process.cli("user", "add", "sup", "--role", "supervisor", "--password", PASSWORD)
    process.cli(
        "user", "add", "asha", "--role", "agent", "--extension", "70", "--password", PASSWORD
    )
    try:
        yield process
    finally:
        process.stop()
        print("--- dashboard ---", process.log(), sep="\n")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def events(direction: str, number: str, extension: str, outcome: str) -> dict[str, Any]:
    """The simulator's CallStart, CallConnect and CallFinish for one call, by event name."""
    call = PlannedCall(
        uniqueid=f"{int(time.time())}.{next(_ids)}",
        direction=direction,
        number=number,
        extension=extension,
        outcome=outcome,
        ring_seconds=2.0,
        talk_seconds=3.0 if outcome == "answered" else 0.0,
        hangupchannel=f"SIP/{extension}-0000a1b2",
        redirectchannel=f"DAHDI/{next(_ids)}-1",
    )
    timed = Traffic().call_events(call, datetime.now(UTC), ZoneInfo("UTC"))
    return {event["event"]: event for _, event in timed}


def send(dashboard: DashboardProcess, event: dict[str, Any]) -> None:
    response = httpx.get(event_url(dashboard.events_url, event), trust_env=False)
    assert response.status_code == 200, response.text


def open_board(
    browser: Browser, dashboard: DashboardProcess, user: str, size: ViewportSize
) -> Page:
    page = browser.new_context(viewport=size).new_page()
    page.goto(dashboard.base_url + "/")
    sign_in(page, user, PASSWORD)
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    return page


def lines_of(element: Locator) -> int:
    """How many lines the element's text takes, as laid out."""
    count: int = element.evaluate(
        """(el) => { const range = document.createRange(); range.selectNodeContents(el);
                     const tops = [...range.getClientRects()].map((r) => Math.round(r.top));
                     return new Set(tops).size; }"""
    )
    return count


def laid_out(locator: Locator) -> FloatRect:
    """The element's box, once it has one: a push or a page's first snapshot may replace
    the element just after an expectation about it held (bounding_box is then None)."""
    boxes: list[FloatRect] = []

    def measured() -> bool:
        box = locator.bounding_box()
        boxes[:] = [box] if box is not None else []
        return bool(boxes)

    wait_until(measured, EXPECT_MS / 1000, f"a box for {locator}")
    return boxes[0]


def overlap(one: FloatRect | None, other: FloatRect | None) -> bool:
    assert one is not None and other is not None
    return not (
        one["x"] + one["width"] <= other["x"]
        or other["x"] + other["width"] <= one["x"]
        or one["y"] + one["height"] <= other["y"]
        or other["y"] + other["height"] <= one["y"]
    )


@pytest.mark.parametrize("size", [WIDE, LAPTOP], ids=["1920", "1366"])
def test_a_finished_row_keeps_its_result_on_one_line_clear_of_the_timer(
    browser: Browser, dashboard: DashboardProcess, size: ViewportSize
) -> None:
    page = open_board(browser, dashboard, "sup", size)  # a supervisor's rows have actions
    for number, outcome in (("9811111111", "no_answer"), ("9822222222", "answered")):
        for event in events("Outgoing", number, "41", outcome).values():
            send(dashboard, event)
    ringing = events("Incoming", "9833333333", "42", "answered")["CallStart"]
    send(dashboard, ringing)
    states = {"98111 11111": "Not answered", "98222 22222": "Answered", "98333 33333": "Ringing"}
    for number, word in states.items():
        row = page.locator("article.call", has_text=number)
        state = row.locator(".call-state")
        expect(state).to_have_text(word, timeout=EXPECT_MS)
        assert lines_of(state) == 1, f"{word!r} wraps at {size}"
        state_box, timer_box = state.bounding_box(), row.locator(".call-timer").bounding_box()
        assert state_box is not None and timer_box is not None
        text_right: float = state.evaluate(
            "(el) => { const r = document.createRange(); r.selectNodeContents(el);"
            " return r.getBoundingClientRect().right; }"
        )
        assert text_right <= timer_box["x"], f"{word!r} runs into the timer at {size}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(
        path=str(ARTIFACTS / f"finished-rows-{size['width']}.png"), animations="disabled"
    )


def test_an_agent_collapses_the_pop_up_for_the_rest_of_the_call(
    browser: Browser, dashboard: DashboardProcess
) -> None:
    page = open_board(browser, dashboard, "asha", WIDE)
    first = events("Incoming", "9844444444", "70", "answered")
    send(dashboard, first["CallStart"])
    popup = page.locator("[data-popup]", has_text="Ringing · extension 70")
    expect(popup).to_have_count(1, timeout=EXPECT_MS)
    open_box = laid_out(popup)
    popup.get_by_role("button", name="Hide the caller's details").click()
    expect(popup).to_have_class(COLLAPSED)
    expect(popup.locator(".popup-number")).to_be_hidden()
    collapsed_box = laid_out(popup)
    assert collapsed_box["height"] < open_box["height"] / 2, (open_box, collapsed_box)
    assert collapsed_box["width"] < open_box["width"] * 0.8, (open_box, collapsed_box)
    assert not overlap(collapsed_box, laid_out(page.locator("#counters")))
    send(dashboard, first["CallConnect"])  # the push replaces the pop-up: it stays collapsed
    answered = page.locator("[data-popup]", has_text="On the line · extension 70")
    expect(answered).to_have_count(1, timeout=EXPECT_MS)
    expect(answered).to_have_class(COLLAPSED)
    expect(answered.locator(".popup-number")).to_be_hidden()
    expect(answered.get_by_role("button", name="Show the caller's details")).to_have_attribute(
        "aria-expanded", "false"
    )
    page.goto(dashboard.base_url + "/calls")  # another page: the same call, still collapsed
    on_history = page.locator("[data-popup]", has_text="On the line · extension 70")
    expect(on_history).to_have_class(COLLAPSED, timeout=EXPECT_MS)
    search = page.locator("form.filters").get_by_role("button", name="Search")
    assert not overlap(laid_out(on_history), laid_out(search)), "it hides Search"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "popup-hidden-1920.png"), animations="disabled")
    second = events("Incoming", "9855555555", "70", "answered")
    send(dashboard, second["CallStart"])  # a new call pops up in full
    ringing = page.locator("[data-popup]", has_text="Ringing · extension 70")
    expect(ringing).to_have_count(1, timeout=EXPECT_MS)
    expect(ringing.locator(".popup-number")).to_be_visible()
    on_history.get_by_role("button", name="Show the caller's details").click()
    expect(on_history.locator(".popup-number")).to_be_visible()


def on_top(locator: Locator) -> bool | None:
    """Whether the element is what shows at its centre (None: its centre is off the screen)."""
    shown: bool | None = locator.evaluate(
        """(el) => { const r = el.getBoundingClientRect();
                     const x = r.x + r.width / 2, y = r.y + r.height / 2;
                     if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) return null;
                     return el.contains(document.elementFromPoint(x, y)); }"""
    )
    return shown


def dial(page: Page, number: str) -> Locator:
    """A call from the dial box; its toast (the PBX is out of reach: its words in Details)."""
    page.locator("#dial-number").fill(number)
    page.locator("#dial").get_by_role("button").click()
    toast = page.locator("#toasts .toast", has_text="Could not reach the PBX").first
    expect(toast.locator(".toast-raw summary")).to_be_visible(timeout=EXPECT_MS)
    return toast


@pytest.mark.parametrize("size", [WIDE, PHONE], ids=["1920", "390"])
def test_a_toast_is_never_under_the_pop_ups_or_their_buttons_nor_over_them(
    browser: Browser, dashboard: DashboardProcess, size: ViewportSize
) -> None:
    page = open_board(browser, dashboard, "asha", size)
    if size == WIDE:
        expect(page.locator(".dial-box")).to_be_visible()
        expect(page.locator(".brand-page")).to_be_hidden()  # the header keeps to one line
    tools = page.locator(".popups-tools button")

    def apart(toast: Locator, *others: Locator) -> None:
        details = toast.locator(".toast-raw summary")
        assert on_top(details) is True, "the toast's Details is covered"
        for other in (*tools.all(), *others):
            assert on_top(other) is not False, f"the toast covers {other}"

    apart(dial(page, "98765 43210"))  # no pop-up
    send(dashboard, events("Incoming", "9877777777", "70", "answered")["CallStart"])
    popup = page.locator("[data-popup]", has_text="Ringing · extension 70")
    expect(popup).to_have_count(1, timeout=EXPECT_MS)
    hide = popup.get_by_role("button", name="Hide the caller's details")
    apart(dial(page, "98765 43211"), hide)  # a pop-up open
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"toasts-and-pop-up-{size['width']}.png"))
    hide.click()
    expect(popup).to_have_class(COLLAPSED)
    show = popup.get_by_role("button", name="Show the caller's details")
    apart(dial(page, "98765 43212"), show)  # the pop-up collapsed to its line


def test_the_call_page_reads_as_a_summary_with_its_tables_apart(
    browser: Browser, dashboard: DashboardProcess
) -> None:
    call = events("Incoming", "9866666666", "70", "answered")
    for event in call.values():
        send(dashboard, event)
    page = browser.new_context(viewport=LAPTOP).new_page()
    page.goto(f"{dashboard.base_url}/calls/{call['CallStart']['uniqueid']}")
    sign_in(page, "sup", PASSWORD)
    expect(page.locator(".call-title")).to_have_text("98666 66666 called extension 70")
    expect(page.locator(".call-summary")).to_contain_text("Answered")
    for summary in page.locator("details.call-raw > summary").all():
        summary.click()
    fields, events_table = page.locator("details.call-raw table").all()
    fields_box, events_box = fields.bounding_box(), events_table.bounding_box()
    assert fields_box is not None and events_box is not None
    assert fields_box["y"] + fields_box["height"] <= events_box["y"], "the tables overlap"
    width: int = page.evaluate("document.documentElement.scrollWidth")
    assert width <= LAPTOP["width"], "the call page scrolls sideways"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(
        path=str(ARTIFACTS / "call-page-1366.png"), full_page=True, animations="disabled"
    )


def inside_the_screen(locator: Locator, size: ViewportSize) -> None:
    """Every element `locator` matches lies across the screen's width (nothing runs off)."""
    for element in locator.all():
        box = laid_out(element)
        assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], (element, box)


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["1366", "390"])
def test_an_agents_board_shows_their_tile_missed_callers_and_recent_calls_on_screen(
    browser: Browser, dashboard: DashboardProcess, size: ViewportSize
) -> None:
    for n in range(6):  # six callers missed at 70, one answered, one missed at 71
        for event in events("Incoming", f"981234567{n}", "70", "no_answer").values():
            send(dashboard, event)
    for event in events("Incoming", "9876543210", "70", "answered").values():
        send(dashboard, event)
    for event in events("Incoming", "9833333333", "71", "no_answer").values():
        send(dashboard, event)
    page = open_board(browser, dashboard, "asha", size)
    panel = page.locator(".agent-panel")
    expect(panel.locator(".agent-missed .agent-row")).to_have_count(5)
    expect(panel.locator(".agent-recent .agent-row")).to_have_count(5)
    expect(panel.get_by_role("link", name="All 6 on Missed calls")).to_be_visible()
    expect(panel).not_to_contain_text("98333 33333")
    tile = panel.locator("#ext-70")
    expect(tile).to_have_class(re.compile(r"\bis-idle\b"))
    width: int = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size["width"], "the agent's board scrolls sideways"
    inside_the_screen(
        panel.locator(".agent-row > :not(.sr-only):visible, .tile, .agent-more a"), size
    )
    if size == LAPTOP:  # beside the calls, whole on the screen: no scrolling
        box = laid_out(panel)
        assert box["x"] > size["width"] / 2 - 50 and box["y"] + box["height"] <= size["height"]
        scrolls = panel.evaluate("(el) => el.scrollHeight > el.clientHeight")
        assert not scrolls, "the agent's lists do not fit beside the calls"
        assert page.evaluate("document.documentElement.scrollHeight") <= size["height"]
    first_missed = panel.locator(".agent-missed .agent-row").first
    expect(first_missed).to_contain_text("98123 45675")
    first_missed.get_by_role("button", name="Mark done").click()
    # The answer takes the row away; the lists pushed after it bring the sixth caller up.
    expect(panel.get_by_role("link", name="All 5 on Missed calls")).to_be_visible()
    expect(panel.locator(".agent-missed")).not_to_contain_text("98123 45675")
    expect(panel.locator(".agent-missed")).to_contain_text("98123 45670")
    expect(panel.locator(".agent-missed .agent-row")).to_have_count(5)
    send(dashboard, events("Incoming", "9844444444", "70", "answered")["CallStart"])
    expect(tile).to_have_class(re.compile(r"\bis-ringing\b"), timeout=EXPECT_MS)
    expect(tile.locator(".tile-party")).to_have_text("98444 44444")
    popup = page.locator("[data-popup]", has_text="Ringing · extension 70")
    expect(popup).to_have_count(1, timeout=EXPECT_MS)
    box = laid_out(popup)
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], box
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], box
    assert on_top(popup.get_by_role("button", name="Hide the caller's details")) is True
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(
        path=str(ARTIFACTS / f"agent-board-{size['width']}.png"),
        full_page=True,
        animations="disabled",
    )
