"""Real Chromium: a supervisor imports a spreadsheet's semicolon CSV; the list below the form
shows the new contacts at once, and a wallboard open all along names the next caller."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from dashboard.simulator.traffic import event_url
from tests.browser import ARTIFACTS, EXPECT_MS, LIVE, VIEWPORT, chromium, running_dashboard, sign_in
from tests.conftest import CALL_START
from tests.servers import DashboardProcess

pytestmark = pytest.mark.browser
PASSWORD = "a long test password"
HOSTILE = "<img src=x onerror=alert(1)>"
# As LibreOffice or Excel in a comma-decimal locale saves it: a BOM, semicolons, CRLF.
SPREADSHEET = f"\ufeffPhone;Full Name\r\n+91 98765 43210;Asha Rao\r\n98111 22233;{HOSTILE}\r\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DashboardProcess]:
    with running_dashboard(tmp_path, [("sup", "--role", "supervisor")], PASSWORD) as process:
        yield process


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_an_imported_name_shows_in_the_list_and_on_the_next_live_call(
    browser: Browser, server: DashboardProcess, tmp_path: Path
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    board = context.new_page()
    page_errors: list[str] = []
    board.on("pageerror", lambda error: page_errors.append(str(error)))
    board.goto(server.base_url + "/")
    sign_in(board, "sup", PASSWORD)
    expect(board.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)

    contacts = context.new_page()
    contacts.on("pageerror", lambda error: page_errors.append(str(error)))
    contacts.goto(server.base_url + "/contacts")
    listed = contacts.locator("#contact-list tbody tr")
    expect(listed).to_have_text(["No contacts yet."])
    (tmp_path / "people.csv").write_bytes(SPREADSHEET.encode())
    contacts.get_by_label("Import a CSV file").set_input_files(str(tmp_path / "people.csv"))
    contacts.get_by_role("button", name="Import", exact=True).click()
    expect(contacts.locator("#import-result")).to_have_text(
        "Imported: 2 added, 0 updated.", timeout=EXPECT_MS
    )
    expect(listed.locator("td:first-child")).to_have_text([HOSTILE, "Asha Rao"])  # as text
    expect(contacts.locator("#contact-total")).to_have_text("2")

    start = json.loads(CALL_START) | {
        "direction": "Incoming",
        "number": "919876543210",
        "uniqueid": f"{int(time.time())}.1",
    }
    answer = httpx.get(event_url(server.events_url, start), timeout=5.0, trust_env=False)
    assert answer.status_code == 200, answer.text
    call = board.locator("#live-calls article.call", has_text="91 98765 43210")
    expect(call.locator(".call-name")).to_have_text("Asha Rao", timeout=EXPECT_MS)
    tile_name = board.locator("#ext-70 .tile-caller")
    expect(tile_name).to_have_text("Asha Rao")
    # On its own line inside the tile, not pushed past its edge and clipped.
    inner, outer = tile_name.bounding_box(), board.locator("#ext-70").bounding_box()
    assert inner and outer and inner["width"] > 0
    assert outer["x"] <= inner["x"] and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
    assert page_errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    contacts.screenshot(path=str(ARTIFACTS / "contacts-imported-1920.png"), animations="disabled")
    board.screenshot(path=str(ARTIFACTS / "wallboard-named-call-1920.png"), animations="disabled")
    context.close()
