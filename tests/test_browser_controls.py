"""Real-browser tests of acting on calls: a real dashboard and a real simulated Synapse, each
its own process, talking HTTP both ways; headless Chromium clicking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

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
    dashboard.port = free_port()
    # The PBX first: the dashboard's first look at it finds it answering, so no banner comes
    # (or goes, a minute later) above the board, moving the rows under the pointer.
    simulator = SimulatorProcess(tmp_path, pbx_port, dashboard.events_url)
    try:
        dashboard.start()
        dashboard.cli("user", "add", "sup", "--role", "supervisor", "--password", PASSWORD)
        dashboard.cli(
            "user", "add", "asha", "--role", "agent", "--extension", "70", "--password", PASSWORD
        )
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
    page.clock.install()  # running as ever; `settled` moves it on
    page.goto(dashboard.base_url + "/")
    sign_in(page, user, PASSWORD)
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    return page


def settled(page: Page) -> None:
    """Time enough for the rows to be where they are: a click on a row's command is ignored
    for half a second after the row came or moved (static/js/actions.js)."""
    page.clock.fast_forward(600)


def slow_pbx(simulator: SimulatorProcess, seconds: float) -> None:
    params = {"mode": "slow", "delay": str(seconds)}
    assert httpx.post(simulator.base_url + "/simulator/faults", params=params).status_code == 200


def test_a_supervisor_hangs_up_a_call_and_it_leaves_the_board(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    page = open_board(browser, dashboard, "sup")
    simulator.ring("52", "9812345678")
    call = page.locator("article.call", has_text="98123 45678")
    expect(call).to_have_class(state_class("ringing"), timeout=EXPECT_MS)
    settled(page)
    call.get_by_role("button", name="Hang up").click()
    expect(page.locator("#toasts")).to_contain_text(
        "Hang-up of the call with 98123 45678 sent to the PBX", timeout=EXPECT_MS
    )
    outcome = call.locator(".call-outcome")
    expect(outcome).to_have_text(
        "Hang-up of the call with 98123 45678 sent to the PBX"
    )  # in the row clicked too, read out once: by the toast
    expect(outcome).to_have_attribute("aria-hidden", "true")
    expect(page.locator("#toasts .toast").first).to_have_attribute("role", "status")
    expect(call).to_have_class(state_class("finished"), timeout=EXPECT_MS)
    expect(call.locator(".call-state")).to_have_text("Missed")
    assert any("Hangup" in query for query in simulator.commands())
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "hung-up-1920.png"), animations="disabled")


def originates(simulator: SimulatorProcess) -> list[str]:
    return [query for query in simulator.commands() if "Originate" in query]


def test_an_agent_calls_back_a_missed_caller_with_two_deliberate_presses(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    page = open_board(browser, dashboard, "asha")
    simulator.ring("70", "9823456789", ring=1, talk=0)  # the caller gives up after a second
    missed = page.locator("article.call.is-finished", has_text="98234 56789")
    expect(missed.locator(".call-state")).to_have_text("Missed", timeout=EXPECT_MS)
    missed.get_by_role("button", name="98234 56789").click()
    missed.get_by_role("button", name="Call 98234 56789 from 70?").click()
    expect(page.locator("#toasts")).to_contain_text(
        "Call to 98234 56789 from extension 70 sent to the PBX", timeout=EXPECT_MS
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
        "Call to 98765 43210 from extension 70 sent to the PBX", timeout=EXPECT_MS
    )
    expect(page.locator("#dial button")).to_be_enabled(timeout=EXPECT_MS)
    page.locator("#dial").get_by_role("button").click()  # a third press, at once: refused
    expect(page.locator("#toasts")).to_contain_text("not sent twice", timeout=EXPECT_MS)
    assert len(originates(simulator)) == 1, originates(simulator)


def the_missed_call(page: Page, number: str) -> Locator:
    """The row of the missed call from `number`, by its id: the call back to it has the same
    number, and may be finished too."""
    missed = page.locator("article.call.is-finished", has_text=number)
    expect(missed.locator(".call-state")).to_have_text("Missed", timeout=EXPECT_MS)
    return page.locator("#" + (missed.get_attribute("id") or ""))


def test_a_number_in_a_list_is_armed_by_one_press_and_never_dials_by_itself(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    page = open_board(browser, dashboard, "sup")
    page.locator("#dial-extension").fill("52")
    simulator.ring("46", "9845678901", ring=1, talk=0)
    call = the_missed_call(page, "98456 78901")
    number = call.locator("[data-dial]")
    number.click()  # a stray click arms, and says what a second press would do
    armed = call.get_by_role("button", name="Call 98456 78901 from 52?")
    expect(armed).to_have_class(state_class("armed"))
    page.keyboard.press("Escape")
    expect(number).not_to_have_class(state_class("armed"))
    expect(number).to_have_accessible_name("98456 78901")
    number.click()
    expect(armed).to_be_visible()
    page.locator("#live-title").click()  # a click elsewhere disarms too
    expect(number).to_have_accessible_name("98456 78901")
    number.focus()  # by keyboard: Enter arms, Enter again dials
    page.keyboard.press("Enter")
    expect(armed).to_be_focused()
    assert originates(simulator) == []
    page.keyboard.press("Enter")
    expect(page.locator("#toasts")).to_contain_text(
        "Call to 98456 78901 from extension 52 sent to the PBX", timeout=EXPECT_MS
    )
    assert len(originates(simulator)) == 1
    outgoing = page.locator('article.call[data-direction="outgoing"]', has_text="98456 78901")
    placed = outgoing.locator("[data-dial]")
    placed.click()
    expect(placed).to_have_accessible_name("Call 98456 78901 from 52?")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dial-armed.png"), animations="disabled")
    assert len(originates(simulator)) == 1


def test_a_double_click_on_an_armed_number_dials_once(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    page = open_board(browser, dashboard, "asha")
    simulator.ring("70", "9856789012", ring=1, talk=0)
    call = the_missed_call(page, "98567 89012")
    keys: list[str | None] = []
    page.on(
        "request",
        lambda request: (
            keys.append(request.headers.get("idempotency-key"))
            if request.url.endswith("/api/originate")
            else None
        ),
    )
    number = call.locator("[data-dial]")
    number.click()
    expect(number).to_have_class(state_class("armed"))
    number.dblclick()
    expect(page.locator("#toasts")).to_contain_text(
        "Call to 98567 89012 from extension 70 sent to the PBX", timeout=EXPECT_MS
    )
    expect(number).to_have_accessible_name("98567 89012", timeout=EXPECT_MS)  # idle, unarmed
    assert len(originates(simulator)) == 1, originates(simulator)
    assert len(keys) == 1 and keys[0], keys  # one request, with its action's key


def test_an_agent_transfers_to_a_free_colleague_picked_from_the_list(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    dashboard.cli(
        "user", "add", "ravi", "--role", "agent", "--extension", "46", "--password", PASSWORD
    )
    page = open_board(browser, dashboard, "asha")
    simulator.ring("47", "9867890123")  # 47 rings: busy
    simulator.ring("70", "9878901234")
    call = page.locator("article.call", has_text="98789 01234")
    expect(call).to_have_class(state_class("ringing"), timeout=EXPECT_MS)
    box = call.get_by_label("Transfer to an extension or a number")
    box.click()
    picks = call.locator(".tx-pick")
    expect(picks).to_have_text(["46 ravi Idle", "47 Ringing"], timeout=EXPECT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "transfer-list.png"), animations="disabled")
    box.fill("99")  # what is typed narrows the list
    expect(call.locator(".tx-none")).to_have_text("No extension here matches “99”.")
    box.fill("9")
    box.press("Enter")  # an extension that is not there: refused, in words
    expect(page.locator("#toasts")).to_contain_text(
        "There is no extension 9 here. Choose one from the list", timeout=EXPECT_MS
    )
    box.fill("")
    expect(picks).to_have_count(2, timeout=EXPECT_MS)
    box.press("ArrowDown")  # by keyboard: down into the list, Enter picks
    expect(picks.first).to_be_focused(timeout=EXPECT_MS)
    page.keyboard.press("Enter")
    expect(box).to_have_value("46")
    expect(call.get_by_role("button", name="Transfer")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#toasts")).to_contain_text(
        "Transfer to extension 46 (ravi) sent to the PBX", timeout=EXPECT_MS
    )
    transfers = [query for query in simulator.commands() if "Transfer" in query]
    assert len(transfers) == 1 and "%2246%22" in transfers[0], transfers


def test_on_a_touch_screen_two_taps_dial_and_an_armed_number_disarms_by_itself(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    page = phone.new_page()
    page.clock.install()  # the page's timers, moved on by the test
    page.goto(dashboard.base_url + "/")
    sign_in(page, "asha", PASSWORD)
    expect(page.locator("body")).to_have_class(LIVE, timeout=EXPECT_MS)
    simulator.ring("70", "9889012345", ring=1, talk=0)
    call = the_missed_call(page, "98890 12345")
    number = call.locator("[data-dial]")
    number.tap()
    expect(number).to_have_accessible_name("Call 98890 12345 from 70?")
    page.clock.fast_forward(6000)  # left armed: after 5 s it is a number again
    expect(number).to_have_accessible_name("98890 12345")
    number.tap()
    number.tap()
    expect(page.locator("#toasts")).to_contain_text(
        "Call to 98890 12345 from extension 70 sent to the PBX", timeout=EXPECT_MS
    )
    assert len(originates(simulator)) == 1


def test_a_command_to_a_slow_pbx_says_it_is_working_and_cannot_be_sent_twice(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    page = open_board(browser, dashboard, "sup")
    simulator.ring("52", "9812345601")
    call = page.locator("article.call", has_text="98123 45601")
    expect(call).to_have_class(state_class("ringing"), timeout=EXPECT_MS)
    hang_up, transfer = call.locator(".act-hangup"), call.locator(".act-transfer button")
    slow_pbx(simulator, 3)
    call.get_by_label("Transfer to an extension or a number").fill("70")
    settled(page)
    transfer.focus()
    page.keyboard.press("Enter")  # from the keyboard: the focus stays where it was
    expect(transfer).to_have_text("Transferring…")
    expect(transfer).to_be_disabled()
    expect(transfer).to_be_focused()
    expect(hang_up).to_be_disabled()  # the row's other command waits too
    expect(hang_up).to_have_text("Hang up")
    transfer.click(force=True)  # pressed again, and again: nothing
    hang_up.click(force=True)
    expect(page.locator("#toasts")).to_contain_text(
        "Transfer to extension 70 (asha) sent to the PBX", timeout=EXPECT_MS
    )
    expect(transfer).to_have_text("Transfer")
    expect(transfer).to_be_enabled()
    moved = page.locator("article.call", has_text="98123 45601")
    expect(moved.locator(".call-extension")).to_have_text("Extension 70", timeout=EXPECT_MS)
    settled(page)
    moved.locator(".act-hangup").click()
    expect(moved.locator(".act-hangup")).to_have_text("Hanging up…")
    expect(moved.locator(".act-hangup")).to_be_disabled()
    expect(moved.locator(".act-transfer button")).to_be_disabled()
    expect(page.locator("#toasts")).to_contain_text(
        "Hang-up of the call with 98123 45601 sent to the PBX", timeout=EXPECT_MS
    )
    sent = [query for query in simulator.commands() if "Hangup" in query or "Transfer" in query]
    assert [("Hangup" in query, "Transfer" in query) for query in sent] == [
        (False, True),
        (True, False),
    ], sent


def test_a_click_on_a_row_that_just_moved_under_the_pointer_does_nothing(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    page = open_board(browser, dashboard, "sup")
    asked: list[str] = []
    page.on("dialog", lambda dialog: asked.append(dialog.message))
    simulator.ring("52", "9812300001", ring=0.5, talk=600)
    talking = page.locator("article.call", has_text="98123 00001")
    expect(talking).to_have_class(state_class("connected"), timeout=EXPECT_MS)
    settled(page)
    box = talking.locator(".act-hangup").bounding_box()
    assert box is not None
    spot = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    simulator.ring("53", "9812300002")  # ringing: it goes above the call talking
    page.wait_for_function(
        "() => document.querySelector('article.call')?.textContent.includes('98123 00002')",
        polling=10,
    )
    page.mouse.click(*spot)  # aimed at the call talking, landing on the one just come
    ringing = page.locator("article.call", has_text="98123 00002")
    expect(ringing.locator(".call-outcome")).to_have_text(
        "The list moved as you clicked, so nothing was done: click again if this is the call."
    )
    # No toast says it: the row's words are read out (a live region, not hidden).
    expect(ringing.locator(".call-outcome")).not_to_have_attribute("aria-hidden", "true")
    assert asked == []
    assert [query for query in simulator.commands() if "Hangup" in query] == []
    settled(page)
    page.mouse.click(*spot)  # still, a click is a click
    expect(page.locator("#toasts")).to_contain_text(
        "Hang-up of the call with 98123 00002 sent to the PBX", timeout=EXPECT_MS
    )
    assert asked == ["Hang up the call with 98123 00002?"]


ROW_TOPS = (
    "() => [...document.querySelectorAll('#live-calls article.call')].map((r) => r.offsetTop)"
)


def test_a_command_out_while_its_row_is_redrawn_ends_with_its_answer_and_nothing_else_moves(
    browser: Browser, pbx_and_dashboard: tuple[SimulatorProcess, DashboardProcess]
) -> None:
    simulator, dashboard = pbx_and_dashboard
    page = open_board(browser, dashboard, "sup")
    simulator.ring("53", "9812345611", ring=600)
    simulator.ring("52", "9812345612", ring=1.5, talk=600)  # answered while its command is out
    call = page.locator("article.call", has_text="98123 45612")
    expect(call).to_have_class(state_class("ringing"), timeout=EXPECT_MS)
    expect(page.locator("#live-calls article.call")).to_have_count(2)
    settled(page)
    tops = page.evaluate(ROW_TOPS)
    slow_pbx(simulator, 3)
    transfer = call.locator(".act-transfer button")
    call.get_by_label("Transfer to an extension or a number").fill("70")
    transfer.focus()
    page.keyboard.press("Enter")
    expect(transfer).to_have_text("Transferring…")
    expect(call).to_have_class(state_class("connected"), timeout=EXPECT_MS)  # redrawn
    # The PBX's answer, under the row: told by the request, though its row was replaced.
    outcome = call.locator(".call-outcome")
    expect(outcome).to_have_text(
        "Transfer to extension 70 (asha) sent to the PBX", timeout=EXPECT_MS
    )
    expect(transfer).to_have_text("Transfer")
    expect(transfer).to_be_enabled()
    assert page.evaluate(ROW_TOPS) == tops  # the outcome moved no row
