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
    return page(request, "pbxs.html", pbxs=_status(request))
