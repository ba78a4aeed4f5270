from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from dashboard.app import create_app
from dashboard.settings import Settings
from dashboard.state import STATE_KEY, Parts


def pytest_collection_finish(session: pytest.Session) -> None:
    """Say the order's seed first thing, even under -q, so a failure can be replayed."""
    seed = getattr(session.config.option, "randomly_seed", None)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if seed is not None and reporter is not None:
        reporter.write_line(
            f"tests in a random order; replay it with: pytest --randomly-seed={seed}"
        )


# The vendor guide's samples, as restated in shared/synapse-api.md.
CALL_START = (
    '{"asteriskhost":"192.168.1.51","event":"CallStart","direction":"Outgoing",'
    '"number":"9876543XXX","extension":"70","hangupchannel":"SIP\\/700000418d",'
    '"redirectchannel":"DAHDI\\/21","uniqueid":"1430819361.25418"}'
)
CALL_FINISH = (
    '{"asteriskhost":"192.168.1.51","event":"CallFinish","direction":"Outgoing",'
    '"number":"9876543XXX","extension":"70","starttime":"2015050515:19:21",'
    '"answertime":"2015050515:19:29","endtime":"2015050515:19:36",'
    '"duration":"15","billableseconds":"7","disposition":"Answered",'
    '"uniqueid":"1430819361.25418",'
    '"recordlink":"http:\\/\\/192.168.1.51\\/callrecord\\/2015\\/May\\/05052015\\/'
    '050520151430819361.25418639033917453.wav"}'
)
CALL_CONNECT = (
    '{"asteriskhost":"192.168.1.51","event":"CallConnect","direction":"Outgoing",'
    '"number":"9876543XXX","extension":"70","hangupchannel":"SIP\\/700000418d",'
    '"redirectchannel":"DAHDI\\/21","uniqueid":"1430819361.25418"}'
)


@dataclass(frozen=True)
class Moment:
    """When a test runs: a wall-clock time in the PBX's zone (the zone the PBX reports in)."""

    label: str
    zone: str
    wall: datetime  # naive: the PBX's local time

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def at(self) -> datetime:
        """The same instant in UTC, as the dashboard's clock gives it."""
        return self.wall.replace(tzinfo=self.tz).astimezone(UTC)

    @property
    def today(self) -> date:
        return self.wall.date()

    def __str__(self) -> str:
        return self.label


USUAL = Moment("usual", "Asia/Kolkata", datetime(2026, 11, 27, 15, 30))  # 10:00 UTC
EDGES = (
    USUAL,
    Moment("month-end", "Asia/Kolkata", datetime(2026, 11, 30, 23, 59)),
    Moment("year-end", "Asia/Kolkata", datetime(2026, 12, 31, 23, 59)),
    # Just past midnight at the PBX, while UTC is still on 31 December, 18:30.
    Moment("pbx-midnight", "Asia/Kolkata", datetime(2027, 1, 1, 0, 0, 30)),
    # London's clocks jump from 01:00 to 02:00: a day of 23 hours, an hour after the jump.
    Moment("dst-spring", "Europe/London", datetime(2027, 3, 28, 3, 0)),
    Moment("dst-spring-late", "Europe/London", datetime(2027, 3, 28, 23, 59)),
    # London's clocks fall back from 02:00 to 01:00: a day of 25 hours, at its end.
    Moment("dst-autumn-late", "Europe/London", datetime(2026, 10, 25, 23, 59)),
)
# A date-sensitive test takes this mark and runs at every edge (its `moment`, `clock` and
# `settings` fixtures follow).
at_edges = pytest.mark.parametrize("moment", EDGES, indirect=True, ids=str)


def pbx_time(moment: datetime, tz: ZoneInfo) -> str:
    """An instant as the PBX writes it in an event: local time, YYYYMMDDHH:MM:SS."""
    return moment.astimezone(tz).strftime("%Y%m%d%H:%M:%S")


def just_finished(now: datetime, tz: ZoneInfo, **fields: str) -> dict[str, str]:
    """The guide's CallFinish sample (8 s ringing, 7 s talking) for a call that ended `now`."""
    started = now - timedelta(seconds=15)
    times = {
        "starttime": pbx_time(started, tz),
        "answertime": pbx_time(started + timedelta(seconds=8), tz),
        "endtime": pbx_time(now, tz),
    }
    sample: dict[str, str] = json.loads(CALL_FINISH)
    return sample | times | fields


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or USUAL.at

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def pages_closed_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """The pages a browser test opens close when it ends. A browser lives for its module, and
    a page left open there goes on ticking and reconnecting to a stopped dashboard: dozens of
    them kept Chromium's compositor busy and slowed every later test. Pages a module's own
    fixtures opened before the test stay; a module marked `pages_kept` opens its pages on
    first use and keeps them for its other tests."""
    if "browser" not in request.fixturenames or request.node.get_closest_marker("pages_kept"):
        yield
        return
    browser = request.getfixturevalue("browser")
    before = set(browser.contexts)
    yield
    if browser.is_connected():  # a test's own browser has closed already
        for context in set(browser.contexts) - before:
            context.close()


@pytest.fixture
def moment(request: pytest.FixtureRequest) -> Moment:
    """The usual moment, or each edge for a test marked `at_edges`."""
    return getattr(request, "param", USUAL)


@pytest.fixture
def clock(moment: Moment) -> FakeClock:
    return FakeClock(moment.at)


@pytest.fixture
def settings(tmp_path: Path, moment: Moment) -> Settings:
    return Settings(
        db_path=str(tmp_path / "dashboard.db"),
        synapse_url="http://192.168.1.51",
        synapse_timezone=moment.zone,
        finished_linger_seconds=5,
        password_kdf_n=2**10,  # fast hashing for tests; the default is 2**15
        sign_in_delay_seconds=0,
        pbx_check_seconds=0,  # no probes of a PBX that is not there (test_pbx_watch probes)
    )


PASSWORD = "correct horse battery"


def send(client: TestClient, event: dict[str, Any] | str) -> dict[str, Any]:
    """Send a call event as the PBX does (a GET of the Remote APP URL); it must be stored."""
    text = event if isinstance(event, str) else json.dumps(event)
    response = client.get("/synapse/events?data=" + quote(text, safe=""))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def http_scope(
    client: TestClient,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    query: bytes = b"",
) -> dict[str, Any]:
    """An HTTP request's ASGI scope as a server hands it to the app (with the client's
    cookies), for a test that drives the app itself: its body in pieces, a disconnect."""
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode()), *headers],
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
        "extensions": {},
        "state": client.app_state.copy(),
    }


def post_in_chunks(
    client: TestClient, path: str, body: bytes, chunk: int = 65536, *, gone_after: int = 0
) -> int:
    """A form POSTed the way a server hands it on, in pieces (the test client sends one):
    the answer's status. `gone_after`: the client disconnects after that many pieces."""
    headers = [
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = http_scope(client, "POST", path, headers)
    pieces = [body[at : at + chunk] for at in range(0, len(body), chunk)]
    if gone_after:
        pieces = pieces[:gone_after]
    sent: list[Message] = []

    async def receive() -> Message:
        if not pieces:
            return {"type": "http.disconnect"}
        more = len(pieces) > 1 or gone_after > 0
        return {"type": "http.request", "body": pieces.pop(0), "more_body": more}

    async def send(message: Message) -> None:
        sent.append(message)

    assert client.portal is not None
    client.portal.call(client.app, scope, receive, send)
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


def parts_of(client: TestClient) -> Parts:
    """The running app's parts (what its lifespan opened), for a test to look inside."""
    return cast(Parts, client.app_state[STATE_KEY])


def sign_in(
    client: TestClient,
    role: str = "supervisor",
    name: str | None = None,
    extension: str | None = None,
) -> str:
    """Create the user if need be, sign in through the real form; returns the CSRF token."""
    accounts = parts_of(client).accounts
    name = name or f"{role}-user"
    if accounts.find_user(name) is None:
        extension = extension or ("70" if role == "agent" else None)
        accounts.add_user(name, role, PASSWORD, extension)
    form = client.get("/login").text
    login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert login_csrf is not None
    response = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf_token": login_csrf[1], "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/").text
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
    assert csrf is not None
    return csrf[1]


def try_sign_in(client: TestClient, name: str, password: str, address: str = "") -> tuple[int, str]:
    """A sign-in through the form (from `address`, as a trusted proxy says): its status and
    the message the page shows."""
    client.cookies.clear()
    headers = {"x-forwarded-for": address} if address else {}
    form = client.get("/login", headers=headers).text
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    data = {"name": name, "password": password, "csrf_token": token}
    response = client.post("/login", data=data, headers=headers, follow_redirects=False)
    message = re.search(r'<p class="form-error" role="alert">([^<]*)</p>', response.text)
    return response.status_code, message[1] if message else ""


@pytest.fixture
def anonymous(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    """A client of a fresh dashboard, signed in as nobody."""
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


@pytest.fixture
def client(anonymous: TestClient) -> TestClient:
    """A client signed in as a supervisor (who sees every call)."""
    sign_in(anonymous)
    return anonymous
