"""The admin screens in real Chromium: an admin adds a user (who signs in with the password
made for them) and changes a threshold, which an open wallboard takes at once, unreloaded."""

from __future__ import annotations

import re
from collections.abc import Iterator
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


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DashboardProcess]:
    with running_dashboard(
        tmp_path,
        [("root", "--role", "admin"), ("sup", "--role", "supervisor")],
        PASSWORD,
        DASHBOARD_EXTENSIONS="40-49",
        DASHBOARD_RING_WARN_SECONDS="600",  # a ringing call stays as it is until changed
        DASHBOARD_RING_ALERT_SECONDS="1200",
    ) as process:
        yield process


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_an_admin_adds_a_user_and_changes_a_threshold(
    browser: Browser, server: DashboardProcess
) -> None:
    ring(server, "9811122233", "41")
    board = browser.new_context(viewport=VIEWPORT).new_page()
    board.goto(server.base_url + "/")
    sign_in(board, "sup", PASSWORD)
    expect(board.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    timer = board.locator("#ext-41 .tile-timer")
    expect(timer).to_have_attribute("data-warn", "600.0")  # as configured

    admin = browser.new_context(viewport=VIEWPORT).new_page()
    admin.goto(server.base_url + "/admin/users")
    sign_in(admin, "root", PASSWORD)
    admin.get_by_label("Name").fill("asha")
    admin.locator("#add-role").select_option("agent")
    admin.get_by_label("Extension", exact=True).fill("42")
    admin.get_by_role("button", name="Add user").click()
    expect(admin.get_by_role("status")).to_have_text("Added asha (agent, extension 42).")
    made = admin.locator("#new-password").input_value()
    assert re.fullmatch(r"[\w-]{16}", made)
    expect(admin.locator('tr[data-user="asha"] .user-state')).to_contain_text("Active")
    ARTIFACTS.mkdir(exist_ok=True)
    admin.screenshot(path=str(ARTIFACTS / "admin-users-1920.png"), full_page=True)

    agent = browser.new_context(viewport=VIEWPORT).new_page()
    agent.goto(server.base_url + "/")
    sign_in(agent, "asha", made)
    expect(agent.locator(".nav-user")).to_contain_text("asha")
    agent.context.close()

    admin.goto(server.base_url + "/admin/settings")
    thresholds = admin.get_by_role("form", name="Thresholds")
    thresholds.locator('input[name="ring_warn"]').fill("1")
    thresholds.locator('input[name="ring_alert"]').fill("2")
    thresholds.get_by_role("button", name="Save thresholds").click()
    expect(admin.get_by_role("status")).to_have_text("Thresholds saved: every board uses them now.")
    admin.screenshot(path=str(ARTIFACTS / "admin-settings-1920.png"), full_page=True)

    # The board, never reloaded, has the new limits and the ringing call is past them.
    expect(timer).to_have_attribute("data-warn", "1", timeout=EXPECT_MS)
    expect(timer).to_have_class(state_class("alert"), timeout=EXPECT_MS)
    expect(board.locator("article.call .call-timer")).to_have_attribute("data-alert", "2")
