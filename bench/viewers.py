"""Wallboard viewers: many WebSocket connections to /ws, each reading every message.

    python bench/viewers.py --url ws://127.0.0.1:8123/ws --count 100 [--token TOKEN]

prints "ready <n>" once every viewer has its snapshot, keeps reading until SIGTERM,
then waits for the stream to go quiet, closes and prints one JSON object of counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import time
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

QUIET_SECONDS = 0.5  # no message for this long after SIGTERM: everything sent has arrived
CONNECT_TIMEOUT = 30.0


@dataclass
class Viewer:
    messages: int = 0  # fragments received, the snapshot counting as one
    removals: int = 0  # calls taken off the board
    frames: int = 0
    last_message: float = 0.0
    closed_by_server: int | None = None  # the close code, when the server hung up first


async def read_all(ws: ClientConnection, viewer: Viewer, stop: asyncio.Event) -> None:
    try:
        async for message in ws:
            # A frame holds everything pushed since the last one: count fragments (a call's
            # partial, in its latest state, or a removal), not frames.
            text = message if isinstance(message, str) else message.decode()
            removals = text.count('"delete"')
            viewer.messages += text.count('<article id="call-') + removals
            viewer.removals += removals
            viewer.frames += 1
            viewer.last_message = time.perf_counter()
    except ConnectionClosed:
        pass
    if not stop.is_set():
        viewer.closed_by_server = ws.close_code or 1006


async def open_viewer(url: str, viewer: Viewer, token: str | None) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    # permessage-deflate is offered, as browsers do (the dashboard declines it).
    ws = await connect(
        url, additional_headers=headers, max_size=2**22, open_timeout=CONNECT_TIMEOUT
    )
    await ws.recv()  # the snapshot: from here on every event reaches this viewer
    viewer.messages = 1
    viewer.last_message = time.perf_counter()
    return ws


async def wait_quiet(viewers: list[Viewer]) -> None:
    while True:
        newest = max((v.last_message for v in viewers), default=0.0)
        remaining = newest + QUIET_SECONDS - time.perf_counter()
        if remaining <= 0:
            return
        await asyncio.sleep(remaining)


def summary(viewers: list[Viewer], connected: int, cpu: float) -> dict[str, Any]:
    counts = [v.messages for v in viewers]
    frames = [v.frames for v in viewers]
    dropped = [v.closed_by_server for v in viewers if v.closed_by_server is not None]
    return {
        "viewers": len(viewers),
        "connected": connected,
        "dropped": len(dropped),
        "close_codes": sorted(set(dropped)),
        "messages_min": min(counts, default=0),
        "messages_max": max(counts, default=0),
        "messages_median": statistics.median(counts) if counts else 0,
        "removals_min": min((v.removals for v in viewers), default=0),
        "removals_max": max((v.removals for v in viewers), default=0),
        "frames_median": statistics.median(frames) if frames else 0,
        "cpu_seconds": cpu,
    }


async def watch(url: str, count: int, token: str | None) -> dict[str, Any]:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    viewers = [Viewer() for _ in range(count)]
    opened = await asyncio.gather(
        *(open_viewer(url, v, token) for v in viewers), return_exceptions=True
    )
    sockets = [ws for ws in opened if isinstance(ws, ClientConnection)]
    if len(sockets) < count:
        failure = next(error for error in opened if isinstance(error, BaseException))
        print(f"failed: {count - len(sockets)} of {count} viewers, e.g. {failure!r}", flush=True)
        for ws in sockets:
            ws.transport.abort()
        return {"viewers": count, "connected": 0, "error": repr(failure)}
    readers = [
        asyncio.create_task(read_all(ws, v, stop)) for ws, v in zip(sockets, viewers, strict=True)
    ]
    print(f"ready {len(sockets)}", flush=True)
    cpu_start = time.process_time()
    await stop.wait()
    await wait_quiet(viewers)
    cpu = time.process_time() - cpu_start
    still_open = sum(1 for v in viewers if v.closed_by_server is None)
    for ws in sockets:
        ws.transport.abort()  # closing handshakes with 100 sockets would only add noise
    await asyncio.gather(*readers, return_exceptions=True)
    return summary(viewers, still_open, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--token", help="API token, when the dashboard requires sign-in")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(watch(args.url, args.count, args.token))
    else:
        result = uvloop.run(watch(args.url, args.count, args.token))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
