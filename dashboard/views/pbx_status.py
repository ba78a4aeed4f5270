"""Each PBX's health, for staff (`/api/pbxs`) and admins (`/admin/pbxs`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dashboard.auth import Role
from dashboard.security import STAFF, require
from dashboard.state import parts
from dashboard.views.pages import page


def _status(request: Request) -> list[dict[str, object]]:
    state = parts(request)
    now = state.clock()
    urls = {pbx.name: pbx.synapse.shown_url for pbx in state.pbxs.all}
    return [
        {**health, "url": urls.get(str(health["name"]), "")}
        for health in state.pbxs.health.as_json(now)
    ]


@require(*STAFF)
async def pbxs_api(request: Request) -> Response:
    return JSONResponse({"pbxs": _status(request)})


@require(Role.ADMIN)
async def pbxs_page(request: Request) -> Response:
    state = parts(request)
    rows = [(pbx, state.pbxs.health.by_name[pbx.name]) for pbx in state.pbxs.all]
    return page(
        request,
        "pbxs.html",
        rows=rows,
        now=state.clock(),
        check_every=every(state.settings.pbx_check_seconds),
    )


def every(seconds: float) -> str:
    """How often, as people say it: "minute", "5 minutes", "30 s" ("" for never)."""
    if seconds <= 0:
        return ""
    if seconds % 60:
        return f"{seconds:g} s"
    minutes = int(seconds // 60)
    return "minute" if minutes == 1 else f"{minutes} minutes"
