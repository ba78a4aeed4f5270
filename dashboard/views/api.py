"""The JSON API and the health check."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse

from dashboard.calls import Call
from dashboard.ingest import Ingestor


def call_json(call: Call, tz: ZoneInfo) -> dict[str, Any]:
    """Every stored field of a call; times in ISO 8601 in the PBX's time zone."""

    def iso(moment: datetime | None) -> str | None:
        return moment.astimezone(tz).isoformat() if moment else None

    return {
        "host": call.host,
        "uniqueid": call.uniqueid,
        "status": call.status.value,
        "direction": call.direction,
        "number": call.number,
        "extension": call.extension,
        "hangupchannel": call.hangupchannel,
        "redirectchannel": call.redirectchannel,
        "started_at": iso(call.started_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "start_time": iso(call.start_time),
        "answer_time": iso(call.answer_time),
        "end_time": iso(call.end_time),
        "first_seen_at": iso(call.first_seen_at),
        "connect_seen_at": iso(call.connect_seen_at),
        "finish_seen_at": iso(call.finish_seen_at),
        "duration": call.duration,
        "billable_seconds": call.billable_seconds,
        "disposition": call.disposition,
        "disposition_raw": call.disposition_raw,
        "recordlink": call.recordlink,
        "cdr_seen": call.cdr_seen,
        "answered": call.answered,
        "missed": call.missed,
        "extra": dict(call.extra),
    }


async def active_calls(request: Request) -> JSONResponse:
    ingestor: Ingestor = request.app.state.ingestor
    live = [call for call in ingestor.board.snapshot() if call.is_live]
    return JSONResponse({"calls": [call_json(call, ingestor.tz) for call in live]})


async def call_detail(request: Request) -> JSONResponse:
    ingestor: Ingestor = request.app.state.ingestor
    uniqueid = request.path_params["uniqueid"]
    host = request.query_params.get("host")
    if host is not None:
        call = ingestor.store.get_call((host, uniqueid))
    else:
        call = ingestor.store.get_call_by_uniqueid(uniqueid)
    if call is None:
        return JSONResponse(
            {"error": "not_found", "detail": f"no call {uniqueid!r}"}, status_code=404
        )
    return JSONResponse(call_json(call, ingestor.tz))


async def healthz(request: Request) -> JSONResponse:
    ingestor: Ingestor = request.app.state.ingestor
    try:
        ingestor.store.db.execute("SELECT 1").fetchone()
    except Exception as error:  # report, never raise: the probe must get an answer
        return JSONResponse({"ok": False, "database": str(error)}, status_code=503)
    return JSONResponse(
        {
            "ok": True,
            "live_calls": len(ingestor.board.live),
            "events_accepted": ingestor.accepted,
            "events_rejected": sum(ingestor.rejected.values()),
            **ingestor.hub.stats(),
        }
    )
