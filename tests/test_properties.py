"""Property tests (Hypothesis): convergence for any duplication and order of a call's
events, and no input to /synapse/events ever answered with a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.calls import Call, apply
from dashboard.events import CallEvent, EventKind
from dashboard.ingest import replay
from dashboard.settings import Settings
from tests.conftest import parts_of

T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)
digits = st.text("0123456789", min_size=1, max_size=12)


@st.composite
def one_calls_events(draw: st.DrawFn) -> list[CallEvent]:
    """The events one call could send: a CallStart, maybe a CallConnect, maybe a CallFinish,
    agreeing with each other as one call's events from the PBX do."""
    common = {
        "host": "192.168.1.51",
        "uniqueid": draw(digits) + ".1",
        "direction": draw(st.sampled_from(["incoming", "outgoing", None])),
        "number": draw(digits),
        "extension": draw(digits),
    }
    arrivals = draw(st.lists(st.integers(0, 3600), min_size=3, max_size=3))
    at = [T0 + timedelta(seconds=s) for s in arrivals]
    events = [
        CallEvent(
            kind=EventKind.START,
            received_at=at[0],
            hangupchannel="SIP/1-a",
            redirectchannel="DAHDI/1",
            **common,
        )
    ]
    answered = draw(st.booleans())
    if answered and draw(st.booleans()):
        events.append(CallEvent(kind=EventKind.CONNECT, received_at=at[1], **common))
    if draw(st.booleans()):
        events.append(
            CallEvent(
                kind=EventKind.FINISH,
                received_at=at[2],
                start_time=T0,
                answer_time=T0 + timedelta(seconds=5) if answered else None,
                end_time=T0 + timedelta(seconds=60),
                duration=60,
                billable_seconds=55 if answered else 0,
                disposition="answered" if answered else "no_answer",
                disposition_raw="ANSWERED" if answered else "NO ANSWER",
                **common,
            )
        )
    return events


def fold(events: list[CallEvent]) -> Call:
    call = None
    for event in events:
        call = apply(call, event)
    assert call is not None
    return call


@given(events=one_calls_events(), data=st.data())
@settings(max_examples=300, deadline=None)
def test_any_duplication_and_order_gives_the_same_call(
    events: list[CallEvent], data: st.DataObject
) -> None:
    expected = fold(events)
    extra = data.draw(st.lists(st.sampled_from(events), max_size=6))
    shuffled = data.draw(st.permutations([*events, *extra]))
    assert fold(list(shuffled)) == expected


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    settings_ = Settings(db_path=str(path), password_kdf_n=2**10, synapse_timezone="Asia/Kolkata")
    with TestClient(create_app(settings_), raise_server_exceptions=False) as test_client:
        yield test_client


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
KNOWN = [
    "event",
    "uniqueid",
    "asteriskhost",
    "direction",
    "number",
    "extension",
    "starttime",
    "answertime",
    "endtime",
    "duration",
    "billableseconds",
    "disposition",
    "recordlink",
]
event_like = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["CallStart", "CallConnect", "CallFinish", "callstart", "X", ""]),
        "uniqueid": st.one_of(digits, json_values),
    },
    optional={name: st.one_of(st.text(max_size=40), json_values) for name in KNOWN[2:]},
)


def assert_answered_well(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert body["error"] and body["detail"]


@given(obj=event_like, how=st.sampled_from(["query", "raw", "body"]))
@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_event_like_json_gets_a_2xx_or_a_reasoned_4xx(
    client: TestClient, obj: dict[str, Any], how: str
) -> None:
    text = json.dumps(obj)
    if how == "query":
        response = client.get("/synapse/events", params={"data": text})
    elif how == "raw":
        response = client.get("/synapse/events?" + text.replace("#", "%23").replace(" ", "%20"))
    else:
        response = client.post("/synapse/events", content=text.encode())
    assert_answered_well(response)


@given(
    query=st.text(max_size=200),
    body=st.binary(max_size=300),
    content_type=st.sampled_from(
        [
            "",
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/plain",
        ]
    ),
    method=st.sampled_from(["GET", "POST"]),
)
@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_request_at_all_gets_a_2xx_or_a_reasoned_4xx(
    client: TestClient, query: str, body: bytes, content_type: str, method: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.request(
        method,
        "/synapse/events",
        params={"q": query} if query else None,
        content=body,
        headers=headers,
    )
    assert_answered_well(response)
    assert client.get("/healthz").status_code == 200  # and it keeps serving


@given(objs=st.lists(event_like, min_size=1, max_size=8))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_fuzzed_calls_replay_to_what_is_stored(
    client: TestClient, objs: list[dict[str, Any]]
) -> None:
    """Whatever the fuzzing stored (this test's and the others' that ran before it on the same
    database), the calls table is what the event log says."""
    for obj in objs:
        assert_answered_well(client.get("/synapse/events", params={"data": json.dumps(obj)}))
    valid = {"event": "CallStart", "uniqueid": "replay.1"}  # so one call at least is stored
    assert client.get("/synapse/events", params={"data": json.dumps(valid)}).status_code == 200
    state = parts_of(client)
    stored = {call.key: call for call in state.store.all_calls()}
    recomputed = replay(state.store, state.settings)
    assert stored == recomputed
    assert stored
