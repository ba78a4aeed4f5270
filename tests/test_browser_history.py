"""Real Chromium on the history: a recording plays, and seeks at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import ARTIFACTS, EXPECT_MS, VIEWPORT, chromium, sign_in
from tests.servers import DashboardProcess, SimulatorProcess, free_port

pytestmark = pytest.mark.browser
PASSWORD = "a long test password"


@pytest.fixture
def pbx_and_dashboard(tmp_path: Path) -> Iterator[tuple[SimulatorProcess, DashboardProcess]]:
    pbx_port = free_port()
    dashboard = DashboardProcess(tmp_path, SYNAPSE_URL=f"http://127.0.0.1:{pbx_port}")
    dashboard.start()
    dashboard.cli("user", "add", "sup", "--role", "supervisor", "--password", PASSWORD)
    simulator = SimulatorProcess(tmp_path, pbx_port, dashboard.events_url)
    try:
        yield simulator, dashboard
    finally:
        simulator.stop()
        dashboard.stop()
        print("--- dashboard ---", dashboard.log(), sep="\n")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_a_recording_plays_and_seeks_in_the_history(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    simulator.ring("41", "9855566677", ring=0.2, talk=8)
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(dashboard.base_url + "/calls?period=today")
    sign_in(page, "sup", PASSWORD)
    # The simulated call talks for 8 s; then its CDR, with the recording, reaches the history.
    deadline = time.monotonic() + 20
    row = page.locator("tr", has_text="98555 66677")
    while not row.locator("[data-player]").count():
        assert time.monotonic() < deadline, "the call never reached the history"
        time.sleep(0.5)  # polling a condition (the call ending), with a deadline
        page.reload()
    player = row.locator("[data-player]")
    expect(player.locator("[data-player-total]")).to_have_text("0:08")
    player.get_by_role("button", name="Play").click()
    audio = player.locator("audio")
    page.wait_for_function(
        "a => a.currentTime > 0.2 && !a.paused", arg=audio.element_handle(), timeout=EXPECT_MS
    )
    seek = player.locator("[data-player-seek]")
    seek.fill("6")  # the slider: straight to 0:06, which needs a Range request to the PBX
    page.wait_for_function(
        "a => a.currentTime >= 5.9", arg=audio.element_handle(), timeout=EXPECT_MS
    )
    expect(player.locator("[data-player-elapsed]")).to_have_text("0:06", timeout=EXPECT_MS)
    player.get_by_role("button", name="Back 10 seconds").click()
    page.wait_for_function("a => a.currentTime < 2", arg=audio.element_handle(), timeout=EXPECT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "history-player-1920.png"), animations="disabled")
