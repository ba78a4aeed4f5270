"""Ingest throughput next to a bare endpoint of the same server, with 0 and 100 viewers.

    .venv/bin/python bench/ingest.py            (what `make bench` runs)

One uvicorn process (bench/server.py) serves the dashboard plus `GET /bare`, a handler
returning {"ok": true}. A separate load-generator process (bench/loadgen.py) measures
bare req/s and ingest events/s (GET /synapse/events?data=<event JSON>: parse, store,
call state, render, publish) alternately, several rounds, and the medians give the
ratio. The second scenario repeats this while a third process (bench/viewers.py) keeps
100 WebSocket viewers connected to /ws, reading every message. The exit code is 0
whatever the verdict: this is a report.
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


@dataclass
class Scenario:
    name: str
    viewers: int
    target: float
    bare: list[Measurement] = field(default_factory=list)
    ingest: list[Measurement] = field(default_factory=list)
    viewer_report: dict[str, Any] | None = None
    failure: str | None = None

    @property
    def bare_rate(self) -> float:
        return statistics.median(m.rate for m in self.bare) if self.bare else 0.0

    @property
    def ingest_rate(self) -> float:
        return statistics.median(m.rate for m in self.ingest) if self.ingest else 0.0

    @property
    def ratio(self) -> float:
        return self.ingest_rate / self.bare_rate if self.bare_rate else 0.0

    @property
    def cpu_ratio(self) -> float | None:
        """Bare over ingest server CPU per request: the ratio a saturated server would show."""
        bare = median_of([m.server_us for m in self.bare])
        ingest = median_of([m.server_us for m in self.ingest])
        return bare / ingest if bare and ingest else None

    @property
    def events_sent(self) -> int:
        return sum(m.ok_total for m in self.ingest)

    @property
    def errors(self) -> int:
        return sum(m.errors for m in (*self.bare, *self.ingest))

    @property
    def viewers_dropped(self) -> int:
        report = self.viewer_report
        return self.viewers - report.get("connected", 0) if report is not None else 0

    @property
    def verdict(self) -> str:
        if self.failure:
            return "FAIL (not measured)"
        problems = [
            *(["errors"] if self.errors else []),
            *(["viewers dropped"] if self.viewers_dropped else []),
        ]
        verdict = "PASS" if self.ratio >= self.target and not problems else "FAIL"
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


@contextmanager
def running_server(port: int, tmp: Path, profile: Path | None) -> Iterator[Server]:
    token_file = tmp / "viewer.token"
    command = [
        *(sys.executable, str(BENCH / "server.py"), "--host", HOST, "--port", str(port)),
        *("--db", str(tmp / "bench.db"), "--linger", str(LINGER)),
        *("--token-file", str(token_file)),
    ]
    if profile:
        command += ["--profile", str(profile)]
    process = subprocess.Popen(command, text=True)
    try:
        wait_until_serving(process, port)
        token = token_file.read_text().strip() if token_file.exists() else None
        yield Server(port, process.pid, token)
    finally:
        stop_process(process, signal.SIGINT)


def wait_until_serving(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.perf_counter() + STARTUP_TIMEOUT
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with code {process.returncode}")
        try:
            http_json(port, "/healthz")
            http_json(port, "/bare")  # ours, not some other server's
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
    command = [
        *(sys.executable, str(BENCH / "loadgen.py"), "--host", HOST, "--port", str(server.port)),
        *("--target", target, "--connections", str(options.connections), "--run-id", run_id),
        *("--warmup", str(options.warmup), "--duration", str(options.duration)),
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


def measure(scenario: Scenario, server: Server, options: Options, viewers_pid: int | None) -> None:
    for round_no in range(1, options.rounds + 1):
        for target in ("bare", "ingest"):
            run_id = f"v{scenario.viewers}r{round_no}"
            measurement = run_loadgen(server, target, options, run_id, viewers_pid)
            (scenario.bare if target == "bare" else scenario.ingest).append(measurement)
            print(
                f"  {scenario.name:<12} round {round_no} {target:<6} "
                f"{measurement.rate:>9.0f}/s  errors {measurement.errors}",
                flush=True,
            )
            if target == "ingest":
                time.sleep(SETTLE)


def run_scenario(scenario: Scenario, server: Server, options: Options) -> None:
    if not scenario.viewers:
        measure(scenario, server, options, None)
        return
    report: dict[str, Any] = {}
    try:
        with running_viewers(server, scenario.viewers, report) as viewers_pid:
            measure(scenario, server, options, viewers_pid)
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
        f"{'scenario':<12} {'events/s':>9} {'bare req/s':>10} {'ratio':>6} {'target':>6}  verdict"
    )
    print(header)
    print("-" * len(header))
    for s in scenarios:
        if s.failure:
            print(f"{s.name:<12} {'-':>9} {'-':>10} {'-':>6} {s.target:>6.2f}  {s.verdict}")
            continue
        print(
            f"{s.name:<12} {s.ingest_rate:>9.0f} {s.bare_rate:>10.0f} {s.ratio:>6.2f} "
            f"{s.target:>6.2f}  {s.verdict}"
        )


def print_details(scenarios: list[Scenario], options: Options) -> None:
    for s in scenarios:
        print(f"\n{s.name}:")
        if s.failure:
            print(f"  not measured: {s.failure}")
            continue
        print(f"  bare   runs: {', '.join(f'{m.rate:.0f}' for m in s.bare)} req/s")
        print(f"  ingest runs: {', '.join(f'{m.rate:.0f}' for m in s.ingest)} events/s")
        print(
            f"  ingest latency ({options.connections} connections): "
            f"p50 {fmt(median_of([m.p50_ms for m in s.ingest]), '.1f')} ms, "
            f"p99 {fmt(median_of([m.p99_ms for m in s.ingest]), '.1f')} ms (medians of runs)"
        )
        for label, runs in (("bare", s.bare), ("ingest", s.ingest)):
            print(
                f"  CPU during {label:<6} (cores): "
                f"server {fmt(median_of([m.server_cpu for m in runs]), '.2f')}, "
                f"load generator {fmt(median_of([m.loadgen_cpu for m in runs]), '.2f')}, "
                f"viewers {fmt(median_of([m.viewers_cpu for m in runs]), '.2f')}; "
                f"server {fmt(median_of([m.server_us for m in runs]), '.0f')} us/request"
            )
        print(f"  ratio of server CPU per request (bare/ingest): {fmt(s.cpu_ratio, '.2f')}")
        print(f"  non-200 responses / failures: {s.errors}")
        for sample in {sample for m in (*s.bare, *s.ingest) for sample in m.error_samples}:
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
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument(
        "--profile", type=Path, help="cProfile the server into this file (slows it down)"
    )
    args = parser.parse_args()
    return Options(
        args.rounds, args.warmup, args.duration, args.connections, args.viewers, args.profile
    )


def main() -> None:
    options = parse_options()
    scenarios = [
        Scenario("0 viewers", 0, 0.6),
        Scenario(f"{options.viewers} viewers", options.viewers, 0.5),
    ]
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    # /var/tmp rather than /tmp, which is RAM on some systems: the database must be on disk.
    tmp_root = "/var/tmp" if os.path.isdir("/var/tmp") else None
    with (
        tempfile.TemporaryDirectory(prefix="dashboard-bench-", dir=tmp_root) as tmp,
        running_server(free_port(), Path(tmp), options.profile) as server,
    ):
        for scenario in scenarios:
            run_scenario(scenario, server, options)
    print(
        f"\nIngest path vs bare endpoint, same uvicorn server, {options.connections} "
        f"keep-alive connections, medians of {options.rounds} x {options.duration:g} s runs "
        f"({time.perf_counter() - started:.0f} s in all; {os.cpu_count()} CPUs, load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after)\n"
    )
    print_table(scenarios)
    print_details(scenarios, options)
    for s in scenarios:
        figure = (
            "not measured"
            if s.failure
            else (f"{s.ratio:.2f} ({s.ingest_rate:.0f} / {s.bare_rate:.0f} per s)")
        )
        summary.record(
            "ingest",
            f"events/s vs bare endpoint, {s.name}",
            figure,
            f">= {s.target:.2f}",
            s.verdict,
        )
    if options.profile:
        print(f"\nserver profile: {options.profile} (python -m pstats)")


if __name__ == "__main__":
    main()
