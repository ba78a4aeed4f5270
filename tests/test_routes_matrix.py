"""Every route of the app against everyone who may ask, as one table.

Rows are the routes of app.py, and for some a second request whose answer depends on whose
call it is ("·"). Columns are who asks: nobody, each role with a session of its own, a wall
screen signed in by its link, a supervisor's API token and, on state-changing routes, an admin
without the CSRF token. Everyone signed in sends the right CSRF token, so that a refusal is the
role check's. A cell is the status; a redirect with its target ("303 /login"); "403 CSRF" when
the refusal is about the CSRF token; for the socket "open" or the code it is closed with.

Each request gets a session of its own (so signing out, or marking a missed call done, changes
nothing for the next) and the same data: calls at extension 70 (the agent's) and at 46.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import count
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dashboard.app import create_app
from dashboard.auth import SESSION_COOKIE
from dashboard.settings import Settings
from dashboard.simulator.audio import recording_wav
from dashboard.simulator.server import ranged_response
from tests.conftest import CALL_FINISH, CALL_START, PASSWORD, FakeClock, parts_of, pbx_time
from tests.servers import ThreadedServer

SECRET = "matrix-event-token"
ROLES = ("viewer", "agent", "supervisor", "admin")
WHO = ("anonymous", *ROLES, "kiosk", "bearer")
NO_CSRF = "admin, no CSRF"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
WAV = recording_wav("matrix", 1)
Cell = int | str


@dataclass(frozen=True)
class Ask:
    method: str
    path: str
    form: dict[str, str] | None = None
    json: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    """The running dashboard, its users, and what each request needs made fresh."""

    client: TestClient
    clock: FakeClock
    tz: ZoneInfo  # the PBX's
    recordings: str  # the PBX's recording server
    kiosk_token: str = ""
    api_token: str = ""
    numbers: Iterator[int] = field(default_factory=lambda: count(1))

    def pbx_sends(self, event: dict[str, str]) -> None:
        path = f"/synapse/events/{SECRET}?data=" + quote(json.dumps(event), safe="")
        assert self.client.get(path).status_code == 200

    def missed_caller(self, extension: str, answered_at: str | None = None) -> str:
        """A new number that just rang `extension` unanswered (so it is on that extension's
        list of calls to return), and before that rang `answered_at` and was answered."""
        number = f"98100{next(self.numbers):05d}"
        if answered_at:
            self.pbx_sends(self._incoming(number, answered_at, minutes_ago=10, answered=True))
        self.pbx_sends(self._incoming(number, extension, minutes_ago=5, answered=False))
        return number

    def _incoming(
        self, number: str, extension: str, minutes_ago: int, answered: bool
    ) -> dict[str, str]:
        at = pbx_time(self.clock.now - timedelta(minutes=minutes_ago), self.tz)
        return json.loads(CALL_FINISH) | {
            "uniqueid": f"in.{number}.{extension}",
            "direction": "Incoming",
            "number": number,
            "extension": extension,
            "starttime": at,
            "answertime": at if answered else "",
            "endtime": at,
            "disposition": "ANSWERED" if answered else "NO ANSWER",
            "billableseconds": "5" if answered else "0",
        }

    def live_call(self, extension: str) -> str:
        """A new call ringing at `extension` (for a command that ends it); its uniqueid."""
        uniqueid = f"{extension}.live{next(self.numbers)}"
        self.pbx_sends(json.loads(CALL_START) | {"uniqueid": uniqueid, "extension": extension})
        return uniqueid

    def fresh_event(self) -> str:
        event = json.loads(CALL_START) | {"uniqueid": f"pbx.{next(self.numbers)}"}
        return json.dumps(event)

    def sign_in(self, who: str) -> str:
        """A new session for `who`, its cookie in the client; returns its CSRF token."""
        state = parts_of(self.client)
        self.client.cookies.clear()
        if who == "kiosk":  # the way a wall screen does: its link, once
            signed_in = self.client.post(
                f"/kiosk/{self.kiosk_token}",
                data={"csrf_token": self.kiosk_page_token()},
                follow_redirects=False,
            )
            assert signed_in.status_code == 303
            session = state.accounts.session(self.client.cookies[SESSION_COOKIE], self.clock())
            assert session is not None
            return session.csrf_token
        user = state.accounts.find_user(f"{who}-user")
        assert user is not None
        cookie, session = state.accounts.start_session(user, self.clock(), "testclient")
        self.client.cookies.set(SESSION_COOKIE, cookie)
        return session.csrf_token

    def kiosk_page_token(self) -> str:
        """The token a wall-screen link's own page carries (and puts in its cookie)."""
        page = self.client.get(f"/kiosk/{self.kiosk_token}").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        return token[1]

    def login_form(self, name: str) -> Ask:
        form = self.client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        fields = {"name": name, "password": PASSWORD, "csrf_token": token[1], "next": "/"}
        return Ask("POST", "/login", form=fields)


# route -> how to ask it. "METHOD /path" as app.py declares it, then "· what differs".
ROUTES: dict[str, Callable[[World], Ask]] = {
    "GET /synapse/events": lambda w: Ask(
        "GET", f"/synapse/events?token={SECRET}&data=" + quote(w.fresh_event(), safe="")
    ),
    "GET /synapse/events · without the event token": lambda w: Ask(
        "GET", "/synapse/events?data=" + quote(w.fresh_event(), safe="")
    ),
    "POST /synapse/events": lambda w: Ask(
        "POST", f"/synapse/events?token={SECRET}", form={"data": w.fresh_event()}
    ),
    "GET /synapse/events/{token}": lambda w: Ask(
        "GET", f"/synapse/events/{SECRET}?data=" + quote(w.fresh_event(), safe="")
    ),
    "POST /synapse/events/{token}": lambda w: Ask(
        "POST", f"/synapse/events/{SECRET}", form={"data": w.fresh_event()}
    ),
    "GET /": lambda w: Ask("GET", "/"),
    "WS /ws": lambda w: Ask("WS", "/ws"),
    "GET /login": lambda w: Ask("GET", "/login"),
    "POST /login": lambda w: w.login_form("viewer-user"),
    "POST /login · without the form's own token": lambda w: Ask(
        "POST", "/login", form={"name": "viewer-user", "password": PASSWORD}
    ),
    "POST /logout": lambda w: Ask("POST", "/logout"),
    "POST /logout · asked with GET": lambda w: Ask("GET", "/logout"),
    "GET /admin/audit": lambda w: Ask("GET", "/admin/audit"),
    "GET /admin/kiosks": lambda w: Ask("GET", "/admin/kiosks"),
    "POST /admin/kiosks": lambda w: Ask("POST", "/admin/kiosks", form={"label": "Lobby"}),
    "GET /admin/settings": lambda w: Ask("GET", "/admin/settings"),
    "POST /admin/settings/thresholds": lambda w: Ask(
        "POST",
        "/admin/settings/thresholds",
        form={"ring_warn": "10", "ring_alert": "20", "talk_warn": "60", "talk_alert": "120"},
    ),
    "POST /admin/settings/groups": lambda w: Ask(
        "POST", "/admin/settings/groups", form={"groups": "Sales: 40-49"}
    ),
    "GET /admin/users": lambda w: Ask("GET", "/admin/users"),
    "POST /admin/users": lambda w: Ask(
        "POST", "/admin/users", form={"name": f"new-{next(w.numbers)}", "role": "viewer"}
    ),
    "POST /admin/users/{name}": lambda w: Ask(
        "POST", "/admin/users/viewer-user", form={"action": "unlock"}
    ),
    "GET /admin/audit.csv": lambda w: Ask("GET", "/admin/audit.csv?action=sign-in"),
    "GET /tv": lambda w: Ask("GET", "/tv"),
    "GET /search": lambda w: Ask("GET", "/search?number=98765"),
    "GET /calls": lambda w: Ask("GET", "/calls?period=all"),
    "GET /calls.csv": lambda w: Ask("GET", "/calls.csv?period=all"),
    "GET /calls/{uniqueid}": lambda w: Ask("GET", "/calls/70.1"),
    "GET /calls/{uniqueid} · another extension's call": lambda w: Ask("GET", "/calls/46.1"),
    "GET /api/calls": lambda w: Ask("GET", "/api/calls?period=all"),
    "POST /cdr/sync": lambda w: Ask(
        "POST", "/cdr/sync", form={"from": "2026-11-20", "to": "2026-11-27"}
    ),
    "GET /missed": lambda w: Ask("GET", "/missed"),
    "POST /missed/done": lambda w: Ask(
        "POST", "/missed/done", form={"number_key": w.missed_caller("70")}
    ),
    "POST /missed/done · missed at 46, once answered at 70": lambda w: Ask(
        "POST", "/missed/done", form={"number_key": w.missed_caller("46", answered_at="70")}
    ),
    "POST /missed/done · asked with GET": lambda w: Ask("GET", "/missed/done"),
    "GET /reports": lambda w: Ask("GET", "/reports"),
    "GET /reports.csv": lambda w: Ask("GET", "/reports.csv?table=daily"),
    "GET /kiosk/{token}": lambda w: Ask("GET", f"/kiosk/{w.kiosk_token}"),
    "POST /kiosk/{token}": lambda w: Ask(
        "POST", f"/kiosk/{w.kiosk_token}", form={"csrf_token": w.kiosk_page_token()}
    ),
    "POST /kiosk/{token} · from another site": lambda w: Ask(
        "POST",
        f"/kiosk/{w.kiosk_token}",
        headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    ),
    "GET /contacts": lambda w: Ask("GET", "/contacts"),
    "POST /contacts/import": lambda w: Ask(
        "POST",
        "/contacts/import",
        files={"file": ("contacts.csv", b"number,name\n9876543210,Asha\n", "text/csv")},
    ),
    "GET /api/calls/active": lambda w: Ask("GET", "/api/calls/active"),
    "POST /api/originate": lambda w: Ask(
        "POST", "/api/originate", json={"extension": "70", "number": "9876543210"}
    ),
    "POST /api/originate · from another extension": lambda w: Ask(
        "POST", "/api/originate", json={"extension": "46", "number": "9876543210"}
    ),
    "POST /api/originate · asked with GET": lambda w: Ask("GET", "/api/originate"),
    "POST /api/calls/{uniqueid}/hangup": lambda w: Ask("POST", "/api/calls/70.9/hangup"),
    "POST /api/calls/{uniqueid}/hangup · another extension's call": lambda w: Ask(
        "POST", "/api/calls/46.9/hangup"
    ),
    "POST /api/calls/{uniqueid}/transfer": lambda w: Ask(
        "POST", "/api/calls/70.9/transfer", json={"extension": "46"}
    ),
    "POST /api/calls/{uniqueid}/transfer · another extension's call": lambda w: Ask(
        "POST", "/api/calls/46.9/transfer", json={"extension": "70"}
    ),
    "POST /api/calls/{uniqueid}/close": lambda w: Ask(
        "POST", f"/api/calls/{w.live_call('70')}/close"
    ),
    "GET /api/calls/{uniqueid}/transfer-targets": lambda w: Ask(
        "GET", "/api/calls/70.9/transfer-targets"
    ),
    "GET /api/calls/{uniqueid}/transfer-targets · another extension's call": lambda w: Ask(
        "GET", "/api/calls/46.9/transfer-targets"
    ),
    "GET /api/calls/{uniqueid}": lambda w: Ask("GET", "/api/calls/70.1"),
    "GET /api/calls/{uniqueid} · another extension's call": lambda w: Ask("GET", "/api/calls/46.1"),
    "GET /recordings/{uniqueid}": lambda w: Ask(
        "GET", "/recordings/70.1", headers={"range": "bytes=0-99"}
    ),
    "GET /recordings/{uniqueid} · another extension's call": lambda w: Ask(
        "GET", "/recordings/46.1", headers={"range": "bytes=0-99"}
    ),
    "GET /recordings/{uniqueid} · download": lambda w: Ask("GET", "/recordings/70.1?download=1"),
    "GET /api/pbxs": lambda w: Ask("GET", "/api/pbxs"),
    "GET /admin/pbxs": lambda w: Ask("GET", "/admin/pbxs"),
    "GET /healthz": lambda w: Ask("GET", "/healthz"),
    "GET /metrics": lambda w: Ask("GET", "/metrics"),
    "GET /static/{path}": lambda w: Ask("GET", "/static/css/app.css"),
}

LOGIN = "303 /login"  # signed in by nobody: a page sends them to sign in
CSRF = "403 CSRF"


def row(*cells: Cell) -> dict[str, Cell]:
    """Cells in the order of WHO, then (state-changing routes) an admin without CSRF."""
    assert len(cells) in (len(WHO), len(WHO) + 1)
    return dict(zip((*WHO, NO_CSRF), cells, strict=False))


# fmt: off
EXPECTED: dict[str, dict[str, Cell]] = {
    # anonymous, viewer, agent, supervisor, admin, kiosk, bearer[, admin without CSRF]
    "GET /synapse/events":                       row(200, 200, 200, 200, 200, 200, 200),
    "GET /synapse/events · without the event token": row(403, 403, 403, 403, 403, 403, 403),
    "POST /synapse/events":                      row(200, 200, 200, 200, 200, 200, 200, 200),
    "GET /synapse/events/{token}":               row(200, 200, 200, 200, 200, 200, 200),
    "POST /synapse/events/{token}":              row(200, 200, 200, 200, 200, 200, 200, 200),
    "GET /":                                     row(LOGIN, 200, 200, 200, 200, 200, LOGIN),
    "WS /ws": row("close 1008", "open", "open", "open", "open", "open", "open"),
    "GET /login":                                row(200, 200, 200, 200, 200, 200, 200),
    "POST /login":                               row(*["303 /"] * 8),
    "POST /login · without the form's own token": row(403, 403, 403, 403, 403, 403, 403, 403),
    "POST /logout":                              row(*[LOGIN] * 7, CSRF),
    "POST /logout · asked with GET":             row(*[405] * 8),
    "GET /admin/audit":                          row(LOGIN, 403, 403, 403, 200, 403, LOGIN),
    "GET /admin/kiosks":                         row(LOGIN, 403, 403, 403, 200, 403, LOGIN),
    "POST /admin/kiosks":                        row(LOGIN, 403, 403, 403, 200, 403, LOGIN, CSRF),
    "GET /admin/settings":                       row(LOGIN, 403, 403, 403, 200, 403, LOGIN),
    "POST /admin/settings/thresholds":           row(LOGIN, 403, 403, 403, 200, 403, LOGIN, CSRF),
    "POST /admin/settings/groups":               row(LOGIN, 403, 403, 403, 200, 403, LOGIN, CSRF),
    "GET /admin/users":                          row(LOGIN, 403, 403, 403, 200, 403, LOGIN),
    "POST /admin/users":                         row(LOGIN, 403, 403, 403, 200, 403, LOGIN, CSRF),
    "POST /admin/users/{name}":                  row(LOGIN, 403, 403, 403, 200, 403, LOGIN, CSRF),
    "GET /admin/audit.csv":                      row(LOGIN, 403, 403, 403, 200, 403, LOGIN),
    "GET /tv":                                   row(LOGIN, 200, 200, 200, 200, 200, LOGIN),
    "GET /search":                               row(LOGIN, 403, 200, 200, 200, 403, LOGIN),
    "GET /calls":                                row(LOGIN, 403, 200, 200, 200, 403, LOGIN),
    "GET /calls.csv":                            row(LOGIN, 403, 200, 200, 200, 403, LOGIN),
    "GET /calls/{uniqueid}":                     row(LOGIN, 403, 200, 200, 200, 403, LOGIN),
    "GET /calls/{uniqueid} · another extension's call": row(LOGIN, 403, 404, 200, 200, 403, LOGIN),
    "GET /api/calls":                            row(401, 403, 200, 200, 200, 403, 200),
    "POST /cdr/sync":                            row(LOGIN, 403, 403, 200, 200, 403, LOGIN, CSRF),
    "GET /missed":                               row(LOGIN, 403, 200, 200, 200, 403, LOGIN),
    "POST /missed/done":                         row(LOGIN, 403, 200, 200, 200, 403, LOGIN, CSRF),
    "POST /missed/done · missed at 46, once answered at 70":
                                                 row(LOGIN, 403, 404, 200, 200, 403, LOGIN, CSRF),
    "POST /missed/done · asked with GET":        row(*[405] * 8),
    "GET /reports":                              row(LOGIN, 403, 403, 200, 200, 403, LOGIN),
    "GET /reports.csv":                          row(LOGIN, 403, 403, 200, 200, 403, LOGIN),
    "GET /kiosk/{token}":                        row(200, 200, 200, 200, 200, 200, 200),
    "POST /kiosk/{token}":                       row(*["303 /tv"] * 8),
    "POST /kiosk/{token} · from another site":   row(*[403] * 8),
    "GET /contacts":                             row(LOGIN, 403, 200, 200, 200, 403, LOGIN),
    "POST /contacts/import":                     row(LOGIN, 403, 403, 200, 200, 403, LOGIN, CSRF),
    "GET /api/calls/active":                     row(401, 403, 200, 200, 200, 403, 200),
    "POST /api/originate":                       row(401, 403, 200, 200, 200, 403, 200, CSRF),
    "POST /api/originate · from another extension": row(401, 403, 403, 200, 200, 403, 200, CSRF),
    "POST /api/originate · asked with GET":      row(*[405] * 8),
    "POST /api/calls/{uniqueid}/hangup":         row(401, 403, 200, 200, 200, 403, 200, CSRF),
    "POST /api/calls/{uniqueid}/hangup · another extension's call":
                                                 row(401, 403, 404, 200, 200, 403, 200, CSRF),
    "POST /api/calls/{uniqueid}/transfer":       row(401, 403, 200, 200, 200, 403, 200, CSRF),
    "POST /api/calls/{uniqueid}/transfer · another extension's call":
                                                 row(401, 403, 404, 200, 200, 403, 200, CSRF),
    "POST /api/calls/{uniqueid}/close":          row(401, 403, 403, 200, 200, 403, 200, CSRF),
    "GET /api/calls/{uniqueid}/transfer-targets": row(401, 403, 200, 200, 200, 403, 200),
    "GET /api/calls/{uniqueid}/transfer-targets · another extension's call":
                                                 row(401, 403, 404, 200, 200, 403, 200),
    "GET /api/calls/{uniqueid}":                 row(401, 403, 200, 200, 200, 403, 200),
    "GET /api/calls/{uniqueid} · another extension's call": row(401, 403, 404, 200, 200, 403, 200),
    "GET /recordings/{uniqueid}":                row(LOGIN, 403, 206, 206, 206, 403, LOGIN),
    "GET /recordings/{uniqueid} · another extension's call":
                                                 row(LOGIN, 403, 404, 206, 206, 403, LOGIN),
    "GET /recordings/{uniqueid} · download":     row(LOGIN, 403, 403, 200, 200, 403, LOGIN),
    "GET /api/pbxs":                             row(401, 403, 200, 200, 200, 403, 200),
    "GET /admin/pbxs":                           row(LOGIN, 403, 403, 403, 200, 403, LOGIN),
    "GET /healthz":                              row(200, 200, 200, 200, 200, 200, 200),
    "GET /metrics":                              row(401, 403, 403, 200, 200, 403, 200),
    "GET /static/{path}":                        row(200, 200, 200, 200, 200, 200, 200),
}
# fmt: on


# -- the world ------------------------------------------------------------------------------


def recording_server() -> Starlette:
    async def recording(request: Request) -> Response:
        return ranged_response(WAV, request.headers.get("range"), "audio/wav")

    return Starlette(routes=[Route("/callrecord/{name}", recording)])


def pbx_commands() -> httpx.MockTransport:
    """The PBX's command API and cdr.php: every command accepted, no records."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("cdr.php"):
            return httpx.Response(200, json=[])
        return httpx.Response(200, text="Success")

    return httpx.MockTransport(answer)


@pytest.fixture
def world(settings: Settings, clock: FakeClock) -> Iterator[World]:
    with ThreadedServer(recording_server()) as recordings:
        wired = settings.with_changes(
            synapse_url=recordings.base_url, synapse_event_token=SECRET, extensions=("46", "70")
        )
        app = create_app(wired, clock=clock, pbx_transport=pbx_commands())
        with TestClient(app) as client:
            world = World(client, clock, wired.timezone, recordings.base_url)
            furnish(world)
            yield world


def furnish(world: World) -> None:
    state = parts_of(world.client)
    for role in ROLES:
        state.accounts.add_user(f"{role}-user", role, PASSWORD, "70" if role == "agent" else None)
    state.accounts.add_user("script", "supervisor", PASSWORD)
    world.api_token = state.accounts.tokens.create("script", "monitoring")
    _, world.kiosk_token = state.kiosks.create("Sales floor TV", "admin-user")
    for extension in ("70", "46"):
        link = f"{world.recordings}/callrecord/{extension}.wav"
        finished = {"uniqueid": f"{extension}.1", "extension": extension, "recordlink": link}
        world.pbx_sends(json.loads(CALL_FINISH) | finished)
        world.pbx_sends(
            json.loads(CALL_START) | {"uniqueid": f"{extension}.9", "extension": extension}
        )


# -- asking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    cell: Cell
    cache_control: str | None  # None for the socket


def ask_as(world: World, who: str, route: str) -> Seen:
    client = world.client
    client.cookies.clear()
    headers: dict[str, str] = {}
    if who == "bearer":
        headers["authorization"] = f"Bearer {world.api_token}"
    elif who == NO_CSRF:
        world.sign_in("admin")
    elif who != "anonymous":
        headers["x-csrf-token"] = world.sign_in(who)
    ask = ROUTES[route](world)
    if ask.method == "WS":
        return Seen(_socket(client, ask.path, headers), None)
    response = client.request(
        ask.method,
        ask.path,
        data=ask.form,
        json=ask.json,
        files=ask.files,
        headers={**headers, **ask.headers},
        follow_redirects=False,
    )
    return Seen(_cell(response), response.headers.get("cache-control"))


def _socket(client: TestClient, path: str, headers: dict[str, str]) -> Cell:
    try:
        with client.websocket_connect(path, headers=headers) as socket:
            socket.receive_text()  # the snapshot
            return "open"
    except WebSocketDisconnect as closed:
        return f"close {closed.code}"


def _cell(response: httpx.Response) -> Cell:
    if response.is_redirect:
        return f"{response.status_code} {urlsplit(response.headers['location']).path}"
    if response.status_code == 403 and "CSRF token" in response.text:
        return "403 CSRF"
    return response.status_code


def columns(route: str) -> tuple[str, ...]:
    unsafe = route.split(" ")[0] in UNSAFE
    return (*WHO, NO_CSRF) if unsafe else WHO


def observe(world: World) -> dict[str, dict[str, Seen]]:
    return {route: {who: ask_as(world, who, route) for who in columns(route)} for route in ROUTES}


def cache_controls(seen: dict[str, dict[str, Seen]]) -> dict[str, list[str | None]]:
    """Each route's Cache-Control headers, whoever asked (the socket has none)."""
    return {
        route: sorted({s.cache_control for s in row.values()}, key=str)
        for route, row in seen.items()
        if not route.startswith("WS ")
    }


def mismatches(observed: dict[str, dict[str, Cell]]) -> str:
    lines = [
        f"{route} / {who}: expected {EXPECTED.get(route, {}).get(who)!r}, got {cell!r}"
        for route, row in observed.items()
        for who, cell in row.items()
        if EXPECTED.get(route, {}).get(who) != cell
    ]
    return "\n".join(lines)


# -- the tests ------------------------------------------------------------------------------


def test_every_route_answers_everyone_as_the_roles_say(world: World) -> None:
    seen = observe(world)
    observed = {route: {who: s.cell for who, s in row.items()} for route, row in seen.items()}
    assert observed == EXPECTED, "\n" + mismatches(observed)


def test_no_answer_with_call_data_may_be_kept_by_a_cache(world: World) -> None:
    kept = cache_controls(observe(world))
    recordings = ["no-store", "private, no-store"]  # refusals; the audio (ranges and all)
    assert kept == {route: ["no-store"] for route in kept} | {
        "GET /recordings/{uniqueid}": recordings,
        "GET /recordings/{uniqueid} · another extension's call": recordings,
        "GET /recordings/{uniqueid} · download": recordings,
        "GET /healthz": [None],  # tells nothing about calls
        "GET /static/{path}": [None],  # the same for everyone: may be cached
    }


def app_routes() -> set[str]:
    """Every "METHOD /path" app.py serves (HEAD aside: Starlette adds it to each GET)."""
    found: set[str] = set()
    for route in create_app(Settings()).routes:
        if isinstance(route, Route):
            found |= {
                f"{method} {route.path}" for method in route.methods or () if method != "HEAD"
            }
        elif isinstance(route, WebSocketRoute):
            found.add(f"WS {route.path}")
        elif isinstance(route, Mount):
            found.add(f"GET {route.path}/{{path}}")
    return found


def readme_routes() -> set[str]:
    """Every "METHOD /path" of README's HTTP table, as app.py spells it."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    table = readme.split("\n## HTTP\n", 1)[1].split("\n## ", 1)[0]
    found: set[str] = set()
    for line in (line for line in table.splitlines() if line.startswith("| `")):
        first_cell = line.split(" | ")[0]
        for span in re.findall(r"`([^`]+)`", first_cell):
            methods, _, path = span.partition(" ")
            path = re.split(r"\[?\?", path)[0]  # the query: ?number=, [?host=H]
            paths = [path]
            if path.endswith("[/TOKEN]"):
                paths = [path.removesuffix("[/TOKEN]"), path.replace("[/TOKEN]", "/{token}")]
            found |= {f"{method} {p}" for method in methods.split("\\|") for p in paths}
    return found


def test_the_matrix_lists_every_route_of_the_app_and_the_readme() -> None:
    listed = {route.split(" · ")[0] for route in ROUTES}
    assert listed == app_routes()
    assert set(EXPECTED) == set(ROUTES)
    assert readme_routes() == app_routes() - {"GET /static/{path}"}
