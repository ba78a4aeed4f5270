"""Reports at /reports, and each of their tables as CSV."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import date, timedelta

import anyio
from starlette.requests import Request
from starlette.responses import Response

from dashboard.errors import Refusal
from dashboard.history import PRESETS, FilterError, parse_filters
from dashboard.reports import (
    SORTABLE,
    WEEKDAYS,
    Figures,
    Report,
    ReportError,
    build_report,
    heat_opacity,
    heat_scale,
    period_words,
)
from dashboard.security import SUPERVISORS, require
from dashboard.state import parts
from dashboard.views.history import spreadsheet_safe
from dashboard.views.pages import page

TABLES = ("extensions", "daily", "heatmap")


async def _report(request: Request) -> tuple[Report, str, str, str]:
    state = parts(request)
    settings = state.settings
    params = request.query_params
    # "Today" is the business day under way: at 03:00 with days starting at 06:00, yesterday's.
    day_start = timedelta(hours=settings.day_starts.hour, minutes=settings.day_starts.minute)
    today = (state.clock().astimezone(state.settings.timezone) - day_start).date()
    filters = parse_filters(
        {
            "period": params.get("period") or "30d",
            "from": params.get("from", ""),
            "to": params.get("to", ""),
        },
        state.settings.timezone,
        today,
    )
    if filters.period == "all":
        raise ReportError("choose a period: a report covers at most 400 days")
    assert filters.start is not None and filters.end is not None
    first, last = filters.start.date(), (filters.end - timedelta(days=1)).date()
    extensions = [part.strip() for part in params.get("extensions", "").split(",") if part.strip()]
    if any(not (e.isascii() and e.isdigit() and len(e) <= 10) for e in extensions):
        raise ReportError("extensions are digits, separated by commas")
    pbx_name = params.get("pbx", "").strip()
    try:
        host = state.pbxs.named(pbx_name).config.host if pbx_name else None
    except Refusal as refused:
        raise ReportError(refused.detail) from None

    def build() -> Report:
        # Its own read-only connection, in a worker thread: a report from the summaries takes
        # tens of milliseconds, one read call by call (a day starting off the quarter-hour)
        # seconds, and the event loop must keep serving events and wallboards meanwhile.
        conn = sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True)
        try:
            return build_report(
                conn, first, last, settings.timezone, settings.day_starts, extensions, host
            )
        finally:
            conn.close()

    report = await anyio.to_thread.run_sync(build)
    return report, filters.period, ",".join(extensions), pbx_name


@require(*SUPERVISORS)
async def reports_page(request: Request) -> Response:
    sort = request.query_params.get("sort", "extension")
    sort = sort if sort in SORTABLE else "extension"
    descending = request.query_params.get("order") == "desc"
    try:
        report, period, extensions, pbx = await _report(request)
    except (FilterError, ReportError) as problem:
        return page(
            request,
            "reports.html",
            status_code=422,
            report=None,
            error=str(problem),
            presets=PRESETS,
            period="30d",
            extensions="",
            pbx="",
            pbx_names=_pbx_names(request),
            sort=sort,
            descending=descending,
            day_from=None,
            day_to=None,
        )
    return page(
        request,
        "reports.html",
        report=report,
        error="",
        presets=PRESETS,
        period=period,
        extensions=extensions,
        pbx=pbx,
        pbx_names=_pbx_names(request),
        sort=sort,
        descending=descending,
        weekdays=WEEKDAYS,
        rows=report.extension_rows(sort, descending),
        day_from=report.first,
        day_to=report.last,
        trend=_trend(report),
        over=period_words(report.first, report.last),
        heat_scale=heat_scale(report.heat_max),
        heat_opacity=heat_opacity,
        zone=parts(request).settings.timezone.key,
        day_starts=_day_starts(request),
    )


def _day_starts(request: Request) -> str:
    """When a business day starts, when not at midnight ("06:00")."""
    starts = parts(request).settings.day_starts
    return starts.strftime("%H:%M") if (starts.hour, starts.minute) != (0, 0) else ""


def _pbx_names(request: Request) -> list[str]:
    """The PBX filter's choices (none with one PBX)."""
    pbxs = parts(request).pbxs
    return [pbx.name for pbx in pbxs.all] if pbxs.several else []


def _trend(report: Report) -> dict[str, object]:
    """Bars of answered and missed calls per day, scaled into a 100-high SVG."""
    days = list(report.by_day.items())
    peak = max((figures.calls for _, figures in days), default=0)
    scale = peak or 1
    width = max(len(days), 1)
    bars = []
    for n, (day, figures) in enumerate(days):
        answered = 100 * figures.answered / scale
        missed = 100 * figures.missed / scale
        other = 100 * (figures.calls - figures.answered - figures.missed) / scale
        bars.append(
            {
                "x": n,
                "day": day,
                "answered": answered,
                "missed": missed,
                "other": other,
                "figures": figures,
            }
        )
    step = max(1, len(days) // 10)
    return {"bars": bars, "width": width, "peak": peak, "labels": bars[::step]}


@require(*SUPERVISORS)
async def reports_csv(request: Request) -> Response:
    table = request.query_params.get("table", "extensions")
    if table not in TABLES:
        return Refusal(422, "bad_table", f"table must be one of {', '.join(TABLES)}").json()
    try:
        report, _, _, _ = await _report(request)
    except (FilterError, ReportError) as problem:
        return Refusal(422, "bad_filter", str(problem)).json()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if table == "heatmap":
        writer.writerow(["weekday", *[f"{hour:02d}:00" for hour in range(24)]])
        for weekday, counts in zip(WEEKDAYS, report.heat, strict=True):
            writer.writerow([weekday, *counts])
    else:
        label = "extension" if table == "extensions" else "day"
        writer.writerow(
            [
                label,
                "calls",
                "answered",
                "missed",
                "answer_rate",
                "talk_seconds",
                "average_talk_seconds",
                "average_ring_seconds",
            ]
        )
        items: list[tuple[str | date, Figures]] = (
            list(report.extension_rows()) if table == "extensions" else list(report.by_day.items())
        )
        for key, figures in items:
            writer.writerow([spreadsheet_safe(str(key)), *_numbers(figures)])
    name = f"report-{table}-{report.first}-{report.last}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def _numbers(figures: Figures) -> list[object]:
    def rounded(value: float | None) -> object:
        return "" if value is None else round(value, 3)

    return [
        figures.calls,
        figures.answered,
        figures.missed,
        rounded(figures.answer_rate),
        figures.talk,
        rounded(figures.average_talk),
        rounded(figures.average_ring),
    ]
