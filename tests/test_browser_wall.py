"""The wall in real Chromium at 1920x1080: no tile cuts its text (desk and TV), calls past a
threshold rise to the top of the live list in a warning colour, what does not fit the TV's
list is counted as "+N more", and a group in the URL filters the whole board."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard.simulator.traffic import event_url
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
from tests.waiting import wait_until

pytestmark = pytest.mark.browser
PASSWORD = "a long test password"
LONG_NAME = "demo-supervisor-of-the-night-shift"

# Each tile's and live row's boxes: an element wider inside than outside (scrollWidth >
# clientWidth) cuts its text; so does a piece of text that pokes out of its tile or row, and a
# tile below the bottom of its grid or of the screen.
CUT_TEXT = """() => {
  const cut = [];
  for (const tile of document.querySelectorAll("article.tile, #live-calls > article.call")) {
    if (tile.hidden) continue;
    const box = tile.getBoundingClientRect();
    const area = (tile.closest(".grid-section, .live")).getBoundingClientRect();
    if (box.bottom > Math.min(area.bottom, innerHeight) + 0.5) cut.push(tile.id + " below its box");
    if (box.right > Math.min(area.right, innerWidth) + 0.5) cut.push(tile.id + " past its box");
    for (const el of [tile, ...tile.querySelectorAll("*")]) {
      if (el.classList.contains("sr-only")) continue;
      // A caller's name in a live row is cut on purpose, with an ellipsis, to one line.
      if (getComputedStyle(el).textOverflow === "ellipsis") continue;
      const inline = getComputedStyle(el).display === "inline";
      const text = tile.id + " " + el.className + ": " + el.textContent.trim();
      if (!inline && el.scrollWidth > el.clientWidth) cut.push(text);
      const rect = el.getBoundingClientRect();
      const outside = rect.left < box.left - 0.5 || rect.right > box.right + 0.5;
      if (rect.width && outside) cut.push("outside " + text);
    }
  }
  return cut;
}"""


VARIABLE_COLOUR = """name => {
  const probe = document.createElement("div");
  probe.style.background = `var(${name})`;
  document.body.append(probe);
  const colour = getComputedStyle(probe).backgroundColor;
  probe.remove();
  return colour;
}"""


OFFICE = {
    "SYNAPSE_TIMEZONE": "UTC",
    "DASHBOARD_EXTENSIONS": "40-59,70-79",
    "DASHBOARD_GROUPS": "Sales: 40-49; Support: 50-59; Service: 70-79",
    "DASHBOARD_RING_WARN_SECONDS": "120",
    "DASHBOARD_RING_ALERT_SECONDS": "240",
    "DASHBOARD_TALK_WARN_MINUTES": "0.1",  # 6 s
    "DASHBOARD_TALK_ALERT_MINUTES": "30",
    "DASHBOARD_PBX_CHECK_SECONDS": "0",  # no PBX here: no banner saying so
}
USERS = [("sup", "--role", "supervisor"), (LONG_NAME, "--role", "agent", "--extension", "41")]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DashboardProcess]:
    with running_dashboard(tmp_path, USERS, PASSWORD, **OFFICE) as process:
        yield process


@pytest.fixture
def lingering(tmp_path: Path) -> Iterator[DashboardProcess]:
    """The office, its finished calls on the board for two minutes (8 s by default: a loaded
    machine took longer to open a second page)."""
    with running_dashboard(
        tmp_path, USERS, PASSWORD, **OFFICE, DASHBOARD_FINISHED_LINGER="120"
    ) as process:
        yield process


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def pbx_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H:%M:%S")


def send(server: DashboardProcess, event: dict[str, Any]) -> None:
    response = httpx.get(event_url(server.events_url, event))
    assert response.status_code == 200, response.text


def finished_long_ago(server: DashboardProcess, extension: str, ago: timedelta) -> None:
    """A call that ended `ago`: its extension idle since then."""
    end = datetime.now(UTC) - ago
    times = {
        "starttime": pbx_time(end - timedelta(seconds=80)),
        "answertime": pbx_time(end - timedelta(seconds=70)),
        "endtime": pbx_time(end),
    }
    uniqueid = ring(server, "9812345678", extension, **times)
    finish = {"event": "CallFinish", "asteriskhost": "127.0.0.1", "uniqueid": uniqueid}
    send(server, finish | {"extension": extension, "number": "9812345678"} | times)
    send(server, finish | {"duration": "80", "billableseconds": "70", "disposition": "ANSWERED"})


def open_board(browser: Browser, server: DashboardProcess, path: str) -> Page:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(server.base_url + path)
    sign_in(page, "sup", PASSWORD)
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    return page


def test_no_tile_cuts_its_text_on_the_desk_or_the_tv(
    browser: Browser, server: DashboardProcess
) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=12, minutes=50, seconds=55)
    ring(server, "9876543210", "41", answered=True, starttime=pbx_time(long_ago))
    ring(server, "+919876543210", "44", answered=True, answertime=pbx_time(long_ago))
    ring(server, "9811122233", "52")
    finished_long_ago(server, "57", timedelta(hours=23, minutes=59))  # idle 23:59:..
    finished_long_ago(server, "73", timedelta(days=3))  # idle since a date
    ARTIFACTS.mkdir(exist_ok=True)
    for path, shot in (("/", "wallboard-1920-tiles.png"), ("/tv", "tv-1920-tiles.png")):
        page = open_board(browser, server, path)
        expect(page.locator("article.tile")).to_have_count(30)
        expect(page.locator("#ext-44 .tile-timer")).to_have_text(re.compile(r"^12:5\d:\d\d$"))
        expect(page.locator("#ext-73 .tile-timer")).to_have_text(re.compile(r"^since \d+ \w{3}$"))
        expect(page.locator("#ext-57 .tile-timer")).to_have_text(re.compile(r"^23:59:\d\d$"))
        expect(page.locator("#ext-41 .tile-name")).to_have_text(LONG_NAME)
        expect(page.locator("#ext-41 .tile-day")).to_have_text("0 answered 0 missed 0:00 talk")
        page.screenshot(path=str(ARTIFACTS / shot), animations="disabled")
        cut = page.evaluate(CUT_TEXT)
        assert cut == [], (path, *cut)
        tile_font = page.evaluate(
            "parseFloat(getComputedStyle(document.querySelector('#ext-44 .tile-party')).fontSize)"
        )
        assert tile_font >= (20 if path == "/tv" else 15), (path, tile_font)
        assert page.evaluate("document.documentElement.scrollHeight") <= 1080, path
        page.context.close()


def test_the_tv_pins_calls_past_a_threshold_in_a_warning_colour_and_counts_the_rest(
    browser: Browser, server: DashboardProcess
) -> None:
    tv = open_board(browser, server, "/tv")
    ring(server, "9800000001", "41", answered=True)  # talking: amber after 6 s
    for n in range(18):
        ring(server, f"98111{n:05}", f"{42 + n}")  # ringing, never long enough to warn
    rows = tv.locator("#live-calls > article.call")
    expect(rows).to_have_count(19)
    # Pushed at the top, sorted below the ringing calls, then back to the top once amber.
    expect(rows.nth(18)).to_contain_text("98000 00001")
    expect(rows.nth(18)).to_be_hidden()  # counted in "+N more"
    pinned = rows.first
    expect(pinned).to_have_attribute("data-level", "warn", timeout=EXPECT_MS)
    expect(pinned).to_contain_text("98000 00001")
    expect(tv.locator("#ext-41")).to_have_attribute("data-level", "warn")
    ringing = rows.nth(1)
    expect(ringing).to_have_attribute("data-level", "ok")
    # The whole row and tile are in the warning colour: neither ringing's nor talking's.
    colour = "el => getComputedStyle(el).backgroundColor"
    talking = tv.evaluate(VARIABLE_COLOUR, "--talking-bg")
    assert pinned.evaluate(colour) not in (ringing.evaluate(colour), talking)
    tile_colour = tv.locator("#ext-41").evaluate(colour)
    assert tile_colour not in (tv.locator("#ext-42").evaluate(colour), talking)
    more = tv.locator("[data-more-calls]")
    expect(more).to_be_visible()
    shown = tv.locator("#live-calls > article.call:visible").count()
    assert shown < 19
    expect(more).to_have_text(f"+{19 - shown} more calls")
    box = tv.locator("#live-calls").bounding_box()
    last = tv.locator("#live-calls > article.call:visible").last.bounding_box()
    assert (
        box is not None
        and last is not None
        and last["y"] + last["height"] <= box["y"] + box["height"] + 1
    )
    assert tv.evaluate("document.documentElement.scrollHeight") <= 1080
    ARTIFACTS.mkdir(exist_ok=True)
    tv.screenshot(path=str(ARTIFACTS / "tv-1920-pinned.png"), animations="disabled")


def test_a_group_in_the_url_filters_the_tv_and_its_pushes(
    browser: Browser, server: DashboardProcess
) -> None:
    ring(server, "9800000001", "41", answered=True)
    tv = open_board(browser, server, "/tv?group=Sales")
    expect(tv.locator("article.tile")).to_have_count(10)
    ring(server, "9800000002", "52")  # Support's: not on this screen
    ring(server, "9800000003", "45")
    expect(tv.locator("#live-calls > article.call")).to_have_count(2, timeout=EXPECT_MS)
    expect(tv.locator("[data-counter=live]")).to_have_text("2")
    expect(tv.locator("#ext-45")).to_have_class(re.compile(r"\bis-ringing\b"))
    expect(tv.locator(".grid-filter")).to_be_hidden()  # a TV has no controls: its URL says
    tv.goto(server.base_url + "/tv?group=Support")
    expect(tv.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    expect(tv.locator("#live-calls > article.call")).to_have_count(1, timeout=EXPECT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    tv.screenshot(path=str(ARTIFACTS / "tv-1920-group.png"), animations="disabled")


RECORD_REMOVED_ROWS = """() => {
  window.__removedRows = [];
  new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      for (const node of mutation.removedNodes) if (node.id) window.__removedRows.push(node.id);
    }
  }).observe(document.getElementById("live-calls"), { childList: true });
}"""


def test_a_row_that_changes_place_on_the_tv_moves_alone(
    browser: Browser, server: DashboardProcess
) -> None:
    tv = open_board(browser, server, "/tv")
    uniqueids = [ring(server, f"98222{n:05}", f"{41 + n}") for n in range(5)]
    rows = tv.locator("#live-calls > article.call")
    expect(rows).to_have_count(5)
    answered = tv.locator("article.call", has_text="98222 00002")
    row_id = answered.get_attribute("id")
    tv.evaluate(RECORD_REMOVED_ROWS)
    send(server, {"event": "CallConnect", "asteriskhost": "127.0.0.1", "uniqueid": uniqueids[2],
                  "extension": "43", "number": "9822200002"})  # fmt: skip
    # Talking goes below the four ringing: that row moves, the other four stay where they are.
    expect(rows.nth(4)).to_have_class(state_class("connected"), timeout=EXPECT_MS)
    expect(rows.nth(4)).to_have_id(row_id or "")
    # A tick or two later (the timer has moved on), still nothing else has moved.
    expect(rows.nth(4).locator(".call-timer")).to_have_text(re.compile(r"^0:0[2-9]$"))
    removed = tv.evaluate("window.__removedRows")
    assert set(removed) == {row_id} and len(removed) <= 2, removed  # replaced, then moved


LIST_AS_SHOWN = """() => {
  const list = document.getElementById("live-calls").getBoundingClientRect();
  const rows = [...document.querySelectorAll("#live-calls > article.call")];
  const shown = rows.filter((row) => getComputedStyle(row).visibility === "visible");
  const rendered = rows.filter((row) => getComputedStyle(row).display !== "none");
  const firstHidden = rows[shown.length];
  return {
    shown_first: rows.slice(0, shown.length).every((row) => shown.includes(row)),
    rendered: rendered.length - shown.length,
    rendered_first: rows.slice(0, rendered.length).every((row) => rendered.includes(row)),
    last_shown_inside: shown.at(-1).getBoundingClientRect().bottom <= list.bottom + 1,
    first_hidden_past: !firstHidden || firstHidden.getBoundingClientRect().bottom > list.bottom + 1,
    more: document.querySelector("[data-more-calls]").textContent,
    shown: shown.length,
  };
}"""


def test_the_tv_lays_out_only_the_rows_next_to_its_list_and_more_when_there_is_room(
    browser: Browser, server: DashboardProcess
) -> None:
    tv = open_board(browser, server, "/tv")
    for n in range(60):
        ring(server, f"98333{n:05}", f"{40 + n % 20}")
    expect(tv.locator("#live-calls > article.call")).to_have_count(60, timeout=EXPECT_MS)
    expect(tv.locator("[data-more-calls]")).to_be_visible()
    shown = tv.evaluate(LIST_AS_SHOWN)["shown"]
    # Ten rows past the first one out of sight are laid out; those further down are not.
    assert tv.evaluate(LIST_AS_SHOWN) == {
        "shown_first": True, "rendered": 10, "rendered_first": True, "last_shown_inside": True,
        "first_hidden_past": True, "more": f"+{60 - shown} more calls", "shown": shown,
    }  # fmt: skip
    # A taller screen holds more rows than were laid out: more are, and the count is right.
    tv.set_viewport_size({"width": VIEWPORT["width"], "height": 2 * VIEWPORT["height"]})
    wait_until(lambda: tv.evaluate(LIST_AS_SHOWN)["shown"] > shown + 10, 5, "more rows shown")
    taller = tv.evaluate(LIST_AS_SHOWN)["shown"]
    assert tv.evaluate(LIST_AS_SHOWN) == {
        "shown_first": True, "rendered": 10, "rendered_first": True, "last_shown_inside": True,
        "first_hidden_past": True, "more": f"+{60 - taller} more calls", "shown": taller,
    }  # fmt: skip


# Animation frames from the first push of a burst until `rows` rows are on the list, however
# they came (in a frame, or by the script's timeout when frames come slower than it), and the
# pushes that came meanwhile.
COUNT_FRAMES_TO_ROWS = """(rows) => {
  const list = document.getElementById("live-calls");
  const seen = window.__burst = { frames: 0, pushes: 0, done: false };
  new MutationObserver(() => {
    seen.done = seen.done || list.querySelectorAll(":scope > article.call").length >= rows;
  }).observe(list, { childList: true });
  document.addEventListener("htmx:wsBeforeMessage", () => { if (!seen.done) seen.pushes += 1; });
  const request = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (callback) => request((time) => {
    if (seen.pushes && !seen.done) seen.frames += 1;
    callback(time);
  });
}"""


@pytest.fixture
def slow_frames(tmp_path: Path) -> Iterator[DashboardProcess]:
    """A TV sent a frame every 3 s: a burst of calls comes in one or two."""
    with running_dashboard(
        tmp_path,
        [("sup", "--role", "supervisor")],
        PASSWORD,
        DASHBOARD_EXTENSIONS="40-59",
        DASHBOARD_PBX_CHECK_SECONDS="0",
        DASHBOARD_TV_FRAME_SECONDS="3",
    ) as process:
        yield process


def test_a_burst_of_calls_is_on_the_tv_within_thirty_frames_of_each_push(
    browser: Browser, slow_frames: DashboardProcess
) -> None:
    # A push's work is cut into slices, one an animation frame, each as long as the page's
    # layout allows (its script learns how long that is); but however slow that is, a push is
    # applied within thirty frames. On a slow device (a TV stick: the CPU made six times as
    # slow) a slow layout once made it one change a frame.
    tv = open_board(browser, slow_frames, "/tv")
    tv.context.new_cdp_session(tv).send("Emulation.setCPUThrottlingRate", {"rate": 6})
    tv.evaluate(COUNT_FRAMES_TO_ROWS, 60)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: ring(slow_frames, f"98555{n:05}", f"{40 + n % 20}"), range(60)))
    expect(tv.locator("#live-calls > article.call")).to_have_count(60, timeout=2 * EXPECT_MS)
    burst = tv.evaluate("window.__burst")
    assert burst["done"] and burst["frames"] <= 31 * burst["pushes"], burst


# The live list and the grid as the page has them, attributes sorted, text trimmed (a pushed
# row has no white space around it); a timer's text, and what the script adds for a threshold
# (its colour, the row's level), left out.
BOARD_AS_IS = """() => {
  const scripts = /^is-(warn|alert)$/;
  const canon = (node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      return node.parentElement.matches("time") ? "" : node.nodeValue.trim();
    }
    if (node.nodeType !== Node.ELEMENT_NODE) return "";
    const attributes = [...node.attributes].filter((a) => a.name !== "data-level").map((a) => {
      const value = a.name !== "class" ? a.value
        : a.value.split(" ").filter((c) => !scripts.test(c)).join(" ");
      return a.name + '="' + value + '"';
    }).sort();
    const inside = [...node.childNodes].map(canon).join("");
    return "<" + node.nodeName + " " + attributes.join(" ") + ">" + inside + "</>";
  };
  return [canon(document.getElementById("live-calls")), canon(document.getElementById("grid"))];
}"""


def test_rows_and_tiles_changed_in_place_are_as_a_fresh_page_shows_them(
    browser: Browser, lingering: DashboardProcess
) -> None:
    tv = open_board(browser, lingering, "/tv")
    tv.evaluate("window.__tile = document.getElementById('ext-45')")
    answered = ring(lingering, "9844400001", "45")
    finished = ring(lingering, "9844400002", "46", answered=True)
    ring(lingering, "9844400003", "47")
    expect(tv.locator("#ext-45")).to_have_class(state_class("ringing"), timeout=EXPECT_MS)
    send(lingering, {"event": "CallConnect", "asteriskhost": "127.0.0.1", "uniqueid": answered,
                     "extension": "45", "number": "9844400001"})  # fmt: skip
    send(lingering, {"event": "CallFinish", "asteriskhost": "127.0.0.1", "uniqueid": finished,
                     "extension": "46", "number": "9844400002", "duration": "5",
                     "billableseconds": "3", "disposition": "ANSWERED"})  # fmt: skip
    expect(tv.locator("#ext-45")).to_have_class(state_class("talking"), timeout=EXPECT_MS)
    expect(tv.locator("#ext-46")).to_have_class(state_class("idle"), timeout=EXPECT_MS)
    expect(tv.locator("#live-calls .call.is-finished")).to_have_count(1)
    assert tv.evaluate("window.__tile === document.getElementById('ext-45')")  # the same tile
    fresh = open_board(browser, lingering, "/tv")
    expect(fresh.locator("#live-calls > article.call")).to_have_count(3)
    assert tv.evaluate(BOARD_AS_IS) == fresh.evaluate(BOARD_AS_IS)


@pytest.fixture
def big_office(tmp_path: Path) -> Iterator[DashboardProcess]:
    """A hundred extensions: more tiles than a TV's grid shows at 1080p."""
    with running_dashboard(
        tmp_path,
        [("sup", "--role", "supervisor")],
        PASSWORD,
        DASHBOARD_EXTENSIONS="100-199",
        DASHBOARD_PBX_CHECK_SECONDS="0",
    ) as process:
        yield process


# A TV's tiles: those seen (rendered, visible) first, each wholly inside the grid's box; then
# some rendered but hidden; the rest not rendered; and the "+N more" line under the grid.
TILES_AS_SHOWN = """() => {
  const box = document.querySelector("#grid > .grid").getBoundingClientRect();
  const section = document.getElementById("grid").getBoundingClientRect();
  const tiles = [...document.querySelectorAll("#grid article.tile")];
  const rendered = tiles.filter((tile) => getComputedStyle(tile).display !== "none");
  const seen = rendered.filter((tile) => getComputedStyle(tile).visibility === "visible");
  const inside = (b, outer) => b.top >= outer.top - 0.5 && b.bottom <= outer.bottom + 0.5;
  const more = document.querySelector("#grid > [data-more-tiles]");
  const line = more && !more.hidden ? more.getBoundingClientRect() : null;
  return {
    rendered_first: tiles.slice(0, rendered.length).every((tile) => rendered.includes(tile)),
    seen_first: rendered.slice(0, seen.length).every((tile) => seen.includes(tile)),
    cut: seen.filter((tile) => !inside(tile.getBoundingClientRect(), box)).map((t) => t.id),
    seen: seen.length,
    rendered_hidden: rendered.length - seen.length,
    not_rendered: tiles.length - rendered.length,
    more: line ? more.textContent : null,
    more_inside: !line || (line.top >= box.bottom && inside(line, section)
                           && line.bottom <= innerHeight),
  };
}"""


def tiles_as_they_should_be(
    seen: int, total: int, rendered_hidden: int, ringing_hidden: int = 0
) -> dict[str, Any]:
    ringing = f", {ringing_hidden} ringing" if ringing_hidden else ""
    return {
        "rendered_first": True, "seen_first": True, "cut": [], "seen": seen,
        "rendered_hidden": rendered_hidden, "not_rendered": total - seen - rendered_hidden,
        "more": f"+{total - seen} more extensions{ringing}" if seen < total else None,
        "more_inside": True,
    }  # fmt: skip


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_a_tile_on_the_tv_is_wholly_shown_or_counted(
    browser: Browser, big_office: DashboardProcess, size: tuple[int, int]
) -> None:
    width, height = size
    tv = browser.new_context(viewport={"width": width, "height": height}).new_page()
    tv.goto(big_office.base_url + "/tv")
    sign_in(tv, "sup", PASSWORD)
    expect(tv.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    expect(tv.locator("article.tile")).to_have_count(100)
    more = tv.locator("[data-more-tiles]")
    expect(more).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    tv.screenshot(path=str(ARTIFACTS / f"tv-{width}-more-tiles.png"), animations="disabled")
    shown = tv.evaluate(TILES_AS_SHOWN)
    assert shown == tiles_as_they_should_be(shown["seen"], 100, 10), shown
    assert 0 < shown["seen"] < 90, shown
    assert tv.evaluate("document.documentElement.scrollHeight") <= height
    # Calls at a tile seen and at one hidden: the count holds.
    ring(big_office, "9855500003", "199")
    ring(big_office, "9855500002", "101")
    expect(tv.locator("#ext-101")).to_have_class(state_class("ringing"), timeout=EXPECT_MS)
    expect(more).to_have_text(re.compile(r", 1 ringing$"), timeout=EXPECT_MS)  # 199's
    shown = tv.evaluate(TILES_AS_SHOWN)
    assert shown == tiles_as_they_should_be(shown["seen"], 100, 10, ringing_hidden=1), shown


# When the tile of extension 190 is rendered again: its timer's text and the live row's.
RECORD_TIMERS_WHEN_SHOWN = """() => {
  const tile = document.getElementById("ext-190");
  new MutationObserver((_, observer) => {
    if (getComputedStyle(tile).display === "none") return;
    window.__timersWhenShown = [tile.querySelector(".tile-timer").textContent,
                                document.querySelector("#live-calls .call-timer").textContent];
    observer.disconnect();
  }).observe(tile, { attributes: true, attributeFilter: ["class"] });
}"""


def seconds_of(timer: str) -> int:
    minutes, seconds = timer.split(":")
    return int(minutes) * 60 + int(seconds)


def test_the_tv_renders_only_the_tiles_next_to_its_grid_and_their_timers_when_they_show(
    browser: Browser, big_office: DashboardProcess
) -> None:
    tv = open_board(browser, big_office, "/tv")
    expect(tv.locator("article.tile")).to_have_count(100)
    # Tiles fill the grid row by row: every one seen is rendered, then ten wholly below its
    # box (from a row of its own), and none after them.
    shown = tv.evaluate(TILES_AS_SHOWN)
    assert shown == tiles_as_they_should_be(shown["seen"], 100, 10), shown
    assert 0 < shown["seen"] < 90, shown
    # A call rings at a tile not rendered; its timer is right as soon as it is shown.
    ring(big_office, "9855500001", "190")
    expect(tv.locator("#ext-190")).to_have_class(state_class("ringing"), timeout=EXPECT_MS)
    expect(tv.locator("#ext-190")).to_be_hidden()
    expect(tv.locator("#live-calls .call-timer")).to_have_text(re.compile(r"^0:0[3-9]$"))
    tv.evaluate(RECORD_TIMERS_WHEN_SHOWN)
    tv.set_viewport_size({"width": VIEWPORT["width"], "height": 3 * VIEWPORT["height"]})
    wait_until(lambda: tv.evaluate("window.__timersWhenShown") is not None, 5, "the tile shown")
    tile_timer, row_timer = tv.evaluate("window.__timersWhenShown")
    assert seconds_of(tile_timer) - seconds_of(row_timer) in (0, 1), (tile_timer, row_timer)
    assert tv.evaluate(TILES_AS_SHOWN) == tiles_as_they_should_be(100, 100, 0)


# Each piece of text in the rows and tiles past a threshold against the background it is on:
# [what, its contrast ratio] for those under WCAG AA's 4.5.
LOW_CONTRAST = """() => {
  const rgb = (css) => css.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const linear = (c) => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  const ratio = (a, b) => {
    const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (high + 0.05) / (low + 0.05);
  };
  const backgroundOf = (el) => {  // the nearest that is painted (the row's, a button's)
    for (; el; el = el.parentElement) {
      const colour = rgb(getComputedStyle(el).backgroundColor);
      if (colour.length === 3 || colour[3] > 0) return colour;
    }
  };
  const low = [];
  for (const holder of document.querySelectorAll("[data-level=warn], [data-level=alert]")) {
    for (const el of holder.querySelectorAll("*")) {
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.nodeValue.trim());
      if (!own || !el.getClientRects().length || el.closest(".sr-only")) continue;
      const contrast = ratio(rgb(getComputedStyle(el).color), backgroundOf(el));
      if (contrast < 4.5) low.push([holder.id + " " + el.className, contrast.toFixed(2)]);
    }
  }
  return low;
}"""

# The alert's timer, sampled over a second: the lowest opacity seen (a new row slides in, its
# opacity rising: not the alert's doing).
LOWEST_OPACITY = """async (selector) => {
  const timer = document.querySelector(selector);
  let lowest = 1;
  const started = performance.now();
  while (performance.now() - started < 1000) {
    lowest = Math.min(lowest, Number(getComputedStyle(timer).opacity));
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  return lowest;
}"""

ANIMATED = """(selector) => document.getAnimations().some((animation) => {
  const target = animation.effect && animation.effect.target;
  return animation.playState === "running" && target && target.closest(selector) !== null;
})"""


@pytest.mark.parametrize(
    ("path", "scheme", "motion"),
    [("/", "light", "no-preference"), ("/", "dark", "reduce"), ("/tv", "dark", "no-preference")],
)
def test_past_a_threshold_the_figures_keep_full_contrast_in_a_colour_of_their_own(
    browser: Browser, server: DashboardProcess, path: str, scheme: Any, motion: Any
) -> None:
    now = datetime.now(UTC)
    ring(server, "9800000001", "41", starttime=pbx_time(now - timedelta(minutes=5)))  # red
    since = pbx_time(now - timedelta(minutes=1))
    ring(server, "9800000002", "52", answered=True, starttime=since, answertime=since)  # warn
    ring(server, "9800000003", "70")  # ringing, under its thresholds
    context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme, reduced_motion=motion)
    page = context.new_page()
    page.goto(server.base_url + path)
    sign_in(page, "sup", PASSWORD)
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    alert = page.locator("article.call", has_text="98000 00001")
    warn = page.locator("article.call", has_text="98000 00002")
    ringing = page.locator("article.call", has_text="98000 00003")
    expect(alert.locator(".call-timer")).to_have_class(state_class("alert"), timeout=EXPECT_MS)
    expect(warn.locator(".call-timer")).to_have_class(state_class("warn"), timeout=EXPECT_MS)
    expect(page.locator("#ext-52")).to_have_attribute("data-level", "warn")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = f"thresholds-{path.strip('/') or 'wallboard'}-{scheme}-1920.png"
    page.screenshot(path=str(ARTIFACTS / shot), animations="disabled")
    colour = "el => getComputedStyle(el).color"
    warn_colour = page.evaluate(VARIABLE_COLOUR, "--warn")
    expect(warn.locator(".call-timer")).to_have_css("color", warn_colour)
    assert warn_colour != ringing.locator(".call-state").evaluate(colour)
    assert page.evaluate(VARIABLE_COLOUR, "--warn") != page.evaluate(VARIABLE_COLOUR, "--ringing")
    for counter in page.locator(".counter.level-warn").all():  # a counter past a warning
        assert counter.evaluate("el => getComputedStyle(el).borderColor") == warn_colour
    low = page.evaluate(LOW_CONTRAST)
    assert low == [], low
    assert page.evaluate(LOWEST_OPACITY, f"#{alert.get_attribute('id')} .call-timer") == 1
    animated = page.evaluate(ANIMATED, f"#{alert.get_attribute('id')}")
    assert animated == (motion != "reduce"), "the alert pulses, unless motion is reduced"
    context.close()
