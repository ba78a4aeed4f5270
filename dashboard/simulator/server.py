"""The simulated Synapse's HTTP side: `synapseactions.php` (commands, for the IPs in its
Allowed IP List), the log of commands it received and its call recordings (`/callrecord/`,
with byte ranges, as a web server serves them); and its event sender."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections import deque
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from dashboard.pbx import CDR_PATH
from dashboard.recordings import parse_range
from dashboard.simulator.pbx import FAULT_MODES, CommandRefused, Faults, SimulatedPBX
from dashboard.simulator.state import SimulatorState
from dashboard.simulator.traffic import Traffic, event_url

log = logging.getLogger(__name__)
ACTIONS_PATH = "/SukamAsteriskAPI/synapseactions.php"
COMMAND_LOG_SIZE = 1000
# Seconds between tries of an event the dashboard did not take: about 40 s in all, the time
# a dashboard restarting beside its simulators (`make run`) may take to listen again.
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, *(4.0,) * 9)


def create_simulator_app(pbx: SimulatedPBX, allowed_ips: list[str]) -> Starlette:
    allowed = [ipaddress.ip_network(entry, strict=False) for entry in allowed_ips]
    commands: deque[dict[str, Any]] = deque(maxlen=COMMAND_LOG_SIZE)

    async def synapse_actions(request: Request) -> Response:
        peer = request.client.host if request.client else ""
        faults = pbx.faults
        if faults.mode == "slow":
            await asyncio.sleep(faults.delay)
        elif faults.mode == "error":
            return PlainTextResponse("PHP Fatal error: the PBX is not well", status_code=500)
        elif faults.mode == "garbage":  # claims gzip, is not: no HTTP client can read it
            return Response(b"\x00\xffnot what it says", headers={"content-encoding": "gzip"})
        record: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(),
            "remote": peer,
            "query": request.scope["query_string"].decode("latin-1"),
        }
        commands.append(record)
        status, reply = _answer(request, peer)
        record.update(status=status, reply=reply)
        return PlainTextResponse(reply, status_code=status)

    def _answer(request: Request, peer: str) -> tuple[int, str]:
        if not _allowed(peer):
            return 403, "Access denied: this IP is not in the Allowed IP List"
        raw = request.query_params.get("actiondetails")
        if raw is None:
            return 400, "Error: actiondetails is missing"
        try:
            action = json.loads(raw)
        except ValueError:
            return 400, "Error: actiondetails is not valid JSON"
        if not isinstance(action, dict):
            return 400, "Error: actiondetails is not valid JSON"
        try:
            return 200, pbx.command(action)
        except CommandRefused as refused:
            return refused.status, str(refused)

    def _allowed(peer: str) -> bool:
        try:
            return any(ipaddress.ip_address(peer) in network for network in allowed)
        except ValueError:
            return False

    async def ring(request: Request) -> JSONResponse:
        """Make an incoming call ring an extension now: ?extension=70&number=98..&ring=&talk="""
        peer = request.client.host if request.client else ""
        if not _allowed(peer):
            return JSONResponse({"error": "not in the Allowed IP List"}, status_code=403)
        params = request.query_params
        try:
            call = pbx.ring(
                params.get("extension", ""),
                params.get("number", ""),
                float(params.get("ring", "10")),
                float(params.get("talk", "30")),
            )
        except (CommandRefused, ValueError) as refused:
            return JSONResponse({"error": str(refused)}, status_code=400)
        plan = call.plan
        return JSONResponse(
            {
                "uniqueid": plan.uniqueid,
                "hangupchannel": plan.hangupchannel,
                "redirectchannel": plan.redirectchannel,
            }
        )

    async def cdr(request: Request) -> Response:
        """cdr.php?action=getcdr&extension=70&fromdate=2015-11-06&todate=2015-11-07"""
        peer = request.client.host if request.client else ""
        if not _allowed(peer):
            return PlainTextResponse("Access denied: this IP is not in the Allowed IP List", 403)
        params = request.query_params
        try:
            first = date.fromisoformat(params.get("fromdate", ""))
            last = date.fromisoformat(params.get("todate", ""))
        except ValueError:
            return PlainTextResponse("Error: fromdate and todate must be YYYY-MM-DD", 400)
        if params.get("action") != "getcdr" or not params.get("extension"):
            return PlainTextResponse("Error: invalid request", 400)
        return JSONResponse(pbx.records(params["extension"], first, last))

    async def faults(request: Request) -> JSONResponse:
        """Make the PBX misbehave: ?mode=ok|slow|error|garbage&delay=S&drop=0.5"""
        peer = request.client.host if request.client else ""
        if not _allowed(peer):
            return JSONResponse({"error": "not in the Allowed IP List"}, status_code=403)
        params = request.query_params
        mode = params.get("mode", pbx.faults.mode)
        try:
            delay = float(params.get("delay", pbx.faults.delay))
            drop = float(params.get("drop", pbx.faults.drop))
        except ValueError:
            return JSONResponse({"error": "delay and drop are numbers"}, status_code=400)
        if mode not in FAULT_MODES or not 0 <= drop <= 1 or delay < 0:
            return JSONResponse({"error": f"mode is one of {FAULT_MODES}, drop 0..1"}, 400)
        pbx.faults = Faults(mode, delay, drop)
        return JSONResponse({"mode": mode, "delay": delay, "drop": drop})

    async def command_log(request: Request) -> JSONResponse:
        return JSONResponse({"commands": list(commands), "live_calls": sorted(pbx.calls)})

    async def call_recording(request: Request) -> Response:
        body = pbx.recordings.wav(request.url.path)
        if body is None:
            return PlainTextResponse("Not Found", status_code=404)
        return ranged_response(body, request.headers.get("range"), "audio/wav")

    return Starlette(
        routes=[
            Route(ACTIONS_PATH, synapse_actions),
            Route("/simulator/commands", command_log),
            Route("/simulator/ring", ring, methods=["POST"]),
            Route("/callrecord/{path:path}", call_recording),
            Route(CDR_PATH, cdr),
            Route("/simulator/faults", faults, methods=["POST"]),
        ]
    )


def ranged_response(body: bytes, range_header: str | None, media_type: str) -> Response:
    """A file as a web server serves it: whole (200), one byte range (206), or 416."""
    headers = {"accept-ranges": "bytes"}
    byte_range = parse_range(range_header)
    if byte_range is None:
        return Response(body, media_type=media_type, headers=headers)
    span = byte_range.resolve(len(body))
    if span is None:
        headers["content-range"] = f"bytes */{len(body)}"
        return PlainTextResponse("Range Not Satisfiable", status_code=416, headers=headers)
    first, last = span
    headers["content-range"] = f"bytes {first}-{last}/{len(body)}"
    return Response(body[first : last + 1], 206, headers=headers, media_type=media_type)


class EventSender:
    """Sends each event the way Synapse does: a GET to the Remote APP URL carrying the JSON."""

    def __init__(self, events_url: str, client: httpx.AsyncClient) -> None:
        self.events_url = events_url
        self.client = client

    async def __call__(self, event: dict[str, str]) -> None:
        delays: Iterator[float] = iter(RETRY_DELAYS)
        while True:  # retried while the dashboard is unreachable (it may be restarting)
            try:
                response = await self.client.get(event_url(self.events_url, event))
                if response.status_code >= 400:
                    log.warning("the dashboard refused %s: %s", event["event"], response.text[:200])
                return
            except httpx.TransportError as error:
                delay = next(delays, None)
                if delay is None:
                    log.warning(
                        "could not deliver %s %s: %s", event["event"], event["uniqueid"], error
                    )
                    return
                await asyncio.sleep(delay)


async def serve_simulator(
    events_url: str,
    *,
    host: str,
    port: int,
    allowed_ips: list[str],
    tz: ZoneInfo,
    traffic: Traffic,
    interval: float,
    calls: int | None = None,
    state_dir: Path | None = None,
) -> None:
    """The simulated PBX: its HTTP API on host:port, and calls playing out against it; with
    `state_dir`, going on with the calls it had there when it last stopped."""
    import uvicorn

    if traffic.recording_base is None:  # recording links lead to this server
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        traffic.recording_base = f"http://{f'[{local}]' if ':' in local else local}:{port}"
    async with httpx.AsyncClient(timeout=5.0) as client:
        state = SimulatorState(state_dir) if state_dir else None
        pbx = SimulatedPBX(EventSender(events_url, client), tz=tz, traffic=traffic, state=state)
        if resumed := pbx.restore():
            log.info("going on with the %d calls live when this PBX last stopped", resumed)
        config = uvicorn.Config(
            create_simulator_app(pbx, allowed_ips), host=host, port=port, log_level="warning"
        )
        playing = asyncio.create_task(pbx.run_traffic(interval, calls))
        try:
            await uvicorn.Server(config).serve()
        finally:
            playing.cancel()
            await pbx.close()
