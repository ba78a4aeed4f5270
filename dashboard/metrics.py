"""Metrics in the Prometheus text format: counters and histograms, no library needed.

Kept in memory (a restart starts them again, as Prometheus expects of counters).
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable

Labels = tuple[tuple[str, str], ...]
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def counter(name: str, help_text: str, values: dict[Labels, float]) -> Iterable[str]:
    """A counter's lines, from totals the dashboard keeps anyway."""
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} counter"
    for labels, value in sorted(values.items()) or [((), 0.0)]:
        yield f"{name}{_labels(labels)} {_number(value)}"


def gauge(name: str, help_text: str, value: float) -> Iterable[str]:
    return gauges(name, help_text, {(): value})


def gauges(name: str, help_text: str, values: dict[Labels, float]) -> Iterable[str]:
    """A gauge's lines, one per set of labels (none: the gauge is left out)."""
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} gauge"
    for labels, value in sorted(values.items()):
        yield f"{name}{_labels(labels)} {_number(value)}"


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...] = LATENCY_BUCKETS):
        self.name, self.help, self.buckets = name, help_text, buckets
        self.counts: dict[Labels, list[int]] = {}
        self.sums: dict[Labels, float] = defaultdict(float)

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        counts = self.counts.setdefault(key, [0] * (len(self.buckets) + 1))
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sums[key] += value

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for labels, counts in sorted(self.counts.items()):
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                running += count
                le = "+Inf" if bound == math.inf else _number(bound)
                yield f"{self.name}_bucket{_labels((*labels, ('le', le)))} {running}"
            yield f"{self.name}_sum{_labels(labels)} {_number(self.sums[labels])}"
            yield f"{self.name}_count{_labels(labels)} {running}"


class Timings:
    """The latencies measured as things happen; counters are read off the app's state."""

    def __init__(self) -> None:
        self.fanout = Histogram(
            "dashboard_fanout_seconds",
            "From a fragment's queueing to its write on a viewer's socket"
            " (the oldest fragment of each frame).",
        )
        self.pbx = Histogram(
            "dashboard_pbx_command_seconds", "How long the PBX took to answer a command, by action."
        )
        self.db_write = Histogram(
            "dashboard_db_write_seconds", "One transaction of call events, written and committed."
        )


def _labels(labels: Iterable[tuple[str, str]]) -> str:
    pairs = [f'{key}="{_escape(value)}"' for key, value in labels]
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(value)
