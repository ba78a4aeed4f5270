"""A wall screen in real Chromium: signed in by its kiosk link, it survives a dashboard
restart by itself, saying it is reconnecting meanwhile; and screenshots at 1920x1080."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import (
    ARTIFACTS,
    EXPECT_MS,
    LIVE,
    VIEWPORT,
    chromium,
    ring,
    running_dashboard,
    sign_in,
    state_class,
)
from tests.servers import DashboardProcess

pytestmark = pytest.mark.browser
PASSWORD = "a long test password"
RECONNECT_MS = 30_000  # the socket retries with a growing pause, at most 10 s


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DashboardProcess]:
    with running_dashboard(
        tmp_path,
        [("sup", "--role", "supervisor"), ("admin", "--role", "admin", "--extension", "41")],
        PASSWORD,
        DASHBOARD_EXTENSIONS="40-59,70-79",
        DASHBOARD_GROUPS="Sales: 40-49; Support: 50-59; Service: 70-79",
        DASHBOARD_RING_WARN_SECONDS="2",
        DASHBOARD_RING_ALERT_SECONDS="4",
    ) as process:
        yield process


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_a_kiosk_screen_survives_a_dashboard_restart(
    browser: Browser, server: DashboardProcess
) -> None:
    path = server.cli("kiosk", "create", "Sales floor TV").strip()
    assert re.fullmatch(r"/kiosk/[\w-]+", path)
    tv = browser.new_context(viewport=VIEWPORT).new_page()
    tv.goto(server.base_url + path)
    expect(tv).to_have_url(re.compile(r"/tv$"), timeout=EXPECT_MS)
    expect(tv.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    ring(server, "9811122233", "41", answered=True)
    expect(tv.locator("article.call", has_text="98111 22233")).to_have_count(1, timeout=EXPECT_MS)

    server.stop()
    expect(tv.locator("body")).to_have_class(state_class("offline"), timeout=EXPECT_MS)
    expect(tv.locator(".stale-banner")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    tv.screenshot(path=str(ARTIFACTS / "tv-reconnecting-1920.png"), animations="disabled")

    server.start()  # the same port and database
    ring(server, "9844455566", "52")
    expect(tv.locator("body")).to_have_class(LIVE, timeout=RECONNECT_MS)
    expect(tv).to_have_url(re.compile(r"/tv$"))  # never the sign-in page
    expect(tv.locator(".stale-banner")).to_be_hidden()
    expect(tv.locator("article.call", has_text="98111 22233")).to_have_count(1)
    expect(tv.locator("article.call", has_text="98444 55566")).to_have_count(1, timeout=EXPECT_MS)
    expect(tv.locator("#ext-52")).to_have_class(state_class("ringing"))
    expect(tv.locator("#ext-52 .tile-timer")).to_have_class(
        re.compile(r"\bis-(warn|alert)\b"), timeout=EXPECT_MS
    )
    tv.screenshot(path=str(ARTIFACTS / "tv-restarted-1920.png"), animations="disabled")


def test_the_wallboard_at_1080p(browser: Browser, server: DashboardProcess) -> None:
    for n, (extension, answered) in enumerate(
        [("41", True), ("44", False), ("52", True), ("57", True), ("70", False), ("73", True)]
    ):
        ring(server, f"98{n}5512345", extension, answered=answered)
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(server.base_url + "/")
    sign_in(page, "sup", PASSWORD)
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    expect(page.locator("article.call")).to_have_count(6)
    expect(page.locator("article.tile")).to_have_count(30)
    # A ringing call past its thresholds turns red, in the row, the tile and the wait counter.
    expect(page.locator("#ext-44 .tile-timer")).to_have_class(
        state_class("alert"), timeout=EXPECT_MS
    )
    page.get_by_role("link", name="Sales", exact=True).click()  # calls and counters too
    expect(page).to_have_url(re.compile(r"/\?group=Sales$"))
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    expect(page.locator("article.tile")).to_have_count(10)
    expect(page.locator("article.call")).to_have_count(2)
    page.get_by_role("link", name="All", exact=True).click()
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    expect(page.locator("article.call")).to_have_count(6)
    page.get_by_placeholder("Find a caller").fill("98055 12")
    expect(page.locator("#search-results")).to_contain_text("on a call", timeout=EXPECT_MS)
    page.get_by_placeholder("Find a caller").fill("")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "wallboard-six-calls-1920.png"), animations="disabled")
    assert page.evaluate("document.documentElement.scrollHeight") <= 1080, "the board scrolls"


def pbx_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H:%M:%S")


# What of the live list runs past its box: the list wider inside than out, or a cell (a
# timer, a state) wider than its box or not wholly inside its row and the list.
LIST_CUT = """() => {
  const list = document.getElementById("live-calls");
  const cut = [];
  const wide = (el) => el.scrollWidth > el.clientWidth;
  if (wide(list)) cut.push(`list ${list.scrollWidth} > ${list.clientWidth}`);
  const edge = list.getBoundingClientRect();
  for (const row of list.querySelectorAll("article.call")) {
    const box = row.getBoundingClientRect();
    const cells = ".call-timer, .call-state, .call-number, .call-extension";
    for (const cell of row.querySelectorAll(cells)) {
      const rect = cell.getBoundingClientRect();
      const text = `${row.id} ${cell.className} ${cell.textContent.trim()}`;
      if (wide(cell)) cut.push(`${text}: ${cell.scrollWidth} > ${cell.clientWidth}`);
      const inside = (outer) => rect.left >= outer.left - 0.5 && rect.right <= outer.right + 0.5;
      if (!inside(box) || !inside(edge)) cut.push(`${text}: [${rect.left}, ${rect.right}] outside`);
    }
  }
  return cut;
}"""


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_the_tvs_timers_are_never_cut(
    browser: Browser, server: DashboardProcess, size: tuple[int, int]
) -> None:
    since = pbx_time(datetime.now(UTC) - timedelta(hours=2, minutes=15, seconds=7))
    ring(server, "9812345670", "41", answered=True, starttime=since, answertime=since)
    ring(server, "+919876543210", "52")
    ring(server, "9811122233", "70", answered=True)
    width, height = size
    tv = browser.new_context(viewport={"width": width, "height": height}).new_page()
    tv.goto(server.base_url + "/tv")
    sign_in(tv, "sup", PASSWORD)
    expect(tv.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    long_call = tv.locator("#live-calls article.call", has_text="98123 45670")
    expect(long_call.locator(".call-timer")).to_have_text(re.compile(r"^2:15:\d\d$"))
    expect(tv.locator("#live-calls .call-timer")).to_have_count(3)
    ARTIFACTS.mkdir(exist_ok=True)
    tv.screenshot(path=str(ARTIFACTS / f"tv-timers-{width}.png"), animations="disabled")
    assert tv.evaluate(LIST_CUT) == []


def test_the_tv_has_no_group_buttons_and_a_kiosk_link_keeps_its_group(
    browser: Browser, server: DashboardProcess
) -> None:
    path = server.cli("kiosk", "create", "Sales floor TV", "--group", "Sales").strip()
    tv = browser.new_context(viewport=VIEWPORT).new_page()
    tv.goto(server.base_url + path)
    expect(tv).to_have_url(re.compile(r"/tv\?group=Sales$"), timeout=EXPECT_MS)
    expect(tv.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    expect(tv.locator("article.tile")).to_have_count(10)
    expect(tv.locator("#grid-title")).to_have_text("Extensions · Sales")
    expect(tv.locator(".grid-filter")).to_be_hidden()
    expect(tv.get_by_role("link")).to_have_count(0)  # no controls, no navigation
    tv.goto(server.base_url + "/tv")
    expect(tv.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    expect(tv.locator("article.tile")).to_have_count(30)
    expect(tv.get_by_role("link")).to_have_count(0)
    expect(tv.get_by_role("button")).to_have_count(0)


# The header's height and where the board starts.
HEADER_AND_BOARD = """() => [document.querySelector(".topbar").getBoundingClientRect().height,
                             document.querySelector("main.board").getBoundingClientRect().top]"""
# Every item of the header in one horizontal band: nothing wrapped under another (the banner
# hangs under it).
HEADER_ON_ONE_LINE = """() => {
  const boxes = [...document.querySelectorAll(".topbar > :not(.stale-banner), .topbar .nav > *")]
    .map((e) => e.getBoundingClientRect()).filter((b) => b.width > 0 && b.height > 0);
  return Math.max(...boxes.map((b) => b.top)) < Math.min(...boxes.map((b) => b.bottom));
}"""


@pytest.mark.parametrize("path", ["/", "/tv"])
def test_losing_the_socket_moves_neither_the_header_nor_the_board(
    browser: Browser, server: DashboardProcess, path: str
) -> None:
    """An admin's header is the fullest (every link, the Admin list, the dial box)."""
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto(server.base_url + path)
    sign_in(page, "admin", PASSWORD)
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    live = page.evaluate(HEADER_AND_BOARD)
    assert page.evaluate(HEADER_ON_ONE_LINE)
    server.stop()
    expect(page.locator("body")).to_have_class(state_class("offline"), timeout=EXPECT_MS)
    expect(page.locator(".connection-lost")).to_be_visible()
    expect(page.locator(".connection-lost")).to_have_text("Offline")
    expect(page.locator(".connection-live")).to_be_hidden()
    expect(page.locator(".stale-banner")).to_contain_text("Reconnecting…")
    ARTIFACTS.mkdir(exist_ok=True)
    name = "tv" if path == "/tv" else "wallboard"
    page.screenshot(path=str(ARTIFACTS / f"{name}-reconnecting-1366.png"), animations="disabled")
    assert page.evaluate(HEADER_AND_BOARD) == live
    assert page.evaluate(HEADER_ON_ONE_LINE)
