"""A minimal keep-alive HTTP/1.1 load generator over asyncio streams (httpx is too slow).

Each connection sends GET requests one after another and reads each response whole.
For the ingest path every request carries a distinct event: each connection plays call
after call, CallStart -> CallConnect -> CallFinish, so calls really progress and finish.

    python bench/loadgen.py --port 8123 --target ingest --run-id r1

prints one JSON object: rate in the measured window, errors, latencies, own CPU use.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote_plus

# "durable" is bench/receiver.py, sent the same events as the dashboard.
PATHS = {"bare": "/bare", "ingest": "/synapse/events", "durable": "/synapse/events"}
PLACEHOLDER = "UNIQUEIDPLACEHOLDER"  # survives URL-encoding unchanged
PBX_TIME = "%Y%m%d%H:%M:%S"
MAX_ERROR_SAMPLES = 5


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Tally:
    ok_in_window: int = 0
    ok_total: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def record(self, status: int, body: bytes, started: float, done: float, window: Window) -> None:
        if status != 200:
            self.error(f"HTTP {status}: {body[:200]!r}")
            return
        self.ok_total += 1
        if window.start <= done < window.end:
            self.ok_in_window += 1
            self.latencies.append(done - started)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(text)


def call_events(now: datetime) -> list[dict[str, str]]:
    """One answered incoming call as Synapse reports it, its uniqueid left as a placeholder."""
    common = {
        "asteriskhost": "192.168.1.51",
        "direction": "Incoming",
        "number": "9812345678",
        "extension": "42",
        "uniqueid": PLACEHOLDER,
    }
    channels = {"hangupchannel": "SIP/42-0000abcd", "redirectchannel": "DAHDI/7-1"}
    start = now - timedelta(seconds=90)
    finish = {
        "event": "CallFinish",
        **common,
        "starttime": start.strftime(PBX_TIME),
        "answertime": (start + timedelta(seconds=10)).strftime(PBX_TIME),
        "endtime": now.strftime(PBX_TIME),
        "duration": "90",
        "billableseconds": "80",
        "disposition": "Answered",
        "recordlink": f"http://192.168.1.51/callrecord/{start:%Y/%b/%d%m%Y}/{PLACEHOLDER}.wav",
    }
    return [
        {"event": "CallStart", **common, **channels},
        {"event": "CallConnect", **common, **channels},
        finish,
    ]


class RequestSource(Protocol):
    def __call__(self) -> bytes: ...

    @property
    def in_call(self) -> bool:
        """A call is under way: keep sending past the window until it has finished."""
        ...


class BareRequests:
    in_call = False

    def __init__(self, request: bytes) -> None:
        self.request = request

    def __call__(self) -> bytes:
        return self.request


class EventRequests:
    """Request bytes for one connection: a new call every three requests. Its uniqueid is
    the next of `numbers`, shared by every connection, as Asterisk numbers its calls
    ("epoch.sequence", here after a name for the run), or (scattered) a number of this
    connection's own, after a prefix of its own: an order no PBX makes, each connection's
    calls in a place of their own in every index by uniqueid."""

    def __init__(
        self, head: bytes, tail: bytes, prefix: str, numbers: Iterator[int] | None = None
    ) -> None:
        now = datetime.now(UTC)
        self.templates = [
            head + b"?data=" + quote_plus(json.dumps(event)).encode() + tail
            for event in call_events(now)
        ]
        self.prefix = prefix
        self.numbers = numbers if numbers is not None else itertools.count()
        self.sent = 0
        self.uniqueid = b""

    def __call__(self) -> bytes:
        step = self.sent % 3
        self.sent += 1
        if step == 0:
            self.uniqueid = f"{self.prefix}{next(self.numbers):08d}".encode()
        return self.templates[step].replace(PLACEHOLDER.encode(), self.uniqueid)

    @property
    def in_call(self) -> bool:
        return self.sent % 3 != 0


def request_source(
    target: str, host: str, port: int, prefix: str, numbers: Iterator[int] | None
) -> RequestSource:
    head = f"GET {PATHS[target]}".encode()
    tail = f" HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    if target == "bare":
        return BareRequests(head + tail)
    return EventRequests(head, tail, prefix, numbers)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise ValueError("response without Content-Length")
    return status, await reader.readexactly(length)


async def connection(
    host: str, port: int, source: RequestSource, window: Window, tally: Tally
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (started := time.perf_counter()) < window.end or source.in_call:
            writer.write(source())
            try:
                status, body = await read_response(reader)
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                tally.error(f"{type(exc).__name__}: {exc}")
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            tally.record(status, body, started, time.perf_counter(), window)
    finally:
        writer.close()


async def cpu_share(window: Window) -> float:
    """This process's CPU time over the window, as a share of one core.

    Also prints "start" and "end" lines, so the caller can sample other processes' CPU.
    """
    await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
    print("start", flush=True)
    cpu_start = time.process_time()
    await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
    cpu = (time.process_time() - cpu_start) / window.seconds
    print("end", flush=True)
    return cpu


def percentile(values: list[float], share: float) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


async def run_load(
    host: str,
    port: int,
    target: str,
    connections: int,
    warmup: float,
    duration: float,
    run_id: str,
    scattered: bool = False,
) -> dict[str, Any]:
    now = time.perf_counter()
    window = Window(now + warmup, now + warmup + duration)
    tally = Tally()
    if scattered:
        sources = [
            request_source(target, host, port, f"{run_id}-{n}-", None) for n in range(connections)
        ]
    else:
        numbers = itertools.count()
        prefix = f"{run_id}-{int(time.time())}."
        sources = [request_source(target, host, port, prefix, numbers) for _ in range(connections)]
    cpu = asyncio.create_task(cpu_share(window))
    await asyncio.gather(*(connection(host, port, source, window, tally) for source in sources))
    p50, p99 = percentile(tally.latencies, 0.50), percentile(tally.latencies, 0.99)
    return {
        "target": target,
        "connections": connections,
        "seconds": window.seconds,
        "ok": tally.ok_in_window,
        "rate": tally.ok_in_window / window.seconds,
        "ok_total": tally.ok_total,
        "errors": tally.errors,
        "error_samples": tally.error_samples,
        "p50_ms": p50 * 1000 if p50 is not None else None,
        "p99_ms": p99 * 1000 if p99 is not None else None,
        "cpu": await cpu,
    }


def run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", choices=sorted(PATHS), required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--run-id", default="r", help="makes uniqueids distinct across runs")
    parser.add_argument(
        "--scattered-uniqueids",
        action="store_true",
        help="each connection numbers its calls after a prefix of its own (no PBX does)",
    )
    args = parser.parse_args()
    result = run(
        run_load(
            args.host,
            args.port,
            args.target,
            args.connections,
            args.warmup,
            args.duration,
            args.run_id,
            args.scattered_uniqueids,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
