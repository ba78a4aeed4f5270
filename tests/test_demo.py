"""`dashboard demo`, as `make run` starts it: live traffic from one or two simulated PBXs,
even when the port after the dashboard's is taken; restarted, it goes on with its calls and
its sign-ins."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dashboard.simulator.server import ACTIONS_PATH
from tests.servers import free_port
from tests.waiting import wait_until


class Demo:
    def __init__(self, workdir: Path, port: int, *args: str, log: str = "demo.log") -> None:
        self.log_path = workdir / log
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHBOARD_", "SYNAPSE_"))}
        env.update(DASHBOARD_DB=str(workdir / "demo.db"), PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "demo", "--port", str(port), *args],
            cwd=workdir,
            env=env,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the demo and its simulators, stopped together
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sign_in(self, role: str) -> None:
        wait_until(lambda: len(self.sign_ins()) == 4, 60, "the demo's sign-ins, once it serves")
        found = re.search(rf"{role}\s+user (\S+)\s+password (\S+)", self.log())
        assert found is not None, self.log()
        form = self.http.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        signed = self.http.post(
            "/login", data={"name": found[1], "password": found[2], "csrf_token": token[1]}
        )
        assert signed.status_code in (200, 303), signed.text

    def sign_ins(self) -> list[tuple[str, str, str]]:
        return re.findall(r"(\w+)\s+user (\S+)\s+password (\S+)", self.log())

    def simulator_url(self) -> str:
        found = re.search(r"answers on (http://\S+);", self.log())
        assert found is not None, self.log()
        return found[1]

    def live_calls(self) -> dict[str, str]:
        """The calls the board shows live: their hangup channels, by uniqueid."""
        calls = self.http.get("/api/calls/active").json()["calls"]
        return {call["uniqueid"]: call["hangupchannel"] for call in calls}

    def live_at_the_pbx(self) -> set[str]:
        answer = httpx.get(self.simulator_url() + "/simulator/commands", timeout=5)
        return set(answer.json()["live_calls"])

    def hang_up(self, channel: str) -> int:
        action = json.dumps({"action": "Hangup", "hangupchannel": channel})
        params = {"actiondetails": action}
        answer = httpx.get(self.simulator_url() + ACTIONS_PATH, params=params, timeout=5)
        return answer.status_code

    def hosts_on_the_board(self) -> set[str]:
        calls = self.http.get("/api/calls/active").json()["calls"]
        return {call["host"] for call in calls}

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(20)
        self.http.close()


@pytest.fixture
def port_before_a_taken_one() -> Iterator[int]:
    """A free port whose next port something else already listens on."""
    port = free_port()
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", port + 1))
        holder.listen()
    except OSError:
        pass  # taken already: as good
    yield port
    holder.close()


def test_a_demo_of_two_offices_comes_up_live_though_the_next_port_is_taken(
    tmp_path: Path, port_before_a_taken_one: int
) -> None:
    demo = Demo(tmp_path, port_before_a_taken_one, "--sites", "2")
    try:
        demo.sign_in("supervisor")
        wait_until(lambda: demo.hosts_on_the_board() == {"10.0.0.1", "10.0.0.2"}, 60, "calls")
        pbxs = demo.http.get("/api/pbxs").json()["pbxs"]
        assert [(p["name"], p["api_ok"]) for p in pbxs] == [("head-office", True), ("branch", True)]
        urls = [p["url"] for p in pbxs]
        assert f"http://127.0.0.1:{port_before_a_taken_one + 1}" not in urls
        assert not re.search(r"error|traceback", demo.log(), re.IGNORECASE), demo.log()
    finally:
        demo.stop()


def port_and_next_free() -> int:
    """A port below the ephemeral range (no outgoing connection takes it, or the next one,
    the simulator's, between the test's choice and the servers' start)."""
    for port in range(21_000, 32_000, 7):
        with socket.socket() as one, socket.socket() as next_one:
            try:
                one.bind(("127.0.0.1", port))
                next_one.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two free ports in a row below 32000")


def test_a_restarted_demo_goes_on_with_the_calls_the_board_shows_and_its_sign_ins(
    tmp_path: Path,
) -> None:
    port = port_and_next_free()
    first = Demo(tmp_path, port, log="first.log")
    try:
        first.sign_in("supervisor")
        wait_until(lambda: len(first.live_calls()) >= 2, 60, "two live calls")
        before = first.live_calls()
    finally:
        first.stop()
    second = Demo(tmp_path, port, log="second.log")
    try:
        second.sign_in("supervisor")
        assert second.sign_ins() == first.sign_ins() and len(first.sign_ins()) == 4
        log = second.log()
        assert log.index("Uvicorn running on") < log.index("Demo: open"), log

        def not_forgotten() -> bool:  # every call of before still on the board is live there
            shown = set(before) & set(second.live_calls())
            return shown <= second.live_at_the_pbx()

        wait_until(not_forgotten, 30, "the new simulator to have the board's calls")
        answers = {second.hang_up(before[uid]) for uid in set(before) & second.live_at_the_pbx()}
        assert answers <= {200, 404}  # 404: it ended by itself meanwhile
        wait_until(lambda: not set(before) & set(second.live_calls()), 30, "the calls to end")
        assert not re.search(r"error|traceback", log, re.IGNORECASE), log
    finally:
        second.stop()
