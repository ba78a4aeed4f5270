"""Ingest throughput next to a durable bare receiver and a bare endpoint, with 0 and 100 viewers.

    .venv/bin/python bench/ingest.py            (what `make bench` runs)

Three servers take turns, several rounds, and the medians give the ratios:
- the dashboard as `dashboard serve` runs it (bench/server.py: its uvicorn options and its
  logging, to a file), ingesting GET /synapse/events?data=<event JSON> (parse, store, call
  state, render, publish, answer once stored);
- the durable bare receiver (bench/receiver.py), a process of its own on the same stack
  and nothing of the dashboard: it parses the same events, appends each to a SQLite table
  (WAL, the same `synchronous`) with one commit per turn of the event loop, and answers
  once committed: the least a receiver that never loses an acknowledged event can do;
- `GET /bare` of the dashboard's process, a handler returning {"ok": true}: stores nothing
  (a route like any other but the PBX's, it logs an access line per request).
A separate load-generator process (bench/loadgen.py) measures each. Its calls' uniqueids
are one sequence, as Asterisk numbers a PBX's calls; --scattered-uniqueids numbers each
connection's calls after a prefix of its own, as this bench did before 2026-12-02: no PBX
does, and it put each connection's calls in a place of their own in every index by uniqueid
(about three times the pages each commit writes). The second scenario
repeats this while a third process (bench/viewers.py) keeps 100 WebSocket viewers connected
to /ws, reading every message (--viewers 0: not). Each ratio is to a baseline measured in the
same rounds; on a shared machine the server CPU per request is the steadier figure. The exit
code is 0 whatever the verdict: this is a report.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import summary

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
LINGER = 1.0  # finished calls leave the board (a push each) within the run that finished them
SWEEP_INTERVAL = 1.0  # Ingestor.run_sweeper's default
# After an ingest run: the last finished calls have left the board before the next run starts.
SETTLE = LINGER + SWEEP_INTERVAL + 0.5
STARTUP_TIMEOUT = 20.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
UNIQUEIDS = {False: "in one sequence, as a PBX numbers its calls", True: "one prefix a connection"}


class BenchError(RuntimeError):
    """A scenario could not be measured; the others still are."""


@dataclass(frozen=True)
class Options:
    rounds: int
    warmup: float
    duration: float
    connections: int
    viewers: int
    profile: Path | None
    scattered_uniqueids: bool = False


@dataclass(frozen=True)
class Measurement:
    rate: float
    ok_total: int
    errors: int
    error_samples: list[str]
    p50_ms: float | None
    p99_ms: float | None
    loadgen_cpu: float
    server_cpu: float | None
    viewers_cpu: float | None

    @property
    def server_us(self) -> float | None:
        """Server CPU time per request, in microseconds: robust to a busy machine."""
        if self.server_cpu is None or not self.rate:
            return None
        return self.server_cpu / self.rate * 1e6


DURABLE_TARGET = 0.5  # of the durable bare receiver's events/s


@dataclass
class Scenario:
    name: str
    viewers: int
    target: float  # of the bare endpoint's req/s
    bare: list[Measurement] = field(default_factory=list)
    durable: list[Measurement] = field(default_factory=list)
    ingest: list[Measurement] = field(default_factory=list)
    viewer_report: dict[str, Any] | None = None
    failure: str | None = None

    def runs(self, target: str) -> list[Measurement]:
        runs: list[Measurement] = getattr(self, target)
        return runs

    @property
    def bare_rate(self) -> float:
        return statistics.median(m.rate for m in self.bare) if self.bare else 0.0

    @property
    def durable_rate(self) -> float:
        return statistics.median(m.rate for m in self.durable) if self.durable else 0.0

    @property
    def ingest_rate(self) -> float:
        return statistics.median(m.rate for m in self.ingest) if self.ingest else 0.0

    @property
    def ratio(self) -> float:
        return self.ingest_rate / self.bare_rate if self.bare_rate else 0.0

    @property
    def durable_ratio(self) -> float:
        return self.ingest_rate / self.durable_rate if self.durable_rate else 0.0

    @property
    def cpu_ratio(self) -> float | None:
        """Bare over ingest server CPU per request: the ratio a saturated server would show."""
        return self.cpu_ratio_to(self.bare)

    @property
    def durable_cpu_ratio(self) -> float | None:
        return self.cpu_ratio_to(self.durable)

    def cpu_ratio_to(self, baseline: list[Measurement]) -> float | None:
        base = median_of([m.server_us for m in baseline])
        ingest = median_of([m.server_us for m in self.ingest])
        return base / ingest if base and ingest else None

    @property
    def events_sent(self) -> int:
        return sum(m.ok_total for m in self.ingest)

    @property
    def errors(self) -> int:
        return sum(m.errors for m in (*self.bare, *self.durable, *self.ingest))

    @property
    def viewers_dropped(self) -> int:
        report = self.viewer_report
        return self.viewers - report.get("connected", 0) if report is not None else 0

    @property
    def verdict(self) -> str:
        return self.judge(self.ratio, self.target)

    @property
    def durable_verdict(self) -> str:
        return self.judge(self.durable_ratio, DURABLE_TARGET)

    def judge(self, ratio: float, target: float) -> str:
        if self.failure:
            return "FAIL (not measured)"
        problems = [
            *(["errors"] if self.errors else []),
            *(["viewers dropped"] if self.viewers_dropped else []),
        ]
        verdict = "PASS" if ratio >= target and not problems else "FAIL"
        return f"{verdict} ({', '.join(problems)})" if problems else verdict


# -- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (Linux), None when unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def http_json(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=5) as response:
        result: dict[str, Any] = json.load(response)
        return result


def stop_process(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class Server:
    port: int
    pid: int
    viewer_token: str | None
    log: Path | None = None


@contextmanager
def running_server(port: int, tmp: Path, profile: Path | None) -> Iterator[Server]:
    """The dashboard as `dashboard serve` runs it; its log goes to a file."""
    token_file = tmp / "viewer.token"
    log = tmp / "server.log"
    command = [
        *(sys.executable, str(BENCH / "server.py"), "--host", HOST, "--port", str(port)),
        *("--db", str(tmp / "bench.db"), "--linger", str(LINGER)),
        *("--token-file", str(token_file)),
    ]
    if profile:
        command += ["--profile", str(profile)]
    with log.open("w") as log_file:
        process = subprocess.Popen(command, text=True, stdout=log_file, stderr=log_file)
        try:
            wait_until_serving(process, port, "/bare")  # ours, not some other server's
            token = token_file.read_text().strip() if token_file.exists() else None
            yield Server(port, process.pid, token, log)
        finally:
            stop_process(process, signal.SIGINT)


@contextmanager
def running_receiver(port: int, tmp: Path) -> Iterator[Server]:
    """The durable bare receiver (bench/receiver.py), a process of its own."""
    command = [
        *(sys.executable, str(BENCH / "receiver.py"), "--host", HOST, "--port", str(port)),
        *("--db", str(tmp / "receiver.db")),
    ]
    process = subprocess.Popen(command, text=True)
    try:
        wait_until_serving(process, port, "/healthz")
        if http_json(port, "/healthz").get("receiver") != "durable":
            raise SystemExit(f"port {port} is not the durable receiver's")
        yield Server(port, process.pid, None)
    finally:
        stop_process(process, signal.SIGINT)


def wait_until_serving(process: subprocess.Popen[str], port: int, *paths: str) -> None:
    deadline = time.perf_counter() + STARTUP_TIMEOUT
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with code {process.returncode}")
        try:
            for path in ("/healthz", *paths):
                http_json(port, path)
        except OSError:
            time.sleep(0.1)
            continue
        return
    raise SystemExit("the server did not start in time")


@contextmanager
def running_viewers(server: Server, count: int, report: dict[str, Any]) -> Iterator[int]:
    """Yields the viewer process's pid; fills `report` with its counts once it stops."""
    command = [
        *(sys.executable, str(BENCH / "viewers.py")),
        *("--url", f"ws://{HOST}:{server.port}/ws", "--count", str(count)),
        *(("--token", server.viewer_token) if server.viewer_token else ()),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        ready = process.stdout.readline().strip()
        if ready != f"ready {count}":
            raise BenchError(f"the viewers could not connect ({ready or 'no answer'})")
        yield process.pid
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        if output.strip():
            report.update(json.loads(output.strip().splitlines()[-1]))


@dataclass(frozen=True)
class CpuSample:
    at: float
    server: float | None
    viewers: float | None

    @classmethod
    def take(cls, server_pid: int, viewers_pid: int | None) -> CpuSample:
        return cls(time.perf_counter(), cpu_seconds(server_pid), cpu_seconds(viewers_pid))


def cpu_share(start: CpuSample | None, end: CpuSample | None, process: str) -> float | None:
    """Cores a process used between two samples."""
    if start is None or end is None:
        return None
    before, after = getattr(start, process), getattr(end, process)
    if before is None or after is None:
        return None
    return float(after - before) / (end.at - start.at)


def run_loadgen(
    server: Server, target: str, options: Options, run_id: str, viewers_pid: int | None
) -> Measurement:
    """One run against `server` (its CPU is what is sampled as the server's)."""
    command = [
        *(sys.executable, str(BENCH / "loadgen.py"), "--host", HOST, "--port", str(server.port)),
        *("--target", target, "--connections", str(options.connections), "--run-id", run_id),
        *("--warmup", str(options.warmup), "--duration", str(options.duration)),
        *(("--scattered-uniqueids",) if options.scattered_uniqueids else ()),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    # The load generator prints "start" and "end" around its measured window.
    samples: dict[str, CpuSample] = {}
    result: dict[str, Any] = {}
    for line in process.stdout:
        line = line.strip()
        if line in ("start", "end"):
            samples[line] = CpuSample.take(server.pid, viewers_pid)
        elif line:
            result = json.loads(line)
    if process.wait() != 0 or not result:
        raise SystemExit(f"the load generator failed (exit code {process.returncode})")
    start, end = samples.get("start"), samples.get("end")
    return Measurement(
        rate=result["rate"],
        ok_total=result["ok_total"],
        errors=result["errors"],
        error_samples=result["error_samples"],
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        loadgen_cpu=result["cpu"],
        server_cpu=cpu_share(start, end, "server"),
        viewers_cpu=cpu_share(start, end, "viewers"),
    )


# -- the measurements -------------------------------------------------------------------------


TARGETS = ("bare", "durable", "ingest")


def measure(
    scenario: Scenario, servers: dict[str, Server], options: Options, viewers_pid: int | None
) -> None:
    for round_no in range(1, options.rounds + 1):
        for target in TARGETS:
            run_id = f"v{scenario.viewers}r{round_no}"
            measurement = run_loadgen(servers[target], target, options, run_id, viewers_pid)
            scenario.runs(target).append(measurement)
            print(
                f"  {scenario.name:<12} round {round_no} {target:<7} "
                f"{measurement.rate:>9.0f}/s  errors {measurement.errors}",
                flush=True,
            )
            if target == "ingest":
                time.sleep(SETTLE)


def run_scenario(scenario: Scenario, servers: dict[str, Server], options: Options) -> None:
    if not scenario.viewers:
        measure(scenario, servers, options, None)
        return
    report: dict[str, Any] = {}
    try:
        with running_viewers(servers["ingest"], scenario.viewers, report) as viewers_pid:
            measure(scenario, servers, options, viewers_pid)
    except BenchError as error:
        scenario.failure = str(error)
    scenario.viewer_report = report


# -- the report -------------------------------------------------------------------------------


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def median_of(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def print_table(scenarios: list[Scenario]) -> None:
    header = (
        f"{'scenario':<12} {'events/s':>9} {'durable/s':>9} {'ratio':>6} {'target':>6}"
        f"  {'bare req/s':>10} {'ratio':>6} {'target':>6}  verdicts (durable, bare)"
    )
    print(header)
    print("-" * len(header))
    for s in scenarios:
        verdicts = f"{s.durable_verdict}, {s.verdict}"
        if s.failure:
            print(
                f"{s.name:<12} {'-':>9} {'-':>9} {'-':>6} {DURABLE_TARGET:>6.2f}"
                f"  {'-':>10} {'-':>6} {s.target:>6.2f}  {verdicts}"
            )
            continue
        print(
            f"{s.name:<12} {s.ingest_rate:>9.0f} {s.durable_rate:>9.0f} {s.durable_ratio:>6.2f}"
            f" {DURABLE_TARGET:>6.2f}  {s.bare_rate:>10.0f} {s.ratio:>6.2f} {s.target:>6.2f}"
            f"  {verdicts}"
        )


def print_details(scenarios: list[Scenario], options: Options) -> None:
    for s in scenarios:
        print(f"\n{s.name}:")
        if s.failure:
            print(f"  not measured: {s.failure}")
            continue
        print(f"  bare    runs: {', '.join(f'{m.rate:.0f}' for m in s.bare)} req/s")
        print(f"  durable runs: {', '.join(f'{m.rate:.0f}' for m in s.durable)} events/s")
        print(f"  ingest  runs: {', '.join(f'{m.rate:.0f}' for m in s.ingest)} events/s")
        print(
            f"  ingest latency ({options.connections} connections): "
            f"p50 {fmt(median_of([m.p50_ms for m in s.ingest]), '.1f')} ms, "
            f"p99 {fmt(median_of([m.p99_ms for m in s.ingest]), '.1f')} ms (medians of runs)"
        )
        print(
            f"  durable latency: p50 {fmt(median_of([m.p50_ms for m in s.durable]), '.1f')} ms, "
            f"p99 {fmt(median_of([m.p99_ms for m in s.durable]), '.1f')} ms"
        )
        for label, runs in (("bare", s.bare), ("durable", s.durable), ("ingest", s.ingest)):
            print(
                f"  CPU during {label:<7} (cores): "
                f"server {fmt(median_of([m.server_cpu for m in runs]), '.2f')}, "
                f"load generator {fmt(median_of([m.loadgen_cpu for m in runs]), '.2f')}, "
                f"viewers {fmt(median_of([m.viewers_cpu for m in runs]), '.2f')}; "
                f"server {fmt(median_of([m.server_us for m in runs]), '.0f')} us/request"
            )
        print(
            "  ratio of server CPU per request (robust to a busy machine): durable/ingest"
            f" {fmt(s.durable_cpu_ratio, '.2f')}, bare/ingest {fmt(s.cpu_ratio, '.2f')}"
        )
        print(f"  non-200 responses / failures: {s.errors}")
        samples = {sample for m in (*s.bare, *s.durable, *s.ingest) for sample in m.error_samples}
        for sample in samples:
            print(f"    e.g. {sample}")
        if s.viewer_report is not None:
            print_viewers(s)


def print_viewers(s: Scenario) -> None:
    report = s.viewer_report or {}
    # Events coalesce (a call's changes within a frame make one fragment), so the check is
    # that every viewer got the same fragments, and every call's removal once it lingered.
    calls = s.events_sent // 3
    same = report.get("messages_min") == report.get("messages_max")
    removals = {report.get("removals_min"), report.get("removals_max")}
    check = "every viewer read them all" if same and removals == {calls} else "MISMATCH"
    print(
        f"  viewers: {report.get('connected')}/{s.viewers} stayed connected, "
        f"{report.get('dropped')} closed by the server (codes {report.get('close_codes')})"
    )
    print(
        f"  messages per viewer: min {report.get('messages_min')}, "
        f"median {report.get('messages_median')}, max {report.get('messages_max')}; "
        f"for {s.events_sent} events; removals {report.get('removals_min')}, expected "
        f"{calls} ({check}); in {report.get('frames_median')} frames (median)"
    )


def parse_options() -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="bare+ingest pairs per scenario")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, not measured")
    parser.add_argument("--duration", type=float, default=4.0, help="measured seconds per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--viewers", type=int, default=100, help="0: no scenario with viewers")
    parser.add_argument(
        "--profile", type=Path, help="cProfile the server into this file (slows it down)"
    )
    parser.add_argument(
        "--scattered-uniqueids",
        action="store_true",
        help="each connection's calls numbered after a prefix of its own, as before 2026-12-02"
        " (no PBX does: its calls are one sequence)",
    )
    args = parser.parse_args()
    return Options(
        *(args.rounds, args.warmup, args.duration, args.connections, args.viewers),
        *(args.profile, args.scattered_uniqueids),
    )


def record(s: Scenario) -> None:
    """The scenario's ratios, in `make bench`'s table."""
    for baseline, ratio, rate, target, verdict in (
        (
            "durable receiver",
            s.durable_ratio,
            s.durable_rate,
            DURABLE_TARGET,
            s.durable_verdict,
        ),
        ("bare endpoint", s.ratio, s.bare_rate, s.target, s.verdict),
    ):
        figure = (
            "not measured" if s.failure else f"{ratio:.2f} ({s.ingest_rate:.0f} / {rate:.0f} per s)"
        )
        summary.record(
            "ingest", f"events/s vs {baseline}, {s.name}", figure, f">= {target:.2f}", verdict
        )
    # The same, as server CPU per request: steadier when the machine is shared.
    cpu = s.durable_cpu_ratio
    durable_us = median_of([m.server_us for m in s.durable])
    ingest_us = median_of([m.server_us for m in s.ingest])
    figure = (
        "not measured"
        if s.failure or cpu is None
        else f"{cpu:.2f} ({durable_us:.0f} / {ingest_us:.0f} us)"
    )
    verdict = s.judge(cpu or 0.0, DURABLE_TARGET)
    summary.record(
        "ingest",
        f"CPU/event vs durable receiver, {s.name}",
        figure,
        f">= {DURABLE_TARGET:.2f}",
        verdict,
    )


def main() -> None:
    options = parse_options()
    scenarios = [
        Scenario("0 viewers", 0, 0.6),
        *(
            [Scenario(f"{options.viewers} viewers", options.viewers, 0.5)]
            if options.viewers
            else []
        ),
    ]
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    # /var/tmp rather than /tmp, which is RAM on some systems: the database must be on disk.
    tmp_root = "/var/tmp" if os.path.isdir("/var/tmp") else None
    with (
        tempfile.TemporaryDirectory(prefix="dashboard-bench-", dir=tmp_root) as tmp,
        running_server(free_port(), Path(tmp), options.profile) as server,
        running_receiver(free_port(), Path(tmp)) as receiver,
    ):
        servers = {"bare": server, "durable": receiver, "ingest": server}
        for scenario in scenarios:
            run_scenario(scenario, servers, options)
        log_lines = len(server.log.read_text().splitlines()) if server.log else 0
    print(
        f"\nIngest path (as `dashboard serve` runs it) vs the durable bare receiver and the bare"
        f" endpoint, {options.connections} keep-alive connections, uniqueids"
        f" {UNIQUEIDS[options.scattered_uniqueids]},"
        f" medians of {options.rounds}"
        f" x {options.duration:g} s runs, each measured in turn within every round"
        f" ({time.perf_counter() - started:.0f} s in all; {os.cpu_count()} CPUs, load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after)\n"
    )
    print_table(scenarios)
    print_details(scenarios, options)
    print(f"\nthe dashboard's log: {log_lines} lines")
    for s in scenarios:
        record(s)
    if options.profile:
        print(f"\nserver profile: {options.profile} (python -m pstats)")


if __name__ == "__main__":
    main()
