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
    header = f"{'bench':<8} {'measure':<44} {'figure':<28} {'target':<14} verdict"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['bench']:<8} {row['measure']:<44} {row['figure']:<28} {row['target']:<14}"
            f" {row['verdict']}"
        )
    if not rows:
        print("(no figures: did the benchmarks run?)")


if __name__ == "__main__":
    main()
