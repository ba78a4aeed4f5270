"""`dashboard demo`: the dashboard with one or two simulated Synapses beside it, users for
every role, and a month of history, so that every page has something to show.

Everything the demo makes lives beside its database: the history (its recordings served
by the simulators), the users and their passwords (made once, kept in the table
`demo_sign_ins`, printed once the dashboard listens and again by `dashboard demo
--sign-ins`), and each simulator's live calls (DB.simulators/NAME/), so that a restart goes
on with the calls the board shows."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from dashboard.auth import Accounts, Role
from dashboard.cli_accounts import accounts_of
from dashboard.contacts import Contacts
from dashboard.passwords import verify_password
from dashboard.pbx_config import PBXConfig
from dashboard.settings import Settings, parse_extensions
from dashboard.simulator.traffic import REGULAR_CALLERS
from dashboard.store import Store

Serve = Callable[[Settings, str, int], int]

DEMO_EXTENSION = "70"
DEMO_HISTORY = 3000
DEMO_EXTENSIONS = tuple(str(n) for n in (*range(40, 60), *range(70, 80)))
SIMULATOR_START_SECONDS = 15.0
DASHBOARD_START_SECONDS = 120.0
RECORDINGS_PATH = "/callrecord/"  # where the simulators serve recordings
# Two offices for `dashboard demo --sites 2`: name, the asteriskhost, the extensions.
DEMO_SITES = (("head-office", "10.0.0.1", "40-59,70-79"), ("branch", "10.0.0.2", "80-89"))
DEMO_GROUPS = (
    ("Sales", DEMO_EXTENSIONS[:10]),
    ("Support", DEMO_EXTENSIONS[10:20]),
    ("Service", DEMO_EXTENSIONS[20:]),
)
# Who the simulators' regular callers are (simulator/traffic.py's REGULAR_CALLERS, in order).
DEMO_CONTACTS = (
    ("Meera Iyer", "Iyer & Sons Textiles"),
    ("Rahul Verma", "Verma Logistics"),
    ("Fatima Sheikh", "Crescent Pharmacy"),
    ("Arjun Nair", "Nair Builders"),
    ("Priya Menon", ""),
    ("Daniel D'Souza", "Coastal Travels"),
    ("Kavita Rao", "Rao Dental Clinic"),
    ("Suresh Patel", "Patel Hardware"),
    ("Anjali Gupta", ""),
    ("Vikram Singh", "Singh Motors"),
    ("Lakshmi Krishnan", "Lotus School"),
    ("Mohammed Ali", "Ali Electricals"),
    ("Neha Joshi", "Joshi Caterers"),
    ("Thomas Mathew", "Mathew Insurance"),
    ("Sneha Kulkarni", ""),
    ("Ravi Shankar", "Shankar Exports"),
    ("Pooja Desai", "Desai Opticians"),
    ("Imran Khan", "Khan Courier"),
    ("Deepa Pillai", "City Hospital"),
    ("Karan Mehta", "Mehta Jewellers"),
    ("Ayesha Siddiqui", ""),
    ("Gopal Reddy", "Reddy Farms"),
    ("Nisha Bose", "Bose Printers"),
    ("Sanjay Kapoor", "Kapoor Realty"),
)
SIGN_INS_TABLE = (
    "CREATE TABLE IF NOT EXISTS demo_sign_ins (name TEXT PRIMARY KEY, password TEXT NOT NULL)"
)
SignIn = tuple[Role, str, str]


def demo(args: argparse.Namespace, settings: Settings, serve: Serve) -> int:
    """The dashboard, and one or two simulated Synapses beside it (processes of their own, on
    the ports after PORT, or any free ones when those are taken); or, with --sign-ins, the
    demo's user names and passwords."""
    local = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    if args.sign_ins:
        return print_sign_ins(settings, f"http://{local}:{args.port}/")
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
    demo_contacts(settings)
    sign_ins = demo_sign_ins(accounts_of(settings))
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
                "--state-dir",
                str(simulator_state_dir(settings, pbx.name)),
                *(["--pbx-host", host, "--extensions", extensions] if len(sites) > 1 else []),
            ],
            env={**os.environ, "SIMULATOR_EVENTS_URL": events_url},  # not on the command line
        )
        for (_, host, extensions), port, pbx in zip(sites, ports, settings.pbxs, strict=True)
    ]
    served = threading.Event()
    announcer = threading.Thread(
        target=_announce_when_up,
        args=(f"http://{local}:{args.port}/", sign_ins, served),
        daemon=True,
    )
    try:
        for port, simulator in zip(ports, simulators, strict=True):
            # The first check of each PBX is at start-up: let it find them up.
            if not _wait_for_listener(port, SIMULATOR_START_SECONDS, simulator):
                print(f"dashboard: the simulated Synapse on port {port} stopped", file=sys.stderr)
                return 1
        announcer.start()
        return serve(settings, args.host, args.port)
    finally:
        served.set()
        for simulator in simulators:
            simulator.terminate()
        for simulator in simulators:
            simulator.wait(10)


def simulator_state_dir(settings: Settings, pbx_name: str) -> Path:
    """Where the simulator of `pbx_name` keeps its calls: beside the demo's database."""
    return Path(f"{settings.db_path}.simulators") / pbx_name


def _announce_when_up(url: str, sign_ins: list[SignIn], stopped: threading.Event) -> None:
    """The sign-ins, printed once the dashboard answers: after its start-up lines."""
    deadline = time.monotonic() + DASHBOARD_START_SECONDS
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while not stopped.is_set() and time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url + "healthz").status_code == 200:
                    print(sign_ins_text(url, sign_ins), flush=True)
                    return
            stopped.wait(0.1)  # a server starting up: poll it, with a deadline


def sign_ins_text(url: str, sign_ins: list[SignIn]) -> str:
    lines = [f"\nDemo: open {url} and sign in as one of:"]
    lines += [
        f"  {role.value:<11} user {name:<16} password {password}"
        for role, name, password in sign_ins
    ]
    lines.append("(`dashboard demo --sign-ins`, or `make sign-ins`, prints these again.)\n")
    return "\n".join(lines)


def print_sign_ins(settings: Settings, url: str) -> int:
    """`dashboard demo --sign-ins`: the demo's users and passwords, from its database."""
    sign_ins: list[SignIn] = []
    if Path(settings.db_path).exists():  # never a new, empty database
        store = Store.open(settings.db_path)
        try:
            sign_ins = stored_sign_ins(store)
        finally:
            store.close()
    if not sign_ins:
        print(
            f"dashboard: no demo users in {settings.db_path}: start the demo first (make run)",
            file=sys.stderr,
        )
        return 1
    print(sign_ins_text(url, sign_ins))
    return 0


def stored_sign_ins(store: Store) -> list[SignIn]:
    store.db.execute(SIGN_INS_TABLE)
    passwords = dict(store.db.execute("SELECT name, password FROM demo_sign_ins").fetchall())
    names = [(role, f"demo-{role.value}") for role in Role]
    return [(role, name, passwords[name]) for role, name in names if name in passwords]


def _wait_for_listener(port: int, seconds: float, process: subprocess.Popen[bytes]) -> bool:
    """Whether `process` listens on `port` within `seconds`, or may still: False once it
    has exited (a port taken meanwhile, say)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)  # a process starting up: poll it, with a deadline
    return process.poll() is None


def _free_ports_after(port: int, count: int) -> list[int]:
    """The ports after `port` that nothing listens on (the simulators' own)."""
    found: list[int] = []
    candidate = port
    while len(found) < count:
        candidate += 1
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            # As uvicorn binds: a port the last run's simulator left in TIME_WAIT is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
        found.append(candidate)
    return found


def demo_sign_ins(accounts: Accounts) -> list[SignIn]:
    """One user per role, each with a random password made at the first start and kept in
    the demo's database, so a restart signs nobody out. A demo user whose password was
    changed since gets the kept one back: the printed sign-ins always work."""
    db = accounts.db
    db.execute(SIGN_INS_TABLE)
    kept = dict(db.execute("SELECT name, password FROM demo_sign_ins").fetchall())
    sign_ins = []
    for role in Role:
        name = f"demo-{role.value}"
        password = kept.get(name) or secrets.token_urlsafe(9)
        if name not in kept:
            db.execute("INSERT INTO demo_sign_ins (name, password) VALUES (?, ?)", [name, password])
        user, password_hash = accounts.credentials(name)
        if user is None:
            extension = DEMO_EXTENSION if role is Role.AGENT else None
            accounts.add_user(name, role.value, password, extension)
        elif not verify_password(password, password_hash):
            accounts.set_password(name, password)
        sign_ins.append((role, name, password))
    return sign_ins


def _demo_history(settings: Settings) -> None:
    """A demo starts with a month of history on each PBX, so every page has something to
    show, its recordings served by that PBX's simulator."""
    from dashboard.seed import seed

    store = Store.open(settings.db_path, settings.db_synchronous, settings.phone_match_digits)
    try:
        for pbx in settings.pbxs:
            moved = repoint_recordings(store, pbx.host, pbx.url)
            if moved:
                print(f"The recordings of {moved} calls on {pbx.name} now point at {pbx.url}.")
            history = DEMO_HISTORY // len(settings.pbxs)
            if _calls_of(store, pbx.host) < history // 2:
                seed(
                    store,
                    history,
                    days=30,
                    tz=settings.zone_of(pbx.host),
                    host=pbx.host,
                    extensions=pbx.extensions or settings.extensions or DEMO_EXTENSIONS,
                    now=datetime.now(UTC),
                    seed=None,
                    recording_base=pbx.url,
                )
    finally:
        store.close()


def demo_contacts(settings: Settings) -> int:
    """Names for the simulators' regular callers, so that calls on the board, in pop-ups and
    in the history show who is calling; only into a demo with no contacts yet (one's own
    changes are kept). Returns how many it added."""
    store = Store.open(settings.db_path, settings.db_synchronous, settings.phone_match_digits)
    try:
        contacts = Contacts(store.db, settings.phone_match_digits)
        if contacts.count():
            return 0
        rows = "".join(
            f'{number},"{name}",{company}\n'
            for number, (name, company) in zip(REGULAR_CALLERS, DEMO_CONTACTS, strict=True)
        )
        return contacts.import_csv("number,name,company\n" + rows).added
    finally:
        store.close()


def _calls_of(store: Store, host: str) -> int:
    return int(store.db.execute("SELECT count(*) FROM calls WHERE host = ?", [host]).fetchone()[0])


def repoint_recordings(store: Store, host: str, base: str) -> int:
    """Point the recording links of the calls on `host` at `base` (the simulator's web
    server: a later start may have found its port taken); returns how many moved."""
    cursor = store.db.execute(
        "UPDATE calls SET recordlink = ? || substr(recordlink, instr(recordlink, ?))"
        " WHERE host = ? AND instr(recordlink, ?) > 0 AND substr(recordlink, 1, ?) != ?",
        [base, RECORDINGS_PATH, host, RECORDINGS_PATH, len(base) + 1, base + "/"],
    )
    return int(cursor.rowcount)
