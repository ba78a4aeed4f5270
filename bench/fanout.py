"""WebSocket fan-out: latency to every viewer, memory per viewer, slow viewers.

    .venv/bin/python bench/fanout.py [--runs 5]   (100 s a run, 30 s more for the slow viewers)

1. Fan-out latency. The dashboard (bench/server.py: `create_app` under uvicorn as
   `dashboard serve` runs it, on a fresh database) and its viewers in other processes, each
   a real WebSocket client of /ws signed in with a viewer's API token (raw sockets, read
   with recvmsg for the kernel's arrival timestamps). The sender plays calls (CallStart,
   CallConnect, CallFinish, as bench/loadgen.py builds them) at a steady rate, open loop,
   over keep-alive HTTP GET /synapse/events?data=...; every event has its own caller
   number, which its pushed fragment shows (data-number), so a viewer knows which events a
   frame carries however many were coalesced. Latency of an (event, viewer) pair: from the
   send of the request to the arrival of the frame at that viewer's socket. Every size
   gets the same traffic, at the rate the largest can have: at most MAX_DELIVERIES frames/s
   in all, the two servers' together (1,000 viewers: 5 events/s each, for at least
   MIN_EVENTS events), or the viewer processes would take the CPU both servers need on a
   2-core machine. The same rate, because the rate alone moves the figures: with events
   20 ms apart the dashboard's code is still in the CPU's caches, 200 ms apart it is not
   (its first viewer's p50 at 100 viewers went from 1.04-1.10 ms at 50 events/s to 1.39 ms
   at 5, the bare server's from 0.19-0.22 to 0.32), and a verdict on the audience's size
   would be one on the rate.
2. The baseline: a bare broadcast server written with `websockets` in its own process
   sends the very bytes the dashboard sends for each event (cut out of the frames that one
   viewer of a dashboard of its own recorded, from the same start at the same rate) to
   every viewer, triggered by the same kind of HTTP GET, measured the same way. Both
   servers are up with their viewers at once and the events take turns, the bare server's
   n-th half an interval after the dashboard's: the rest of this shared machine loads both
   alike (measured one after the other, a neighbour's burst decided the verdict).
   Two verdicts per run: the dashboard's added latency (its p50 minus the bare server's)
   at the largest size at most 1.5 x its added latency at the smallest (1,000 against 10
   viewers), and its p99 at most 1.5 x the bare server's at every other size (100 and
   1,000). `--runs 5` measures every size five times over and says in how many runs each
   verdict held: the target is most of them.
   Where the machine has two CPUs or more, both servers run on the first and everything else
   (the sender, the viewer processes) on the others, as a deployment's viewers are browsers
   on other machines: each frame written to a viewer process asleep woke it onto the
   server's own CPU (a sync wake-up), and the server waited while it read. At 10 viewers the
   dashboard's writes took 7 us of its CPU and 31 us of wall time each, the bare server's 8
   and 8: a verdict on where the scheduler had put the viewers, not on the servers.
3. Memory: each server's VmRSS before and after N viewers have their snapshot, over N.
4. 1,000 viewers held: how many stay connected, and the close codes of the others.
5. Slow viewers: 100 normal viewers, then 10 that read their snapshot and never read again
   (4 KiB receive buffer, Ethernet MSS): when the server evicts them and closes their
   socket, and the normal viewers' p99 without and with them.

Prints one table at the end (and adds its rows to bench/summary.py's); the exit code is 0
whatever the verdict: this is a report. With --runs, memory and viewers held are the worst
of the runs; the slow viewers are measured once.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import math
import os
import re
import resource
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter, deque
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote_plus

import summary
from ingest import LINGER, Server, cpu_seconds, free_port, stop_process, wait_until_serving
from loadgen import PLACEHOLDER, call_events, read_response

T = TypeVar("T")
BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
SIZES = (10, 100, 1000)
RATE = 50.0  # events per second
# Deliveries (events x viewers) per second at most: 50 events/s to 1,000 viewers (50,000
# frames/s) would take this 2-core machine's viewer processes alone more than a core, and
# both servers would then be measured starved of CPU. Both servers are measured at once,
# each gets half: 1,000 viewers get 5 events/s.
MAX_DELIVERIES = 10_000
DURATION = 8.0  # seconds of events per measurement, at least
MIN_EVENTS = 100  # per measurement: at a low rate, it lasts longer
RATIO_TARGET = 1.5  # dashboard p99 over bare p99
ADDED_TARGET = 1.5  # added latency (p50 over bare) at the largest size over the smallest
MEMORY_TARGET_KIB = 50.0
SLOW_NORMAL = 100
SLOW_STALLED = 10
SLOW_BEFORE = 6.0  # seconds of events without stalled viewers
SLOW_WITH = 12.0  # seconds of events with them
STALLED_RCVBUF = 4096  # bytes (the kernel doubles it)
# Loopback's MSS is 64 KiB, for which Linux gives the server's socket a ~4 MiB send buffer:
# it would swallow half a minute of pushes to a stalled viewer. Ethernet's MSS (as from a
# wallboard on the LAN) gets it the ~70 KiB it would have in production.
STALLED_MSS = 1448
CLOSE_GRACE = 2.0  # after the last event: the dashboard's close timeout is 1 s
PER_PROCESS = 500  # viewers per viewer process
CONNECT_AT_ONCE = 64  # handshakes in flight per viewer process
OPEN_FILES = 8192
SENDER_CONNECTIONS = 8
ANSWER_TIMEOUT = 60.0  # for the last answers, once every event is sent
QUIET = 0.3  # seconds without data: everything sent has arrived
QUIET_MAX = 15.0
DRAIN_TIMEOUT = 3.0
READY_TIMEOUT = 90.0
# Event numbers: 7 and nine digits of the event's sequence number; warm-up calls use 6.
NUMBER_RE = re.compile(rb'data-number="7(\d{9})"')
NUMBER_TEXT_RE = re.compile(r'data-number="7(\d{9})"')
# The exception a traceback ends with (also inside an exception group's "| ").
EXCEPTION_LINE = re.compile(
    r"^[\s|+-]*((?:[a-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Disconnect\w*))\b"
)
# Where one event's push starts in a frame (a new call, a changed call) or a removal.
PUSH_START = re.compile(
    r'(?=<div hx-swap-oob="afterbegin:#live-calls">)'
    r'|(?<!<div hx-swap-oob="afterbegin:#live-calls">)(?=<article id="call-)'
    r'|(?=<div id="call-)'
)
CLOCK_NOTE = (
    "Clocks: every process uses CLOCK_REALTIME (time.time()), one kernel clock on one "
    "machine.\nA send time is read just before the request is written; a receive time is "
    "the kernel's arrival\ntimestamp of the bytes at the viewer's socket (SO_TIMESTAMPNS), "
    "so time a viewer process spends\nbefore it gets to read (it serves up to 500 sockets) "
    "is not counted for either server. The sender\nis not in the viewers' process: their "
    "work would delay its schedule and its timestamps.\nLatency runs from the send, not "
    "from the 2xx: the dashboard writes the frames before it\ncommits and answers, so "
    "viewers have the bytes before the sender has its 2xx."
)

# -- WebSocket client, just enough of RFC 6455 ----------------------------------------------

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RECV_BYTES = 1 << 18
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; SCM_TIMESTAMPNS is the same
ANCILLARY = socket.CMSG_SPACE(16)


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked frame, as a client must send it (pongs and close replies only)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes([0x80 | opcode, 0x80 | size])
    else:
        head = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", size)
    return head + mask + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


def take_frames(buffer: bytearray) -> list[tuple[int, bool, bytes]]:
    """The complete frames at the start of `buffer` (opcode, fin, payload), removed from it."""
    frames: list[tuple[int, bool, bytes]] = []
    pos, end = 0, len(buffer)
    while end - pos >= 2:
        first, second = buffer[pos], buffer[pos + 1]
        if second & 0x80:
            raise ConnectionError("the server sent a masked frame")
        size, head = second & 0x7F, 2
        if size == 126:
            if end - pos < 4:
                break
            size, head = struct.unpack_from("!H", buffer, pos + 2)[0], 4
        elif size == 127:
            if end - pos < 10:
                break
            size, head = struct.unpack_from("!Q", buffer, pos + 2)[0], 10
        if end - pos < head + size:
            break
        frames.append(
            (first & 0x0F, bool(first & 0x80), bytes(buffer[pos + head : pos + head + size]))
        )
        pos += head + size
    del buffer[:pos]
    return frames


def arrival_time(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's receive timestamp (CLOCK_REALTIME), or now when there is none."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack_from("qq", data)
            return float(seconds + nanoseconds * 1e-9)
    return time.time()


@dataclass
class ReadStats:
    """What every viewer of a process shares: when data last came, how late it was read."""

    last_data: float = 0.0  # time.monotonic()
    lags: array[float] = field(default_factory=lambda: array("d"))


class Viewer:
    """One WebSocket viewer on a raw non-blocking socket, read with recvmsg for timestamps.

    A normal viewer notes, for each event number in a frame, when the frame arrived.
    A stalled one reads its snapshot and then stops reading until `resume()`.
    """

    def __init__(
        self,
        stats: ReadStats,
        times: array[float] | None,
        *,
        stall: bool = False,
        record: list[bytes] | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.stats = stats
        self.times = times
        self.stall = stall
        self.record = record
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.buffer = bytearray()
        self.parts: list[bytes] = []
        self.upgraded = False
        self.key = base64.b64encode(os.urandom(16))
        self.snapshot: asyncio.Future[bytes] = self.loop.create_future()
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self.reading = False
        self.ended: str | None = None  # "close 1013", "eof", "reset (...)", "aborted"
        self.ended_at: float | None = None
        self.messages = 0  # after the snapshot
        self.bytes_after_stop = 0
        self.last_seq = -1
        self.port = 0
        self.stopped_at = 0.0

    async def open(self, port: int, path: str, token: str, *, slow: bool = False) -> None:
        if slow:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RCVBUF)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, STALLED_MSS)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setblocking(False)
        await self.loop.sock_connect(self.sock, (HOST, port))
        self.port = int(self.sock.getsockname()[1])
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key.decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
        await self.loop.sock_sendall(self.sock, request)
        self._start_reading()
        await self.snapshot

    def resume(self) -> None:
        if self.ended is None:
            self._start_reading()

    def abort(self) -> None:
        self._end("aborted")

    def _start_reading(self) -> None:
        if not self.reading:
            self.reading = True
            self.loop.add_reader(self.sock.fileno(), self._readable)

    def _stop_reading(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.sock.fileno())

    def _readable(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(RECV_BYTES, ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._end(f"reset ({os.strerror(error.errno or 0)})")
            return
        if not data:
            self._end("eof")
            return
        arrived = arrival_time(ancillary)
        if self.snapshot.done():
            self.stats.lags.append(time.time() - arrived)
            if self.stall:
                self.bytes_after_stop += len(data)
        self.stats.last_data = time.monotonic()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            expected = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest())
            if not head.startswith(b"HTTP/1.1 101") or expected not in head:
                self._end("refused: " + head.split(b"\r\n", 1)[0].decode(errors="replace"))
                return
            self.upgraded = True
        try:
            frames = take_frames(self.buffer)
        except ConnectionError as error:
            self._end(str(error))
            return
        for opcode, fin, payload in frames:
            if opcode in (TEXT, BINARY, CONTINUATION):
                self.parts.append(payload)
                if fin:
                    message = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
                    self.parts = []
                    self._message(message, arrived)
            elif opcode == PING:
                self._send(client_frame(PONG, payload))
            elif opcode == CLOSE:
                code = struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else 1005
                self._send(client_frame(CLOSE, payload[:2]))
                self._end(f"close {code}")
                return

    def _message(self, message: bytes, arrived: float) -> None:
        if not self.snapshot.done():
            self.snapshot.set_result(message)
            if self.stall:
                self._stop_reading()
                self.stopped_at = time.time()
            return
        self.messages += 1
        if self.record is not None:
            self.record.append(message)
        times = self.times
        for match in NUMBER_RE.finditer(message):
            seq = int(match.group(1))
            self.last_seq = max(self.last_seq, seq)
            if times is not None and seq < len(times) and math.isnan(times[seq]):
                times[seq] = arrived

    def _send(self, frame: bytes) -> None:
        # A pong or a close reply that does not fit is dropped: the server copes.
        with contextlib.suppress(OSError):
            self.sock.send(frame)

    def _end(self, how: str) -> None:
        if self.ended is not None:
            return
        self.ended, self.ended_at = how, time.time()
        self._stop_reading()
        self.sock.close()
        if not self.snapshot.done():
            self.snapshot.set_exception(ConnectionError(how))
        if not self.finished.done():
            self.finished.set_result(None)

    @property
    def close_code(self) -> int | None:
        """The server's close code, 1006 when it hung up without one; None if still open."""
        if self.ended is None or self.ended == "aborted":
            return None
        return int(self.ended.split()[1]) if self.ended.startswith("close ") else 1006


# -- the viewer process ----------------------------------------------------------------------


async def viewer_process(args: argparse.Namespace) -> None:
    """Opens --count viewers (and --stalled ones), prints "ready {...}", reads until SIGTERM,
    then writes every viewer's arrival times (one row of --capacity doubles each) to --out
    and prints a JSON summary."""
    raise_open_files()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    stats = ReadStats()
    record: list[bytes] | None = [] if args.record else None
    normal = [
        Viewer(stats, array("d", [math.nan]) * args.capacity, record=record if n == 0 else None)
        for n in range(args.count)
    ]
    stalled = [Viewer(stats, None, stall=True) for _ in range(args.stalled)]
    limit = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def open_one(viewer: Viewer) -> None:
        async with limit:
            try:
                await asyncio.wait_for(
                    viewer.open(args.port, args.path, args.token, slow=viewer.stall), 60
                )
            except BaseException:
                viewer.abort()
                raise

    results = await asyncio.gather(
        *(open_one(v) for v in (*normal, *stalled)),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    ready = {
        "connected": sum(1 for v in normal if v.ended is None and v.snapshot.done()),
        "failed": len(failures),
        "error": repr(failures[0]) if failures else None,
        "stalled": [{"port": v.port, "stopped_at": v.stopped_at} for v in stalled],
    }
    print("ready " + json.dumps(ready), flush=True)
    cpu_start = time.process_time()
    await stop.wait()
    waited = time.monotonic()
    while time.monotonic() - max(stats.last_data, waited) < QUIET:
        if time.monotonic() - waited > QUIET_MAX:
            break
        await asyncio.sleep(QUIET / 3)
    cpu = time.process_time() - cpu_start
    still_open = [v for v in normal if v.ended is None]
    for viewer in stalled:
        viewer.resume()
    if stalled:
        await asyncio.wait([v.finished for v in stalled], timeout=DRAIN_TIMEOUT)
    with open(args.out, "wb") as out:
        for viewer in normal:
            assert viewer.times is not None
            viewer.times.tofile(out)
    if args.record:
        opened = normal and normal[0].snapshot.done() and not normal[0].snapshot.exception()
        first = normal[0].snapshot.result() if opened else b""
        Path(args.record).write_text(
            json.dumps(
                {
                    "snapshot": first.decode(errors="replace"),
                    "frames": [m.decode(errors="replace") for m in record or []],
                }
            )
        )
    codes = Counter(code for v in normal if (code := v.close_code) is not None)
    lags = sorted(stats.lags)
    report = {
        "connected": len(still_open),
        "close_codes": {str(code): n for code, n in sorted(codes.items())},
        "messages_median": statistics.median(v.messages for v in normal) if normal else 0,
        "cpu_seconds": cpu,
        "lag_p50_ms": percentile(lags, 0.50) * 1000 if lags else None,
        "lag_p99_ms": percentile(lags, 0.99) * 1000 if lags else None,
        "stalled": [
            {
                "port": v.port,
                "ended": v.ended or "still open",
                "ended_at": v.ended_at,
                "messages": v.messages,
                "bytes": v.bytes_after_stop,
                "last_seq": v.last_seq,
            }
            for v in stalled
        ],
    }
    for viewer in (*normal, *stalled):
        viewer.abort()
    print(json.dumps(report), flush=True)


# -- the bare broadcast server ---------------------------------------------------------------


async def bare_process(args: argparse.Namespace) -> None:
    """`websockets` viewers on --ws-port get the snapshot, then every event's bytes;
    GET /event/<seq> on --http-port (keep-alive) broadcasts event <seq> to all of them."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    raise_open_files()
    loaded = json.loads(Path(args.payloads).read_text())
    snapshot: str = loaded["snapshot"]
    payloads = {int(seq): text for seq, text in loaded["payloads"].items()}
    viewers: set[ServerConnection] = set()

    async def viewer(ws: ServerConnection) -> None:
        await ws.send(snapshot)
        viewers.add(ws)
        try:
            await ws.wait_closed()
        finally:
            viewers.discard(ws)

    async def trigger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answer = b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"ok":true}'
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1]
                message = payloads.get(int(target.rsplit(b"/", 1)[1]))
                if message is not None:
                    broadcast(viewers, message)
                writer.write(answer)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
            writer.close()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    http = await asyncio.start_server(trigger, HOST, args.http_port)
    async with serve(viewer, HOST, args.ws_port, compression=None, max_size=65536, backlog=2048):
        print("ready", flush=True)
        await stop.wait()
    http.close()


# -- helpers for the orchestrator ------------------------------------------------------------


def split_cpus() -> tuple[set[int], set[int]] | None:
    """The CPUs for the two servers and those for the rest (sender, viewers); None with one."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return {cpus[0]}, set(cpus[1:])


SERVER_CPUS: set[int] | None = None  # set by bench(): where the servers run


def on_server_cpus() -> None:
    """A server process's preexec_fn: onto the servers' CPU (viewers keep off it)."""
    if SERVER_CPUS is not None:
        os.sched_setaffinity(0, SERVER_CPUS)


def raise_open_files(wanted: int = OPEN_FILES) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:  # root may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
        except (ValueError, OSError):
            wanted = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


def percentile(ordered: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def event_numbers(first: int, count: int) -> range:
    """Sequence numbers of whole calls: three events each."""
    return range(first, first + 3 * max(1, round(count / 3)))


def dashboard_requests(port: int, seqs: range, run: str, prefix: str = "7") -> list[bytes]:
    templates = call_events(datetime.now(UTC))
    requests = []
    for seq in seqs:
        call, step = divmod(seq, 3)
        uniqueid = f"{run}-{call}"
        event = {
            name: value.replace(PLACEHOLDER, uniqueid) for name, value in templates[step].items()
        }
        event["number"] = f"{prefix}{seq:09d}"
        requests.append(
            f"GET /synapse/events?data={quote_plus(json.dumps(event))} HTTP/1.1\r\n"
            f"Host: {HOST}:{port}\r\n\r\n".encode()
        )
    return requests


def bare_requests(port: int, seqs: range) -> list[bytes]:
    return [f"GET /event/{seq} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode() for seq in seqs]


@dataclass
class Sent:
    seqs: range
    at: array[float]  # time.time() just before the request was written
    acked: array[float]  # when its 2xx had arrived
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    late_ms: float = 0.0  # the worst start behind schedule


async def send_events(
    port: int, seqs: range, requests: list[bytes], rate: float, start: float | None = None
) -> Sent:
    """Open loop: each request is written at its time whatever the answers to the earlier
    ones, as a PBX sends them (from `start`, a time.perf_counter(), or at once). Calls are
    spread over SENDER_CONNECTIONS keep-alive connections, a call's three events on the same
    one (pipelined), so they stay in order."""
    sent = Sent(seqs, array("d", [math.nan]) * len(seqs), array("d", [math.nan]) * len(seqs))
    lanes = [(seqs[n] // 3) % SENDER_CONNECTIONS for n in range(len(seqs))]
    connections = [await asyncio.open_connection(HOST, port) for _ in range(SENDER_CONNECTIONS)]
    in_flight: list[deque[int]] = [deque() for _ in connections]
    arrived = [asyncio.Event() for _ in connections]

    async def read_answers(lane: int) -> None:
        reader = connections[lane][0]
        for _ in range(lanes.count(lane)):
            while not in_flight[lane]:
                arrived[lane].clear()
                await arrived[lane].wait()
            status, body = await read_response(reader)
            n = in_flight[lane].popleft()
            if 200 <= status < 300:
                sent.acked[n] = time.time()
            else:
                sent.errors += 1
                if len(sent.error_samples) < 3:
                    sent.error_samples.append(f"HTTP {status}: {body[:200]!r}")

    readers = asyncio.gather(*(read_answers(lane) for lane in range(SENDER_CONNECTIONS)))
    start = time.perf_counter() + 0.05 if start is None else start
    try:
        for n, request in enumerate(requests):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent.late_ms = max(sent.late_ms, -delay * 1000)
            lane = lanes[n]
            in_flight[lane].append(n)
            arrived[lane].set()
            sent.at[n] = time.time()
            connections[lane][1].write(request)
        await asyncio.wait_for(readers, ANSWER_TIMEOUT)
    finally:
        readers.cancel()
        for _, writer in connections:
            writer.close()
    return sent


async def warm_up(port: int, token: str) -> None:
    """One viewer and one call: templates rendered, the grid shown, the database warm."""
    stats = ReadStats()
    viewer = Viewer(stats, None)
    await viewer.open(port, "/ws", token)
    await send_events(port, range(3), dashboard_requests(port, range(3), "warm", "6"), RATE)
    await asyncio.sleep(0.2)
    viewer.abort()
    await asyncio.sleep(0.3)


@dataclass
class ViewerRun:
    """The viewers' verdict once stopped: arrival times and their process summaries."""

    count: int
    capacity: int
    times: list[array[float]]  # one per normal viewer
    summaries: list[dict[str, Any]]
    ready: list[dict[str, Any]]
    record: dict[str, Any] | None
    cpu: float  # CPU seconds the viewer processes used while measuring

    @property
    def connected(self) -> int:
        return sum(int(s.get("connected", 0)) for s in self.summaries)

    @property
    def close_codes(self) -> dict[str, int]:
        codes: Counter[str] = Counter()
        for report in self.summaries:
            codes.update(report.get("close_codes", {}))
        return dict(codes)

    @property
    def stalled(self) -> list[dict[str, Any]]:
        return [v for s in self.summaries for v in s.get("stalled", [])]

    def lag_p99_ms(self) -> float | None:
        lags = [s["lag_p99_ms"] for s in self.summaries if s.get("lag_p99_ms") is not None]
        return max(lags) if lags else None


class Viewers:
    """Viewer processes (up to PER_PROCESS viewers each) of one server."""

    def __init__(self, tmp: Path, name: str) -> None:
        self.tmp, self.name = tmp, name
        self.processes: list[asyncio.subprocess.Process] = []
        self.counts: list[int] = []
        self.ready: list[dict[str, Any]] = []
        self.capacity = 0
        self.record: Path | None = None

    async def start(
        self,
        port: int,
        token: str,
        count: int,
        capacity: int,
        *,
        stalled: int = 0,
        record: bool = False,
    ) -> None:
        self.capacity = capacity
        self.record = self.tmp / f"{self.name}-record.json" if record else None
        self.counts = [min(PER_PROCESS, count - n) for n in range(0, count, PER_PROCESS)] or [0]
        for n, share in enumerate(self.counts):
            command = [
                *(sys.executable, str(Path(__file__).resolve()), "viewers"),
                *("--port", str(port), "--token", token, "--count", str(share)),
                *("--capacity", str(capacity), "--out", str(self.tmp / f"{self.name}-{n}.bin")),
                *("--stalled", str(stalled if n == 0 else 0)),
                *(("--record", str(self.record)) if self.record and n == 0 else ()),
            ]
            self.processes.append(
                await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
            )
        for process in self.processes:
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT)).decode()
            if not line.startswith("ready "):
                raise RuntimeError(f"a viewer process failed to start: {line.strip()!r}")
            self.ready.append(json.loads(line[len("ready ") :]))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) or 0.0 for pid in self.pids)

    async def stop(self) -> ViewerRun:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        summaries: list[dict[str, Any]] = []
        for process in self.processes:
            output, _ = await asyncio.wait_for(process.communicate(), 60)
            lines = output.decode().strip().splitlines()
            summaries.append(json.loads(lines[-1]) if lines else {"error": "no summary"})
        times: list[array[float]] = []
        for n, share in enumerate(self.counts):
            rows = array("d")
            path = self.tmp / f"{self.name}-{n}.bin"
            with path.open("rb") as data:
                rows.fromfile(data, share * self.capacity)
            path.unlink()
            times.extend(rows[v * self.capacity : (v + 1) * self.capacity] for v in range(share))
        record = (
            json.loads(self.record.read_text()) if self.record and self.record.exists() else None
        )
        return ViewerRun(
            sum(self.counts),
            self.capacity,
            times,
            summaries,
            self.ready,
            record,
            sum(float(s.get("cpu_seconds", 0.0)) for s in summaries),
        )

    async def kill(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.kill()
                await process.wait()


@dataclass
class Latencies:
    """Seconds, sorted: every (event, viewer) pair from the send and from the 2xx; per
    event, the first viewer's and the spread between its first and last viewer."""

    from_send: list[float]
    from_ack: list[float]
    first: list[float]
    spread: list[float]
    missing: int  # (event, viewer) pairs never received

    @classmethod
    def of(cls, run: ViewerRun, sent: Sent) -> Latencies:
        from_send: list[float] = []
        from_ack: list[float] = []
        earliest = [math.inf] * len(sent.seqs)
        latest = [-math.inf] * len(sent.seqs)
        missing = 0
        for times in run.times:
            for n, seq in enumerate(sent.seqs):
                arrived = times[seq]
                if math.isnan(arrived):
                    missing += 1
                    continue
                from_send.append(arrived - sent.at[n])
                from_ack.append(arrived - sent.acked[n])
                earliest[n] = min(earliest[n], arrived)
                latest[n] = max(latest[n], arrived)
        seen = [n for n in range(len(sent.seqs)) if earliest[n] != math.inf]
        return cls(
            sorted(from_send),
            sorted(from_ack),
            sorted(earliest[n] - sent.at[n] for n in seen),
            sorted(latest[n] - earliest[n] for n in seen),
            missing,
        )

    def p(self, share: float, *, ack: bool = False) -> float | None:
        values = self.from_ack if ack else self.from_send
        return percentile(values, share) * 1000 if values else None

    def p_of(self, values: list[float], share: float) -> float | None:
        return percentile(values, share) * 1000 if values else None


@dataclass
class Measurement:
    server: str  # "dashboard" or "bare"
    viewers: int
    latencies: Latencies | None = None
    rss_before: int = 0  # KiB
    rss_after: int = 0
    held: int = 0
    close_codes: dict[str, int] = field(default_factory=dict)
    rate: float = RATE
    server_cores: float | None = None
    server_cpu_per_event_us: float | None = None
    viewer_cores: float | None = None
    lag_p99_ms: float | None = None
    messages_median: float = 0.0
    events: int = 0
    errors: int = 0
    late_ms: float = 0.0
    failure: str | None = None
    payloads: dict[str, Any] | None = None  # what the bare server sends (dashboard runs only)
    log: ServerLog | None = None  # the dashboard's

    @property
    def kib_per_viewer(self) -> float:
        return (self.rss_after - self.rss_before) / self.viewers

    def p99(self) -> float | None:
        return self.latencies.p(0.99) if self.latencies else None


def event_payloads(record: dict[str, Any], seqs: range) -> tuple[dict[str, Any], int]:
    """The bytes the dashboard pushed for each event, cut out of one viewer's frames.

    Returns the bare server's input and how many events had to borrow another event's
    push of the same kind (with the number changed), not found on their own."""
    found: dict[int, str] = {}
    for frame in record["frames"]:
        for part in PUSH_START.split(frame):
            numbers = set(NUMBER_TEXT_RE.findall(part))
            if len(numbers) == 1:
                found.setdefault(int(numbers.pop()), part)
    borrowed = 0
    payloads: dict[str, str] = {}
    for seq in seqs:
        if seq in found:
            payloads[str(seq)] = found[seq]
            continue
        donor = next((s for s in found if s % 3 == seq % 3), None)
        if donor is None:
            continue
        borrowed += 1
        payloads[str(seq)] = found[donor].replace(f"7{donor:09d}", f"7{seq:09d}")
    return {"snapshot": record["snapshot"], "payloads": payloads}, borrowed


# -- the scenarios ---------------------------------------------------------------------------


@dataclass
class ServerLog:
    """What the dashboard wrote to its log: errors, and the exceptions they name."""

    errors: int = 0
    exceptions: Counter[str] = field(default_factory=Counter)

    def read(self, path: Path) -> None:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(("ERROR", "CRITICAL")):
                self.errors += 1
            elif match := EXCEPTION_LINE.match(line):
                self.exceptions[match.group(1).rsplit(".", 1)[-1]] += 1

    def __str__(self) -> str:
        if not self.errors:
            return "no errors"
        kinds = ", ".join(f"{name} x {n}" for name, n in self.exceptions.most_common(3))
        return f"{self.errors} errors ({kinds})"


@contextlib.contextmanager
def dashboard_server(tmp: Path, log: ServerLog) -> Iterator[Server]:
    """bench/server.py on a fresh database, its output kept out of the report."""
    folder = Path(tempfile.mkdtemp(prefix="dashboard-", dir=tmp))
    port, token_file, log_path = free_port(), folder / "viewer.token", folder / "server.log"
    command = [
        *(sys.executable, str(BENCH / "server.py"), "--host", HOST, "--port", str(port)),
        *("--db", str(folder / "bench.db"), "--linger", str(LINGER)),
        *("--token-file", str(token_file)),
    ]
    with log_path.open("w") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, text=True, preexec_fn=on_server_cpus
        )
        try:
            wait_until_serving(process, port)
            yield Server(port, process.pid, token_file.read_text().strip())
        finally:
            stop_process(process, signal.SIGINT)
            log.read(log_path)


@dataclass(frozen=True)
class BareServer:
    ws_port: int
    http_port: int
    pid: int


async def start_bare(
    tmp: Path, payloads: dict[str, Any], viewers: int
) -> tuple[BareServer, asyncio.subprocess.Process]:
    path = tmp / f"bare-{viewers}.json"
    path.write_text(json.dumps(payloads))
    ws_port, http_port = free_port(), free_port()
    command = [
        *(sys.executable, str(Path(__file__).resolve()), "bare"),
        *("--ws-port", str(ws_port), "--http-port", str(http_port), "--payloads", str(path)),
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, preexec_fn=on_server_cpus
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 20)
    if line.strip() != b"ready":
        raise RuntimeError("the bare server did not start")
    return BareServer(ws_port, http_port, process.pid), process


@dataclass
class Target:
    """A server under test, and the requests that make it push each event."""

    result: Measurement
    ws_port: int
    http_port: int
    pid: int
    token: str
    requests: list[bytes]


async def measure_fanout(
    targets: Sequence[Target],
    tmp: Path,
    seqs: range,
    *,
    record: bool = False,
    py_spy: Path | None = None,
) -> None:
    """Each target's viewers on (its RSS before and after), then the events at the rate, the
    targets taking turns: target k's n-th event goes k/len(targets) of an interval after the
    n-th of the first, so both servers are measured under the same load from the rest of
    the machine, never both pushing at once. Fills each target's result."""
    rate = targets[0].result.rate
    groups = [Viewers(tmp, f"{t.result.server}-{t.result.viewers}") for t in targets]
    try:
        for target, viewers in zip(targets, groups, strict=True):
            result = target.result
            result.rss_before = rss_kib(target.pid)
            await viewers.start(
                target.ws_port, target.token, result.viewers, seqs.stop, record=record
            )
            await asyncio.sleep(0.5)
            result.rss_after = rss_kib(target.pid)
            connected = sum(int(r["connected"]) for r in viewers.ready)
            if connected < result.viewers:
                errors = [r["error"] for r in viewers.ready if r.get("error")]
                result.failure = f"{connected}/{result.viewers} viewers connected ({errors[:1]})"
        spies = [
            await start_py_spy(py_spy, t.pid, t.result, len(seqs) / rate)
            for t in targets
            if py_spy and t.result.server == "dashboard"
        ]
        cpu_before = [
            (cpu_seconds(t.pid), v.cpu_seconds()) for t, v in zip(targets, groups, strict=True)
        ]
        started = time.perf_counter()
        sents = await asyncio.gather(
            *(
                send_events(
                    t.http_port, seqs, t.requests, rate, started + 0.2 + k / rate / len(targets)
                )
                for k, t in enumerate(targets)
            )
        )
        await asyncio.sleep(0.2)  # the last pushes
        elapsed = time.perf_counter() - started
        for target, viewers, (server_cpu, viewers_cpu) in zip(
            targets, groups, cpu_before, strict=True
        ):
            result, server_after = target.result, cpu_seconds(target.pid)
            if server_cpu is not None and server_after is not None:
                result.server_cores = (server_after - server_cpu) / elapsed
                result.server_cpu_per_event_us = (server_after - server_cpu) / len(seqs) * 1e6
            result.viewer_cores = (viewers.cpu_seconds() - viewers_cpu) / elapsed
        for spy in spies:
            if spy is not None:
                await spy.wait()
        runs = [await viewers.stop() for viewers in groups]
    finally:
        for viewers in groups:
            await viewers.kill()
    for target, run, sent in zip(targets, runs, sents, strict=True):
        note_run(target.result, run, sent, seqs)


def note_run(result: Measurement, run: ViewerRun, sent: Sent, seqs: range) -> None:
    result.latencies = Latencies.of(run, sent)
    result.held = run.connected
    result.close_codes = run.close_codes
    result.lag_p99_ms = run.lag_p99_ms()
    result.messages_median = statistics.median(
        float(s.get("messages_median", 0)) for s in run.summaries
    )
    result.events, result.errors, result.late_ms = len(seqs), sent.errors, sent.late_ms
    if run.record is not None:
        result.payloads, borrowed = event_payloads(run.record, seqs)
        if borrowed:
            print(f"    ({borrowed} events' bytes borrowed from another of the same kind)")


async def start_py_spy(
    folder: Path, pid: int, result: Measurement, seconds: float
) -> asyncio.subprocess.Process | None:
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{result.server}-{result.viewers}.txt"
    return await asyncio.create_subprocess_exec(
        *(str(spy), "record", "--pid", str(pid), "--rate", "250", "--format", "raw"),
        *("--duration", str(math.ceil(seconds)), "--output", str(out), "--nonblocking"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def record_payloads(tmp: Path, seqs: range, rate: float) -> dict[str, Any]:
    """What the bare server is to send for each event: the bytes a dashboard of its own
    pushes for it to one recording viewer, from the same start (a fresh database, the
    warm-up call) at the same rate, so with the same coalescing."""
    recording = Measurement("dashboard", 1, rate=rate)
    with dashboard_server(tmp, ServerLog()) as server:
        assert server.viewer_token is not None
        await warm_up(server.port, server.viewer_token)
        requests = dashboard_requests(server.port, seqs, "record")
        target = Target(
            recording, server.port, server.port, server.pid, server.viewer_token, requests
        )
        await measure_fanout([target], tmp, seqs, record=True)
    if recording.payloads is None:
        raise RuntimeError(f"no dashboard frames recorded ({recording.failure})")
    return recording.payloads


def measured_seconds(rate: float) -> float:
    return max(DURATION, MIN_EVENTS / rate)


async def fanout_pair(
    tmp: Path, viewers: int, rate: float, py_spy: Path | None
) -> tuple[Measurement, Measurement]:
    """The dashboard and the bare server, each with its viewers, the events taking turns."""
    dash = Measurement("dashboard", viewers, rate=rate, log=ServerLog())
    bare = Measurement("bare", viewers, rate=rate)
    seqs = event_numbers(0, round(rate * measured_seconds(rate)))
    try:
        payloads = await record_payloads(tmp, seqs, rate)
        assert dash.log is not None
        with dashboard_server(tmp, dash.log) as server:
            assert server.viewer_token is not None
            await warm_up(server.port, server.viewer_token)
            relay, process = await start_bare(tmp, payloads, viewers)
            try:
                targets = [
                    Target(
                        dash,
                        server.port,
                        server.port,
                        server.pid,
                        server.viewer_token,
                        dashboard_requests(server.port, seqs, f"fan{viewers}"),
                    ),
                    Target(
                        bare,
                        relay.ws_port,
                        relay.http_port,
                        relay.pid,
                        "-",
                        bare_requests(relay.http_port, seqs),
                    ),
                ]
                await measure_fanout(targets, tmp, seqs, py_spy=py_spy)
            finally:
                await stop_bare(process)
    except Exception as error:  # the other measurements still run
        for result in (dash, bare):
            if result.latencies is None:
                result.failure = f"{type(error).__name__}: {error}"
    return dash, bare


async def stop_bare(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()


def server_socket_states(server_port: int) -> dict[int, tuple[str, str, int]]:
    """The server's TCP sockets by client port: (state, inode, send queue bytes)."""
    states: dict[int, tuple[str, str, int]] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, queues, inode = fields[1], fields[2], fields[3], fields[4], fields[9]
        if int(local.rsplit(":", 1)[1], 16) == server_port:
            states[int(remote.rsplit(":", 1)[1], 16)] = (
                state,
                inode,
                int(queues.split(":")[0], 16),
            )
    return states


async def watch_closes(server_port: int, ports: list[int], closed: dict[int, float]) -> None:
    """Notes when the server's end of each connection stops being an open socket it owns
    (no longer ESTABLISHED, or orphaned: inode 0, or gone)."""
    while len(closed) < len(ports):
        states = server_socket_states(server_port)
        now = time.time()
        for port in ports:
            state = states.get(port)
            if port not in closed and (state is None or state[0] != "01" or state[1] == "0"):
                closed[port] = now
        await asyncio.sleep(0.025)


@dataclass
class SlowResult:
    before: Latencies | None = None
    during: Latencies | None = None
    normal_held: int = 0
    stalled: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None
    window: float = 0.0  # seconds from the stalled viewers' stop to the end of the watch
    queue: int = 0  # the dashboard's viewer_queue_size
    log: ServerLog = field(default_factory=ServerLog)

    def closed_after(self) -> list[float]:
        return [s["closed_after"] for s in self.stalled if s.get("closed_after") is not None]

    def evicted_after(self) -> list[float]:
        return [s["evicted_after"] for s in self.stalled if s.get("evicted_after") is not None]


async def slow_viewers(tmp: Path, queue_size: int) -> SlowResult:
    result = SlowResult(queue=queue_size)
    first = event_numbers(0, round(RATE * SLOW_BEFORE))
    second = event_numbers(first.stop, round(RATE * SLOW_WITH))
    normal, stalled = Viewers(tmp, "slow-normal"), Viewers(tmp, "slow-stalled")
    try:
        with dashboard_server(tmp, result.log) as server:
            token = server.viewer_token
            assert token is not None
            await warm_up(server.port, token)
            await normal.start(server.port, token, SLOW_NORMAL, second.stop)
            requests = dashboard_requests(server.port, event_numbers(0, second.stop), "slow")
            sent_before = await send_events(server.port, first, requests[: first.stop], RATE)
            await asyncio.sleep(0.5)
            await stalled.start(server.port, token, 0, 1, stalled=SLOW_STALLED)
            info = stalled.ready[0]["stalled"]
            ports = [int(s["port"]) for s in info]
            closed: dict[int, float] = {}
            watcher = asyncio.create_task(watch_closes(server.port, ports, closed))
            sent_with = await send_events(server.port, second, requests[first.stop :], RATE)
            await asyncio.sleep(CLOSE_GRACE)
            watcher.cancel()
            end_of_watch = time.time()
            stalled_run = await stalled.stop()
            normal_run = await normal.stop()
    except Exception as error:
        result.failure = f"{type(error).__name__}: {error}"
        return result
    finally:
        await stalled.kill()
        await normal.kill()
    result.before = Latencies.of(normal_run, sent_before)
    result.during = Latencies.of(normal_run, sent_with)
    result.normal_held = normal_run.connected
    stopped = {int(s["port"]): float(s["stopped_at"]) for s in info}
    result.window = end_of_watch - min(stopped.values(), default=end_of_watch)
    for viewer in stalled_run.stalled:
        port = int(viewer["port"])
        entry = dict(viewer, stopped_at=stopped[port])
        if port in closed:
            entry["closed_after"] = closed[port] - stopped[port]
        # Inferred: after the last event that reached the viewer's socket, the dashboard
        # writes `queue_size` more that stay unsent, and evicts at the next one (sweeper
        # removals count too: a little earlier).
        overflow = int(viewer["last_seq"]) + queue_size + 1
        if second.start <= overflow < second.stop:
            entry["evicted_after"] = sent_with.at[overflow - second.start] - stopped[port]
        result.stalled.append(entry)
    return result


# -- the report ------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".1f", unit: str = "") -> str:
    return "-" if value is None else f"{format(value, spec)}{unit}"


def print_measurement(m: Measurement) -> None:
    name = f"  {m.server:<9} {m.viewers:>4} viewers:"
    if m.latencies is None:
        print(f"{name} not measured: {m.failure}")
        return
    lat = m.latencies
    print(
        f"{name} p50 {fmt(lat.p(0.5), '.2f')} ms, p99 {fmt(lat.p(0.99), '.2f')} ms, "
        f"max {fmt(lat.p(1.0), '.2f')} ms from the send "
        f"(from the 2xx: p50 {fmt(lat.p(0.5, ack=True), '.2f')}, "
        f"p99 {fmt(lat.p(0.99, ack=True), '.2f')} ms)"
    )
    print(
        f"{'':>25}first viewer p50 {fmt(lat.p_of(lat.first, 0.5), '.2f')} ms, "
        f"p99 {fmt(lat.p_of(lat.first, 0.99), '.2f')} ms; spread to the last viewer "
        f"p50 {fmt(lat.p_of(lat.spread, 0.5), '.2f')} ms, "
        f"p99 {fmt(lat.p_of(lat.spread, 0.99), '.2f')} ms"
    )
    print(
        f"{'':>25}{len(lat.from_send)} pairs, {lat.missing} missing; {m.events} events "
        f"in {m.messages_median:.0f} frames per viewer (median); "
        f"sender at most {m.late_ms:.1f} ms behind, {m.errors} errors"
    )
    print(
        f"{'':>25}CPU (cores): server {fmt(m.server_cores, '.2f')} "
        f"({fmt(m.server_cpu_per_event_us, '.0f')} us per event), viewers "
        f"{fmt(m.viewer_cores, '.2f')}; viewers read p99 {fmt(m.lag_p99_ms, '.2f')} ms after "
        f"arrival; RSS {m.rss_before / 1024:.1f} -> {m.rss_after / 1024:.1f} MiB = "
        f"{m.kib_per_viewer:.1f} KiB/viewer; held {m.held}/{m.viewers}"
        + (f", closed: {m.close_codes}" if m.close_codes else "")
        + (f"; {m.failure}" if m.failure else "")
    )
    if m.log is not None:
        print(f"{'':>25}the dashboard's log: {m.log}")


def print_slow(slow: SlowResult) -> None:
    print(
        f"\nSlow viewers: {SLOW_NORMAL} normal viewers, then {SLOW_STALLED} more that stop reading"
    )
    if slow.failure:
        print(f"  not measured: {slow.failure}")
        return
    for label, lat in (
        ("without stalled viewers", slow.before),
        ("with stalled viewers", slow.during),
    ):
        if lat is not None:
            print(
                f"  normal viewers {label:<24} p50 {fmt(lat.p(0.5), '.2f')} ms, "
                f"p99 {fmt(lat.p(0.99), '.2f')} ms ({len(lat.from_send)} pairs, "
                f"{lat.missing} missing)"
            )
    print(
        f"  normal viewers held: {slow.normal_held}/{SLOW_NORMAL}; the dashboard's log: {slow.log}"
    )
    evicted, closed = slow.evicted_after(), slow.closed_after()
    endings = Counter(str(s["ended"]) for s in slow.stalled)
    print(
        f"  stalled viewers ({len(slow.stalled)}, {STALLED_RCVBUF} B receive buffer, MSS "
        f"{STALLED_MSS}): evicted {span(evicted)} s after they stopped reading (inferred: "
        f"at the event after the last that reached them and {slow.queue} more left unsent); "
        f"server's socket closed: {span(closed) + ' s' if closed else 'never'} "
        f"({len(closed)}/{len(slow.stalled)} within {slow.window:.0f} s)"
    )
    for s in slow.stalled[:1]:
        print(
            f"  reading again, each got {s['messages']} messages ({s['bytes'] / 1024:.0f} KiB, "
            f"up to event {s['last_seq']}) buffered before the eviction, then: "
            + ", ".join(f"{n} x {how}" for how, n in endings.items())
        )


def span(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:.1f}" if high - low < 0.05 else f"{low:.1f}-{high:.1f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


@dataclass
class RunVerdict:
    """One run's two fan-out verdicts: the added latency's growth, and p99 against bare."""

    small: int
    large: int
    added: dict[int, float | None]  # size -> dashboard p50 minus bare p50, ms
    p99_ratios: dict[int, float | None]  # size -> dashboard p99 over bare p99 (not `small`)
    failures: list[str]
    load: tuple[float, float]  # the machine's 1-minute load average before and after

    @classmethod
    def of(
        cls,
        sizes: Sequence[int],
        results: dict[tuple[str, int], Measurement],
        load: tuple[float, float],
    ) -> RunVerdict:
        added: dict[int, float | None] = {}
        ratios: dict[int, float | None] = {}
        failures: list[str] = []
        for size in sizes:
            dash, bare = results[("dashboard", size)], results[("bare", size)]
            failures += [f"{m.server} {size}: {m.failure}" for m in (dash, bare) if m.failure]
            dash_p50 = dash.latencies.p(0.5) if dash.latencies else None
            bare_p50 = bare.latencies.p(0.5) if bare.latencies else None
            added[size] = None if dash_p50 is None or bare_p50 is None else dash_p50 - bare_p50
            if size != min(sizes):
                ratios[size] = ratio(dash.p99(), bare.p99())
        return cls(min(sizes), max(sizes), added, ratios, failures, load)

    @property
    def added_ratio(self) -> float | None:
        """Added latency at the largest size over the smallest (None when that is <= 0)."""
        small, large = self.added[self.small], self.added[self.large]
        return large / small if small is not None and large is not None and small > 0 else None

    @property
    def added_ok(self) -> bool:
        small, large = self.added[self.small], self.added[self.large]
        if small is None or large is None or self.failures:
            return False
        return large <= ADDED_TARGET * max(small, 0.0)

    @property
    def p99_ok(self) -> bool:
        return not self.failures and all(
            r is not None and r <= RATIO_TARGET for r in self.p99_ratios.values()
        )

    def added_text(self) -> str:
        return (
            f"added {fmt(self.added[self.large], '.2f')} ms at {self.large} / "
            f"{fmt(self.added[self.small], '.2f')} ms at {self.small} = "
            f"{fmt(self.added_ratio, '.2f')}x"
        )

    def p99_text(self) -> str:
        return ", ".join(f"{fmt(r, '.2f')}x at {size}" for size, r in self.p99_ratios.items())

    def line(self) -> str:
        return (
            f"{self.added_text()} {'PASS' if self.added_ok else 'FAIL'}; p99 over bare "
            f"{self.p99_text()} {'PASS' if self.p99_ok else 'FAIL'}; load average "
            f"{self.load[0]:.1f} -> {self.load[1]:.1f}"
            + (f" ({'; '.join(self.failures)})" if self.failures else "")
        )


def held_badly(m: Measurement) -> tuple[int, int, int]:
    """Sorts the worst-held measurement first: fewest held, most closed, most missed."""
    missing = m.latencies.missing if m.latencies else 1 << 30
    return (m.held, -sum(m.close_codes.values()), -missing)


def fanout_verdicts(runs: list[RunVerdict]) -> list[tuple[str, str, str, str]]:
    """The two verdicts over every run: how many runs held each (most of them must)."""
    small, large = runs[0].small, runs[0].large
    most = len(runs) // 2 + 1
    added_passes = sum(run.added_ok for run in runs)
    p99_passes = sum(run.p99_ok for run in runs)
    sizes = " and ".join(str(size) for size in runs[0].p99_ratios)
    return [
        (
            f"fan-out added p50, {large} over {small} viewers",
            f"{added_passes}/{len(runs)} runs: "
            + " ".join(fmt(run.added_ratio, ".2f") for run in runs)
            + "x",
            f"<= {ADDED_TARGET}x, {most}/{len(runs)}",
            "PASS" if added_passes >= most else "FAIL",
        ),
        (
            f"fan-out p99 over bare, {sizes} viewers (worse)",
            f"{p99_passes}/{len(runs)} runs: "
            + " ".join(fmt(worst(run.p99_ratios.values()), ".2f") for run in runs)
            + "x",
            f"<= {RATIO_TARGET}x, {most}/{len(runs)}",
            "PASS" if p99_passes >= most else "FAIL",
        ),
    ]


def worst(ratios: Iterable[float | None]) -> float | None:
    values = list(ratios)
    return None if None in values or not values else max(v for v in values if v is not None)


def verdicts(
    sizes: Sequence[int],
    rounds: list[dict[tuple[str, int], Measurement]],
    runs: list[RunVerdict],
    slow: SlowResult | None,
) -> list[tuple[str, str, str, str]]:
    rows = fanout_verdicts(runs)
    big = max(sizes)
    dash = max((r[("dashboard", big)] for r in rounds), key=lambda m: m.kib_per_viewer)
    bare = max((r[("bare", big)] for r in rounds), key=lambda m: m.kib_per_viewer)
    measured = all(r[("dashboard", big)].rss_after > 0 for r in rounds)
    rows.append(
        (
            f"memory per viewer, {big} viewers",
            f"{dash.kib_per_viewer:.1f} KiB (bare {bare.kib_per_viewer:.1f})" if measured else "-",
            f"< {MEMORY_TARGET_KIB:.0f} KiB",
            "PASS" if measured and dash.kib_per_viewer < MEMORY_TARGET_KIB else "FAIL",
        )
    )
    dash = min((r[("dashboard", big)] for r in rounds), key=held_badly)
    codes = ", ".join(f"{n} x {c}" for c, n in dash.close_codes.items()) or "none closed"
    missing = dash.latencies.missing if dash.latencies else None
    rows.append(
        (
            f"{big} viewers held" + (f" (worst of {len(rounds)} runs)" if len(rounds) > 1 else ""),
            f"{dash.held}/{big}, {codes}, {fmt(missing, 'd')} missed",
            f"{big}/{big}",
            "PASS" if dash.held == big and not dash.close_codes and missing == 0 else "FAIL",
        )
    )
    if slow is not None:
        rows += slow_verdicts(slow)
    return rows


def slow_verdicts(slow: SlowResult) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    closed, evicted = slow.closed_after(), slow.evicted_after()
    all_closed = len(closed) == SLOW_STALLED
    rows.append(
        (
            "stalled viewer let go",
            f"evicted ~{fmt(max(evicted, default=None), '.1f')} s, socket closed "
            + (
                f"{max(closed):.1f} s"
                if all_closed
                else f"{len(closed)}/{SLOW_STALLED} in {slow.window:.0f} s"
            ),
            f"closed in {SLOW_WITH:.0f} s",
            "PASS" if all_closed and max(closed) <= SLOW_WITH else "FAIL",
        )
    )
    before = slow.before.p(0.99) if slow.before else None
    during = slow.during.p(0.99) if slow.during else None
    r = ratio(during, before)
    rows.append(
        (
            "others' p99 with stalled",
            f"{fmt(during, '.2f')} vs {fmt(before, '.2f')} ms = {fmt(r, '.2f')}x",
            f"<= {RATIO_TARGET}x without",
            "PASS" if r is not None and r <= RATIO_TARGET else "FAIL",
        )
    )
    return rows


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    widths = [
        max(len(row[i]) for row in [("measure", "figure", "target", ""), *rows]) for i in range(3)
    ]
    header = f"{'measure':<{widths[0]}}  {'figure':<{widths[1]}}  {'target':<{widths[2]}}  verdict"
    print(header)
    print("-" * len(header))
    for measure, figure, target, verdict in rows:
        print(f"{measure:<{widths[0]}}  {figure:<{widths[1]}}  {target:<{widths[2]}}  {verdict}")


async def bench(args: argparse.Namespace) -> None:
    from dashboard.settings import Settings

    global SERVER_CPUS
    files = raise_open_files()
    split = split_cpus()
    if split is not None:  # this process's children (the viewers) inherit the rest
        SERVER_CPUS, others = split
        os.sched_setaffinity(0, others)
    queue_size = Settings().viewer_queue_size
    sizes: list[int] = args.sizes
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    rounds: list[dict[tuple[str, int], Measurement]] = []
    runs: list[RunVerdict] = []
    slow: SlowResult | None = None
    tmp_root = "/var/tmp" if os.path.isdir("/var/tmp") else None
    with tempfile.TemporaryDirectory(prefix="dashboard-fanout-", dir=tmp_root) as folder:
        tmp = Path(folder)
        print(
            f"Fan-out: up to {RATE:g} events/s, the same for every size, at most "
            f"{args.max_deliveries} deliveries/s "
            f"(open files: {files}); {args.runs} run(s); "
            + (
                f"servers on CPU {sorted(split[0])}, sender and viewers on {sorted(split[1])}"
                if split
                else "one CPU for all"
            )
        )
        for n in range(args.runs):
            if args.runs > 1:
                print(f"Run {n + 1} of {args.runs}:")
            spy = args.py_spy / f"run{n + 1}" if args.py_spy and args.runs > 1 else args.py_spy
            load = os.getloadavg()[0]
            rounds.append(await fanout_round(tmp, sizes, args.max_deliveries, spy))
            runs.append(RunVerdict.of(sizes, rounds[-1], (load, os.getloadavg()[0])))
            print(f"  run {n + 1}: {runs[-1].line()}", flush=True)
        if not args.no_slow:
            slow = await slow_viewers(tmp, queue_size)
    print(f"\n{CLOCK_NOTE}")
    if slow is not None:
        print_slow(slow)
    print(
        f"\n{time.perf_counter() - started:.0f} s in all; {os.cpu_count()} CPUs, load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after; viewer queue {queue_size}; "
        f"{LINGER:g} s linger"
    )
    if args.py_spy:
        print(f"py-spy profiles of the dashboard (collapsed stacks): {args.py_spy}")
    print()
    for n, run in enumerate(runs, 1):
        print(f"run {n}: {run.line()}")
    print()
    rows = verdicts(sizes, rounds, runs, slow)
    print_table(rows)
    for measure, figure, target, verdict in rows:
        summary.record("fanout", measure, figure, target, verdict)


async def fanout_round(
    tmp: Path, sizes: Sequence[int], max_deliveries: int, py_spy: Path | None
) -> dict[tuple[str, int], Measurement]:
    """Every size once: the dashboard, then the bare server replaying its bytes."""
    results: dict[tuple[str, int], Measurement] = {}
    rate = min(RATE, max_deliveries / max(sizes) / 2)  # two servers at once
    for size in sizes:
        print(f"{size} viewers, {rate:g} events/s for {measured_seconds(rate):g} s:")
        dash, bare = await fanout_pair(tmp, size, rate, py_spy)
        results[("dashboard", size)], results[("bare", size)] = dash, bare
        print_measurement(dash)
        print_measurement(bare)
    return results


def run_async(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="viewer counts")
    parser.add_argument(
        "--max-deliveries",
        type=int,
        default=MAX_DELIVERIES,
        help=f"events/s x viewers at most, both servers' (the rate is {RATE:g}/s below it)",
    )
    parser.add_argument("--py-spy", type=Path, help="profile the dashboard into this folder")
    parser.add_argument(
        "--runs", type=int, default=1, help="measure every size this many times (the target: 5)"
    )
    parser.add_argument("--no-slow", action="store_true", help="skip the slow viewers")
    roles = parser.add_subparsers(dest="role")
    viewers = roles.add_parser("viewers", help="(internal) a viewer process")
    viewers.add_argument("--port", type=int, required=True)
    viewers.add_argument("--path", default="/ws")
    viewers.add_argument("--token", required=True)
    viewers.add_argument("--count", type=int, required=True)
    viewers.add_argument("--stalled", type=int, default=0)
    viewers.add_argument("--capacity", type=int, required=True, help="event numbers to note")
    viewers.add_argument("--out", required=True)
    viewers.add_argument("--record", help="write the first viewer's messages here (JSON)")
    bare = roles.add_parser("bare", help="(internal) the bare broadcast server")
    bare.add_argument("--ws-port", type=int, required=True)
    bare.add_argument("--http-port", type=int, required=True)
    bare.add_argument("--payloads", required=True)
    args = parser.parse_args()
    if args.role == "viewers":
        run_async(viewer_process(args))
    elif args.role == "bare":
        run_async(bare_process(args))
    else:
        run_async(bench(args))


if __name__ == "__main__":
    main()
