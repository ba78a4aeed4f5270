"""`dashboard doctor` against a real simulated PBX and a real serving dashboard: a good
set-up passes, and each thing a new user gets wrong is named with what to fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.responses import HTMLResponse

from dashboard.app import create_app
from dashboard.auth import Accounts
from dashboard.cli import main
from dashboard.doctor import agents_placed
from dashboard.pbx_config import PBXConfig
from dashboard.settings import Settings
from dashboard.simulator.pbx import SimulatedPBX
from dashboard.simulator.server import create_simulator_app
from dashboard.simulator.traffic import Traffic
from dashboard.store import Store
from tests.servers import ThreadedServer, free_port

TOKEN = "a-long-event-token-for-the-doctor"


async def nowhere(event: dict[str, str]) -> None:
    """The simulator's own traffic is not used here."""


@dataclass
class SetUp:
    pbx: ThreadedServer
    dashboard: ThreadedServer
    db: Path

    def call_heard(self, pbx_wall_clock: ZoneInfo) -> None:
        """A call the dashboard heard of now, its start time written by the PBX's clock."""
        wall = datetime.now(UTC).astimezone(pbx_wall_clock).strftime("%Y-%m-%d %H:%M:%S")
        event = {"event": "CallStart", "uniqueid": "1.1", "extension": "70", "starttime": wall}
        url = f"{self.dashboard.base_url}/synapse/events/{TOKEN}"
        assert httpx.get(url, params={"data": json.dumps(event)}).status_code == 200


@pytest.fixture
def set_up(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SetUp]:
    allowed = getattr(request, "param", ["127.0.0.1"])
    simulated = SimulatedPBX(nowhere, tz=ZoneInfo("UTC"), traffic=Traffic(seed=1))
    db = tmp_path / "doctor.db"
    with ThreadedServer(create_simulator_app(simulated, allowed)) as pbx:
        settings = Settings(
            db_path=str(db),
            synapse_url=pbx.base_url,
            synapse_event_token=TOKEN,
            pbx_check_seconds=0,
        )
        with ThreadedServer(create_app(settings)) as dashboard:
            yield SetUp(pbx, dashboard, db)


def doctor(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    set_up: SetUp,
    dashboard_url: str | None = None,
    **env: str,
) -> tuple[int, list[str]]:
    monkeypatch.chdir(set_up.db.parent)  # no .env of the checkout's
    settings = {
        "DASHBOARD_DB": str(set_up.db),
        "SYNAPSE_URL": set_up.pbx.base_url,
        "SYNAPSE_EVENT_TOKEN": TOKEN,
        "SYNAPSE_TIMEZONE": "UTC",
        **env,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    code = main(["doctor", "--url", dashboard_url or set_up.dashboard.base_url])
    return code, capsys.readouterr().out.splitlines()


def verdicts(lines: list[str]) -> list[str]:
    return [
        line.split("]")[0] + "] " + line.split(": ")[1] for line in lines if line.startswith("[")
    ]


def test_a_good_set_up_passes(
    set_up: SetUp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_up.call_heard(ZoneInfo("UTC"))
    code, lines = doctor(monkeypatch, capsys, set_up)
    assert verdicts(lines) == [
        "[ok  ] its API",
        "[ok  ] our commands",
        "[ok  ] Remote APP URL",
        "[ok  ] the Remote APP URL reaches this dashboard",
        "[ok  ] its times, read in UTC",
    ], lines
    assert (
        f"[ok  ] synapse: Remote APP URL: {set_up.dashboard.base_url}/synapse/events/{TOKEN}"
        in lines
    )
    assert (code, lines[-1]) == (0, "All good.")


def test_no_call_yet_is_not_a_failure_but_is_said(
    set_up: SetUp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = doctor(monkeypatch, capsys, set_up)
    assert "[--  ] synapse: its times, read in UTC: no call from it in the last week" in lines[4]
    assert code == 0


@pytest.mark.parametrize("set_up", [["10.9.9.9"]], indirect=True)
def test_a_pbx_that_does_not_take_our_commands_is_named(
    set_up: SetUp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = doctor(monkeypatch, capsys, set_up)
    assert lines[1].startswith("[FAIL] synapse: our commands: The PBX at http://127.0.0.1:")
    assert lines[1].endswith(
        "add this machine's address to Synapse's API Settings → Allowed IP List"
    )
    assert lines[0].endswith(
        "HTTP 403: add this machine's address to Synapse's API Settings → Allowed IP List"
    )
    assert (code, lines[-1]) == (1, "2 to fix."), lines


def test_each_bad_set_up_is_named(
    set_up: SetUp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_up.call_heard(ZoneInfo("Asia/Kolkata"))  # the PBX's clock is Kolkata's: we read UTC
    code, lines = doctor(monkeypatch, capsys, set_up, SYNAPSE_EVENT_TOKEN="not-the-token")
    assert lines[3] == (
        "[FAIL] synapse: the Remote APP URL reaches this dashboard: it refused the token:"
        " is the URL pasted whole?"
    )
    assert lines[4].startswith("[FAIL] synapse: its times, read in UTC: its calls start +5.5 h")
    assert code == 1
    dead = f"http://127.0.0.1:{free_port()}"
    code, lines = doctor(monkeypatch, capsys, set_up, dead, SYNAPSE_URL=dead)
    assert lines[0].startswith(f"[FAIL] synapse: its API: Could not reach the PBX at {dead}")
    assert lines[1].startswith(f"[FAIL] synapse: our commands: Could not reach the PBX at {dead}")
    assert lines[3].startswith(
        f"[FAIL] synapse: the Remote APP URL reaches this dashboard: could not reach {dead}"
    )
    assert (code, lines[-1]) == (1, "4 to fix.")


def test_a_web_page_where_the_pbx_api_should_be_is_named(
    set_up: SetUp,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def login_page(scope: Any, receive: Any, send: Any) -> None:
        page = HTMLResponse("<html><body>Please sign in</body></html>")
        await page(scope, receive, send)

    with ThreadedServer(login_page) as web_gui:
        code, lines = doctor(monkeypatch, capsys, set_up, SYNAPSE_URL=web_gui.base_url)
    assert lines[0].startswith("[FAIL] synapse: its API: cdr.php answered, but not with call")
    assert code == 1


def test_with_several_pbxs_an_agent_whose_extension_none_owns_is_named(
    settings: Settings,
) -> None:
    head = PBXConfig(name="head-office", url="http://head", host="10.0.0.1", extensions=("70",))
    branch = PBXConfig(name="Branch", url="http://branch", host="10.0.0.2", extensions=("46",))
    wired = settings.with_changes(pbx_configs=(head, branch), config_path="/etc/dashboard.toml")
    assert [check.line() for check in agents_placed(wired)] == [
        "[ok  ] users: agents' extensions: each agent's is one PBX's"  # no database yet
    ]
    store = Store.open(wired.db_path)
    accounts = Accounts(store.db, kdf_n=2**10)
    for name, role, extension in (
        ("asha", "agent", "70"),
        ("ravi", "agent", "99"),
        ("sam", "supervisor", None),
    ):
        accounts.add_user(name, role, "correct horse battery", extension)
    store.close()
    assert [check.line() for check in agents_placed(wired)] == [
        "[FAIL] users: agents' extensions: ravi has extension 99, which no PBX owns: they see"
        " no call until it is in one PBX's extensions in /etc/dashboard.toml"
    ]
    assert agents_placed(settings) == []  # one PBX has every extension
