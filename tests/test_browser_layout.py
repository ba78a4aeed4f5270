"""Every page at 1920x1080, 1366x768 and on a 390x844 phone, in real Chromium: no element's
box runs off the screen, the header keeps to one line on a desktop, and on a phone the
agent's pop-up, the dial box, the extension and the call actions are on screen and big
enough for a thumb. Every screenshot lands in test-artifacts/, named by page and size.

One dashboard (seeded history, contacts, live calls) and one browser serve the whole module;
the pop-up test adds a live call, which no other test counts on. A typical office's board (20
live calls, 60 extensions) has a dashboard of its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect

from dashboard.simulator.traffic import event_url
from tests.browser import ARTIFACTS, EXPECT_MS, LIVE, chromium, ring, sign_in
from tests.servers import DashboardProcess

pytestmark = [pytest.mark.browser, pytest.mark.pages_kept]
PASSWORD = "a long test password"
FIRST_CALL = "1796000000.1"  # the first call the server rings: its page is laid out too
SIZES: dict[str, ViewportSize] = {
    "1920": {"width": 1920, "height": 1080},
    "1366": {"width": 1366, "height": 768},
    "phone": {"width": 390, "height": 844},
}
DESKTOPS = ["1920", "1366"]
THUMB_PX = 44  # the smallest comfortable touch target, in CSS pixels
CONTACTS = (
    "number,name,company,notes\n"
    "9811122233,Asha Raghunathan-Venkataramanan,Shree Balaji Logistics Private Limited,"
    "Prefers calls after lunch; ask for the accounts desk\n"
    "9822233344,Ravi Kumar,,\n"
)
MISSING = "/calls/no-such-call?host=127.0.0.1"

# Every visible element whose box leaves [0, width], described well enough to find it.
BOXES_OUTSIDE = """
(width) => {
  const outside = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (getComputedStyle(element).visibility !== "visible") continue;
    if (box.left >= -0.5 && box.right <= width + 0.5) continue;
    const name = element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
      + [...element.classList].map((c) => "." + c).join("");
    const text = (element.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 40);
    outside.push(`${name} [${Math.round(box.left)}, ${Math.round(box.right)}] ${text}`);
  }
  const more = outside.length - 20;
  return more > 0 ? [...outside.slice(0, 20), `and ${more} more`] : outside;
}
"""
SCROLL_WIDTH = "[document.scrollingElement.scrollWidth, window.innerWidth]"


# -- the server and the browser ------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardProcess]:
    workdir = tmp_path_factory.mktemp("layout")
    process = DashboardProcess(
        workdir,
        DASHBOARD_EXTENSIONS="40-59,70-79",
        DASHBOARD_GROUPS="Sales: 40-49; Support: 50-59; Service: 70-79",
        DASHBOARD_FINISHED_LINGER="600",
        DASHBOARD_CRM_URL="https://crm.example/search?phone={number}",
    )
    process.cli("seed", "--calls", "400", "--days", "10", "--seed", "16")
    # An admin's header is the longest: every link, the Admin list, an extension.
    for user, role, extension in [("admin", "admin", "41"), ("asha", "agent", "70")]:
        add = ["user", "add", user, "--role", role, "--extension", extension]
        process.cli(*add, "--password", PASSWORD)
    (workdir / "contacts.csv").write_text(CONTACTS)
    process.cli("contacts", "import", str(workdir / "contacts.csv"))
    process.start()  # after the import: the server reads the contacts as it starts
    ring(process, "9822233344", "41", answered=True, uniqueid=FIRST_CALL)
    for number, extension, answered in [
        ("9833344455", "52", False),
        ("9844455566", "57", True),
        ("9855566677", "44", False),
        ("9811122233", "79", True),  # the longest name, on a tile too
    ]:
        ring(process, number, extension, answered=answered)
    try:
        yield process
    finally:
        process.stop()
        print("--- dashboard ---", process.log(), sep="\n")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def new_context(browser: Browser, size: str) -> BrowserContext:
    if size == "phone":
        return browser.new_context(
            viewport=SIZES[size], device_scale_factor=3, is_mobile=True, has_touch=True
        )
    return browser.new_context(viewport=SIZES[size])


class Pages:
    """One signed-in page per (user, size), opened on first use and kept for the module."""

    def __init__(self, browser: Browser, server: DashboardProcess) -> None:
        self.browser = browser
        self.server = server
        self.pages: dict[tuple[str, str], Page] = {}

    def open(self, user: str, size: str, path: str) -> Page:
        page = self.pages.get((user, size))
        if page is None:
            page = new_context(self.browser, size).new_page()
            page.goto(self.server.base_url + "/login?next=/calls")
            sign_in(page, user, PASSWORD)
            self.pages[(user, size)] = page
        response = page.goto(self.server.base_url + path)
        assert response is not None, f"GET {path}: no response"
        assert response.ok or path == MISSING, f"GET {path}: {response.status}"
        return page

    def close(self) -> None:
        for page in self.pages.values():
            page.context.close()


@pytest.fixture(scope="module")
def pages(browser: Browser, server: DashboardProcess) -> Iterator[Pages]:
    opened = Pages(browser, server)
    try:
        yield opened
    finally:
        opened.close()


# -- what every page must satisfy ----------------------------------------------------------


def assert_inside_the_screen(page: Page, size: str) -> None:
    width = SIZES[size]["width"]
    outside = page.evaluate(BOXES_OUTSIDE, width)
    assert outside == [], f"{page.url} at {size}: boxes off the screen:\n" + "\n".join(outside)
    scroll_width, inner_width = page.evaluate(SCROLL_WIDTH)
    assert (scroll_width, inner_width) == (width, width), f"{page.url} lays out wider"


TEXT_OUT_OF_ITS_TILE = """() => [...document.querySelectorAll(".tile")].flatMap((tile) => {
  const box = tile.getBoundingClientRect();
  return [...tile.querySelectorAll("*")].filter((e) => {
    const b = e.getBoundingClientRect();
    return b.width > 0 && (b.left < box.left - 1 || b.right > box.right + 1);
  }).map((e) => tile.id + " " + e.className + ": " + e.textContent.trim());
})"""


def assert_tiles_hold_their_text(page: Page) -> None:
    """A long caller's or user's name wraps inside its tile, never into the next one."""
    out = page.evaluate(TEXT_OUT_OF_ITS_TILE)
    assert out == [], "text out of its tile:\n" + "\n".join(out)


def assert_header_on_one_line(page: Page) -> None:
    """Every item of the header shares one horizontal band: nothing wrapped under another."""
    tops, bottoms = page.evaluate(
        """() => {
          const boxes = [...document.querySelectorAll(".topbar > *, .topbar .nav > *")]
            .map((e) => e.getBoundingClientRect()).filter((b) => b.width > 0 && b.height > 0);
          return [boxes.map((b) => b.top), boxes.map((b) => b.bottom)];
        }"""
    )
    assert max(tops) < min(bottoms), f"the header wraps: tops {tops}, bottoms {bottoms}"


def shoot(page: Page, name: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled", full_page=full_page)


def assert_thumb_sized(locator: Locator, what: str) -> None:
    box = locator.bounding_box()
    assert box is not None, f"{what} is not shown"
    assert box["width"] >= THUMB_PX and box["height"] >= THUMB_PX, f"{what} is too small: {box}"


def assert_in_viewport(page: Page, locator: Locator, what: str) -> None:
    box = locator.bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None, f"{what} is not shown"
    inside = (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= viewport["width"]
        and box["y"] + box["height"] <= viewport["height"]
    )
    assert inside, f"{what} at {box} is not inside the {viewport} screen"


# -- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", list(SIZES))
def test_the_wallboard_fits(pages: Pages, size: str) -> None:
    page = pages.open("admin", size, "/")
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    # The pop-up test rings the same caller at 70 (the module's tests share one server).
    at_41 = page.locator(".call-extension", has_text="41")
    call = page.locator("#live-calls article.call", has_text="98222 33344", has=at_41)
    expect(call.locator(".call-extension")).to_be_visible()
    expect(call.locator(".call-extension")).to_contain_text("41")
    expect(call.get_by_role("button", name="Hang up")).to_be_visible()
    expect(page.locator("#dial")).to_be_visible()
    expect(page.locator("#dial-number")).to_be_visible()
    shoot(page, f"wallboard-{size}")
    assert_inside_the_screen(page, size)
    assert_tiles_hold_their_text(page)
    if size in DESKTOPS:
        assert_header_on_one_line(page)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    else:
        assert_thumb_sized(call.get_by_role("button", name="Hang up"), "Hang up")
        assert_thumb_sized(page.locator("#dial button[type=submit]"), "the dial box's Call")


def test_the_menu_opens_on_a_phone(pages: Pages) -> None:
    page = pages.open("admin", "phone", "/")
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_hidden()
    page.get_by_role("button", name="Menu").tap()
    expect(sign_out).to_be_visible()
    expect(page.get_by_role("link", name="History")).to_be_visible()
    shoot(page, "menu-phone")
    assert_inside_the_screen(page, "phone")
    assert_thumb_sized(page.get_by_role("link", name="History"), "the History link")


@pytest.mark.parametrize("path", ["/", "/calls?period=all"])
def test_the_first_tab_shows_a_skip_link_past_the_header(pages: Pages, path: str) -> None:
    page = pages.open("admin", "1366", path)
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).not_to_be_in_viewport()
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    assert_in_viewport(page, skip, "the focused skip link")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # the next stop is the page's own, not the header's
    inside = "() => document.querySelector('main').contains(document.activeElement)"
    assert page.evaluate(inside), page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
    expect(skip).not_to_be_in_viewport()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("history", "/calls?period=all"),
        ("missed", "/missed"),
        ("contacts", "/contacts"),
        ("reports", "/reports?period=30d"),
        ("call", f"/calls/{FIRST_CALL}?host=127.0.0.1"),
        ("call-missing", MISSING),
    ],
)
def test_a_page_fits(pages: Pages, name: str, path: str, size: str) -> None:
    page = pages.open("admin", size, path)
    shoot(page, f"{name}-{size}")
    assert_inside_the_screen(page, size)
    if size in DESKTOPS:
        assert_header_on_one_line(page)


@pytest.mark.parametrize("name", ["history", "missed"])
def test_history_and_missed_calls_are_cards_on_a_phone(pages: Pages, name: str) -> None:
    page = pages.open("admin", "phone", f"/{'calls' if name == 'history' else name}")
    row = page.locator("main table tbody tr").first
    expect(row).to_be_visible()
    assert row.evaluate("r => getComputedStyle(r).display") != "table-row"
    expect(page.locator("main table thead")).to_be_hidden()
    shown, labelled = row.locator("td").evaluate_all(
        """cells => [
          cells.filter((c) => c.offsetHeight && c.dataset.label)
            .map((c) => getComputedStyle(c, "::before").content),
          cells.filter((c) => c.offsetHeight && c.dataset.label).map((c) => `"${c.dataset.label}"`),
        ]"""
    )
    assert len(shown) >= 3 and shown == labelled, "each value shows its column's name"


def test_search_results_fit(pages: Pages) -> None:
    for size in SIZES:
        page = pages.open("admin", size, "/")
        page.get_by_placeholder("Find a caller").fill("98222")
        expect(page.locator("#search-results")).to_contain_text("on a call", timeout=EXPECT_MS)
        shoot(page, f"search-{size}")
        assert_inside_the_screen(page, size)


def test_the_sign_in_page_fits(browser: Browser, server: DashboardProcess) -> None:
    for size in SIZES:
        context = new_context(browser, size)
        page = context.new_page()
        page.goto(server.base_url + "/")
        expect(page.get_by_label("User name")).to_be_visible()
        shoot(page, f"login-{size}")
        assert_inside_the_screen(page, size)
        context.close()


def test_the_tv_fits(browser: Browser, server: DashboardProcess) -> None:
    path = server.cli("kiosk", "create", "Sales floor TV").strip()
    for size in DESKTOPS:
        context = new_context(browser, size)
        page = context.new_page()
        page.goto(server.base_url + path)
        expect(page).to_have_url(re.compile(r"/tv$"), timeout=EXPECT_MS)
        expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
        shoot(page, f"tv-{size}")
        assert_inside_the_screen(page, size)
        context.close()


def test_the_agents_pop_up_is_on_a_phones_screen_and_thumb_sized(pages: Pages) -> None:
    page = pages.open("asha", "phone", "/")
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    ring(pages.server, "9811122233", "70")
    # Another test of the module may have left a call ringing at 70 (they share a server).
    popup = page.locator("[data-popup]", has_text="98111 22233")
    expect(popup).to_have_count(1, timeout=EXPECT_MS)
    expect(popup).to_be_visible()
    expect(popup).to_contain_text("Asha Raghunathan-Venkataramanan")
    shoot(page, "popup-phone")
    assert_in_viewport(page, popup, "the pop-up")
    assert_inside_the_screen(page, "phone")
    targets = popup.get_by_role("button").all() + popup.get_by_role("link").all()
    assert len(targets) >= 3, "the number, Open in CRM and Dismiss"
    for target in targets:
        assert_thumb_sized(target, f"the pop-up's {target.inner_text()!r}")
        assert_in_viewport(page, target, f"the pop-up's {target.inner_text()!r}")
    call = page.locator("#live-calls article.call", has_text="98111 22233")
    expect(call.locator(".call-extension")).to_contain_text("70")
    expect(page.locator("#dial-number")).to_be_visible()
    popup.get_by_role("button", name="Hide").tap()
    expect(popup).to_have_class(re.compile(r"\bis-collapsed\b"))
    shoot(page, "popup-hidden-phone")
    assert_in_viewport(page, popup, "the hidden pop-up")
    assert_thumb_sized(popup.get_by_role("button", name="Show"), "the hidden pop-up's Show")
    popup.get_by_role("button", name="Show").tap()
    popup.get_by_role("button", name="Dismiss").tap()
    expect(popup).to_have_count(0)
    shoot(page, "wallboard-agent-phone")
    assert_inside_the_screen(page, "phone")


def test_the_agents_pop_up_clears_the_header_on_a_desktop(pages: Pages) -> None:
    page = pages.open("asha", "1366", "/")
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    ring(pages.server, "9822233344", "70")
    popup = page.locator("[data-popup]", has_text="98222 33344")
    expect(popup).to_be_visible(timeout=EXPECT_MS)
    shoot(page, "popup-1366")
    assert_in_viewport(page, popup, "the pop-up")
    header, area = (
        page.locator(".topbar").bounding_box(),
        page.locator(".popups-area").bounding_box(),
    )
    assert header is not None and area is not None
    assert area["y"] >= header["y"] + header["height"], f"the pop-up covers the header: {area}"
    assert_inside_the_screen(page, "1366")


# The caller's name in its live row: [lines it takes, its text, cut with an ellipsis].
NAME_IN_ITS_ROW = """(name) => {
  const style = getComputedStyle(name);
  return [Math.round(name.getBoundingClientRect().height / parseFloat(style.lineHeight)),
          name.textContent, style.textOverflow];
}"""


@pytest.mark.parametrize("size", DESKTOPS)
@pytest.mark.parametrize("board", ["wallboard", "tv"])
def test_a_long_name_keeps_its_row_to_two_lines(
    browser: Browser, pages: Pages, server: DashboardProcess, board: str, size: str
) -> None:
    """The number, then the name on one line, cut with an ellipsis: the whole name is still
    the row's text (a screen reader reads it)."""
    if board == "tv":
        context = new_context(browser, size)
        page = context.new_page()
        page.goto(server.base_url + server.cli("kiosk", "create", "Long names TV").strip())
        expect(page).to_have_url(re.compile(r"/tv$"), timeout=EXPECT_MS)
    else:
        page = pages.open("admin", size, "/")
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    row = page.locator("#live-calls article.call", has_text="98111 22233").first
    name = row.locator(".call-name")
    expect(name).to_be_visible()
    assert name.evaluate(NAME_IN_ITS_ROW) == [1, "Asha Raghunathan-Venkataramanan", "ellipsis"]
    number = row.locator(".call-number").evaluate("el => el.getBoundingClientRect().height")
    line = name.evaluate("el => parseFloat(getComputedStyle(el.parentElement).lineHeight)")
    assert number <= 2 * line + 1, "the number and the name, a line each"
    shoot(page, f"long-name-{board}-{size}")
    if board == "tv":
        page.context.close()


# -- a typical office's board: 20 live calls and 60 extensions on one screen ---------------

OFFICE_CALLS = 20
OFFICE_EXTENSIONS = 60

# The board at a glance: the page's scroll size; each live row and tile that is not wholly
# on the screen and inside its panel, or that cuts its text (a box of its own running out of
# it, content wider than its box: only a name may be cut, with an ellipsis); the tiles'
# heights; the panels that scroll; and the "+N more" line, if shown.
OFFICE_BOARD = """() => {
  const NAMES = ".call-name, .tile-caller, .tile-name";
  const within = (b, c) => b.top >= c.top - 0.5 && b.bottom <= c.bottom + 0.5
    && b.left >= c.left - 0.5 && b.right <= c.right + 0.5;
  const screen = {top: 0, left: 0, bottom: innerHeight, right: innerWidth};
  const shown = (e) => e.getClientRects().length > 0
    && getComputedStyle(e).visibility === "visible";
  const cut = (holder) => [...holder.querySelectorAll("*")]
    .filter((e) => shown(e) && !e.closest(".sr-only"))
    .filter((e) => !within(e.getBoundingClientRect(), holder.getBoundingClientRect())
      || (e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0 && !e.matches(NAMES)))
    .map((e) => e.className + " " + JSON.stringify(e.textContent.trim().slice(0, 30)));
  const misplaced = (items, panel) => items.flatMap((item) => {
    const box = item.getBoundingClientRect();
    if (!shown(item)) return [item.id + ": not shown"];
    if (!within(box, screen)) return [item.id + ": off the screen"];
    if (!within(box, panel.getBoundingClientRect())) return [item.id + ": out of its panel"];
    return cut(item).map((what) => item.id + ": cuts " + what);
  });
  const rows = [...document.querySelectorAll("#live-calls > article.call")];
  const tiles = [...document.querySelectorAll("#grid article.tile")];
  const more = document.querySelector("[data-more-calls]");
  return {
    scroll: [document.scrollingElement.scrollWidth, document.scrollingElement.scrollHeight],
    rows: rows.length, tiles: tiles.length,
    misplaced: [...misplaced(rows, document.querySelector("section.live")),
                ...misplaced(tiles, document.querySelector("#grid"))],
    heights: [...new Set(tiles.map((t) => Math.round(t.getBoundingClientRect().height * 2) / 2))],
    scrolling: [...document.querySelectorAll("#grid, #grid .grid, #live-calls")]
      .filter((e) => e.scrollHeight > e.clientHeight + 1).map((e) => e.id || e.className),
    more: more.hidden ? null : more.textContent,
  };
}"""


def pbx_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H:%M:%S")


def finished_call(process: DashboardProcess, extension: str, talk: timedelta | None) -> None:
    """A call to `extension` over a moment ago: answered and talked `talk`, or missed."""
    end = datetime.now(UTC) - timedelta(seconds=30)
    start = end - (talk or timedelta(seconds=20)) - timedelta(seconds=10)
    times = {"starttime": pbx_time(start), "endtime": pbx_time(end)}
    if talk:
        times["answertime"] = pbx_time(end - talk)
    uniqueid = ring(process, "9822233344", extension, answered=bool(talk), **times)
    finish = {"event": "CallFinish", "asteriskhost": "127.0.0.1", "uniqueid": uniqueid}
    seconds = str(int(talk.total_seconds())) if talk else "0"
    ends = {"duration": str(int((end - start).total_seconds())), "billableseconds": seconds}
    disposition = {"disposition": "ANSWERED" if talk else "NO ANSWER"}
    for event in (
        finish | {"extension": extension, "number": "9822233344"} | times,
        finish | ends | disposition,
    ):
        response = httpx.get(event_url(process.events_url, event))
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardProcess]:
    """60 extensions in three groups, an agent's name on an idle one, long figures today on
    another (12 answered, 3 missed, 1:02:36 talked), and 20 live calls: ringing and talking,
    one for 2:15:07 with the longest name. Finished calls leave the board at once."""
    workdir = tmp_path_factory.mktemp("office")
    process = DashboardProcess(
        workdir,
        DASHBOARD_EXTENSIONS="40-99",
        DASHBOARD_GROUPS="Sales: 40-59; Support: 60-79; Service: 80-99",
        DASHBOARD_FINISHED_LINGER="0",
    )
    process.cli("user", "add", "sup", "--role", "supervisor", "--password", PASSWORD)
    process.cli(
        "user", "add", "asha", "--role", "agent", "--extension", "44", "--password", PASSWORD
    )
    (workdir / "contacts.csv").write_text(CONTACTS)
    process.cli("contacts", "import", str(workdir / "contacts.csv"))
    process.start()
    for talk in [timedelta(seconds=313)] * 12 + [None] * 3:
        finished_call(process, "43", talk)
    since = pbx_time(datetime.now(UTC) - timedelta(hours=2, minutes=15, seconds=7))
    ring(process, "9811122233", "41", answered=True, starttime=since, answertime=since)
    for n in range(OFFICE_CALLS - 1):
        extension = str(42 + n * 3 % 58)
        ring(process, f"98{n:02}5512345", extension, answered=n % 3 != 0)
    try:
        yield process
    finally:
        process.stop()
        print("--- office dashboard ---", process.log(), sep="\n")


@pytest.mark.parametrize("size", DESKTOPS)
def test_a_typical_office_fits_the_desk_wallboard(
    browser: Browser, office: DashboardProcess, size: str
) -> None:
    """ui.md: 20 live calls and 60 extensions on one screen, from 1366x768 to 1920x1080: no
    scrolling, every row and tile whole, inside the screen and its panel, none counted in
    "+N more", and every tile as tall as every other, whatever its state and figures."""
    context = new_context(browser, size)
    page = context.new_page()
    page.goto(office.base_url + "/login?next=/")
    sign_in(page, "sup", PASSWORD)
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    expect(page.locator("#live-calls > article.call")).to_have_count(OFFICE_CALLS)
    expect(page.locator("#ext-41")).to_have_class(re.compile(r"\bis-talking\b"))
    expect(page.locator("#ext-41 .tile-timer")).to_have_text(re.compile(r"^2:15:"))
    longest = page.locator("#live-calls > article.call", has_text="98111 22233")
    expect(longest.locator(".call-timer")).to_have_text(re.compile(r"^2:15:"))
    expect(page.locator("#ext-43 .tile-day")).to_have_text("12 answered 3 missed 1:02:36 talk")
    expect(page.locator("[data-more-calls]")).to_be_hidden()
    shoot(page, f"wallboard-office-{size}")
    board = page.evaluate(OFFICE_BOARD)
    width, height = SIZES[size]["width"], SIZES[size]["height"]
    assert board["scroll"] == [width, height], f"the page scrolls: {board['scroll']}"
    assert (board["rows"], board["tiles"]) == (OFFICE_CALLS, OFFICE_EXTENSIONS)
    assert board["misplaced"] == [], "\n".join(board["misplaced"])
    assert board["scrolling"] == [], f"a panel scrolls: {board['scrolling']}"
    assert board["more"] is None, board["more"]
    assert len(board["heights"]) == 1, f"tiles of different heights: {board['heights']}"
    context.close()
