"""The wheel, as a PBX owner installs it: built from the checkout, installed into a fresh
virtualenv outside it, serving its pages and every asset they link, from any directory."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `dashboard` command of a fresh virtualenv that has only the wheel (and its deps)."""
    where = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(where), "."],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    [wheel] = where.glob("synapse_dashboard-*.whl")
    venv.create(where / "venv", with_pip=True)
    python = where / "venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True, timeout=600
    )
    return where / "venv" / "bin" / "dashboard"


class Running:
    def __init__(self, command: list[str], workdir: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHBOARD_", "SYNAPSE_"))}
        env["PYTHONUNBUFFERED"] = "1"
        self.log = workdir / "out.log"
        self.process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
        wait_until(self.answers, 60, "the installed dashboard to answer")

    def answers(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def assets_of(self, path: str) -> dict[str, int]:
        page = self.http.get(path)
        assert page.status_code == 200, page.text
        linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
        assert linked, page.text
        return {asset: self.http.get(asset).status_code for asset in linked}

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(20)
        self.http.close()


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A directory with nothing of the checkout in it."""
    assert not (tmp_path / "templates").exists()
    return tmp_path


def test_the_installed_demo_serves_its_pages_and_every_asset(
    installed: Path, elsewhere: Path
) -> None:
    port = free_port()
    demo = Running([str(installed), "demo", "--port", str(port)], elsewhere, port)
    try:
        assets = demo.assets_of("/login")
        assert set(assets.values()) == {200}, assets
        assert "/static/vendor/htmx.min.js" in assets
        sign_in = re.compile(r"supervisor\s+user (\S+)\s+password (\S+)")
        # The demo prints its sign-ins once it answers: a moment after /healthz does.
        wait_until(lambda: sign_in.search(demo.log.read_text()), 30, "the demo's sign-ins")
        found = sign_in.search(demo.log.read_text())
        assert found is not None
        form = demo.http.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        demo.http.post(
            "/login", data={"name": found[1], "password": found[2], "csrf_token": token[1]}
        )
        board = demo.assets_of("/")
        assert set(board.values()) == {200} and "/static/vendor/ws.js" in board, board
    finally:
        demo.stop()


def test_the_installed_server_serves_from_any_directory(installed: Path, elsewhere: Path) -> None:
    port = free_port()
    command = [str(installed), "serve", "--port", str(port), "--allow-open-events"]
    served = Running(command, elsewhere, port)
    try:
        assert set(served.assets_of("/login").values()) == {200}
        assert (elsewhere / "dashboard.db").exists()  # its database where it was started
    finally:
        served.stop()
