from __future__ import annotations

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
    )


@pytest.fixture
def client(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client
