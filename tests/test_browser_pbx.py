"""A PBX that stops answering, seen in real Chromium: the board says so in a banner naming
the PBX, and the banner goes by itself when the PBX is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import ARTIFACTS, EXPECT_MS, LIVE, VIEWPORT, chromium, sign_in
from tests.servers import DashboardProcess, SimulatorProcess, free_port

pytestmark = pytest.mark.browser
PASSWORD = "a long test password"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_a_pbx_that_stops_answering_is_named_on_the_board_until_it_is_back(
    browser: Browser, tmp_path: Path
) -> None:
    pbx_port = free_port()
    dashboard = DashboardProcess(
        tmp_path, SYNAPSE_URL=f"http://127.0.0.1:{pbx_port}", DASHBOARD_PBX_CHECK_SECONDS="0.5"
    )
    dashboard.start()
    simulator = SimulatorProcess(tmp_path, pbx_port, dashboard.events_url)
    try:
        dashboard.cli("user", "add", "sup", "--role", "supervisor", "--password", PASSWORD)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(dashboard.base_url + "/")
        sign_in(page, "sup", PASSWORD)
        expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
        banner = page.locator("#pbx-banner")
        expect(banner).to_be_hidden()
        simulator.stop()  # the PBX goes away
        expect(banner).to_be_visible(timeout=EXPECT_MS)
        expect(banner).to_contain_text("PBX synapse is not answering since")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "pbx-not-answering-1920.png"), animations="disabled")
        simulator = SimulatorProcess(tmp_path, pbx_port, dashboard.events_url)  # it is back
        expect(banner).to_be_hidden(timeout=EXPECT_MS)
    finally:
        simulator.stop()
        dashboard.stop()
