"""`dashboard demo`, as `make run` starts it: live traffic from one or two simulated PBXs,
even when the port after the dashboard's is taken."""

from __future__ import annotations

import contextlib
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

from tests.servers import free_port
from tests.waiting import wait_until


class Demo:
    def __init__(self, workdir: Path, port: int, *args: str) -> None:
        self.log_path = workdir / "demo.log"
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

    def answers(self) -> bool:
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def sign_in(self, role: str) -> None:
        wait_until(self.answers, 60, "the demo's start")
        found = re.search(rf"{role}\s+user (\S+)\s+password (\S+)", self.log())
        assert found is not None, self.log()
        form = self.http.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        signed = self.http.post(
            "/login", data={"name": found[1], "password": found[2], "csrf_token": token[1]}
        )
        assert signed.status_code in (200, 303), signed.text

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
