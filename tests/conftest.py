from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.settings import Settings

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


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        db_path=str(tmp_path / "dashboard.db"),
        synapse_url="http://192.168.1.51",
        synapse_timezone="Asia/Kolkata",
        finished_linger_seconds=5,
        password_kdf_n=2**10,  # fast hashing for tests; the default is 2**15
        sign_in_delay_seconds=0,
    )


PASSWORD = "correct horse battery"


def sign_in(
    client: TestClient,
    role: str = "supervisor",
    name: str | None = None,
    extension: str | None = None,
) -> str:
    """Create the user if need be, sign in through the real form; returns the CSRF token."""
    accounts = client.app.state.accounts  # type: ignore[attr-defined]
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
