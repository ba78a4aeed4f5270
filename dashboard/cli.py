"""The `dashboard` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence

from dashboard.settings import Settings, SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"dashboard: configuration error: {error}", file=sys.stderr)
        return 2
    result: int = args.handler(args, settings)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dashboard", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the dashboard")
    _add_address(serve)
    serve.set_defaults(handler=cmd_serve)

    demo = commands.add_parser(
        "demo", help="serve the dashboard with an embedded Synapse simulator"
    )
    _add_address(demo)
    demo.set_defaults(handler=cmd_demo)

    simulator = commands.add_parser(
        "simulator", help="send simulated Synapse call events to a dashboard"
    )
    simulator.add_argument(
        "--events-url",
        default="http://127.0.0.1:8000/synapse/events",
        help="the dashboard's Remote APP URL (default: %(default)s)",
    )
    simulator.add_argument(
        "--interval", type=float, default=3.0, help="mean seconds between new calls"
    )
    simulator.add_argument(
        "--speed", type=float, default=1.0, help="play calls this many times faster"
    )
    simulator.add_argument("--calls", type=int, default=None, help="stop after this many calls")
    simulator.add_argument(
        "--seed", type=int, default=None, help="random seed, for repeatable traffic"
    )
    simulator.set_defaults(handler=cmd_simulator)
    return parser


def _add_address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default: %(default)s)"
    )


def _serve(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    from dashboard.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", ws_max_size=65536)
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    return _serve(settings, args.host, args.port)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    local = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    settings = settings.with_changes(
        demo=True, demo_events_url=f"http://{local}:{args.port}/synapse/events"
    )
    print(
        f"Demo: open http://{local}:{args.port}/ - simulated calls start in a moment.", flush=True
    )
    return _serve(settings, args.host, args.port)


def cmd_simulator(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.simulator.traffic import Traffic, run_traffic

    traffic = Traffic(seed=args.seed, speed=args.speed)
    print(f"Simulating Synapse: sending call events to {args.events_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_traffic(
                args.events_url,
                tz=settings.timezone,
                interval=args.interval,
                traffic=traffic,
                calls=args.calls,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
