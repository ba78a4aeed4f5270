"""Real-browser tests of acting on calls: a real dashboard and a real simulated Synapse, each
its own process, talking HTTP both ways; headless Chromium clicking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import ARTIFACTS, EXPECT_MS, LIVE, VIEWPORT, chromium, sign_in, state_class
from tests.servers import DashboardProcess, SimulatorProcess, free_port

pytestmark = pytest.mark.browser
PASSWORD = "a long test password"


@pytest.fixture
def pbx_and_dashboard(tmp_path: Path) -> Iterator[tuple[SimulatorProcess, DashboardProcess]]:
    pbx_port = free_port()
    dashboard = DashboardProcess(
        tmp_path, SYNAPSE_URL=f"http://127.0.0.1:{pbx_port}", DASHBOARD_FINISHED_LINGER="30"
    )
    dashboard.start()
    dashboard.cli("user", "add", "sup", "--role", "supervisor", "--password", PASSWORD)
    dashboard.cli(
        "user", "add", "asha", "--role", "agent", "--extension", "70", "--password", PASSWORD
    )
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


def open_board(browser: Browser, dashboard: DashboardProcess, user: str) -> Page:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # "Hang up the call with ...?"
    page.goto(dashboard.base_url + "/")
    sign_in(page, user, PASSWORD)
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    return page


def test_a_supervisor_hangs_up_a_call_and_it_leaves_the_board(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    page = open_board(browser, dashboard, "sup")
    simulator.ring("52", "9812345678")
    call = page.locator("article.call", has_text="98123 45678")
    expect(call).to_have_class(state_class("ringing"), timeout=EXPECT_MS)
    call.get_by_role("button", name="Hang up").click()
    expect(page.locator("#toasts")).to_contain_text("Hang-up sent to the PBX", timeout=EXPECT_MS)
    expect(call).to_have_class(state_class("finished"), timeout=EXPECT_MS)
    expect(call.locator(".call-state")).to_have_text("Missed")
    assert any("Hangup" in query for query in simulator.commands())
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "hung-up-1920.png"), animations="disabled")


def test_an_agent_calls_back_a_missed_caller_with_one_click(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    page = open_board(browser, dashboard, "asha")
    simulator.ring("70", "9823456789", ring=1, talk=0)  # the caller gives up after a second
    missed = page.locator("article.call.is-finished", has_text="98234 56789")
    expect(missed.locator(".call-state")).to_have_text("Missed", timeout=EXPECT_MS)
    missed.get_by_role("button", name="98234 56789").click()
    expect(page.locator("#toasts")).to_contain_text(
        "Calling 9823456789 from extension 70", timeout=EXPECT_MS
    )
    callback = page.locator("article.call.is-ringing", has_text="98234 56789")
    expect(callback).to_have_attribute("data-direction", "outgoing", timeout=EXPECT_MS)
    expect(callback.locator(".call-extension")).to_have_text("Extension 70")


def test_an_incoming_call_pops_up_for_the_agent_it_rings(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    dashboard.cli(
        "user", "add", "ravi", "--role", "agent", "--extension", "46", "--password", PASSWORD
    )
    asha = open_board(browser, dashboard, "asha")
    ravi = open_board(browser, dashboard, "ravi")
    simulator.ring("70", "9834567890")
    popup = asha.locator("[data-popup]")
    expect(popup).to_have_count(1, timeout=EXPECT_MS)
    expect(popup.locator(".popup-number")).to_have_text("98345 67890")
    expect(popup).to_contain_text("Ringing · extension 70")
    expect(popup).to_contain_text("First call from this number")
    expect(ravi.locator("article.call")).to_have_count(0)
    expect(ravi.locator("[data-popup]")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    asha.screenshot(path=str(ARTIFACTS / "popup-1920.png"), animations="disabled")
    popup.get_by_role("button", name="Dismiss").click()
    expect(popup).to_have_count(0)


def test_a_double_click_on_call_dials_once(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    page = open_board(browser, dashboard, "asha")
    page.locator("#dial-number").fill("98765 43210")
    page.locator("#dial").get_by_role("button").dblclick()
    expect(page.locator("#toasts")).to_contain_text(
        "Calling 9876543210 from extension 70", timeout=EXPECT_MS
    )
    expect(page.locator("#dial button")).to_be_enabled(timeout=EXPECT_MS)
    page.locator("#dial").get_by_role("button").click()  # a third press, at once: refused
    expect(page.locator("#toasts")).to_contain_text("not sent twice", timeout=EXPECT_MS)
    originates = [query for query in simulator.commands() if "Originate" in query]
    assert len(originates) == 1, originates
