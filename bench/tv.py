"""A wall screen for weeks: the TV page in real Chromium through a day of traffic played fast.

    .venv/bin/python bench/tv.py [--calls 10000] [--peak 200] [--profile FILE] [--heap-diff]
                                   [--trace FILE] [--tv-frame-seconds S]

(`--calls 2000` is a short run to iterate with, about four minutes; `--profile` records a
CPU profile of the page over the day's traffic into FILE, a .cpuprofile DevTools opens, and
prints the functions that took the most time; `--trace` records Chromium's performance
trace (what DevTools' Performance panel shows) from the idle spell to half way through the day
into FILE, and prints what the page's long tasks spent their time on (script, style, layout,
paint...), and the longest of them one by one; `--heap-diff` takes a heap snapshot after the
warm-up and at the end and prints what grew most between them, by constructor;
`--tv-frame-seconds` sets the server's DASHBOARD_TV_FRAME_SECONDS, 0 to pace the TV as any board;
`--same-priority` runs the server and the traffic at Chromium's priority.)

A TV is a machine of its own, not the server's: the server and the traffic run at the lowest
priority (nice 19), so that on this shared machine the page has the cores first, as a TV with
its own CPU would, and the server's work does not count as the page's (`--same-priority` to
run them all at the same priority, as before). Pinning Chromium to a core of its own instead
left the page's main thread waiting behind its own garbage collection and raster threads.

`dashboard serve` (as users run it, on a fresh database, 240 extensions on the grid) and
Debian's Chromium showing /tv, signed in as a viewer. A day of calls is played fast: calls
arrive at a rate that rises and falls (at the peak about `--peak` live at once), each rings,
is answered and finishes a few seconds later. Chromium's own metrics are read over the
DevTools protocol (`Performance.getMetrics`, after a garbage collection) with the board
idle, once after a warm-up (the first tenth of the calls), half way and at the end: the JS heap,
DOM nodes and event listeners must not grow by more than 10 % between the two. Every main
thread task over 50 ms is counted (a `longtask` observer in the page), in all and after the
warm-up, and by phase: the warm-up, idle, the burst of `--peak` calls coming at once (until
the TV has applied it), live, their hang-up, the day, and the bench's own pauses (waiting for
the board to empty, the garbage collections it asks for before reading the metrics). And the
page's CPU (the metrics' TaskDuration per second) with `--peak` calls live and ticking, as a
ratio to the same page idle; the long tasks of that idle spell are counted apart, as a baseline for
the machine's own load, and so is the script time per frame the page received.

The exit code is 0 whatever the verdict: this is a report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import summary
from ingest import HOST, free_port, stop_process
from playwright.async_api import CDPSession, Page, async_playwright

from dashboard.auth import Accounts
from dashboard.store import Store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
EXTENSIONS = [str(n) for n in range(100, 340)]
PASSWORD = "wall-screen-bench"
PBX_TIME = "%Y%m%d%H:%M:%S"
GROWTH_LIMIT = 0.10
LONG_TASK_MS = 50
HOLD_SECONDS = 15.0  # CPU measured over this long, live and idle
SENDERS = 8
LOWEST_PRIORITY = 19  # the server's and the traffic's nice: after Chromium's
LONG_TASKS = """
window.__longTasks = [];
window.__socketCloses = [];
window.__frames = 0;
window.__frameChars = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push([entry.startTime, entry.duration]);
}).observe({type: "longtask", buffered: true});
document.addEventListener("htmx:wsClose", (e) => window.__socketCloses.push(e.detail.event.code));
document.addEventListener("htmx:wsBeforeMessage", (e) => {
  window.__frames += 1;
  window.__frameChars += e.detail.message.length;
});
"""
PROFILE_TOP = 25
TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "toplevel"]
TRACE_LONGEST = 12  # long tasks shown one by one
TASK_SLICES = ("RunTask", "ThreadControllerImpl::RunTask")
THREAD_TIME = "thread µs"  # put in a slice's args: the CPU time the trace gives it (tdur)


@dataclass(frozen=True)
class Metrics:
    heap_mb: float
    nodes: int
    listeners: int
    layouts: int
    task_seconds: float
    script_seconds: float

    @classmethod
    async def read(cls, cdp: CDPSession, collect: bool = True) -> Metrics:
        if collect:
            await cdp.send("HeapProfiler.collectGarbage")
        values = {
            m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]
        }
        return cls(
            heap_mb=values["JSHeapUsedSize"] / 2**20,
            nodes=int(values["Nodes"]),
            listeners=int(values["JSEventListeners"]),
            layouts=int(values["LayoutCount"]),
            task_seconds=values["TaskDuration"],
            script_seconds=values["ScriptDuration"],
        )


class Calls:
    """Calls sent to the dashboard as Synapse reports them: start, answer, finish."""

    def __init__(self, port: int) -> None:
        self.url = f"http://{HOST}:{port}/synapse/events"
        self.http = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=SENDERS))
        self.gate = asyncio.Semaphore(SENDERS)
        self.sent = 0

    async def send(self, event: dict[str, str]) -> None:
        async with self.gate:
            answer = await self.http.get(self.url, params={"data": json.dumps(event)})
        if answer.status_code != 200:
            raise SystemExit(f"the dashboard refused an event: {answer.status_code} {answer.text}")
        self.sent += 1

    async def call(self, n: int, ring: float, talk: float, answered: asyncio.Event | None = None,
                   hang_up: asyncio.Event | None = None) -> None:  # fmt: skip
        common = {"uniqueid": f"tv.{n}", "extension": EXTENSIONS[n % len(EXTENSIONS)],
                  "number": f"98{n:08d}", "direction": "Incoming"}  # fmt: skip
        start = datetime.now(UTC)
        await self.send({"event": "CallStart", **common, "redirectchannel": f"DAHDI/{n}-1"})
        await asyncio.sleep(ring)
        await self.send({"event": "CallConnect", **common})
        if answered:
            answered.set()
        if hang_up:
            await hang_up.wait()
        else:
            await asyncio.sleep(talk)
        end = datetime.now(UTC)
        await self.send({
            "event": "CallFinish", **common, "starttime": start.strftime(PBX_TIME),
            "answertime": (start + timedelta(seconds=ring)).strftime(PBX_TIME),
            "endtime": end.strftime(PBX_TIME), "duration": str(int((end - start).total_seconds())),
            "billableseconds": str(int(talk)), "disposition": "Answered",
        })  # fmt: skip

    async def day(self, first: int, count: int, peak: int, rng: random.Random) -> None:
        """`count` calls arriving at a rate that rises and falls, about `peak` live at the top."""
        lifetime = 3.0  # seconds, on average: 0.5-1.5 ringing, 1-3 talking
        peak_rate = peak / lifetime
        tasks = []
        for n in range(first, first + count):
            share = (n - first) / count
            rate = max(peak_rate * math.sin(math.pi * share) ** 2, peak_rate / 10)
            await asyncio.sleep(rng.expovariate(rate))
            ring, talk = rng.uniform(0.5, 1.5), rng.uniform(1, 3)
            tasks.append(asyncio.create_task(self.call(n, ring, talk)))
        await asyncio.gather(*tasks)

    async def held(self, first: int, count: int) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
        """`count` calls answered and kept on the line until the event returned is set."""
        hang_up = asyncio.Event()
        answered = [asyncio.Event() for _ in range(count)]
        tasks = [
            asyncio.create_task(self.call(first + i, 0.1, 0, answered[i], hang_up))
            for i in range(count)
        ]
        await asyncio.gather(*(a.wait() for a in answered))
        return hang_up, tasks


def lowest_priority() -> None:
    """This thread, and the processes it starts from now on, after everything else."""
    os.nice(LOWEST_PRIORITY)


def server_priority(nice: bool) -> str:
    return f"at nice {LOWEST_PRIORITY}" if nice else "at Chromium's priority"


@contextmanager
def serving(tmp: Path, tv_frame_seconds: float | None = None, nice: bool = True) -> Iterator[int]:
    db = tmp / "tv.db"
    store = Store.open(str(db))
    Accounts(store.db).add_user("wall", "viewer", PASSWORD)
    store.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHBOARD_", "SYNAPSE_"))}
    env |= {"DASHBOARD_DB": str(db), "DASHBOARD_EXTENSIONS": f"{EXTENSIONS[0]}-{EXTENSIONS[-1]}",
            "DASHBOARD_PBX_CHECK_SECONDS": "0"}  # fmt: skip
    if tv_frame_seconds is not None:
        env["DASHBOARD_TV_FRAME_SECONDS"] = f"{tv_frame_seconds:g}"
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "serve", "--host", HOST, "--port", str(port),
         "--allow-open-events"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        preexec_fn=lowest_priority if nice else None,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://{HOST}:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("the dashboard did not start") from None
            time.sleep(0.1)  # waiting for the server to start
        yield port
    finally:
        stop_process(process)


async def open_tv(page: Page, port: int) -> None:
    await page.goto(f"http://{HOST}:{port}/login?next=/tv")
    await page.get_by_label("User name").fill("wall")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"http://{HOST}:{port}/tv")
    await page.locator(".is-live").first.wait_for(timeout=10_000)  # the socket is up


async def calls_shown(page: Page, which: str = ".call:not(.is-finished)") -> int:
    return int(await page.locator(f"#live-calls {which}").count())


async def until(page: Page, shown: int, which: str = ".call:not(.is-finished)") -> None:
    deadline = time.monotonic() + 120  # a TV cut off as a slow viewer comes back within 10 s
    while (now := await calls_shown(page, which)) != shown:
        if time.monotonic() > deadline:
            raise SystemExit(f"the TV never showed {shown} calls ({which}: {now})")
        await asyncio.sleep(0.2)


async def until_settled(page: Page, talking: int) -> None:
    """Until the TV has applied what it was pushed: as many tiles talking (a frame's last)."""
    deadline = time.monotonic() + 120
    while (now := int(await page.locator("#grid .tile.is-talking").count())) != talking:
        if time.monotonic() > deadline:
            raise SystemExit(f"the TV never showed {talking} tiles talking ({now})")
        await asyncio.sleep(0.2)


LONG_TASKS_SEEN: list[list[float]] = []  # taken out of the page, not to weigh on its heap


async def take_long_tasks(page: Page) -> list[list[float]]:
    """Every long task so far ([start, ms]): those still in the page are moved out of it."""
    LONG_TASKS_SEEN.extend(await page.evaluate("window.__longTasks.splice(0)"))
    return LONG_TASKS_SEEN


async def idle_metrics(page: Page, cdp: CDPSession) -> Metrics:
    await until(page, 0, ".call")  # finished calls gone too
    await take_long_tasks(page)
    return await Metrics.read(cdp)


async def cpu_per_second(cdp: CDPSession) -> float:
    before = await Metrics.read(cdp, collect=False)
    await asyncio.sleep(HOLD_SECONDS)
    after = await Metrics.read(cdp, collect=False)
    return (after.task_seconds - before.task_seconds) / HOLD_SECONDS


async def heap_counts(cdp: CDPSession) -> dict[str, tuple[int, int]]:
    """(objects, bytes) of the page's heap by constructor (or kind), from a snapshot."""
    chunks: list[str] = []

    def chunk(event: dict[str, str]) -> None:
        chunks.append(event["chunk"])

    cdp.on("HeapProfiler.addHeapSnapshotChunk", chunk)
    await cdp.send("HeapProfiler.collectGarbage")
    await cdp.send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False})
    cdp.remove_listener("HeapProfiler.addHeapSnapshotChunk", chunk)
    snapshot = json.loads("".join(chunks))
    meta = snapshot["snapshot"]["meta"]
    fields = meta["node_fields"]
    kinds = meta["node_types"][0]
    width = len(fields)
    at_type, at_name, at_size = (fields.index(f) for f in ("type", "name", "self_size"))
    nodes, strings = snapshot["nodes"], snapshot["strings"]
    counts: dict[str, tuple[int, int]] = {}
    for i in range(0, len(nodes), width):
        kind = kinds[nodes[i + at_type]]
        label = strings[nodes[i + at_name]] if kind in ("object", "native") else f"({kind})"
        objects, size = counts.get(label, (0, 0))
        counts[label] = (objects + 1, size + nodes[i + at_size])
    return counts


def heap_growth(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> list[tuple[str, int, int]]:
    """(constructor, objects more, bytes more), those that grew the most bytes first."""
    grown = [
        (label, objects - before.get(label, (0, 0))[0], size - before.get(label, (0, 0))[1])
        for label, (objects, size) in after.items()
    ]
    return sorted(grown, key=lambda row: -row[2])[:PROFILE_TOP]


async def page_now(page: Page) -> float:
    return float(await page.evaluate("performance.now()"))


async def frames_received(page: Page) -> tuple[int, int]:
    """Frames the socket received so far, and their characters."""
    frames, chars = await page.evaluate("[window.__frames, window.__frameChars]")
    return int(frames), int(chars)


def tasks_between(long_tasks: list[list[float]], start: float, end: float) -> list[float]:
    return [duration for begun, duration in long_tasks if start <= begun < end]


def profile_summary(profile: dict[str, Any]) -> list[tuple[float, float, str]]:
    """(self ms, total ms, function) of the functions that took the most time in a profile:
    total counts a function once however deep it recurses."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    interval: dict[int, float] = {}  # node -> ms of its samples
    for node_id, delta in zip(profile["samples"], [*profile["timeDeltas"][1:], 0], strict=True):
        interval[node_id] = interval.get(node_id, 0.0) + delta / 1000
    parents = {child: node["id"] for node in nodes.values() for child in node.get("children", ())}

    def name(node: dict[str, Any]) -> str:
        frame = node["callFrame"]
        where = frame["url"].rsplit("/", 1)[-1]
        where = f" {where}:{frame['lineNumber'] + 1}" if where else ""
        return f"{frame['functionName'] or '(anonymous)'}{where}"

    own: dict[str, float] = {}
    total: dict[str, float] = {}
    for node_id, ms in interval.items():
        own[name(nodes[node_id])] = own.get(name(nodes[node_id]), 0.0) + ms
        seen = set()
        at: int | None = node_id
        while at is not None:
            label = name(nodes[at])
            if label not in seen:
                seen.add(label)
                total[label] = total.get(label, 0.0) + ms
            at = parents.get(at)
    ranked = sorted(total, key=lambda label: -total[label])[:PROFILE_TOP]
    return [(own.get(label, 0.0), total[label], label) for label in ranked]


def trace_slices(
    events: list[dict[str, Any]],
) -> dict[tuple[int, int], list[tuple[float, float, str, dict[str, Any]]]]:
    """The trace's complete slices (start µs, end µs, name, args) of each renderer main thread,
    B/E pairs joined into one; a slice's CPU time (µs), where the trace has it, in its args."""
    mains = {(e["pid"], e["tid"]) for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name"
             and e.get("args", {}).get("name") == "CrRendererMain"}  # fmt: skip
    slices: dict[tuple[int, int], list[tuple[float, float, str, dict[str, Any]]]] = {}
    open_: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for e in events:
        thread = (e.get("pid"), e.get("tid"))
        if thread not in mains:
            continue
        ph = e.get("ph")
        if ph == "X":
            args = e.get("args", {}) | ({THREAD_TIME: e["tdur"]} if "tdur" in e else {})
            slices.setdefault(thread, []).append(
                (e["ts"], e["ts"] + e.get("dur", 0), e["name"], args)
            )
        elif ph == "B":
            open_.setdefault(thread, []).append(e)
        elif ph == "E" and open_.get(thread):
            begun = open_[thread].pop()
            args = begun.get("args", {}) | e.get("args", {})
            slices.setdefault(thread, []).append((begun["ts"], e["ts"], begun["name"], args))
    return slices


def task_breakdown(
    inside: list[tuple[float, float, str, dict[str, Any]]],
) -> dict[str, float]:
    """Self time (ms) by slice name of the slices nested in one task (sorted by start)."""
    own: dict[str, float] = {}
    stack: list[tuple[float, str]] = []  # (end, name)
    for start, end, name, _ in inside:
        while stack and stack[-1][0] <= start:
            stack.pop()
        own[name] = own.get(name, 0.0) + (end - start) / 1000
        if stack:
            parent = stack[-1][1]
            own[parent] = own.get(parent, 0.0) - (min(end, stack[-1][0]) - start) / 1000
        stack.append((end, name))
    return own


def trace_summary(trace: dict[str, Any] | list[dict[str, Any]]) -> list[str]:
    """What the long tasks of the page's main thread spent their time on."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    threads = trace_slices(events)
    lines: list[str] = []
    best: tuple[int, list[tuple[float, list[Any]]]] = (-1, [])
    for slices in threads.values():
        slices.sort(key=lambda s: (s[0], -s[1]))
        tasks = []  # the outermost task slices (a RunTask sits in a ThreadControllerImpl's)
        for s in slices:
            if s[2] in TASK_SLICES and (not tasks or s[0] >= tasks[-1][1]):
                tasks.append(s)
        found = []
        for task in (t for t in tasks if t[1] - t[0] > LONG_TASK_MS * 1000):
            inside = [s for s in slices if task[0] <= s[0] and s[1] <= task[1] and s is not task
                      and s[2] not in TASK_SLICES]  # fmt: skip
            found.append(((task[1] - task[0]) / 1000, [task, inside]))
        if len(found) > best[0]:
            best = (len(found), found)
    found = best[1]
    totals: dict[str, float] = {}
    for _, (_, inside) in found:
        for name, ms in task_breakdown(inside).items():
            totals[name] = totals.get(name, 0.0) + ms
    whole = sum(ms for ms, _ in found)
    cpu = [task[3].get(THREAD_TIME, 0) / 1000 for _, (task, _) in found]
    lines.append(f"{len(found)} long tasks in the trace, {whole:.0f} ms in all; of them"
                 f" {sum(ms > LONG_TASK_MS for ms in cpu)} over {LONG_TASK_MS} ms of the main"
                 f" thread's own CPU time (the longest {max(cpu, default=0):.0f} ms), the rest"
                 " waiting for a CPU (the machine's load) as long as they ran;")  # fmt: skip
    lines.append("their time by kind of work (self ms):")
    for name, ms in sorted(totals.items(), key=lambda kv: -kv[1])[:PROFILE_TOP]:
        if ms >= 1:
            lines.append(f"  {ms:9.0f}  {name}")
    lines.append(
        "the longest, one by one (ms, its CPU time; the biggest parts; style's elements,"
        " layout's objects):"
    )
    for ms, (task, inside) in sorted(found, key=lambda f: -f[0])[:TRACE_LONGEST]:
        parts = sorted(task_breakdown(inside).items(), key=lambda kv: -kv[1])[:4]
        styles = sum(
            int(a.get("elementCount", 0)) for _, _, n, a in inside if n == "UpdateLayoutTree"
        )
        layouts = [a.get("beginData", {}) for _, _, n, a in inside if n == "Layout"]
        dirty = sum(int(d.get("dirtyObjects", 0)) for d in layouts)
        shown = ", ".join(f"{name} {part:.0f}" for name, part in parts)
        lines.append(f"  {ms:5.0f} (CPU {task[3].get(THREAD_TIME, 0) / 1000:3.0f}) at"
                     f" {task[0] / 1e6:9.1f} s: {shown}; style {styles} elements,"
                     f" {len(layouts)} layouts of {dirty} objects")  # fmt: skip
    return lines


async def bench(
    port: int,
    calls: int,
    peak: int,
    profile: Path | None,
    heap_diff: bool,
    trace: Path | None = None,
    nice: bool = True,
) -> dict[str, Any]:
    rng = random.Random(1)
    sender = Calls(port)
    async with async_playwright() as pw:  # its driver starts now, and Chromium is its child
        if nice:
            lowest_priority()  # the traffic, sent from this thread
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        await page.add_init_script(LONG_TASKS)
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Performance.enable")
        await open_tv(page, port)
        warm = calls // 10
        started = time.monotonic()
        await sender.day(0, warm, peak, rng)
        after_warmup = await idle_metrics(page, cdp)
        heap_before = await heap_counts(cdp) if heap_diff else {}
        if trace is not None:
            await browser.start_tracing(page=page, path=trace, categories=TRACE_CATEGORIES)
        idle_from = await page_now(page)
        idle_cpu = await cpu_per_second(cdp)
        idle_to = await page_now(page)
        hang_up, held = await sender.held(calls, peak)
        await until(page, peak)
        await until_settled(page, min(peak, len(EXTENSIONS)))  # then only the timers tick
        live_from = await page_now(page)
        live_cpu = await cpu_per_second(cdp)
        live_to = await page_now(page)
        hang_up.set()
        await asyncio.gather(*held)
        if profile is not None:
            await cdp.send("Profiler.enable")
            await cdp.send("Profiler.setSamplingInterval", {"interval": 500})
            await cdp.send("Profiler.start")
        day_from, frames_before = await page_now(page), await frames_received(page)
        day_before = await Metrics.read(cdp, collect=False)
        half = (calls - warm) // 2
        await sender.day(warm, half, peak, rng)
        day_middle, middle_from = await Metrics.read(cdp, collect=False), await page_now(page)
        if trace is not None:
            traced = json.loads(await browser.stop_tracing())
        at_middle = await idle_metrics(page, cdp)  # a pause, left out of the day's figures
        day_resumed, middle_to = await Metrics.read(cdp, collect=False), await page_now(page)
        await sender.day(warm + half, calls - warm - half, peak, rng)
        day_after = await Metrics.read(cdp, collect=False)
        day_to, (frames_now, chars_now) = await page_now(page), await frames_received(page)
        day_frames, day_chars = frames_now - frames_before[0], chars_now - frames_before[1]
        if profile is not None:
            recorded = (await cdp.send("Profiler.stop"))["profile"]
            profile.write_text(json.dumps(recorded))
        at_end = await idle_metrics(page, cdp)
        heap_after = await heap_counts(cdp) if heap_diff else {}
        played = time.monotonic() - started
        long_tasks = await take_long_tasks(page)
        end = await page_now(page)
        closes = await page.evaluate("window.__socketCloses")
        await browser.close()
    await sender.http.aclose()

    def during_day(field: str) -> float:
        return float(getattr(day_middle, field) - getattr(day_before, field)
                     + getattr(day_after, field) - getattr(day_resumed, field))  # fmt: skip

    return {"after_warmup": after_warmup, "at_middle": at_middle, "at_end": at_end,
            "heap_growth": heap_growth(heap_before, heap_after) if heap_diff else None,
            "idle_cpu": idle_cpu,
            "live_cpu": live_cpu, "long_tasks": [duration for _, duration in long_tasks],
            "idle_long_tasks": tasks_between(long_tasks, idle_from, idle_to),
            "live_long_tasks": tasks_between(long_tasks, live_from, live_to),
            "day_long_tasks": tasks_between(long_tasks, day_from, middle_from)
            + tasks_between(long_tasks, middle_to, day_to),
            "warm-up_long_tasks": tasks_between(long_tasks, 0, idle_from),
            "burst_long_tasks": tasks_between(long_tasks, idle_to, live_from),
            "hang-up_long_tasks": tasks_between(long_tasks, live_to, day_from),
            "pauses_long_tasks": tasks_between(long_tasks, middle_from, middle_to)
            + tasks_between(long_tasks, day_to, end + 1),
            "warm-up_seconds": idle_from / 1000, "burst_seconds": (live_from - idle_to) / 1000,
            "hang-up_seconds": (day_from - live_to) / 1000,
            "pauses_seconds": (middle_to - middle_from + end - day_to) / 1000,
            "day_frames": day_frames, "day_chars": day_chars,
            "day_seconds": (middle_from - day_from + day_to - middle_to) / 1000,
            "day_script": during_day("script_seconds"), "day_task": during_day("task_seconds"),
            "events": sender.sent, "closes": closes, "seconds": played,
            "profile": recorded if profile is not None else None,
            "trace": trace_summary(traced) if trace is not None else None}  # fmt: skip


def growth(before: float, after: float) -> float:
    return after / before - 1 if before else 0.0


def report(result: dict[str, Any], calls: int, peak: int, nice: bool) -> None:
    a, m, b = result["after_warmup"], result["at_middle"], result["at_end"]
    print(f"{calls + peak:,} calls ({result['events']:,} events) in {result['seconds']:.0f} s")
    print(f"the server and the traffic {server_priority(nice)}")
    rows = [("JS heap (MB)", a.heap_mb, m.heap_mb, b.heap_mb),
            ("DOM nodes", a.nodes, m.nodes, b.nodes),
            ("event listeners", a.listeners, m.listeners, b.listeners)]  # fmt: skip
    grown = []
    for name, before, middle, after in rows:
        change = growth(before, after)
        grown.append(change > GROWTH_LIMIT)
        print(f"  {name:<16} after warm-up {before:>9.2f}  half way {middle:>9.2f}"
              f"  at the end {after:>9.2f}  {change:+.1%}")  # fmt: skip
    print(f"  layouts          {b.layouts - a.layouts:,} between the two")
    long_tasks = result["long_tasks"]
    worst = max(long_tasks, default=0.0)
    print(f"long tasks (> {LONG_TASK_MS} ms): {len(long_tasks)}, the longest {worst:.0f} ms")
    after_warmup = [
        ms for phase in ("idle", "burst", "live", "hang-up", "day", "pauses")
        for ms in result[f"{phase}_long_tasks"]
    ]  # fmt: skip
    print(f"  after the warm-up: {len(after_warmup)}, the longest"
          f" {max(after_warmup, default=0.0):.0f} ms")  # fmt: skip
    # In the order they come; pauses: the bench's own (waiting for the board to empty, a
    # garbage collection it asks for, reading the metrics) half way and at the end.
    for phase, seconds in (("warm-up", result["warm-up_seconds"]), ("idle", HOLD_SECONDS),
                           ("burst", result["burst_seconds"]), ("live", HOLD_SECONDS),
                           ("hang-up", result["hang-up_seconds"]), ("day", result["day_seconds"]),
                           ("pauses", result["pauses_seconds"])):  # fmt: skip
        tasks = result[f"{phase}_long_tasks"]
        print(f"  of which {phase:<7} ({seconds:4.0f} s): {len(tasks):5}, "
              f"the longest {max(tasks, default=0.0):.0f} ms")  # fmt: skip
    frames = result["day_frames"]
    print(f"the day after warm-up: {frames:,} frames in {result['day_seconds']:.0f} s, "
          f"{result['day_chars'] / max(frames, 1) / 1000:.1f} kB a frame, "
          f"script {result['day_script'] * 1000 / max(frames, 1):.2f} ms a frame, "
          f"tasks {result['day_task'] / result['day_seconds']:.3f} s/s")  # fmt: skip
    if result["heap_growth"] is not None:
        print("the heap's growth from after the warm-up to the end (objects, bytes):")
        for label, objects, size in result["heap_growth"]:
            print(f"  {objects:+9,} {size:+11,}  {label[:80]}")
    if result["profile"] is not None:
        print("the profile's functions, by total time (self ms, total ms):")
        for own, total, label in profile_summary(result["profile"]):
            print(f"  {own:9.0f} {total:9.0f}  {label}")
    if result["trace"] is not None:
        print("the trace (from the idle spell to half way through the day):")
        for line in result["trace"]:
            print(f"  {line}")
    closes = result["closes"]
    print(
        f"socket closed {len(closes)} times (codes {sorted(set(closes))}); it came back each time"
    )
    ratio = result["live_cpu"] / result["idle_cpu"] if result["idle_cpu"] else float("inf")
    print(f"page CPU: {result['live_cpu']:.3f} s/s with {peak} live calls, "
          f"{result['idle_cpu']:.3f} s/s idle ({ratio:.1f}x)")  # fmt: skip
    summary.record(
        "tv",
        f"TV page after {calls:,} calls: JS heap, DOM nodes, listeners, over warm-up",
        f"{growth(a.heap_mb, b.heap_mb):+.0%}, {growth(a.nodes, b.nodes):+.0%}, "
        f"{growth(a.listeners, b.listeners):+.0%}",
        f"each <= +{GROWTH_LIMIT:.0%}",
        "FAIL" if any(grown) else "PASS",
    )
    summary.record(
        "tv",
        f"TV page main-thread tasks over {LONG_TASK_MS} ms after the warm-up"
        f" (server {server_priority(nice)})",
        f"{len(after_warmup)} (longest {max(after_warmup, default=0.0):.0f} ms; with the warm-up"
        f" {len(long_tasks)}, longest {worst:.0f} ms); the idle page:"
        f" {len(result['idle_long_tasks'])} in {HOLD_SECONDS:.0f} s",
        "0",
        "PASS" if not after_warmup else "FAIL",
    )
    summary.record(
        "tv",
        "TV frames over the day: size, page script each",
        f"{result['day_chars'] / max(frames, 1) / 1000:.1f} kB, "
        f"{result['day_script'] * 1000 / max(frames, 1):.1f} ms ({frames:,} frames)",
        "reported",
        "-",
    )
    summary.record(
        "tv",
        "TV socket cut off (a slow viewer) and reconnected",
        f"{len(closes)} times (codes {', '.join(map(str, sorted(set(closes)))) or '-'})",
        "0",
        "PASS" if not closes else "FAIL",
    )
    summary.record(
        "tv",
        f"TV page CPU with {peak} live calls ticking, over the same page idle",
        f"{ratio:.1f}x ({result['live_cpu'] * 1000:.0f} vs {result['idle_cpu'] * 1000:.0f} ms/s)",
        "reported",
        "-",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--peak", type=int, default=200)
    parser.add_argument("--profile", type=Path, help="write a CPU profile of the day here")
    parser.add_argument("--trace", type=Path, help="write a performance trace here")
    parser.add_argument("--heap-diff", action="store_true", help="what grew in the heap")
    parser.add_argument("--tv-frame-seconds", type=float, help="the server's, else its default")
    parser.add_argument("--same-priority", action="store_true", help="the server at Chromium's")
    options = parser.parse_args()
    nice = not options.same_priority
    with (
        tempfile.TemporaryDirectory() as where,
        serving(Path(where), options.tv_frame_seconds, nice) as port,
    ):
        result = asyncio.run(
            bench(
                port,
                options.calls,
                options.peak,
                options.profile,
                options.heap_diff,
                options.trace,
                nice,
            )
        )
    report(result, options.calls, options.peak, nice)


if __name__ == "__main__":
    main()
