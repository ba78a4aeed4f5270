"""What a simulated PBX keeps on disk, so that a restart of `make run` (the dashboard and its
simulators together) finds the calls where a real PBX, which the dashboard's restart never
touches, would have them: the live calls, the events not yet delivered, and the records of
the finished calls (cdr.php's answers, and which recordings exist).

One folder per simulated PBX: `live.json`, rewritten (atomically) at each change of a live
call, and `finished.jsonl`, one record per finished call, trimmed at start-up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dashboard.simulator.traffic import PlannedCall

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SavedCall:
    plan: PlannedCall
    started: datetime
    answered: datetime | None


@dataclass(frozen=True)
class Saved:
    calls: list[SavedCall]
    unsent: list[dict[str, str]]  # events sent when the PBX stopped, maybe never delivered


class SimulatorState:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.live_path = folder / "live.json"
        self.finished_path = folder / "finished.jsonl"

    def save(self, calls: Iterable[SavedCall], unsent: Iterable[dict[str, str]]) -> None:
        body = {"calls": [_call_fields(call) for call in calls], "unsent": list(unsent)}
        partial = self.live_path.with_suffix(".json.partial")
        partial.write_text(json.dumps(body))
        os.replace(partial, self.live_path)

    def load(self) -> Saved:
        """What the PBX had when it stopped (nothing, from a missing or unreadable file)."""
        try:
            body = json.loads(self.live_path.read_text())
            return Saved([_call_of(fields) for fields in body["calls"]], list(body["unsent"]))
        except FileNotFoundError:
            return Saved([], [])
        except (ValueError, KeyError, TypeError) as error:
            log.warning("forgetting the unreadable %s: %s", self.live_path, error)
            return Saved([], [])

    def add_finished(self, record: dict[str, str]) -> None:
        with self.finished_path.open("a") as out:
            out.write(json.dumps(record) + "\n")

    def finished(self, keep: int) -> list[dict[str, str]]:
        """The last `keep` records of finished calls (the file is cut down to them)."""
        with contextlib.suppress(FileNotFoundError):
            records = []
            for line in self.finished_path.read_text().splitlines()[-keep:]:
                with contextlib.suppress(ValueError):
                    records.append(json.loads(line))
            self.finished_path.write_text("".join(json.dumps(r) + "\n" for r in records))
            return records
        return []


def _call_fields(call: SavedCall) -> dict[str, Any]:
    return {
        "plan": asdict(call.plan),
        "started": call.started.isoformat(),
        "answered": call.answered.isoformat() if call.answered else None,
    }


def _call_of(fields: dict[str, Any]) -> SavedCall:
    answered = fields["answered"]
    return SavedCall(
        PlannedCall(**fields["plan"]),
        datetime.fromisoformat(fields["started"]),
        datetime.fromisoformat(answered) if answered else None,
    )
