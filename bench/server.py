"""The server under test: the dashboard app plus a bare endpoint, in one uvicorn process.

Run by bench/ingest.py as a subprocess:
    python bench/server.py --port 8123 --db /var/tmp/x/bench.db --token-file /var/tmp/x/token

When the dashboard requires viewers to sign in, a "viewer" account and its API token are
created in the fresh database first; the token (for `Authorization: Bearer`) goes to
--token-file.
"""

from __future__ import annotations

import argparse
import cProfile
import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from dashboard.app import create_app
from dashboard.auth import Accounts
from dashboard.cli import configure_logging, run_server
from dashboard.settings import Settings
from dashboard.store import Store


async def bare(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def build_app(settings: Settings) -> Starlette:
    app = create_app(settings)
    app.add_route("/bare", bare, methods=["GET"])
    return app


def viewer_token(db_path: str) -> str:
    """An API token of a "viewer" account, for the viewers' `Authorization: Bearer`."""
    store = Store.open(db_path)
    try:
        accounts = Accounts(store.db)
        accounts.add_user("bench", "viewer", secrets.token_urlsafe(24))
        return accounts.tokens.create("bench", "bench viewers")
    finally:
        store.close()


def serve(settings: Settings, host: str, port: int) -> None:
    # As `dashboard serve` runs it: uvloop, httptools, its WebSocket options, and its logging.
    configure_logging()
    run_server(build_app(settings), host, port, every_event=settings.log_every_event)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite file (a fresh one per run)")
    parser.add_argument("--linger", type=float, default=Settings.finished_linger_seconds)
    parser.add_argument("--profile", help="write cProfile stats here on shut-down")
    parser.add_argument("--token-file", type=Path, help="write the viewers' API token here")
    args = parser.parse_args()
    token = viewer_token(args.db)
    if args.token_file:
        args.token_file.write_text(token)
    settings = Settings(db_path=args.db, finished_linger_seconds=args.linger)
    if not args.profile:
        serve(settings, args.host, args.port)
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        serve(settings, args.host, args.port)
    finally:
        profiler.disable()
        profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
