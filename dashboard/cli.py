"""The `dashboard` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from dashboard.auth import AuthError, Role
from dashboard.cli_accounts import (
    cmd_kiosk_create,
    cmd_kiosk_list,
    cmd_kiosk_revoke,
    cmd_token_create,
    cmd_token_revoke,
    cmd_user_add,
    cmd_user_disable,
    cmd_user_list,
    cmd_user_passwd,
    cmd_user_unlock,
)
from dashboard.events import redact_secrets
from dashboard.settings import Settings, SettingsError, parse_extensions
from dashboard.store import Store

Command = Callable[[argparse.Namespace, Settings], int]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"dashboard: configuration error: {error}", file=sys.stderr)
        return 2
    handler: Command = args.handler
    try:
        return handler(args, settings)
    except AuthError as error:
        print(f"dashboard: {error}", file=sys.stderr)
        return 1


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dashboard", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the dashboard")
    _add_address(serve)
    serve.add_argument(
        "--allow-open-events",
        action="store_true",
        help="accept call events from anyone (no SYNAPSE_EVENT_TOKEN nor SYNAPSE_EVENT_ALLOW)",
    )
    serve.set_defaults(handler=cmd_serve)

    demo = commands.add_parser(
        "demo", help="serve the dashboard with an embedded Synapse simulator"
    )
    _add_address(demo)
    demo.add_argument(
        "--sites", type=int, choices=(1, 2), default=1, help="simulated PBXs: 1, or 2 (two offices)"
    )
    demo.add_argument(
        "--sign-ins",
        action="store_true",
        help="print the demo's user names and passwords (from its database), and exit",
    )
    demo.set_defaults(handler=cmd_demo)

    simulator = commands.add_parser(
        "simulator", help="a simulated Synapse PBX: its command API, and calls sending events"
    )
    simulator.add_argument(
        "--events-url",
        help="the dashboard's Remote APP URL, with its token if it needs one"
        " (default: $SIMULATOR_EVENTS_URL, else http://127.0.0.1:8000/synapse/events)",
    )
    simulator.add_argument("--interval", type=float, default=3.0, help="mean seconds between calls")
    simulator.add_argument("--speed", type=float, default=1.0, help="play calls this much faster")
    simulator.add_argument("--calls", type=int, default=None, help="stop after this many calls")
    simulator.add_argument(
        "--seed", type=int, default=None, help="random seed, for repeatable traffic"
    )
    simulator.add_argument("--host", default="127.0.0.1", help="address its HTTP API listens on")
    simulator.add_argument("--port", type=int, default=8001, help="port of its HTTP API")
    simulator.add_argument(
        "--allow",
        nargs="+",
        default=["127.0.0.1", "::1"],
        help="its Allowed IP List: who may send it commands",
    )
    simulator.add_argument("--pbx-host", default="127.0.0.1", help="the asteriskhost it reports")
    simulator.add_argument(
        "--extensions",
        default="",
        help="the extensions it has, e.g. 40-59,70 (default: 40-59,70-79)",
    )
    simulator.add_argument(
        "--state-dir",
        type=Path,
        help="keep its live calls and call records here, and go on with them after a restart",
    )
    simulator.set_defaults(handler=cmd_simulator)

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True
    )
    add = user.add_parser("add", help="add a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument("--extension", help="the agent's own extension")
    add.add_argument("--password", help="the password (prompted for when not given)")
    add.set_defaults(handler=cmd_user_add)
    user.add_parser("list", help="list users").set_defaults(handler=cmd_user_list)
    passwd = user.add_parser(
        "passwd", help="set a user's password (ends their sessions and API tokens)"
    )
    passwd.add_argument("name")
    passwd.add_argument("--password", help="the new password (prompted for when not given)")
    passwd.set_defaults(handler=cmd_user_passwd)
    disable = user.add_parser("disable", help="disable a user (ends their sessions and tokens)")
    disable.add_argument("name")
    disable.set_defaults(handler=cmd_user_disable)
    unlock = user.add_parser(
        "unlock", help="clear a name's failed sign-ins and locks, at every address"
    )
    unlock.add_argument("name")
    unlock.add_argument(
        "--address", help="also clear this address's own count and lock (for every name)"
    )
    unlock.set_defaults(handler=cmd_user_unlock)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", help="print a new API token acting as user NAME")
    create.add_argument("name")
    create.add_argument("--label", default="", help="what the token is for")
    create.set_defaults(handler=cmd_token_create)
    revoke = token.add_parser("revoke", help="revoke a token, or every token of --user")
    revoke.add_argument("token", nargs="?")
    revoke.add_argument("--user", help="revoke every token of this user")
    revoke.set_defaults(handler=cmd_token_revoke)

    seed = commands.add_parser("seed", help="fill the database with realistic call history")
    seed.add_argument("--calls", type=int, required=True, help="how many calls to add")
    seed.add_argument("--days", type=int, default=None, help="spread over this many days")
    seed.add_argument("--seed", type=int, default=None, help="random seed, for repeatable data")
    seed.set_defaults(handler=_cmd_seed)

    cdr = commands.add_parser("cdr", help="call detail records").add_subparsers(
        dest="action", required=True
    )
    sync = cdr.add_parser("sync", help="fetch the PBX's records (cdr.php) into the history")
    sync.add_argument(
        "--from", dest="first", required=True, type=_day, help="first day, YYYY-MM-DD"
    )
    sync.add_argument("--to", dest="last", required=True, type=_day, help="last day, YYYY-MM-DD")
    sync.add_argument("--extension", help="only this extension (default: every one known)")
    sync.add_argument("--pbx", help="only this PBX, by its name (default: every one)")
    sync.set_defaults(handler=cmd_cdr_sync)

    copy = commands.add_parser(
        "backup", help="a consistent copy of the database, taken while the dashboard serves"
    )
    copy.add_argument("file", type=Path, help="the copy to write (a new file)")
    copy.set_defaults(handler=cmd_backup)
    put_back = commands.add_parser(
        "restore", help="put a backup back in place of the database (the dashboard stopped)"
    )
    put_back.add_argument("file", type=Path, help="a file `dashboard backup` wrote")
    put_back.set_defaults(handler=cmd_restore)

    doctor = commands.add_parser(
        "doctor", help="check the set-up of each PBX, and say what to fix (exit 0: all good)"
    )
    doctor.add_argument(
        "--url",
        help="where the PBXs reach this dashboard (default: this machine's address towards"
        " the first PBX, port 8000)",
    )
    doctor.set_defaults(handler=cmd_doctor)

    kiosk = commands.add_parser("kiosk", help="wall-screen links").add_subparsers(
        dest="action", required=True
    )
    make = kiosk.add_parser("create", help="print a link that signs a wall screen in for good")
    make.add_argument("label", help="which screen, e.g. 'Sales floor TV'")
    make.add_argument("--group", default="", help="show only this group (DASHBOARD_GROUPS)")
    make.set_defaults(handler=cmd_kiosk_create)
    kiosk.add_parser("list", help="list wall-screen links").set_defaults(handler=cmd_kiosk_list)
    drop = kiosk.add_parser("revoke", help="sign a wall screen out for good")
    drop.add_argument("id", type=int)
    drop.set_defaults(handler=cmd_kiosk_revoke)

    contacts = commands.add_parser("contacts", help="manage contacts").add_subparsers(
        dest="action", required=True
    )
    load = contacts.add_parser("import", help="add or update contacts from a CSV file")
    load.add_argument("file", type=argparse.FileType("rb"))
    load.set_defaults(handler=cmd_contacts_import)
    return parser


def _add_address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default: %(default)s)"
    )


def _serve(settings: Settings, host: str, port: int) -> int:
    from dashboard.app import create_app

    run_server(create_app(settings), host, port, every_event=settings.log_every_event)
    return 0


def run_server(app: Any, host: str, port: int, *, every_event: bool) -> None:
    """How `dashboard serve` runs the app: its logging and uvicorn's options (bench/server.py
    runs the dashboard this way)."""
    import uvicorn

    from dashboard.heap import FreezeAfterStartup
    from dashboard.http_protocol import QuietEventsProtocol

    access = logging.getLogger("uvicorn.access")
    for access_filter in access_log_filters(every_event):
        access.addFilter(access_filter)
    options = serving_options()
    if not every_event:
        options["http"] = QuietEventsProtocol
    uvicorn.run(FreezeAfterStartup(app), host=host, port=port, log_level="info", **options)


def access_log_filters(every_event: bool) -> list[logging.Filter]:
    """No access line per call event (a summary a minute instead) unless `every_event`;
    never an event token in one."""
    from dashboard.event_summary import QuietEvents
    from dashboard.security import RedactSecrets

    return [*([] if every_event else [QuietEvents()]), RedactSecrets()]


def serving_options() -> dict[str, Any]:
    """How uvicorn runs the dashboard (bench/receiver.py runs the same way)."""
    from dashboard.websocket_protocol import LettingGoWebSocketProtocol

    return {
        "ws_max_size": 65536,
        "ws": LettingGoWebSocketProtocol,
        # Compression costs CPU per viewer per message, and rules out writing one encoded
        # frame to every viewer; a wallboard on a LAN does not need it.
        "ws_per_message_deflate": False,
        # Forwarded headers are honoured by the dashboard itself, and only from
        # DASHBOARD_TRUSTED_PROXIES (uvicorn would believe any local process).
        "proxy_headers": False,
    }


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    open_to_all = [pbx.name for pbx in settings.pbxs if not (pbx.event_token or pbx.event_allow)]
    if open_to_all and not args.allow_open_events:
        where = (
            "Set SYNAPSE_EVENT_TOKEN (a secret the PBX sends) and/or SYNAPSE_EVENT_ALLOW (the"
            " PBX's IP)"
            if not settings.pbx_configs
            else f"Give the PBX {', '.join(open_to_all)} an event_token and/or event_allow"
            f" in {settings.config_path}"
        )
        print(
            f"dashboard: refusing to accept call events from anyone. {where}, or pass"
            " --allow-open-events if that is really what you want.",
            file=sys.stderr,
        )
        return 2
    return _serve(settings, args.host, args.port)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.cli_demo import demo

    return demo(args, settings, serve=_serve)


def cmd_simulator(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.simulator.server import serve_simulator
    from dashboard.simulator.traffic import EXTENSIONS, Traffic

    events_url = args.events_url or settings.simulator_events_url
    traffic = Traffic(
        seed=args.seed,
        speed=args.speed,
        host=args.pbx_host,
        extensions=parse_extensions(args.extensions) if args.extensions else EXTENSIONS,
    )
    allowed = ", ".join(args.allow)
    print(f"Simulated Synapse on http://{args.host}:{args.port} (commands from {allowed})")
    print(f"Sending call events to {redact_secrets(events_url)}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_simulator(
                events_url,
                host=args.host,
                port=args.port,
                allowed_ips=args.allow,
                tz=settings.timezone,
                traffic=traffic,
                interval=args.interval,
                calls=args.calls,
                state_dir=args.state_dir,
            )
        )
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.backup import BackupError, backup

    os.nice(10)  # a chore beside a serving dashboard: the events come first
    try:
        size = backup(settings.db_path, args.file)
    except BackupError as error:
        print(f"dashboard: {error}", file=sys.stderr)
        return 1
    print(f"backed up {settings.db_path} to {args.file} ({size / 1e6:.1f} MB), checked whole")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.backup import BackupError, restore

    try:
        restore(args.file, settings.db_path)
    except BackupError as error:
        print(f"dashboard: {error}", file=sys.stderr)
        return 1
    print(f"restored {args.file} into {settings.db_path}")
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from urllib.parse import urlsplit

    from dashboard.doctor import agents_placed, examine
    from dashboard.ingest import utc_now
    from dashboard.pbx import Synapse
    from dashboard.pbxs import PBXs

    first = urlsplit(settings.pbxs[0].url)
    url = args.url or f"http://{_address_towards(first.hostname or '', first.port or 80)}:8000"

    async def run() -> int:
        async with Synapse.make_client() as client:
            pbxs = PBXs.of(settings, client, utc_now)
            checks = [
                check
                for pbx in pbxs.all
                for check in await examine(pbx, settings, url, client, utc_now())
            ]
        checks += agents_placed(settings)
        for check in checks:
            print(check.line())
        failed = [check for check in checks if check.ok is False]
        print(f"\n{len(failed)} to fix." if failed else "\nAll good.")
        return 1 if failed else 0

    return asyncio.run(run())


def _address_towards(host: str, port: int) -> str:
    """This machine's address on the way to `host` (what the PBX sees); 127.0.0.1 if none."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as probe:
        try:
            probe.connect((host, port))  # UDP: nothing is sent, only a route chosen
            address: str = probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"
    return address


def cmd_contacts_import(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.contacts import Contacts, decode_csv

    store = Store.open(settings.db_path, phone_digits=settings.phone_match_digits)
    text = decode_csv(args.file.read())  # as the upload form reads it
    result = Contacts(store.db, settings.phone_match_digits).import_csv(text)
    print(f"imported: {result.summary()}")
    for error in result.errors:
        print(f"  {error}", file=sys.stderr)
    return 0 if result.added or result.updated or not (result.errors or result.refused) else 1


def _cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.seed import cmd_seed

    return cmd_seed(args, settings)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-27") from None


def cmd_cdr_sync(args: argparse.Namespace, settings: Settings) -> int:
    """Merge the PBX's records into the database; a running dashboard shows what this
    changed on every board within a second or two (its watcher notices the commit)."""
    from dashboard.cdr import CdrSync, StoredOnly
    from dashboard.errors import Refusal
    from dashboard.ingest import utc_now
    from dashboard.pbx import Synapse
    from dashboard.pbxs import PBXs

    if args.last < args.first:
        print("dashboard: --to is before --from", file=sys.stderr)
        return 2

    async def run() -> int:
        store = Store.open(settings.db_path, settings.db_synchronous, settings.phone_match_digits)
        async with Synapse.make_client() as client:
            pbxs = PBXs.of(settings, client, utc_now)
            extensions = [args.extension] if args.extension else None
            sync = CdrSync(StoredOnly(store), store, pbxs, settings, utc_now)
            try:
                result = await sync.sync(args.first, args.last, extensions, args.pbx)
            except Refusal as refused:  # no such PBX
                print(f"dashboard: {refused.detail}", file=sys.stderr)
                return 2
            finally:
                store.close()
        print(result.summary())
        for line in [*result.not_fetched(), *result.problems]:
            print(f"  {line}", file=sys.stderr)
        return 0 if result.complete else 1

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
