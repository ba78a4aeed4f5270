"""One table of every benchmark figure and its target, at the end of `make bench`.

Each benchmark adds its rows with `record(...)` to a JSON-lines file; `python bench/summary.py`
prints them all and starts the file again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

RESULTS = Path(os.environ.get("BENCH_RESULTS", "/var/tmp/dashboard-bench-results.jsonl"))


def record(bench: str, measure: str, figure: str, target: str, verdict: str) -> None:
    row = {
        "bench": bench,
        "measure": measure,
        "figure": figure,
        "target": target,
        "verdict": verdict,
    }
    with RESULTS.open("a") as results:
        results.write(json.dumps(row) + "\n")


def main() -> None:
    rows = []
    if RESULTS.exists():
        rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
        RESULTS.unlink()
    print("\nEvery figure of `make bench`\n")
    columns = ("bench", "measure", "figure", "target")
    widths = {c: max([len(c), *(len(str(row[c])) for row in rows)]) for c in columns}
    header = " ".join(f"{c:<{widths[c]}}" for c in columns) + " verdict"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(" ".join(f"{row[c]!s:<{widths[c]}}" for c in columns) + f" {row['verdict']}")
    if not rows:
        print("(no figures: did the benchmarks run?)")


if __name__ == "__main__":
    main()
