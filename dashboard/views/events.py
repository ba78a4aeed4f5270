"""`GET|POST /synapse/events`: the Remote APP URL a Synapse PBX calls with each call event."""

from __future__ import annotations

import logging
import sqlite3

from starlette.requests import Request
from starlette.responses import JSONResponse

from dashboard.events import EventError
from dashboard.ingest import Ingestor

log = logging.getLogger(__name__)


async def synapse_events(request: Request) -> JSONResponse:
    ingestor: Ingestor = request.app.state.ingestor
    raw_query = request.scope.get("query_string", b"").decode("utf-8", errors="replace")
    remote = request.client.host if request.client else ""
    try:
        body = await read_body(request, ingestor.settings.max_event_bytes)
        accepted = ingestor.ingest(raw_query, body, method=request.method, remote=remote)
    except EventError as error:
        return JSONResponse(
            {"error": error.reason, "detail": error.detail}, status_code=error.status
        )
    except sqlite3.Error as error:
        log.error("could not store an event: %s", error)
        detail = "the event could not be stored; send it again later"
        return JSONResponse({"error": "storage_unavailable", "detail": detail}, status_code=503)
    return JSONResponse(
        {"ok": True, "event_id": accepted.event_id, "status": accepted.call.status.value}
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (without reading it all) one larger than `limit`."""
    too_large = EventError("payload_too_large", f"the event is larger than {limit} bytes", 413)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        ingestor: Ingestor = request.app.state.ingestor
        ingestor.reject(
            too_large,
            ingestor.clock(),
            raw_query="",
            body=b"",
            method=request.method,
            remote=request.client.host if request.client else "",
        )
        raise too_large
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            break  # extract_json refuses it, keeping the first bytes for the operator
    return bytes(chunks)
