"""`dashboard demo`: the dashboard with one or two simulated Synapses beside it, users for
every role, and a month of history, so that every page has something to show."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from dashboard.auth import Accounts, Role
from dashboard.cli_accounts import accounts_of
from dashboard.pbx_config import PBXConfig
from dashboard.settings import Settings, parse_extensions
from dashboard.store import Store

Serve = Callable[[Settings, str, int], int]

DEMO_EXTENSION = "70"
DEMO_HISTORY = 3000
DEMO_EXTENSIONS = tuple(str(n) for n in (*range(40, 60), *range(70, 80)))
SIMULATOR_START_SECONDS = 15.0
# Two offices for `dashboard demo --sites 2`: name, the asteriskhost, the extensions.
DEMO_SITES = (("head-office", "10.0.0.1", "40-59,70-79"), ("branch", "10.0.0.2", "80-89"))
DEMO_GROUPS = (
    ("Sales", DEMO_EXTENSIONS[:10]),
    ("Support", DEMO_EXTENSIONS[10:20]),
    ("Service", DEMO_EXTENSIONS[20:]),
)


def demo(args: argparse.Namespace, settings: Settings, serve: Serve) -> int:
    """The dashboard, and one or two simulated Synapses beside it (processes of their own, on
    the ports after PORT, or any free ones when those are taken)."""
    local = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    token = secrets.token_urlsafe(24)
    sites = DEMO_SITES[: args.sites]
    ports = _free_ports_after(args.port, len(sites))
    settings = settings.with_changes(
        synapse_url=f"http://127.0.0.1:{ports[0]}",
        synapse_event_token=token,
        synapse_event_allow=("127.0.0.1/32", "::1/128"),
        extensions=settings.extensions or DEMO_EXTENSIONS,
        extension_groups=settings.extension_groups or DEMO_GROUPS,
    )
    if len(sites) > 1:
        settings = settings.with_changes(
            pbx_configs=tuple(
                PBXConfig(
                    name=name,
                    url=f"http://127.0.0.1:{port}",
                    host=host,
                    timezone=settings.synapse_timezone,
                    extensions=parse_extensions(extensions),
                    event_token=token,
                    event_allow=settings.synapse_event_allow,
                )
                for (name, host, extensions), port in zip(sites, ports, strict=True)
            )
        )
    _demo_history(settings)
    print(f"\nDemo: open http://{local}:{args.port}/ and sign in as one of:", flush=True)
    for role, name, password in create_demo_users(accounts_of(settings)):
        print(f"  {role.value:<11} user {name:<16} password {password}", flush=True)
    for pbx in settings.pbxs:
        print(f"The simulated Synapse {pbx.name} answers on {pbx.url}; calls start in a moment.")
    print(flush=True)
    events_url = f"http://{local}:{args.port}/synapse/events/{token}"
    simulators = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dashboard.cli",
                "simulator",
                "--port",
                str(port),
                "--interval",
                str(2.5 * len(sites)),
                "--speed",
                "3",
                *(["--pbx-host", host, "--extensions", extensions] if len(sites) > 1 else []),
            ],
            env={**os.environ, "SIMULATOR_EVENTS_URL": events_url},  # not on the command line
        )
        for (_, host, extensions), port in zip(sites, ports, strict=True)
    ]
    try:
        for port in ports:  # the first check of each PBX is at start-up: let it find them up
            _wait_for_listener(port, SIMULATOR_START_SECONDS)
        return serve(settings, args.host, args.port)
    finally:
        for simulator in simulators:
            simulator.terminate()
        for simulator in simulators:
            simulator.wait(10)


def _wait_for_listener(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)  # a process starting up: poll it, with a deadline


def _free_ports_after(port: int, count: int) -> list[int]:
    """The ports after `port` that nothing listens on (the simulators' own)."""
    found: list[int] = []
    candidate = port
    while len(found) < count:
        candidate += 1
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
        found.append(candidate)
    return found


def create_demo_users(accounts: Accounts) -> list[tuple[Role, str, str]]:
    """One user per role, each with a new random password (so a demo is never left open)."""
    created = []
    for role in Role:
        name, password = f"demo-{role.value}", secrets.token_urlsafe(9)
        if accounts.find_user(name) is None:
            accounts.add_user(
                name, role.value, password, DEMO_EXTENSION if role is Role.AGENT else None
            )
        else:
            accounts.set_password(name, password)
        created.append((role, name, password))
    return created


def _demo_history(settings: Settings) -> None:
    """A demo starts with a month of history, so every page has something to show."""
    from dashboard.seed import seed

    store = Store.open(settings.db_path, settings.db_synchronous, settings.phone_match_digits)
    try:
        if store.count("calls") < DEMO_HISTORY // 2:
            seed(
                store,
                DEMO_HISTORY,
                days=30,
                tz=settings.timezone,
                host=settings.synapse_host or "192.168.1.51",
                extensions=settings.extensions or DEMO_EXTENSIONS,
                now=datetime.now(UTC),
                seed=None,
            )
    finally:
        store.close()
