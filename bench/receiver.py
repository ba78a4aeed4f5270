"""The durable bare receiver: the least a receiver that never loses an acknowledged event does.

Run by bench/ingest.py as a process of its own, on the dashboard's stack (uvicorn, Starlette,
the same serving options) and nothing of the dashboard:
    python bench/receiver.py --port 8124 --db /var/tmp/x/receiver.db

One route, `GET /synapse/events?data=<event JSON>`: it parses the JSON, appends it to a SQLite
table (WAL, the dashboard's default `synchronous`), one commit for the requests of one turn
of the event loop, and answers 200 only after that commit. No access log: a baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dashboard.cli import serving_options
from dashboard.settings import Settings

INSERT = "INSERT INTO events (received_at, payload) VALUES (?, ?)"


class Receiver:
    """Appends events, one transaction per turn of the event loop."""

    def __init__(self, path: str, synchronous: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(f"PRAGMA synchronous = {synchronous}")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS events"
            " (id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, payload TEXT NOT NULL)"
        )
        self.queued: list[tuple[tuple[str, str], asyncio.Future[int]]] = []

    def append(self, payload: str) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self.queued.append(((datetime.now(UTC).isoformat(), payload), future))
        if len(self.queued) == 1:
            loop.call_soon(self.commit)
        return future

    def commit(self) -> None:
        batch, self.queued = self.queued, []
        try:
            ids = []
            self.conn.execute("BEGIN")
            for row, _ in batch:
                ids.append(int(self.conn.execute(INSERT, row).lastrowid or 0))
            self.conn.execute("COMMIT")
        except sqlite3.Error as error:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            for _, future in batch:
                future.set_exception(error)
            return
        for (_, future), event_id in zip(batch, ids, strict=True):
            future.set_result(event_id)


def build_app(receiver: Receiver) -> Starlette:
    async def events(request: Request) -> JSONResponse:
        query = request.scope["query_string"].decode()
        try:
            payload = parse_qs(query)["data"][0]
            if not isinstance(json.loads(payload), dict):
                raise ValueError("not an object")
        except (KeyError, ValueError):
            return JSONResponse({"ok": False}, status_code=400)
        event_id = await receiver.append(payload)
        return JSONResponse({"ok": True, "event_id": event_id})

    return Starlette(routes=[Route("/synapse/events", events), Route("/healthz", healthz)])


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "receiver": "durable"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite file (a fresh one per run)")
    parser.add_argument("--synchronous", default=Settings.db_synchronous)
    args = parser.parse_args()
    receiver = Receiver(args.db, args.synchronous)
    uvicorn.run(
        build_app(receiver),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        **serving_options(),
    )


if __name__ == "__main__":
    main()
