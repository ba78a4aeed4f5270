"""Real-browser tests: headless Chromium watches the wallboard of a real `dashboard serve`.

Call events reach the server over real HTTP, encoded exactly as the simulator (and Synapse)
sends them; the browser only ever learns about them through its live socket.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    Dialog,
    Locator,
    Page,
    expect,
)

from dashboard.simulator.traffic import PlannedCall, Traffic, event_url
from tests.browser import (
    ARTIFACTS,
    EXPECT_MS,
    LIVE,
    VIEWPORT,
    chromium,
    sign_in,
    state_class,
)
from tests.servers import DashboardProcess

pytestmark = pytest.mark.browser

LINGER_SECONDS = 2.0
PBX_ZONE = ZoneInfo("UTC")
USER = "wallboard-tester"
PASSWORD = "a long test password"
TIMER = re.compile(r"^\d+:\d{2}$")
# Records every message the live socket delivers, before the page's own scripts run.
RECORD_FRAMES = """
window.__frames = [];
document.addEventListener("htmx:wsAfterMessage", (e) => window.__frames.push(e.detail.message));
"""
_uniqueids = itertools.count(1)
OpenViewer = Callable[[], "Viewer"]


# -- the server ----------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DashboardProcess]:
    process = DashboardProcess(tmp_path, DASHBOARD_FINISHED_LINGER=f"{LINGER_SECONDS:g}")
    process.start()
    process.cli("user", "add", USER, "--role", "supervisor", "--password", PASSWORD)
    try:
        yield process
    finally:
        process.stop()
        # pytest shows a test's teardown output only when the test fails.
        print(f"--- dashboard output ---\n{process.log()}")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        yield client


# -- call events ---------------------------------------------------------------------------


def plan_call(number: str, extension: str) -> PlannedCall:
    """An answered incoming call: rings 1 s, talks 3 s (only the CDR's times depend on it)."""
    return PlannedCall(
        uniqueid=f"{int(time.time())}.{next(_uniqueids)}",
        direction="Incoming",
        number=number,
        extension=extension,
        outcome="answered",
        ring_seconds=1.0,
        talk_seconds=3.0,
        hangupchannel=f"SIP/{extension}-0000a1b2",
        redirectchannel="DAHDI/7-1",
    )


def call_events(call: PlannedCall) -> dict[str, dict[str, str]]:
    """The simulator's CallStart, CallConnect and CallFinish dicts for `call`, by event name."""
    timed = Traffic().call_events(call, datetime.now(UTC), PBX_ZONE)
    return {event["event"]: event for _, event in timed}


def send(http: httpx.Client, server: DashboardProcess, event: dict[str, str]) -> None:
    response = http.get(event_url(server.events_url, event))
    assert response.status_code == 200 and response.json().get("ok"), (
        f"the dashboard refused {event['event']}: HTTP {response.status_code} {response.text}"
    )


# -- the browser ---------------------------------------------------------------------------


@dataclass
class Viewer:
    page: Page
    page_errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def call(self, number_text: str) -> Locator:
        return self.page.locator("#live-calls article.call", has_text=number_text)

    def counter(self, name: str) -> Locator:
        return self.page.locator(f'[data-counter="{name}"]')

    def frames(self) -> list[str]:
        frames: list[str] = self.page.evaluate("window.__frames")
        return frames


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def open_viewer(browser: Browser, server: DashboardProcess) -> Iterator[OpenViewer]:
    """Opens wallboards on `server` (each in its own browser context) and waits until live."""
    viewers: list[Viewer] = []

    def open_() -> Viewer:
        context = browser.new_context(viewport=VIEWPORT)
        context.add_init_script(RECORD_FRAMES)
        viewer = Viewer(context.new_page())
        viewers.append(viewer)
        viewer.page.on("pageerror", lambda error: viewer.page_errors.append(str(error)))
        viewer.page.on("console", lambda msg: viewer.console.append(f"{msg.type}: {msg.text}"))
        viewer.page.on("dialog", viewer.on_dialog)
        response = viewer.page.goto(server.base_url + "/")
        assert response is not None and response.ok, f"GET / failed: {response}"
        sign_in(viewer.page, USER, PASSWORD)
        expect(viewer.page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
        return viewer

    try:
        yield open_
    finally:
        for viewer in viewers:
            print(f"--- browser console of {viewer.page.url} ---", *viewer.console, sep="\n")
            viewer.page.context.close()


# -- the tests -----------------------------------------------------------------------------


def test_call_appears_ticks_and_leaves(
    open_viewer: OpenViewer, server: DashboardProcess, http: httpx.Client
) -> None:
    viewer = open_viewer()
    page = viewer.page
    expect(page.locator(".empty")).to_be_visible(timeout=EXPECT_MS)
    events = call_events(plan_call("9876543210", "70"))
    call = viewer.call("98765 43210")

    send(http, server, events["CallStart"])
    expect(call).to_have_class(state_class("ringing"), timeout=EXPECT_MS)
    expect(call.locator(".call-state")).to_have_text("Ringing")
    expect(call.locator(".call-extension")).to_have_text("Extension 70")
    expect(viewer.counter("ringing")).to_have_text("1")
    expect(page.locator(".empty")).to_be_hidden()

    send(http, server, events["CallConnect"])
    expect(call).to_have_class(state_class("connected"), timeout=EXPECT_MS)
    expect(call.locator(".call-state")).to_have_text("Talking")
    expect(viewer.counter("talking")).to_have_text("1")
    expect(viewer.counter("ringing")).to_have_text("0")

    timer = call.locator(".call-timer")
    expect(timer).to_have_text(TIMER)
    earlier = timer.inner_text()
    expect(timer).not_to_have_text(earlier, timeout=EXPECT_MS)
    expect(timer).to_have_text(TIMER)
    assert seconds(timer.inner_text()) > seconds(earlier), f"{earlier} -> {timer.inner_text()}"

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "wallboard-live-1920.png"))

    send(http, server, events["CallFinish"])
    finished_at = time.monotonic()
    expect(call).to_have_class(state_class("finished"), timeout=EXPECT_MS)
    expect(call.locator(".call-state")).to_have_text("Answered")
    expect(timer).to_have_text("0:04")  # the CDR's duration, no longer ticking
    expect(viewer.counter("live")).to_have_text("0")
    expect(viewer.counter("answered")).to_have_text("1")

    expect(call).to_have_count(0, timeout=EXPECT_MS)
    lingered = time.monotonic() - finished_at
    assert lingered >= LINGER_SECONDS - 0.5, f"removed after {lingered:.1f} s, before the linger"
    expect(page.locator(".empty")).to_be_visible()
    assert viewer.page_errors == [], viewer.page_errors


def test_second_viewer_gets_call_from_snapshot(
    open_viewer: OpenViewer, server: DashboardProcess, http: httpx.Client
) -> None:
    first = open_viewer()
    events = call_events(plan_call("9712345678", "41"))
    send(http, server, events["CallStart"])
    expect(first.call("97123 45678")).to_have_class(state_class("ringing"), timeout=EXPECT_MS)

    second = open_viewer()
    call = second.call("97123 45678")
    expect(call).to_have_class(state_class("ringing"), timeout=EXPECT_MS)
    expect(second.counter("ringing")).to_have_text("1")
    expect(second.counter("longest-wait").locator("time")).to_have_text(TIMER)
    # The socket's first message is the snapshot, and it holds the call ...
    second.page.wait_for_function("window.__frames.length > 0", timeout=EXPECT_MS)
    snapshot = second.frames()[0]
    assert 'id="live-calls"' in snapshot and 'data-number="9712345678"' in snapshot, snapshot
    # ... which replaced the server-rendered list instead of adding to it.
    expect(second.page.locator("#live-calls article.call")).to_have_count(1)
    expect(first.page.locator("#live-calls article.call")).to_have_count(1)
    assert first.page_errors == second.page_errors == []


def test_markup_in_the_number_is_shown_as_text(
    open_viewer: OpenViewer, server: DashboardProcess, http: httpx.Client
) -> None:
    # (markup as an extension is refused at the edge: tests/test_events.py)
    number = "<img src=x onerror=alert(1)><script>window.__pwned=1</script>"
    extension = "70"
    events = call_events(plan_call(number, extension))
    viewer = open_viewer()

    send(http, server, events["CallStart"])  # pushed: inserted by an out-of-band swap
    assert_shown_as_text(viewer, number, extension, "ringing")

    send(http, server, events["CallConnect"])  # pushed: replacing the call's element
    assert_shown_as_text(viewer, number, extension, "connected")

    viewer.page.reload()  # rendered by the server into the page, then by the snapshot
    expect(viewer.page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    assert_shown_as_text(viewer, number, extension, "connected")
    assert viewer.page_errors == [], viewer.page_errors


def test_new_ringing_call_is_announced(
    open_viewer: OpenViewer, server: DashboardProcess, http: httpx.Client
) -> None:
    viewer = open_viewer()
    send(http, server, call_events(plan_call("9612345678", "52"))["CallStart"])
    expect(viewer.call("96123 45678")).to_have_class(state_class("ringing"), timeout=EXPECT_MS)
    expect(viewer.page.locator("#announcer")).to_have_text("Ringing: 96123 45678", timeout=3000)


def assert_shown_as_text(viewer: Viewer, number: str, extension: str, state: str) -> None:
    page = viewer.page
    call = page.locator("#live-calls article.call")
    expect(call).to_have_count(1, timeout=EXPECT_MS)
    expect(call).to_have_class(state_class(state), timeout=EXPECT_MS)
    expect(call.locator(".call-number")).to_have_text(number)
    expect(call.locator(".call-extension")).to_have_text(f"Extension {extension}")
    expect(page.locator("main img, main script")).to_have_count(0)
    assert page.evaluate("typeof window.__pwned") == "undefined", "the number's script ran"
    assert viewer.dialogs == [], f"the number's onerror handler ran: {viewer.dialogs}"


def seconds(timer_text: str) -> int:
    total = 0
    for part in timer_text.split(":"):
        total = total * 60 + int(part)
    return total
