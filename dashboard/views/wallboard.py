"""The wallboard page and its live socket."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import anyio
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from dashboard.audience import CloseCode
from dashboard.errors import Refusal
from dashboard.hub import FrameSink, Hub, Subscriber
from dashboard.scope import Scope
from dashboard.security import EVERYONE, current_auth, origin_allowed, require
from dashboard.state import parts
from dashboard.views.pages import page
from dashboard.websocket_protocol import FRAMES_EXTENSION

Observe = Callable[[float], None] | None
CLOSE_TIMEOUT = 1.0


@require(*EVERYONE)
async def wallboard(request: Request) -> Response:
    auth = current_auth(request)
    assert auth is not None
    return board_page(request, tv=False, controls=auth.user.may_control)


class UnknownGroup(Refusal):
    def __init__(self, group: str) -> None:
        shown = group if len(group) <= 40 else group[:40] + "…"
        super().__init__(404, "no_such_group", f"no such group: {shown!r}")


def board_page(request: Request, *, tv: bool, controls: bool) -> Response:
    """The live board as the signed-in user may see it, on a desk or (`tv`) on a TV;
    `?group=NAME` shows that group's calls, counters and tiles alone."""
    state = parts(request)
    auth = current_auth(request)
    assert auth is not None
    audience = auth.user.audience
    scope = audience.scope
    agent = scope is not None
    group = None if agent else board_group(request)  # an agent: their own calls
    state.ingestor.refresh_names()  # a user added since: its name on its tile
    view = state.publisher.pushes.view(audience.of_group(group))
    agent_panel = agent_view(request, scope, controls) if scope is not None else {}
    socket_query = [("view", "tv")] if tv else []
    socket_query += [("group", group)] if group else []
    return page(
        request,
        "wallboard.html",
        tv=tv,
        group=group,
        socket_url="/ws" + (f"?{urlencode(socket_query)}" if socket_query else ""),
        calls=view.calls,
        counts=view.counts,
        day=view.day,
        longest=view.longest,
        now=state.clock(),
        oob=False,
        controls=controls,
        own_socket=True,
        grid="" if agent else Markup(state.publisher.pushes.grid_html(group)),
        linger=state.settings.finished_linger_seconds,
        timezone=state.settings.synapse_timezone,
        agent=agent_panel,
    )


def agent_view(request: Request, scope: Scope, controls: bool) -> dict[str, Any]:
    """What an agent's board shows beside their calls: their extension's tile and their
    lists (missed callers to return, recent calls), each pushed when it changes."""
    pushes = parts(request).publisher.pushes
    lists = pushes.agent_lists
    assert lists is not None
    return {
        "tile": Markup(pushes.agent_tile(scope)),
        "lists": Markup(lists.render(scope, controls=controls)),
    }


def board_group(connection: Request | WebSocket) -> str | None:
    """The group a board is filtered to (`?group=`), None for none; an unknown one is refused."""
    group = connection.query_params.get("group", "").strip()
    if not group:
        return None
    if group not in parts(connection).live.grid.groups:
        raise UnknownGroup(group)
    return group


async def live_socket(websocket: WebSocket) -> None:
    state = parts(websocket)
    hub: Hub = parts(websocket).hub
    settings = state.settings
    if not origin_allowed(websocket, settings.allowed_origins, settings.trusted_proxy_networks):
        await websocket.close(
            code=CloseCode.POLICY_VIOLATION
        )  # before accepting: the handshake fails
        return
    await websocket.accept()
    auth = current_auth(websocket)
    if auth is None:
        await websocket.close(code=CloseCode.POLICY_VIOLATION, reason="sign in first")
        return
    audience = auth.user.audience
    state.ingestor.refresh_names()
    if websocket.query_params.get("view") == "tv" and audience.extension is None:
        audience = audience.wall_screen()  # a TV shows every call, without controls
    if websocket.query_params.get("only") == "popups":
        audience = audience.popups()  # another page of the app: only the pop-ups
    try:
        group = board_group(websocket)
    except UnknownGroup as unknown:
        # The page reloads, to say so: a group that was removed since it was opened.
        await websocket.close(code=CloseCode.NO_SUCH_GROUP, reason=unknown.detail[:120])
        return
    if audience.extension is None:
        audience = audience.of_group(group)
    extensions = websocket.scope.get("extensions") or {}
    sink: FrameSink | None = extensions.get(FRAMES_EXTENSION, {}).get("sink")
    # Rendering the snapshot and subscribing happen with no await in between, so no
    # event can slip between the snapshot and the first pushed fragment.
    snapshot = state.ingestor.snapshot(audience)
    with hub.subscribe(audience, auth.owner, sink, first=snapshot) as subscriber:
        async with anyio.create_task_group() as tasks:

            async def until_done(wait: Callable[[], Awaitable[Any]]) -> None:
                await wait()
                tasks.cancel_scope.cancel()  # whichever ends first ends the connection

            if sink is None:  # no sink from the server: this connection sends its own
                observe = hub.observe_fanout
                tasks.start_soon(until_done, lambda: _send_queued(websocket, subscriber, observe))
            tasks.start_soon(until_done, lambda: _wait_for_disconnect(websocket))
            tasks.start_soon(until_done, subscriber.evicted.wait)
    if subscriber.evicted.is_set():
        # A viewer too slow to read may not read the close frame either: do not wait for it.
        with contextlib.suppress(Exception), anyio.move_on_after(CLOSE_TIMEOUT):
            await websocket.close(code=subscriber.close_code)


async def _send_queued(websocket: WebSocket, subscriber: Subscriber, observe: Observe) -> None:
    with contextlib.suppress(WebSocketDisconnect):  # the viewer left: the handler ends it
        await _send_frames(websocket, subscriber, observe)


async def _send_frames(websocket: WebSocket, subscriber: Subscriber, observe: Observe) -> None:
    while True:
        await subscriber.ready.wait()
        queued_at = subscriber.oldest
        # Whatever queued up meanwhile goes in one frame: under load a viewer gets one
        # write per turn of the loop instead of one per event (htmx swaps each part in order).
        await websocket.send_text("".join(await subscriber.next_batch()))
        if observe is not None:  # the hub's fan-out histogram, as for viewers with a sink
            observe(time.perf_counter() - queued_at)


async def _wait_for_disconnect(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
