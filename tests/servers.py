"""A real `dashboard serve` in a subprocess, for the tests where the real server is the point."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

STARTUP_SECONDS = 20.0


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Ports free now, all different (each socket held until all are picked: two calls of
    free_port in a row may get the same port back)."""
    with contextlib.ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


class DashboardProcess:
    """Starts, kills and restarts one dashboard on one database, in its own working folder
    (the server reads `.env` from there) with no DASHBOARD_/SYNAPSE_ setting leaking in."""

    def __init__(self, workdir: Path, **env: str) -> None:
        self.workdir = workdir
        self.db_path = workdir / "dashboard.db"
        self.log_path = workdir / "server.log"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DASHBOARD_", "SYNAPSE_"))
        }
        defaults = {
            "DASHBOARD_DB": str(self.db_path),
            "SYNAPSE_TIMEZONE": "UTC",
            "SYNAPSE_EVENT_ALLOW": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.update({**defaults, **env})
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return self.base_url + "/synapse/events"

    def start(self) -> None:
        for _ in range(3):  # another process may take the free port before the server does
            self.port = self.port or free_port()
            self._launch()
            if self._wait_until_ready():
                return
            if "address already in use" not in self.log().lower():
                break
            self.port = 0
        raise RuntimeError(f"the dashboard did not start; its output:\n{self.log()}")

    def _launch(self) -> None:
        command = [sys.executable, "-m", "dashboard.cli", "serve", "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def _wait_until_ready(self) -> bool:
        deadline = time.monotonic() + STARTUP_SECONDS
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    return False
                try:
                    if client.get(self.base_url + "/healthz").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)  # the interval between polls of a condition, with a deadline
        self.stop()
        return False

    def cli(self, *args: str) -> str:
        """Run a `dashboard` command against this server's database."""
        command = [sys.executable, "-m", "dashboard.cli", *args]
        done = subprocess.run(
            command, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def kill(self) -> None:
        """SIGKILL: no shut-down code runs, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-20_000:]


class ThreadedServer:
    """An ASGI app served by a real uvicorn on a free port, in a thread of its own."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the threaded server did not start")
            time.sleep(0.01)  # the interval between polls of a condition, with a deadline
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class RawServer:
    """A TCP server that answers every connection with `reply` (None: never answers), to play
    a broken or hung PBX, or a canary that tells exactly what reached it: it counts the
    connections it got and keeps each request's first line, byte for byte."""

    def __init__(self, reply: bytes | None) -> None:
        self.reply = reply
        self.connections = 0
        self.request_lines: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.reply is None:
                self.held.append(conn)  # keep it open, say nothing
                continue
            self.request_lines.append(_request_line(conn))
            conn.sendall(self.reply)
            conn.close()

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def _request_line(conn: socket.socket) -> bytes:
    """The first line of what the client sent, without its CRLF."""
    received = b""
    while b"\r\n" not in received and len(received) < 65536:
        chunk = conn.recv(65536)
        if not chunk:
            break
        received += chunk
    return received.split(b"\r\n", 1)[0]


class SimulatorProcess:
    """`dashboard simulator` as its own process: no traffic of its own, calls on request."""

    def __init__(self, workdir: Path, port: int, events_url: str) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "dashboard.cli",
            "simulator",
            "--port",
            str(self.port),
            "--calls",
            "0",
            "--events-url",
            events_url,
        ]
        self.log = (workdir / "simulator.log").open("wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(self.base_url + "/simulator/commands", timeout=1)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.05)  # polling a condition, with a deadline

    def ring(self, extension: str, number: str, ring: float = 600, talk: float = 60) -> str:
        params = {"extension": extension, "number": number, "ring": str(ring), "talk": str(talk)}
        response = httpx.post(self.base_url + "/simulator/ring", params=params)
        uniqueid: str = response.json()["uniqueid"]
        return uniqueid

    def commands(self) -> list[str]:
        log = httpx.get(self.base_url + "/simulator/commands").json()["commands"]
        return [entry["query"] for entry in log]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()
