"""Reports over a period: totals, a table by extension, a heat map by weekday and hour,
and a daily trend, all in the PBX's time zone (a business day may start at, say, 06:00)."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dashboard import report_summaries
from dashboard.report_summaries import QUARTER
from dashboard.schema import answered_sql, missed_sql
from dashboard.store import _iso

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SORTABLE = (
    "extension",
    "calls",
    "answered",
    "missed",
    "answer_rate",
    "talk",
    "average_talk",
    "average_ring",
)
MAX_DAYS = 400
MICROSECOND = timedelta(microseconds=1)
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
OFFSET_STEP = 12  # quarters: a zone's offset changes at most once in 3 hours
DASH = "\N{EN DASH}"


class ReportError(ValueError):
    """A period or filter that cannot be reported on; the message says why."""


@dataclass
class Figures:
    calls: int = 0
    answered: int = 0
    missed: int = 0
    talk: int = 0  # billable seconds
    ring: int = 0  # microseconds from start to answer, over the calls with an answer time
    rung: int = 0  # how many calls `ring` sums
    incoming: int = 0
    incoming_answered: int = 0

    @property
    def answer_rate(self) -> float | None:
        """Of the incoming calls, the share answered (outgoing calls are not the callers')."""
        return self.incoming_answered / self.incoming if self.incoming else None

    @property
    def average_talk(self) -> float | None:
        return self.talk / self.answered if self.answered else None

    @property
    def average_ring(self) -> float | None:
        return self.ring / self.rung / 1_000_000 if self.rung else None

    def add(
        self, answered: bool, missed: bool, talk: int, ring: int | None, incoming: bool
    ) -> None:
        self.calls += 1
        self.incoming += incoming
        if answered:
            self.answered += 1
            self.incoming_answered += incoming
            self.talk += talk
            if ring is not None:
                self.ring += ring
                self.rung += 1
        elif missed:
            self.missed += 1

    def add_sums(self, sums: Sequence[int]) -> None:
        """Add figures summed elsewhere, in report_summaries.FIGURES order."""
        calls, answered, missed, talk, ring, rung, incoming, incoming_answered = sums
        self.calls += calls
        self.answered += answered
        self.missed += missed
        self.talk += talk
        self.ring += ring
        self.rung += rung
        self.incoming += incoming
        self.incoming_answered += incoming_answered


@dataclass
class Report:
    first: date
    last: date
    extensions: tuple[str, ...]
    total: Figures = field(default_factory=Figures)
    by_extension: dict[str, Figures] = field(default_factory=lambda: defaultdict(Figures))
    by_day: dict[date, Figures] = field(default_factory=dict)
    heat: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in WEEKDAYS])

    def extension_rows(
        self, sort: str = "extension", descending: bool = False
    ) -> list[tuple[str, Figures]]:
        def key(item: tuple[str, Figures]) -> tuple[int, float, str]:
            extension, figures = item
            if sort == "extension":
                return (0, float(extension) if extension.isdigit() else 0.0, extension)
            value = getattr(figures, sort)
            return (value is None, float(value or 0), extension)

        return sorted(self.by_extension.items(), key=key, reverse=descending)

    @property
    def heat_max(self) -> int:
        return max((count for row in self.heat for count in row), default=0)


def period_words(first: date, last: date) -> str:
    """A period as people write it: "27 Nov 2026", "1-30 Nov 2026", "27 Oct - 25 Nov 2026"
    (with en dashes)."""

    def day(d: date, *parts: str) -> str:
        return " ".join([str(d.day), *(d.strftime(part) for part in parts)])

    if first == last:
        return day(first, "%b", "%Y")
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}{DASH}{day(last, '%b', '%Y')}"
    if first.year == last.year:
        return f"{day(first, '%b')} {DASH} {day(last, '%b', '%Y')}"
    return f"{day(first, '%b', '%Y')} {DASH} {day(last, '%b', '%Y')}"


def heat_scale(peak: int, steps: int = 5) -> list[tuple[int, float]]:
    """The heat map's legend: counts from 0 to the busiest hour's, each with its cell's
    opacity (the same rule as the cells')."""
    if peak <= 0:
        return []
    counts = sorted({round(peak * n / (steps - 1)) for n in range(steps)})
    return [(count, heat_opacity(count, peak)) for count in counts]


def heat_opacity(count: int, peak: int) -> float:
    return round(0.06 + 0.94 * count / peak, 2) if peak else 0.06


def period_bounds(
    first: date, last: date, tz: ZoneInfo, day_starts: time
) -> tuple[datetime, datetime]:
    if last < first:
        raise ReportError("the period ends before it starts")
    if (last - first).days >= MAX_DAYS:
        raise ReportError(f"a report covers at most {MAX_DAYS} days")
    return (
        datetime.combine(first, day_starts, tz),
        datetime.combine(last + timedelta(days=1), day_starts, tz),
    )


def build_report(
    conn: sqlite3.Connection,
    first: date,
    last: date,
    tz: ZoneInfo,
    day_starts: time,
    extensions: Iterable[str] = (),
    host: str | None = None,
) -> Report:
    """`host`: only that PBX's calls. From the summaries (report_summaries) when they can
    give it: a business day that starts on a quarter-hour, and the summaries there."""
    start, end = period_bounds(first, last, tz, day_starts)
    report = _empty_report(first, last, extensions)
    if not _from_summaries(conn, report, start, end, tz, day_starts, host):
        _scan(conn, report, start, end, tz, day_starts, host)
    return report


def scan_report(
    conn: sqlite3.Connection,
    first: date,
    last: date,
    tz: ZoneInfo,
    day_starts: time,
    extensions: Iterable[str] = (),
    host: str | None = None,
) -> Report:
    """build_report from every finished call of the period, one by one (what the summaries
    must agree with)."""
    start, end = period_bounds(first, last, tz, day_starts)
    report = _empty_report(first, last, extensions)
    _scan(conn, report, start, end, tz, day_starts, host)
    return report


def _empty_report(first: date, last: date, extensions: Iterable[str]) -> Report:
    chosen = tuple(sorted(set(extensions), key=lambda e: (not e.isdigit(), e.zfill(10))))
    report = Report(first, last, chosen)
    day = first
    while day <= last:
        report.by_day[day] = Figures()
        day += timedelta(days=1)
    return report


def _scan(
    conn: sqlite3.Connection,
    report: Report,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    day_starts: time,
    host: str | None,
) -> None:
    sql = (
        "SELECT started_at, answered_at, extension, direction, billable_seconds,"
        f" {answered_sql()}, {missed_sql()}"
        " FROM calls WHERE +status = 'finished' AND started_at >= ? AND started_at < ?"
    )
    params: list[object] = [_iso(start), _iso(end)]
    if report.extensions:
        sql += f" AND extension IN ({', '.join('?' * len(report.extensions))})"
        params.extend(report.extensions)
    if host is not None:
        sql += " AND host = ?"
        params.append(host)
    shift = timedelta(hours=day_starts.hour, minutes=day_starts.minute)
    rows = conn.execute(sql, params)
    for started, answered_at, extension, direction, billable, answered, missed in rows:
        local = datetime.fromisoformat(started).astimezone(tz)
        ring = (
            (datetime.fromisoformat(answered_at) - datetime.fromisoformat(started)) // MICROSECOND
            if answered and answered_at
            else None
        )
        talk = int(billable or 0)
        report.total.add(answered, missed, talk, ring, direction == "incoming")
        report.by_extension[extension or "?"].add(
            answered, missed, talk, ring, direction == "incoming"
        )
        business_day = (local - shift).date()
        if business_day in report.by_day:
            report.by_day[business_day].add(answered, missed, talk, ring, direction == "incoming")
        report.heat[local.weekday()][local.hour] += 1


def _from_summaries(
    conn: sqlite3.Connection,
    report: Report,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    day_starts: time,
    host: str | None,
) -> bool:
    """Fill the report from the summaries; False (and the report untouched) when they cannot
    give it: a day that starts between quarter-hours, a zone whose offset does, or a
    database without them."""
    shift = day_starts.hour * 3600 + day_starts.minute * 60 + day_starts.second
    first_second, end_second = start.timestamp(), end.timestamp()
    if shift % QUARTER or day_starts.microsecond or first_second % QUARTER or end_second % QUARTER:
        return False
    quarters = (int(first_second) // QUARTER, int(end_second) // QUARTER)
    offsets = _offsets(quarters, tz)
    if offsets is None:
        return False
    try:
        hours = report_summaries.local_hours(
            conn, quarters, offsets, shift, report.extensions, host
        )
        extensions = report_summaries.by_extension(conn, quarters, report.extensions, host)
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return False
        raise
    for business_day, local_day, hour, sums in hours:
        report.total.add_sums(sums)
        figures = report.by_day.get(date.fromordinal(EPOCH_ORDINAL + business_day))
        if figures is not None:
            figures.add_sums(sums)
        report.heat[(local_day + 3) % 7][hour] += sums[0]  # 1970-01-01 was a Thursday
    for extension, sums in extensions:
        if sums[0]:  # a row whose calls were all deleted or changed
            report.by_extension[extension or "?"].add_sums(sums)
    return True


def _offsets(quarters: tuple[int, int], tz: ZoneInfo) -> list[tuple[int, int]] | None:
    """(first quarter, UTC offset in seconds) of each stretch of the quarters in [first, end)
    with one offset; None when an offset is not whole quarter-hours or changes within one."""

    def offset(second: int) -> int:
        utc_offset = datetime.fromtimestamp(second, tz).utcoffset()
        return int(utc_offset.total_seconds()) if utc_offset is not None else 0

    first, end = quarters
    found = [(first, offset(first * QUARTER))]
    at = first
    while at < end - 1:
        step = min(at + OFFSET_STEP, end - 1)
        if offset(step * QUARTER) == found[-1][1]:
            at = step
            continue
        same, differs = at, step  # the change is in between: find its quarter
        while differs - same > 1:
            middle = (same + differs) // 2
            if offset(middle * QUARTER) == found[-1][1]:
                same = middle
            else:
                differs = middle
        if offset(differs * QUARTER - 1) != found[-1][1]:  # it changed inside a quarter
            return None
        found.append((differs, offset(differs * QUARTER)))
        at = differs
    return found if all(seconds % QUARTER == 0 for _, seconds in found) else None
