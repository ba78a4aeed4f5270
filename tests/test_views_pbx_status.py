"""/admin/pbxs: each PBX's health as an admin reads it (times in the dashboard's zone, the
clock's drift in plain words)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.settings import Settings
from dashboard.views.pbx_status import every
from tests.conftest import FakeClock, just_finished, send, sign_in


@pytest.fixture
def admin(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    """An admin's client; its PBX's API is not checked (no PBX answers here)."""
    with TestClient(create_app(settings, clock=clock)) as client:
        sign_in(client, "admin")
        yield client


def cells(page: str) -> list[str]:
    """The text of each cell of the PBXs' table's first row."""
    row = page.split("<tbody>")[1].split("</tr>")[0]
    found = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", " ", cell)).split() for cell in found]


def test_a_pbx_whose_clock_is_behind_reads_so_with_its_last_event_in_local_time(
    admin: TestClient, settings: Settings, clock: FakeClock
) -> None:
    clock.advance(0.4)  # the event arrives at 15:30:00.4, its end says 15:29:57
    send(admin, just_finished(clock.now - timedelta(seconds=3.4), settings.timezone))
    page = admin.get("/admin/pbxs").text
    assert "The PBXs' APIs are not checked (DASHBOARD_PBX_CHECK_SECONDS is 0)" in page
    assert [" ".join(words) for words in cells(page)] == [
        "synapse 192.168.1.51 · http://192.168.1.51",
        "not asked yet",
        "-",
        "27 Nov 15:30:00",
        "1",
        "0 / 0",
        "-",
        "3.4 s behind",
    ]


def test_a_pbx_that_sent_nothing_yet_has_no_last_event_nor_clock(admin: TestClient) -> None:
    assert [" ".join(words) for words in cells(admin.get("/admin/pbxs").text)][3:] == [
        "none yet",
        "0",
        "0 / 0",
        "-",
        "-",
    ]


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(60, "minute"), (300, "5 minutes"), (30, "30 s"), (90, "90 s"), (0, "")],
)
def test_how_often_the_api_is_checked_reads_as_people_say_it(seconds: float, said: str) -> None:
    assert every(seconds) == said
