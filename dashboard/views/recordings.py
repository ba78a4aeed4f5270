"""`GET /recordings/{uniqueid}`: a call's recording, streamed from the PBX to those who may
hear it; `?download=1` as a file (supervisors and admins); `?check=1` only says whether it
can be played (the player asks when the audio fails, to say why).

Every listening (once per user and recording every ten minutes, whatever the seeks) and every
download is audited.
"""

from __future__ import annotations

import logging
import re
import time

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dashboard.auth import User
from dashboard.calls import Call
from dashboard.recording_links import shown_link
from dashboard.recordings import (
    ByteRange,
    LinkRefused,
    RecordingError,
    RecordingResponse,
    file_suffix,
    open_recording,
    parse_range,
)
from dashboard.security import STAFF, SUPERVISORS, client_ip, current_auth, require
from dashboard.settings import Settings
from dashboard.state import parts
from dashboard.store import Store

log = logging.getLogger(__name__)
CHECK_RANGE = ByteRange(0, 0)
LISTEN_WINDOW = 600.0  # seconds: one audit entry per user and recording in this time
MAX_LISTENS_KEPT = 10_000


@require(*STAFF)
async def recording(request: Request) -> Response:
    auth = current_auth(request)
    assert auth is not None
    user = auth.user
    download = request.query_params.get("download") == "1"
    check = request.query_params.get("check") == "1"
    byte_range = CHECK_RANGE if check else parse_range(request.headers.get("range"))
    sends_audio = not check and request.method != "HEAD"
    # A listening is audited once, however many seeks it makes, and however it asks for
    # the bytes (a suffix range sends the whole file too): once per user and call a while.
    call = _find_call(request)
    audited = sends_audio and (download or _first_listen(request, user, call))
    try:
        response = await _serve(request, call, user, byte_range, download=download)
    except RecordingError as problem:
        if isinstance(problem, LinkRefused):
            _count_refusal(request, problem)
        if audited or (sends_audio and problem.error == "refused"):
            _audit(request, user, download, problem.error, problem.reason)
        return problem.json()
    if audited:
        _audit(request, user, download, "ok", response.headers.get("content-range", ""))
    if check:
        await response.aclose()
        return JSONResponse({"ok": True, "detail": "the PBX has this recording"})
    if download:
        assert call is not None
        response.headers["content-disposition"] = f'attachment; filename="{_file_name(call)}"'
    return response


async def _serve(
    request: Request, call: Call | None, user: User, byte_range: ByteRange | None, *, download: bool
) -> RecordingResponse:
    # An agent asking for another extension's call learns what a wrong uniqueid would tell.
    if call is None or not user.may_see_call(call):
        raise RecordingError(404, "not_found", "no such call, or not one you may see")
    if download and user.role not in SUPERVISORS:
        raise RecordingError(
            403, "forbidden", f"a {user.role} may listen to recordings but not download them"
        )
    if not call.recordlink:
        raise RecordingError(404, "no_recording", "no recording for this call")
    settings: Settings = parts(request).settings
    client: httpx.AsyncClient = parts(request).recordings_client
    pbx = parts(request).pbxs.of_host(call.host)
    if pbx is None:
        raise RecordingError(
            403, "refused", f"the call is on {call.host}, a PBX not configured here"
        )
    method = "HEAD" if request.method == "HEAD" else "GET"
    return await open_recording(
        client,
        call.recordlink,
        pbx.config.url,
        settings.recording_path_prefix,
        byte_range,
        method=method,
    )


def _find_call(request: Request) -> Call | None:
    store: Store = parts(request).store
    uniqueid = request.path_params["uniqueid"]
    host = request.query_params.get("host")
    return store.get_call((host, uniqueid)) if host else store.get_call_by_uniqueid(uniqueid)


def _file_name(call: Call) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", call.uniqueid) + file_suffix(call.recordlink or "")


def _target(request: Request) -> str:
    return str(request.path_params["uniqueid"])


def _count_refusal(request: Request, refused: LinkRefused) -> None:
    parts(request).recording_links_refused[refused.cause] += 1
    log.warning(
        "refused to fetch the recording of %s (%s): %s; the link: %s",
        shown_link(_target(request)),
        refused.cause,
        refused.reason,
        refused.link,
    )


def _first_listen(request: Request, user: User, call: Call | None) -> bool:
    """Whether the user has not listened to the call within LISTEN_WINDOW (noted now); a
    call not there, or not one the user may see, is audited at every try and not noted. The
    oldest go once MAX_LISTENS_KEPT are noted: the memory is bounded, whatever is asked."""
    if call is None or not user.may_see_call(call):
        return True
    heard = parts(request).recording_listens
    now = time.monotonic()
    key = (user.id, call.key)
    first = now - heard.pop(key, -LISTEN_WINDOW) >= LISTEN_WINDOW
    heard[key] = now  # last in the dict: the dict runs from the longest unheard
    while len(heard) > MAX_LISTENS_KEPT:
        del heard[next(iter(heard))]
    return first


def _audit(request: Request, user: User, download: bool, result: str, detail: str) -> None:
    settings: Settings = parts(request).settings
    parts(request).audit.record(
        parts(request).clock(),
        user.name,
        "recording download" if download else "recording play",
        target=_target(request),
        remote=client_ip(request, settings.trusted_proxy_networks),
        result=result,
        detail=detail,
    )
