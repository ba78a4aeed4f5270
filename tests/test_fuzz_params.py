"""Every query parameter of every GET route, fed nasty values: each gets a clear 4xx or a sane
2xx, never a 5xx. Signed in as an admin (every route), and as an agent (the routes an agent
uses, where its scope narrows the queries)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dashboard.app import create_app
from dashboard.settings import Settings
from tests.conftest import CALL_START, USUAL, FakeClock, http_scope, just_finished, send, sign_in

ROOT = Path(__file__).resolve().parent.parent


class Raw(str):
    """A value put in the URL as it is (an escape that must reach the server unencoded)."""


def cursor(text: str) -> str:
    """A history page cursor holding `text` (the form the dashboard's own cursors take)."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


NASTY: dict[str, str] = {
    "empty": "",
    "blank": "   ",
    "nested lists": "[" * 10_000 + "]" * 10_000,
    "nested objects": '{"a":' * 5_000 + "1" + "}" * 5_000,
    "100 kB": "x" * 100_000,
    "100 kB of digits": "9" * 100_000,
    "100 kB of extensions": ",".join(str(n) for n in range(20_000)),
    "NUL": "\x00",
    "NUL inside": "70\x0071",
    "control characters": "\x01\x07\x1b[31m\r\n\t\x7f",
    "invalid UTF-8": Raw("%ff%fe"),
    "broken escape": Raw("%zz%"),
    "minus one": "-1",
    "overflowing float": "1e309",
    "NaN": "NaN",
    "huge": "99999999999999999999",
    "beyond 64 bits": "-" + "9" * 30,
    "not a day": "2026-02-30",
    "zero day": "0000-00-00",
    "last day": "9999-12-31",
    "first day": "0001-01-01",
    "SQL and LIKE": "%_'\"",
    "SQL injection": "' OR 1=1; DROP TABLE calls; --",
    "markup": "<script>alert(1)</script>",
    "traversal": "../calls/T70.1",
    "encoded slash": Raw("..%2Fcalls%2FT70.1"),
    "unicode": "é€😀\u202e",
    "unicode digits": "٣٤٥",
    "bad IPv6 URL": "http://[::1",
    "protocol-relative": "//evil.example/[",
    "cursor of nested lists": cursor("[" * 10_000 + "]" * 10_000),
    "cursor of a lone surrogate": cursor('["\\ud800", "h", "u"]'),
    "cursor of an object": cursor('{"a": 1}'),
    "cursor of floats": cursor("[1e309, 1.5, -0.0]"),
    "cursor of huge ints": cursor("[99999999999999999999999, 1, 2]"),
    "cursor of wrong types": cursor('[true, null, ["u"]]'),
    "cursor of NUL": cursor('["\\u0000", "\\u0000", "\\u0000"]'),
    "cursor, badly padded": "a",
    "cursor, not base64": "!!!!",
}

FILTERS = [
    "period",
    "from",
    "to",
    "extension",
    "direction",
    "disposition",
    "result",
    "number",
    "min_duration",
    "host",
    "sort",
    "order",
]
# GET route -> the query parameters its view reads (an unknown one, "x", is sent to every route).
ROUTES: dict[str, list[str]] = {
    "/synapse/events": ["data", "token"],
    "/synapse/events/{token}": ["data"],
    "/login": ["next", "name"],
    "/": ["group"],
    "/admin/audit": ["before", "who", "action", "from", "to"],
    "/admin/kiosks": [],
    "/admin/settings": [],
    "/admin/users": [],
    "/admin/audit.csv": ["who", "action", "from", "to"],
    "/tv": ["group"],
    "/kiosk/{token}": [],
    "/search": ["number"],
    "/calls": [*FILTERS, "after", "before"],
    "/calls.csv": FILTERS,
    "/calls/{uniqueid}": ["host", "back"],
    "/api/calls": [*FILTERS, "limit", "after", "before"],
    "/missed": [],
    "/recordings/{uniqueid}": ["download", "check", "host"],
    "/reports": ["period", "from", "to", "extensions", "pbx", "sort", "order"],
    "/reports.csv": ["table", "period", "from", "to", "extensions", "pbx"],
    "/contacts": ["q"],
    "/api/calls/active": [],
    "/api/calls/{uniqueid}": ["host"],
    "/api/calls/{uniqueid}/transfer-targets": ["host", "extension"],
    "/api/pbxs": [],
    "/admin/pbxs": [],
    "/healthz": [],
    "/metrics": [],
}
SOCKET_PARAMETERS = ["view", "only", "group"]  # WS /ws: a GET too, upgraded
AGENT_ROUTES = [
    "/",
    "/search",
    "/calls",
    "/calls.csv",
    "/calls/{uniqueid}",
    "/api/calls",
    "/missed",
    "/recordings/{uniqueid}",
    "/contacts",
    "/api/calls/active",
    "/api/calls/{uniqueid}",
    "/api/calls/{uniqueid}/transfer-targets",
]
# Path parameters take a real value unless the path parameter itself is fuzzed.
PATH_VALUES = {"uniqueid": "1430819361.25418", "token": "no-such-token"}
# Dates only matter in a custom period.
ALONGSIDE = {
    "from": {"period": "custom", "to": "2026-11-27"},
    "to": {"period": "custom", "from": "2026-11-01"},
}
VALID = {"from": "2026-11-01", "to": "2026-11-27", "period": "30d"}


def url(
    route: str, params: list[tuple[str, str]], path_values: dict[str, str] | None = None
) -> str:
    values = PATH_VALUES | (path_values or {})
    path = re.sub(r"{(\w+)}", lambda m: _encoded(values[m[1]]), route)
    query = "&".join(f"{quote(name)}={_encoded(value)}" for name, value in params)
    return path + ("?" + query if query else "")


def _encoded(value: str) -> str:
    return str(value) if isinstance(value, Raw) else quote(value, safe="")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    text: str


def get(client: TestClient, target: str) -> Answer:
    """GET `target` straight through the app, as a server would hand it over: httpx refuses
    URLs over 64 KiB, and a server's exception is an answer (a 500) to report, not a raise."""
    path, _, query = target.partition("?")
    scope = http_scope(client, "GET", path, [], query.encode())
    started: dict[str, Any] = {}
    body = bytearray()

    async def run() -> None:
        done = anyio.Event()
        asked = False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if asked:
                await done.wait()
                return {"type": "http.disconnect"}
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        try:
            await client.app(scope, receive, send)
        except Exception as error:  # reported as what it is: a 500
            started.setdefault("status", 500)
            body.extend(f"raised {error!r}".encode())
        done.set()

    assert client.portal is not None
    client.portal.call(run)
    headers = {k.decode().lower(): v.decode() for k, v in started.get("headers", [])}
    return Answer(int(started["status"]), headers, body.decode("utf-8", errors="replace"))


def problems(client: TestClient, target: str) -> list[str]:
    """What is wrong with the answer to a GET of `target` (nothing, if it is sane)."""
    answer = get(client, target)
    status, body = answer.status, answer.text
    label = f"{status} for {target[:120]!r}"
    if status >= 500:
        return [f"{label}: {body[:300]}"]
    kind = answer.headers.get("content-type", "")
    if "Traceback" in body or "<script>alert(1)" in body:
        return [f"{label}: the body shows a traceback or unescaped markup"]
    if 300 <= status < 400:
        location = answer.headers.get("location", "")
        return [] if location.startswith("/") and not location.startswith("//") else [label]
    if kind.startswith("application/json"):
        reply = json.loads(body)
        if status >= 400 and not (
            set(reply) == {"error", "detail"} and reply["error"] and reply["detail"]
        ):
            return [f"{label}: a refusal without an error and a detail: {body[:200]}"]
    elif kind.startswith("text/html"):
        if status >= 400 and "</html>" not in body:
            return [f"{label}: a refusal that is not a page"]
    elif not kind.startswith(("text/csv", "text/plain")):
        return [f"{label}: an unexpected content type {kind!r}"]
    return []


def nasty_requests(route: str, name: str) -> Iterator[str]:
    for value in NASTY.values():
        yield url(route, [*ALONGSIDE.get(name, {}).items(), (name, value)])
    # The same parameter twice, nasty first and last.
    good = VALID.get(name, "1")
    yield url(route, [(name, NASTY["nested lists"]), (name, good)])
    yield url(route, [(name, good), (name, NASTY["100 kB"])])


def make_client(tmp: Path, role: str) -> Iterator[TestClient]:
    settings_ = Settings(
        db_path=str(tmp / "dashboard.db"),
        synapse_url="http://192.168.1.51",
        synapse_timezone=USUAL.zone,
        password_kdf_n=2**10,
        sign_in_delay_seconds=0,
    )
    clock = FakeClock(USUAL.at)
    with TestClient(create_app(settings_, clock=clock)) as client:
        send(client, CALL_START)  # a live call at extension 70
        finished = just_finished(clock(), USUAL.tz, uniqueid="1430819361.1", recordlink="")
        send(client, finished)  # a call in the history (no recording: nothing is fetched)
        sign_in(client, role)
        yield client


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from make_client(tmp_path_factory.mktemp("admin"), "admin")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from make_client(tmp_path_factory.mktemp("agent"), "agent")


def cases(routes: list[str]) -> list[tuple[str, str]]:
    return [(route, name) for route in routes for name in [*ROUTES[route], "x"]]


@pytest.mark.parametrize(("route", "name"), cases(list(ROUTES)))
def test_no_value_of_any_parameter_gets_a_5xx_as_an_admin(
    admin: TestClient, route: str, name: str
) -> None:
    found = [p for target in nasty_requests(route, name) for p in problems(admin, target)]
    assert found == []


@pytest.mark.parametrize(("route", "name"), cases(AGENT_ROUTES))
def test_no_value_of_any_parameter_gets_a_5xx_as_an_agent(
    agent: TestClient, route: str, name: str
) -> None:
    found = [p for target in nasty_requests(route, name) for p in problems(agent, target)]
    assert found == []


@pytest.mark.parametrize(
    ("route", "parameter"),
    [(route, name) for route in ROUTES for name in re.findall(r"{(\w+)}", route)],
)
def test_no_path_value_gets_a_5xx(admin: TestClient, route: str, parameter: str) -> None:
    found = [
        p
        for value in NASTY.values()
        if value.strip() and "\x00" not in value  # an empty segment is another route
        for p in problems(admin, url(route, [], {parameter: value}))
    ]
    assert found == []


values = st.one_of(st.sampled_from(list(NASTY.values())), st.text(max_size=30))


@given(
    route=st.sampled_from(["/calls", "/calls.csv", "/api/calls", "/reports", "/reports.csv"]),
    chosen=st.lists(st.tuples(st.sampled_from([*FILTERS, "after", "limit", "extensions"]), values)),
)
@settings(
    max_examples=150,
    derandomize=True,  # the same examples on every run: a fuzz failure is replayable
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_no_mix_of_values_gets_a_5xx(
    admin: TestClient, route: str, chosen: list[tuple[str, str]]
) -> None:
    assert problems(admin, url(route, chosen)) == []


@pytest.mark.parametrize("name", [*SOCKET_PARAMETERS, "x"])
def test_no_value_of_the_sockets_parameters_breaks_it(admin: TestClient, name: str) -> None:
    short = [value for value in NASTY.values() if len(value) < 1000]  # httpx caps its URLs
    for value in short:
        with admin.websocket_connect(url("/ws", [(name, value)])) as viewer:
            if name == "group" and value.strip():  # no such group: closed, and told so
                with pytest.raises(WebSocketDisconnect) as closed:
                    viewer.receive_text()
                assert closed.value.code == 4404
                continue
            assert 'id="counters"' in viewer.receive_text()


def test_the_fuzzing_is_done_signed_in(admin: TestClient, agent: TestClient) -> None:
    """Else every answer would be a redirect to the sign-in page, and every test would pass."""
    assert [get(admin, path).status for path in ("/calls", "/reports", "/admin/audit")] == [
        200,
        200,
        200,
    ]
    assert [get(agent, path).status for path in ("/calls", "/reports")] == [200, 403]
    assert "1430819361.1" in get(agent, "/calls?period=all").text  # a row, shown


def test_every_get_route_of_the_app_and_of_the_readme_is_fuzzed(admin: TestClient) -> None:
    app_routes = {
        route.path
        for route in admin.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and "GET" in (route.methods or ())
    }
    readme = (ROOT / "README.md").read_text()
    documented = {
        re.sub(r"\[.*$", "", path) for path in re.findall(r"`GET(?:\\\|POST)? (/[^\s`?]*)", readme)
    }
    assert app_routes == set(ROUTES)
    assert documented == set(ROUTES) - {"/synapse/events/{token}"}  # written [/TOKEN] there


def test_every_parameter_a_view_reads_is_fuzzed() -> None:
    sources = [ROOT / "dashboard" / "history.py", *(ROOT / "dashboard" / "views").glob("*.py")]
    read = {
        name
        for source in sources
        for name in re.findall(r"params\.get\(\s*\"(\w+)\"", source.read_text())
    }
    fuzzed = {name for names in ROUTES.values() for name in names} | set(SOCKET_PARAMETERS)
    assert read - fuzzed == set()
