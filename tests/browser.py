"""Shared by the real-browser tests: headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from dashboard.simulator.traffic import event_url
from tests.servers import DashboardProcess

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying the (closed) internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT: ViewportSize = {"width": 1920, "height": 1080}
EXPECT_MS = 10_000
LIVE = re.compile(r"\bis-live\b")


@contextmanager
def running_dashboard(
    tmp_path: Path, users: Sequence[Sequence[str]], password: str, **env: str
) -> Iterator[DashboardProcess]:
    """A real dashboard for a browser test, with its users (`name, --role, role, ...`), its
    output printed once it has stopped."""
    process = DashboardProcess(tmp_path, **env)
    process.start()
    try:
        for user in users:
            process.cli("user", "add", *user, "--password", password)
        yield process
    finally:
        process.stop()
        print("--- dashboard ---", process.log(), sep="\n")


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it (apt-get install chromium)")
    # Playwright's 5 s default was too short on a loaded machine (the suite's two workers)
    # for a page to show what a test had sent it: every expectation waits EXPECT_MS.
    expect.set_options(timeout=EXPECT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def sign_in(page: Page, user: str, password: str) -> None:
    """Every page starts at the sign-in form, which leads back to where it was going."""
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def state_class(state: str) -> re.Pattern[str]:
    return re.compile(rf"\bis-{state}\b")


_uniqueids = itertools.count(1)


def ring(
    server: DashboardProcess,
    number: str,
    extension: str,
    *,
    answered: bool = False,
    uniqueid: str = "",
    **fields: str,
) -> str:
    """A call from `number` ringing at `extension` (answered: talking), as the PBX tells it,
    with channels of its own; its uniqueid (a new one unless given). `fields` adds to its
    events (times, say)."""
    uniqueid = uniqueid or f"1795000000.{next(_uniqueids)}"
    event = {
        "asteriskhost": "127.0.0.1",
        "direction": "Incoming",
        "number": number,
        "extension": extension,
        "uniqueid": uniqueid,
        "hangupchannel": f"SIP/{extension}-{uniqueid}",
        "redirectchannel": f"DAHDI/{uniqueid}",
        **fields,
    }
    for kind in ("CallStart", "CallConnect") if answered else ("CallStart",):
        response = httpx.get(event_url(server.events_url, event | {"event": kind}))
        assert response.status_code == 200, response.text
    return uniqueid
