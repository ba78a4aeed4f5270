"""The JSON API and the health check."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from dashboard.auth import Role
from dashboard.calls import Call
from dashboard.errors import Refusal
from dashboard.metrics import Labels, Timings, counter, gauge, gauges
from dashboard.schema import JSON_FIELDS, json_value
from dashboard.security import STAFF, current_auth, require, user_scope
from dashboard.state import parts


def call_json(call: Call, tz: ZoneInfo) -> dict[str, Any]:
    """Every stored field of a call (see `schema.FIELDS`); times in ISO 8601 in the PBX's
    time zone."""
    return {
        field.name: json_value(field.kind, getattr(call, field.name), tz) for field in JSON_FIELDS
    }


@require(*STAFF)
async def active_calls(request: Request) -> Response:
    state = parts(request)
    scope = user_scope(request)
    live = [call for call in state.live.board.snapshot(scope) if call.is_live]
    return JSONResponse({"calls": [call_json(call, state.settings.timezone) for call in live]})


@require(*STAFF)
async def call_detail(request: Request) -> Response:
    state = parts(request)
    uniqueid = request.path_params["uniqueid"]
    host = request.query_params.get("host")
    if host is not None:
        call = state.store.get_call((host, uniqueid))
    else:
        call = state.store.get_call_by_uniqueid(uniqueid)
    auth = current_auth(request)
    if call is None or auth is None or not auth.user.may_see_call(call):
        # The same answer whether the call does not exist or is not yours: no probing.
        return Refusal(404, "not_found", f"no call {uniqueid!r} that you may see").json()
    return JSONResponse(call_json(call, state.settings.timezone))


async def healthz(request: Request) -> JSONResponse:
    """For load balancers and monitors: public, so it tells nothing about calls."""
    state = parts(request)
    try:
        state.store.db.execute("SELECT 1").fetchone()
    except Exception:  # report, never raise: the probe must get an answer
        return JSONResponse({"ok": False, "database": "unavailable"}, status_code=503)
    return JSONResponse({"ok": True})


@require(Role.ADMIN, Role.SUPERVISOR)
async def metrics(request: Request) -> Response:
    """Prometheus text format; scrape it with a supervisor's API token (Bearer)."""
    state = parts(request)
    ingestor = state.ingestor
    hub = state.hub
    timings: Timings = state.timings
    lines = [
        *counter(
            "dashboard_events_accepted_total", "Call events stored.", {(): float(ingestor.accepted)}
        ),
        *counter(
            "dashboard_events_rejected_total",
            "Call events refused, by reason.",
            {(("reason", reason),): float(n) for reason, n in ingestor.rejected.items()},
        ),
        *counter(
            "dashboard_event_senders_refused_total",
            "Event requests refused for their token or address.",
            {(): float(ingestor.refused_senders)},
        ),
        *gauge(
            "dashboard_viewers",
            "Live sockets (wallboards and pages) connected now.",
            len(hub.subscribers),
        ),
        *counter(
            "dashboard_viewer_evictions_total",
            "Viewers closed for not keeping up.",
            {(): float(hub.evictions)},
        ),
        *counter(
            "dashboard_pbx_commands_total",
            "Commands sent to the PBX, by action and outcome.",
            {
                (("action", action), ("outcome", outcome)): float(n)
                for (action, outcome), n in state.controls.outcomes.items()
            },
        ),
        *counter(
            "dashboard_recording_links_refused_total",
            "Recording links not fetched, by reason (a query, a dot segment, another host...).",
            {(("reason", cause),): float(n) for cause, n in state.recording_links_refused.items()},
        ),
        *pbx_metrics(state.pbxs.health.as_json(state.clock())),
        *timings.fanout.render(),
        *timings.pbx.render(),
        *timings.db_write.render(),
    ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def pbx_metrics(health: list[dict[str, Any]]) -> Iterable[str]:
    """Each PBX's health: what /api/pbxs says, as numbers Prometheus can alert on."""

    def each(field: str, scale: float = 1.0) -> dict[Labels, float]:
        return {
            (("pbx", str(pbx["name"])),): float(pbx[field]) * scale
            for pbx in health
            if pbx[field] is not None
        }

    last_event: dict[Labels, float] = {
        (("pbx", str(pbx["name"])),): datetime.fromisoformat(pbx["last_event_at"]).timestamp()
        for pbx in health
        if pbx["last_event_at"]
    }
    commands: dict[Labels, float] = {
        (("pbx", str(pbx["name"])), ("outcome", outcome)): float(pbx[f"commands_{outcome}"])
        for pbx in health
        for outcome in ("accepted", "failed")
    }
    yield from gauges(
        "dashboard_pbx_up", "1 when the PBX's API answered its last probe.", each("api_ok")
    )
    yield from gauges(
        "dashboard_pbx_round_trip_seconds",
        "How long the last probe took.",
        each("round_trip_ms", 0.001),
    )
    yield from gauges(
        "dashboard_pbx_last_event_timestamp_seconds", "When the PBX's last event came.", last_event
    )
    yield from gauges(
        "dashboard_pbx_events_last_hour",
        "Events from the PBX in the last hour.",
        each("events_last_hour"),
    )
    yield from gauges(
        "dashboard_pbx_clock_skew_seconds",
        "How far ahead of ours the PBX's clock runs.",
        each("clock_skew_seconds"),
    )
    yield from gauges(
        "dashboard_pbx_silent",
        "1 when the PBX's CDR has calls no event told of.",
        {(("pbx", str(pbx["name"])),): 1.0 if pbx["silent_since"] else 0.0 for pbx in health},
    )
    yield from counter(
        "dashboard_pbx_commands_by_pbx_total", "Commands to each PBX, by outcome.", commands
    )
