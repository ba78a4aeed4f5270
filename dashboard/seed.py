"""Realistic finished call history, fast: `dashboard seed --calls N [--days D]`.

For demos, screenshots and benchmarks of the history and reports pages. Every seeded call is
stored as the ingest path would store it: one CallFinish event in `events` (the payload a
Synapse PBX sends, so `ingest.replay` rebuilds the calls from the event log) and its `calls`
row. Rows are written straight in CALL_COLUMNS order, many per `executemany`, one
transaction per chunk: a million calls take under a minute (bench/history.py seeds that).

The shape of the traffic: more calls on weekdays than on Saturdays, few on Sundays and on the
odd holiday, an office-hours curve (a morning peak, a lunch dip, an afternoon peak, little at
night), a slight growth over the period; incoming and outgoing calls; about 70% answered
(far fewer at night), the rest unanswered, busy or failed; ring times by outcome and
lognormal talk times; caller numbers drawn from a pool where some numbers call often, and
missed calls sometimes called back by the same extension a little later. Uniqueids start
with "seed-", which a PBX never sends, and carry a sequence number that continues where the
previous seeding stopped, so seeding twice adds calls.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import math
import operator
import random
import re
import sys
import time as timer
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dashboard import report_summaries
from dashboard.seed_office import (
    CALLBACK_SHARE,
    CALLBACK_WITHIN,
    DAY_SHAPES,
    HOLIDAY_SHARE,
    INCOMING_SHARE,
    MONTHS,
    OFFICE_HOURS,
    OUTCOME_SHARES,
    OUTCOMES,
    OUTGOING_DIALLED_WITH_ZERO,
    TABLE,
    number_pool,
    office_table,
)
from dashboard.settings import Settings
from dashboard.store import CALL_COLUMNS, INSERT_EVENT, Store

DEFAULT_HOST = "192.168.1.51"
DEFAULT_EXTENSIONS = tuple(str(n) for n in (*range(40, 60), *range(70, 80)))
DEFAULT_DAYS = 90
CHUNK = 20_000
PREFIX = "seed-"  # real uniqueids are "<epoch>.<sequence>": these never collide with them
in_column_order = operator.itemgetter(*CALL_COLUMNS)  # a row by column name, as a tuple
INSERT_CALL = (
    f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({', '.join('?' * len(CALL_COLUMNS))})"
)
# Where the previous seedings stopped: the highest sequence number after the dot.
LAST_SEQUENCE = (
    "SELECT MAX(CAST(substr(uniqueid, instr(uniqueid, '.') + 1) AS INTEGER)) FROM {table}"
    " WHERE host = ? AND uniqueid >= 'seed-' AND uniqueid < 'seed.'"
)
SAFE_TEXT = re.compile(r"[A-Za-z0-9._:\[\]-]+")  # written into JSON and URLs unescaped
SAFE_BASE = re.compile(r"https?://[A-Za-z0-9._:\[\]-]+")  # where recording links point
SEED_CACHE_KIB = 256 * 1024  # SQLite page cache while seeding (index pages stay in memory)

EPOCH = datetime(1970, 1, 1)
MIXED = -(10**9)  # an hour whose UTC offset changes within it (a zone with half-hour shifts)


class SeedError(ValueError):
    """Arguments `seed` cannot work with; the message says which."""


@functools.cache
def _clock_times() -> tuple[str, ...]:
    """ "HH:MM:SS" of every second of a day: looking one up beats formatting it."""
    return tuple(
        f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)
    )


class _Days:
    """Per-day strings, computed once per day (index: days since 1970-01-01)."""

    def __init__(self) -> None:
        self.compact: dict[int, str] = {}  # 20261127
        self.iso: dict[int, str] = {}  # 2026-11-27
        self.folder: dict[int, str] = {}  # 2026/Nov/27112026 (the recordings' folder)
        self.dmy: dict[int, str] = {}  # 27112026

    def add(self, day: int) -> None:
        moment = EPOCH + timedelta(days=day)
        y, m, d = moment.year, moment.month, moment.day
        self.compact[day] = f"{y:04d}{m:02d}{d:02d}"
        self.iso[day] = f"{y:04d}-{m:02d}-{d:02d}"
        self.dmy[day] = f"{d:02d}{m:02d}{y:04d}"
        self.folder[day] = f"{y:04d}/{MONTHS[m - 1]}/{self.dmy[day]}"


class _Offsets:
    """UTC offsets (seconds) of local wall-clock seconds since 1970, as the events parser
    reads a PBX time: `datetime(..., tzinfo=tz)`, fold 0. Cached per local hour."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.by_hour: dict[int, int] = {}

    def exact(self, local: int) -> int:
        offset = (EPOCH + timedelta(seconds=local)).replace(tzinfo=self.tz).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def of_hour(self, hour: int) -> int:
        """The hour's offset, or MIXED when it changes within the hour."""
        offset = self.by_hour.get(hour)
        if offset is None:
            first, last = self.exact(hour * 3600), self.exact(hour * 3600 + 3599)
            offset = self.by_hour[hour] = first if first == last else MIXED
        return offset

    def __call__(self, local: int) -> int:
        offset = self.of_hour(local // 3600)
        return self.exact(local) if offset == MIXED else offset

    def exists(self, hour: int) -> bool:
        """Whether the hour's wall-clock times happen at all (not skipped by a DST change)."""
        local = hour * 3600
        utc = local - self.exact(local)
        back = datetime.fromtimestamp(utc, self.tz).utcoffset()
        return back is not None and utc + int(back.total_seconds()) == local


def _next_sequence(store: Store, host: str) -> int:
    """The first sequence number not used by an earlier seeding (of this PBX host)."""
    last = 0
    for table in ("events", "calls"):
        found = store.db.execute(LAST_SEQUENCE.format(table=table), [host]).fetchone()[0]
        last = max(last, int(found or 0))
    return last + 1


def _hour_cells(
    rnd: random.Random, offsets: _Offsets, first_utc: int, end_utc: int
) -> list[tuple[int, int, int, float]]:
    """The local hours of the window as (local start, first second, end second, weight)."""
    cells: list[tuple[int, int, int, float]] = []
    first_hour = (first_utc + offsets.exact(first_utc)) // 3600 - 1
    last_hour = (end_utc + offsets.exact(end_utc)) // 3600 + 1
    day_factor: dict[int, float] = {}
    span = max(1, last_hour - first_hour)
    for hour in range(first_hour, last_hour + 1):
        offset = offsets.of_hour(hour)
        if offset == MIXED or not offsets.exists(hour):
            continue  # no calls start in an hour a DST change skips or splits
        local = hour * 3600
        utc = local - offset
        lo, hi = max(0, first_utc - utc), min(3600, end_utc - utc)
        if lo >= hi:
            continue
        day = local // 86_400
        if day not in day_factor:
            holiday = rnd.random() < HOLIDAY_SHARE
            day_factor[day] = rnd.uniform(0.85, 1.15) * (0.1 if holiday else 1.0)
        shape, factor = DAY_SHAPES[(day + 3) % 7]  # 1970-01-01 was a Thursday
        growth = 0.85 + 0.15 * (hour - first_hour) / span
        weight = shape[hour % 24] * factor * day_factor[day] * growth * (hi - lo) / 3600
        cells.append((local, lo, hi, weight))
    return cells


def seed(
    store: Store,
    calls: int,
    *,
    days: int,
    tz: ZoneInfo,
    host: str,
    extensions: Sequence[str],
    now: datetime,
    seed: int | None,
    recording_base: str | None = None,
) -> int:
    """Add `calls` finished calls over the `days` days before `now`; returns how many.
    Their recording links point at `recording_base` (e.g. http://127.0.0.1:8001), else at
    http://HOST, as a PBX's own do."""
    if calls < 0 or days < 1:
        raise SeedError("the number of calls must be 0 or more, and of days 1 or more")
    if not SAFE_TEXT.fullmatch(host):
        raise SeedError(f"the PBX host must be a plain host name or address, not {host!r}")
    if not extensions or not all(SAFE_TEXT.fullmatch(ext) for ext in extensions):
        raise SeedError("give one or more extensions, each letters and digits")
    if now.tzinfo is None:
        raise SeedError("now must be an aware datetime")
    base = f"http://{host}" if recording_base is None else recording_base.rstrip("/")
    if not SAFE_BASE.fullmatch(base):
        raise SeedError(f"the recordings' base must be http(s)://host[:port], not {base!r}")
    if calls == 0:
        return 0
    rnd = random.Random(seed)
    offsets = _Offsets(tz)
    end_utc = math.floor(now.timestamp()) - 120  # every call has ended, and been received
    cells = _hour_cells(rnd, offsets, end_utc - days * 86_400, end_utc)
    if not cells:
        raise SeedError("the period holds no hour to put calls in")
    counts = [0] * len(cells)
    cumulative: list[float] = []
    total = 0.0
    for cell in cells:
        total += cell[3]
        cumulative.append(total)
    for index in rnd.choices(range(len(cells)), cum_weights=cumulative, k=calls):
        counts[index] += 1

    sequence = _next_sequence(store, host)
    conn = store.db.conn
    cache_size = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = -{SEED_CACHE_KIB}")
    try:
        writer = _Writer(rnd, store, host, extensions, offsets, end_utc, calls, sequence, base)
        for (local, lo, hi, _), count in zip(cells, counts, strict=True):
            if count:
                writer.hour(local, sorted(local + rnd.randrange(lo, hi) for _ in range(count)))
        writer.flush()
    finally:
        conn.execute(f"PRAGMA cache_size = {int(cache_size)}")
    return writer.written


class _Writer:
    """Draws each call of an hour and writes them, CHUNK calls per transaction."""

    def __init__(
        self,
        rnd: random.Random,
        store: Store,
        host: str,
        extensions: Sequence[str],
        offsets: _Offsets,
        end_utc: int,
        calls: int,
        sequence: int,
        recording_base: str,
    ) -> None:
        self.rnd = rnd
        self.recording_base = recording_base
        self.store = store
        self.host = host
        self.offsets = offsets
        self.end_utc = end_utc
        self.sequence = sequence
        self.written = 0
        self.events: list[tuple[str, str, str, str, str]] = []
        self.rows: list[tuple[Any, ...]] = []
        self.days = _Days()
        self.clock = _clock_times()
        self.pool = number_pool(rnd, min(max(calls // 6, 200), 250_000), store.phone_digits)
        # Some agents take far more calls than others.
        self.extensions = office_table([(ext, rnd.lognormvariate(0, 0.35)) for ext in extensions])
        self.outcomes = {name: office_table(shares) for name, shares in OUTCOME_SHARES.items()}
        self.callbacks: list[tuple[int, int, str]] = []  # (due, pool index, extension)

    def iso(self, utc: int, micro: str = ".000000") -> str:
        day = utc // 86_400
        if day not in self.days.iso:
            self.days.add(day)
        return f"{self.days.iso[day]}T{self.clock[utc % 86_400]}{micro}+00:00"

    def pbx_time(self, local: int) -> str:
        day = local // 86_400
        if day not in self.days.compact:
            self.days.add(day)
        return self.days.compact[day] + self.clock[local % 86_400]

    def hour(self, hour_start: int, starts: list[int]) -> None:
        """Draw and queue the calls starting at these local times, all in one local hour."""
        rnd, random_, gauss = self.rnd, self.rnd.random, self.rnd.gauss
        offsets, iso, pbx_time = self.offsets, self.iso, self.pbx_time
        host, pool, pool_size = self.host, self.pool, len(self.pool)
        recordings = f"{self.recording_base}/callrecord"
        extensions, callbacks = self.extensions, self.callbacks
        hour_end = hour_start + 3600
        offset = offsets(hour_start)
        day = hour_start // 86_400
        if day not in self.days.compact:
            self.days.add(day)
        folder, dmy = self.days.folder[day], self.days.dmy[day]
        weekday, clock_hour = (day + 3) % 7, (hour_start // 3600) % 24
        office = clock_hour in OFFICE_HOURS and weekday != 6
        incoming_outcomes = self.outcomes["office" if office else "night"]
        outgoing_outcomes = self.outcomes["outgoing"]
        for local in starts:
            start = local - offset
            pick = 0
            if random_() < INCOMING_SHARE:
                incoming = True
                pick = int(pool_size * random_() ** 2)  # a few numbers call very often
                number, key = pool[pick][0], pool[pick][1]
                extension = extensions[int(random_() * TABLE)]
                outcome = incoming_outcomes[int(random_() * TABLE)]
            else:
                incoming = False
                while callbacks and callbacks[0][0] < start - CALLBACK_WITHIN:
                    heapq.heappop(callbacks)
                if callbacks and callbacks[0][0] <= start:
                    _, index, extension = heapq.heappop(callbacks)
                else:
                    index = int(pool_size * random_() ** 2)
                    extension = extensions[int(random_() * TABLE)]
                entry = pool[index]
                if random_() < OUTGOING_DIALLED_WITH_ZERO:
                    number, key = entry[2], entry[3]
                else:
                    number, key = entry[0], entry[1]
                outcome = outgoing_outcomes[int(random_() * TABLE)]
            answered = outcome == "answered"
            if answered:
                ring = min(60, max(1, round(math.exp(gauss(2.2 if incoming else 2.5, 0.5)))))
                talk = round(math.exp(gauss(4.55 if incoming else 4.25, 0.95)))
                talk = max(3, min(talk, 3 * 3600, self.end_utc - start - ring))
            elif outcome == "no_answer":
                ring, talk = rnd.randrange(15, 46), 0
            else:
                ring, talk = rnd.randrange(0, 4), 0
            end_local = local + ring + talk
            end = end_local - (offset if end_local < hour_end else offsets(end_local))
            received = end + random_() * 1.5 + 0.03
            received_text = iso(int(received), f".{int(received % 1 * 1e6):06d}")
            uniqueid = f"{PREFIX}{start}.{self.sequence}"
            self.sequence += 1
            start_text, start_pbx = iso(start), pbx_time(local)
            disposition_raw, disposition = OUTCOMES[outcome]
            direction = "Incoming" if incoming else "Outgoing"
            if answered:
                answer_local = local + ring
                answer = answer_local - (
                    offset if answer_local < hour_end else offsets(answer_local)
                )
                answer_text: str | None = iso(answer)
                answer_pbx = pbx_time(answer_local)
                recordlink: str | None = f"{recordings}/{folder}/{dmy}{uniqueid}.wav"
                tail = f',"uniqueid":"{uniqueid}","recordlink":"{recordlink}"}}'
            else:
                answer_text = recordlink = None
                answer_pbx = ""
                tail = f',"uniqueid":"{uniqueid}"}}'
            end_text = iso(end)
            self.events.append(
                (
                    received_text,
                    host,
                    uniqueid,
                    "CallFinish",
                    f'{{"asteriskhost":"{host}","event":"CallFinish","direction":"{direction}"'
                    f',"number":"{number}","extension":"{extension}","starttime":"{start_pbx}"'
                    f',"answertime":"{answer_pbx}","endtime":"{pbx_time(end_local)}"'
                    f',"duration":"{ring + talk}","billableseconds":"{talk}"'
                    f',"disposition":"{disposition_raw}"{tail}',
                )
            )
            self.rows.append(
                in_column_order(
                    {
                        "host": host,
                        "uniqueid": uniqueid,
                        "status": "finished",
                        "direction": "incoming" if incoming else "outgoing",
                        "number": number,
                        "extension": extension,
                        "hangupchannel": None,  # only CallStart/CallConnect carry them
                        "redirectchannel": None,
                        "start_time": start_text,
                        "answer_time": answer_text,
                        "end_time": end_text,
                        "first_seen_at": received_text,  # the CallFinish was the first event
                        "connect_seen_at": None,
                        "finish_seen_at": received_text,
                        "last_seen_at": received_text,
                        "started_at": start_text,
                        "answered_at": answer_text,
                        "ended_at": end_text,
                        "duration": ring + talk,
                        "billable_seconds": talk,
                        "disposition": disposition,
                        "disposition_raw": disposition_raw,
                        "recordlink": recordlink,
                        "cdr_seen": 1,
                        "extra": "{}",
                        "updated_at": received_text,
                        "number_key": key or None,
                    }
                )
            )
            if incoming and not answered and random_() < CALLBACK_SHARE:
                due = end + rnd.randrange(120, 5400)
                heapq.heappush(callbacks, (due, pick, extension))
            if len(self.rows) >= CHUNK:
                self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        conn = self.store.db.conn
        with self.store.db.atomic(), report_summaries.inserting_in_bulk(self.store.db):
            conn.executemany(INSERT_EVENT, self.events)
            conn.executemany(INSERT_CALL, self.rows)
        self.written += len(self.rows)
        self.events, self.rows = [], []


def seeded_pbx(settings: Settings) -> tuple[str, tuple[str, ...]]:
    """Whose calls a seeding makes: the first PBX of DASHBOARD_CONFIG (its host, and its
    extensions if it lists them), else the PBX of the SYNAPSE_* variables; so that its
    agents see them."""
    if settings.pbx_configs:
        first = settings.pbx_configs[0]
        return first.host, first.extensions or settings.extensions or DEFAULT_EXTENSIONS
    return settings.synapse_host or DEFAULT_HOST, settings.extensions or DEFAULT_EXTENSIONS


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    """`dashboard seed --calls N [--days D] [--seed S]`: add N finished calls of history."""
    days = getattr(args, "days", None) or DEFAULT_DAYS
    host, extensions = seeded_pbx(settings)
    store = Store.open(settings.db_path, settings.db_synchronous, settings.phone_match_digits)
    started = timer.perf_counter()
    try:
        added = seed(
            store,
            args.calls,
            days=days,
            tz=settings.timezone,
            host=host,
            extensions=extensions,
            now=datetime.now(UTC),
            seed=getattr(args, "seed", None),
        )
    except SeedError as error:
        print(f"dashboard: {error}", file=sys.stderr)
        return 2
    finally:
        store.close()
    elapsed = timer.perf_counter() - started
    rate = added / elapsed if elapsed > 0 else 0.0
    print(
        f"added {added:,} calls over the last {days} days to {settings.db_path}"
        f" in {elapsed:.1f} s ({rate:,.0f} calls/s)"
    )
    return 0
