"""Commands from the browser or a script: originate, hang up, transfer, close.

One handler per command serves both: JSON in and out for the API, a form in and a toast
(an HTML fragment, in words: replies.py) out for htmx, with the same rules and errors. The
transfer box's list of extensions comes from here too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from dashboard import replies
from dashboard.auth import User
from dashboard.calls import Call
from dashboard.control import ControlError, Controls, Done, Target
from dashboard.destinations import NUMBER_PUNCTUATION
from dashboard.errors import Refusal
from dashboard.security import STAFF, SUPERVISORS, client_ip, current_auth, require
from dashboard.state import parts
from dashboard.views.pages import toast


@dataclasses.dataclass
class Attempt:
    """What the person asked for, as far as it is known: the words of a refusal use it."""

    asked: replies.Asked


Command = Callable[[Controls, User, str, Attempt], Awaitable[Done]]
MAX_BODY = 16 * 1024
TARGETS_SHOWN = 24  # the rest: type to narrow


@require(*STAFF)
async def originate(request: Request) -> Response:
    async def command(controls: Controls, user: User, remote: str, attempt: Attempt) -> Done:
        data = await _input(request)
        extension = _text(data, "extension") or None
        number = _text(data, "number")
        attempt.asked = replies.Asked(
            "originate", _digits(number), (extension or user.extension or "").strip()
        )
        key = request.headers.get("idempotency-key") or _text(data, "idempotency_key")
        pbx = _text(data, "pbx") or None
        return await controls.originate(user, extension, number, remote, key, pbx)

    return await _run(request, command, "originate")


@require(*STAFF)
async def hangup(request: Request) -> Response:
    async def command(controls: Controls, user: User, remote: str, attempt: Attempt) -> Done:
        return await controls.hangup(user, _call(request), remote)

    return await _run(request, command, "hangup")


@require(*STAFF)
async def transfer(request: Request) -> Response:
    async def command(controls: Controls, user: User, remote: str, attempt: Attempt) -> Done:
        data = await _input(request)
        target = _text(data, "extension")
        attempt.asked = replies.Asked("transfer", _digits(target), _digits(target))
        return await controls.transfer(user, _call(request), target, remote)

    return await _run(request, command, "transfer")


@require(*STAFF)
async def transfer_targets(request: Request) -> Response:
    """The extensions a live call may be transferred to, with their state: the transfer box's
    list (HTML, for htmx) or JSON."""
    state = parts(request)
    auth = current_auth(request)
    assert auth is not None
    state.ingestor.refresh_names()  # a user added since: its name in the list
    live = state.live
    tiles = live.grid.tiles(live.board, live.today.by_extension, live.today.everyone)
    typed = request.query_params.get("extension", "")[:20]
    try:
        targets = state.controls.transfer_targets(auth.user, _call(request), tiles, typed)
    except Refusal as error:
        if not _clicked(request):
            return error.json()
        told = replies.refused(replies.Asked("transfer"), error)
        return _targets_list(request, [], typed, told.words)
    if _clicked(request):
        return _targets_list(request, targets, typed, "")
    return JSONResponse({"targets": [dataclasses.asdict(target) for target in targets]})


def _targets_list(
    request: Request, targets: list[Target], typed: str, refused: str
) -> HTMLResponse:
    html = parts(request).fragments.page(
        "partials/transfer_targets.html",
        targets=targets,
        shown=TARGETS_SHOWN,
        typed=typed.strip(),
        refused=refused,
    )
    return HTMLResponse(html, headers={"cache-control": "no-store"})


@require(*SUPERVISORS)
async def close(request: Request) -> Response:
    async def command(controls: Controls, user: User, remote: str, attempt: Attempt) -> Done:
        return await controls.close(user, _call(request), remote)

    return await _run(request, command, "close")


async def _run(request: Request, command: Command, action: str) -> Response:
    controls: Controls = parts(request).controls
    auth = current_auth(request)
    assert auth is not None
    remote = client_ip(request, parts(request).settings.trusted_proxy_networks)
    attempt = Attempt(replies.Asked(action))
    try:
        done = await command(controls, auth.user, remote, attempt)
    except Refusal as error:  # a click (htmx) is answered where it was made, in words
        if not _clicked(request):
            return error.json()
        if isinstance(error, ControlError):
            told = replies.refused(attempt.asked, error, error.pbx_status, error.pbx_reply)
        else:
            told = replies.refused(attempt.asked, error)
        return toast(request, False, told.words, told.raw)
    if _clicked(request):
        told = replies.accepted(_named(request, done.asked), done.reply)
        return toast(request, told.ok, told.words, told.raw)
    return JSONResponse({"ok": True, "detail": done.message, "pbx_reply": done.reply})


def _named(request: Request, asked: replies.Asked) -> replies.Asked:
    """What was asked, with the name of whom it was done with when it is known: the call's
    caller (a contact, or the PBX's caller ID), the dialled number's contact, or the user at
    the extension a call was transferred to."""
    state = parts(request)
    if asked.action == "transfer" and asked.extension:
        name = state.live.grid.names.get(asked.extension)
    elif asked.action == "hangup":
        call = _call(request)
        name = state.contacts.name_of(call.number, call.extra) if call else None
    else:
        name = state.contacts.name_of(asked.number, {}) if asked.number else None
    return dataclasses.replace(asked, name=name) if name else asked


def _clicked(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def _input(request: Request) -> dict[str, Any]:
    """The command's fields, from a JSON object or a URL-encoded form of at most 16 KiB."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ControlError(413, "too_large", "the request is larger than 16 KiB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ControlError(413, "too_large", "the request is larger than 16 KiB")
    text = body.decode("utf-8", errors="replace")
    if not request.headers.get("content-type", "").startswith("application/json"):
        return dict(parse_qsl(text))
    try:
        data = json.loads(text) if text.strip() else {}
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise ControlError(422, "bad_request", "the body must be a JSON object")
    return data


def _digits(text: str) -> str:
    return text.strip().translate(NUMBER_PUNCTUATION)[:40]


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    return value if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def _call(request: Request) -> Call | None:
    state = parts(request)
    return state.live.board.find(request.path_params["uniqueid"], request.query_params.get("host"))
