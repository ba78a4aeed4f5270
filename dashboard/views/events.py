"""`GET|POST /synapse/events`: the Remote APP URL a Synapse PBX calls with each call event.

The PBX calls it for every event, so `EventsEntrance` answers it ahead of the app's own
middleware and routing (see its docstring); the routes in app.py stay, for HEAD and for the
405 of any other method.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import unquote_plus

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.calls import Call
from dashboard.errors import Refusal, internal_error
from dashboard.events import TOKEN_PARAM, EventError
from dashboard.ingest import Accepted, Ingestor
from dashboard.pbxs import PBXs
from dashboard.security import EVENTS_PATH, client_ip, secured, sender_refusal
from dashboard.settings import Settings
from dashboard.state import parts
from dashboard.views.pages import error_page

log = logging.getLogger(__name__)
EVENT_METHODS = ("GET", "POST")
# An accepted event's answer's headers after its content-length, as the app would send them.
ACCEPTED_HEADERS = secured([(b"content-type", b"application/json")])


class EventsEntrance:
    """The PBX's endpoint answered before the middleware and routing of every other URL,
    Starlette's error middleware included (the app puts this outside it): they were a tenth
    of an event's cost, and do nothing for it (it has senders, not users, and no CSRF). What
    they do for it is done here too: the security headers, the allowed hosts (Starlette's own
    check), a refusal answered as one, a fault answered as a 500. Anything else (another path
    or method, a root path) goes on to the app unchanged."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str] = ()) -> None:
        self.app = app
        self.host_check = (
            TrustedHostMiddleware(_host_passed, allowed_hosts) if allowed_hosts else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = event_token(scope) if scope["type"] == "http" else None
        if token is None or not await self._host_allowed(scope):
            await self.app(scope, receive, send)
            return
        scope["path_params"] = {"token": token} if token else {}
        scope["auth"] = None  # as AuthMiddleware leaves it for this endpoint
        request = Request(scope, receive)
        try:
            answer = await take_event(request)
        except Refusal as refusal:  # as the app's handler would answer it
            answer = error_page(request, refusal)
        except Exception:  # as the app's last handler would, Starlette's middleware not run
            log.exception("unexpected error on %s %s", request.method, EVENTS_PATH)
            answer = internal_error().json()
        if isinstance(answer, Response):
            answer.raw_headers = secured(answer.raw_headers)
            await answer(scope, receive, send)
            return
        body = accepted_body(answer)  # as accepted_response's, without making one
        headers = [(b"content-length", b"%d" % len(body)), *ACCEPTED_HEADERS]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _host_allowed(self, scope: Scope) -> bool:
        """Whether Starlette's TrustedHostMiddleware would let the request through (when it
        would not, the app answers it, as it answers any other)."""
        if self.host_check is None:
            return True
        probe: dict[str, bool] = {}
        await self.host_check({**scope, "_passed": probe}, _nothing_received, _nothing_sent)
        return probe.get("passed", False)


def event_token(scope: Scope) -> str | None:
    """The token in the path of a GET or POST of the PBX's endpoint ("" for none), else None:
    what the routes /synapse/events and /synapse/events/{token} would match."""
    if scope["method"] not in EVENT_METHODS or scope.get("root_path"):
        return None
    path: str = scope["path"]
    if path == EVENTS_PATH:
        return ""
    if not path.startswith(EVENTS_PATH + "/"):
        return None
    token = path[len(EVENTS_PATH) + 1 :]
    return token if token and "/" not in token else None


async def _host_passed(scope: Scope, receive: Receive, send: Send) -> None:
    scope["_passed"]["passed"] = True


async def _nothing_received() -> Message:
    raise AssertionError("the host check reads no body")


async def _nothing_sent(message: Message) -> None:
    """The host check's refusal is not sent: the app sends its own, with its headers."""


async def synapse_events(request: Request) -> Response:
    answer = await take_event(request)
    return answer if isinstance(answer, Response) else accepted_response(answer)


async def take_event(request: Request) -> Response | Accepted:
    """The event stored (its answer is `accepted_response`'s), or the refusal's answer."""
    started = time.perf_counter()
    ingestor: Ingestor = parts(request).ingestor
    raw_query = request.scope.get("query_string", b"").decode("utf-8", errors="replace")
    settings = ingestor.settings
    remote = client_ip(request, settings.trusted_proxy_networks)
    given = request.path_params.get("token") or _query_token(raw_query)
    refusal, hosts = senders(settings, given, remote)
    if refusal is not None:
        ingestor.refused_senders += 1
        ingestor.tally.note_refused("forbidden")
        log.warning("refused call events from %s: %s", remote, refusal)  # never the token
        return Refusal(403, "forbidden", refusal).json()
    try:
        body = await read_body(request, settings.max_event_bytes)
    except EventError as error:  # refused before it was whole: too large, or the sender left
        ingestor.reject(
            error,
            ingestor.clock(),
            raw_query=raw_query,
            body=error.received if isinstance(error, IncompleteBody) else b"",
            method=request.method,
            remote=remote,
        )
        ingestor.tally.note_refused(error.reason)
        return error.json()
    try:
        accepted = await ingestor.ingest(
            raw_query, body, method=request.method, remote=remote, hosts=hosts
        )
    except EventError as error:
        ingestor.tally.note_refused(error.reason)
        return error.json()
    except sqlite3.Error as error:
        log.error("could not store an event: %s", error)
        ingestor.tally.note_refused("storage_unavailable")
        detail = "the event could not be stored; send it again later"
        return Refusal(503, "storage_unavailable", detail).json()
    note_heard(parts(request).pbxs, accepted.call, ingestor.clock())
    ingestor.tally.note_accepted(time.perf_counter() - started)
    return accepted


def accepted_response(accepted: Accepted) -> Response:
    return Response(accepted_body(accepted), media_type="application/json")


def accepted_body(accepted: Accepted) -> bytes:
    """{"ok": true, "event_id": ..., "status": ...}, as JSONResponse renders it, without an
    encoder's work on every event (a status is one of a few plain words)."""
    status = accepted.call.status.value.encode()
    return b'{"ok":true,"event_id":%d,"status":"%s"}' % (accepted.event_id, status)


def senders(
    settings: Settings, given: str | None, remote: str
) -> tuple[str | None, list[str] | None]:
    """Why the request may not send events (or None), and the hosts of the PBXs whose token
    and addresses it has (None: the one PBX of the environment, whose events name any host)."""
    if not settings.pbx_configs:
        refusal = sender_refusal(
            given, remote, token=settings.synapse_event_token, allow=settings.event_allow_networks
        )
        return refusal, None
    reasons = {
        pbx.host: sender_refusal(given, remote, token=pbx.event_token, allow=pbx.allow_networks)
        for pbx in settings.pbx_configs
    }
    # The PBX whose token it is first: an event naming no host is that PBX's, not one
    # listed before it that takes events from the address alone.
    tokened = {pbx.host for pbx in settings.pbx_configs if pbx.event_token}
    hosts = sorted(
        (host for host, reason in reasons.items() if reason is None),
        key=lambda host: host not in tokened,
    )
    if hosts:
        return None, hosts
    return f"no PBX configured here sends events with this token from {remote}", hosts


def note_heard(pbxs: PBXs, call: Call, now: datetime) -> None:
    """The PBX spoke: when, and what its clock said (the event's latest time)."""
    pbx = pbxs.of_host(call.host)
    if pbx is None:
        return
    times = [moment for moment in (call.start_time, call.answer_time, call.end_time) if moment]
    pbxs.health.note_event(pbx.name, now, max(times) if times else None)


def _query_token(raw_query: str) -> str | None:
    for piece in raw_query.split("&"):
        name, _, value = piece.partition("=")
        if name == TOKEN_PARAM:
            return unquote_plus(value)
    return None


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (without reading it all) one larger than `limit`."""
    framing = [
        v for k, v in request.scope["headers"] if k in (b"content-length", b"transfer-encoding")
    ]
    if not framing:
        return b""  # HTTP/1.1: no Content-Length nor Transfer-Encoding, no body (a PBX's GET)
    too_large = EventError(413, "payload_too_large", f"the event is larger than {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks = bytearray()
    try:
        async for chunk in request.stream():
            chunks += chunk
            if len(chunks) > limit:
                break  # extract_json refuses it, keeping the first bytes for the operator
    except ClientDisconnect:  # nobody will read the answer; the operator sees the refusal
        raise IncompleteBody(bytes(chunks)) from None
    return bytes(chunks)


class IncompleteBody(EventError):
    """The sender went away before the whole body: what came is kept with the refusal."""

    def __init__(self, received: bytes) -> None:
        detail = f"the sender went away after {len(received)} bytes of the event's body"
        super().__init__(400, "incomplete", detail)
        self.received = received
