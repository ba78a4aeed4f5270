from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any
from urllib.parse import quote

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.testclient import TestClient
from starlette.types import Message

from dashboard.app import create_app
from dashboard.calls import Call, Status
from dashboard.events import EventError, redact_secrets
from dashboard.ingest import Accepted
from dashboard.security import SECURITY_HEADERS
from dashboard.settings import Settings
from dashboard.views.events import accepted_response, event_token, read_body
from tests.conftest import (
    CALL_CONNECT,
    CALL_FINISH,
    CALL_START,
    FakeClock,
    parts_of,
    post_in_chunks,
    send,
    sign_in,
)


def tables(client: TestClient) -> dict[str, list[dict[str, Any]]]:
    db = parts_of(client).store.db
    return {name: list(db.query(f"SELECT * FROM {name}")) for name in ("calls", "events")}


def test_an_accepted_event_is_stored_before_the_answer(client: TestClient) -> None:
    assert send(client, CALL_START) == {"ok": True, "event_id": 1, "status": "ringing"}
    stored = tables(client)
    assert [(e["event"], e["host"], e["uniqueid"]) for e in stored["events"]] == [
        ("CallStart", "192.168.1.51", "1430819361.25418")
    ]
    assert json.loads(stored["events"][0]["payload"]) == json.loads(CALL_START)


@pytest.mark.parametrize(
    "how",
    ["query parameter", "raw query string", "POST body"],
)
def test_the_guide_samples_make_one_call_whichever_way_they_arrive(
    client: TestClient, how: str
) -> None:
    for sample in (CALL_START, CALL_FINISH):
        if how == "query parameter":
            response = client.get("/synapse/events", params={"data": sample, "token": "x"})
        elif how == "raw query string":
            response = client.get("/synapse/events?" + quote(sample, safe=""))
        else:
            response = client.post("/synapse/events", content=sample.encode())
        assert response.status_code == 200, response.text
    call = client.get("/api/calls/1430819361.25418").json()
    assert {k: call[k] for k in ("status", "extension", "number", "disposition", "duration")} == {
        "status": "finished",
        "extension": "70",
        "number": "9876543XXX",
        "disposition": "answered",
        "duration": 15,
    }
    assert call["started_at"] == "2015-05-05T15:19:21+05:30"
    assert call["hangupchannel"] == "SIP/700000418d"
    assert call["recordlink"].startswith("http://192.168.1.51/callrecord/2015/May/")


def final_state(settings: Settings, samples: tuple[str, ...]) -> tuple[Any, ...]:
    """The call after sending `samples` in that order to a fresh dashboard."""
    clock = FakeClock()
    with TestClient(create_app(settings, clock=clock)) as client:
        sign_in(client)
        for sample in samples:
            send(client, sample)
        call = client.get("/api/calls/1430819361.25418").json()
        live = client.get("/api/calls/active").json()["calls"]
        stored_events = len(tables(client)["events"])
    return call, live, stored_events


def test_every_order_and_duplicate_converges_to_the_same_call(
    settings: Settings, tmp_path: Any
) -> None:
    expected = None
    samples = (CALL_START, CALL_CONNECT, CALL_FINISH)
    orders = [
        *itertools.permutations(samples),
        (CALL_FINISH, CALL_START),
        (CALL_START, CALL_FINISH, CALL_FINISH, CALL_START, CALL_CONNECT),
    ]
    for n, order in enumerate(orders):
        fresh = settings.with_changes(db_path=str(tmp_path / f"order{n}.db"))
        call, live, stored = final_state(fresh, order)
        assert live == [] and stored == len(order)
        essentials = {k: v for k, v in call.items() if not k.endswith("seen_at")}
        if expected is None:
            expected = essentials
        assert essentials == expected, order


BAD_REQUESTS = [
    ("GET", "/synapse/events?data=not-json", b"", 400, "not_json"),
    ("GET", "/synapse/events", b"", 400, "empty"),
    ("POST", "/synapse/events", b"<xml/>", 400, "not_json"),
    ("POST", "/synapse/events", b'{"uniqueid": "1"}', 422, "missing_field"),
    ("POST", "/synapse/events", b'{"event": "CallStart"}', 422, "missing_field"),
    ("POST", "/synapse/events", b'{"event": "CallExplode", "uniqueid": "1"}', 422, "unknown_event"),
    ("POST", "/synapse/events", b'{"event": "CallStart", "uniqueid": ["1"]}', 422, "wrong_type"),
    (
        "POST",
        "/synapse/events",
        b'{"event": "CallStart", "uniqueid": "1", "duration": "x"}',
        422,
        "bad_value",
    ),
    ("POST", "/synapse/events", b"{" + b" " * 70_000 + b"}", 413, "payload_too_large"),
    (
        "POST",
        "/synapse/events",
        b'{"event": "CallStart", "uniqueid": "2", "x": 1e999}',
        422,
        "bad_value",
    ),
    (
        "POST",
        "/synapse/events",
        b'{"event": "CallStart", "uniqueid": "2", "n": "\\udc80"}',
        422,
        "bad_value",
    ),
    ("GET", "/synapse/events?token=" + quote(CALL_START), b"", 400, "empty"),
]


@pytest.mark.parametrize(("method", "url", "body", "status", "reason"), BAD_REQUESTS)
def test_bad_input_gets_a_reason_is_kept_and_changes_nothing_else(
    client: TestClient, method: str, url: str, body: bytes, status: int, reason: str
) -> None:
    send(client, CALL_START)
    before = tables(client)
    response = client.request(method, url, content=body)
    assert response.status_code == status
    assert response.json()["error"] == reason and response.json()["detail"]
    assert tables(client) == before
    rejected = parts_of(client).store.rejected.all()
    assert [(r["reason"], r["method"]) for r in rejected] == [(reason, method)]
    assert rejected[0]["query"] == redact_secrets(url.partition("?")[2][:4096])
    assert parts_of(client).ingestor.rejected == {reason: 1}


def test_a_query_over_the_limit_is_refused(settings: Settings, clock: FakeClock) -> None:
    small = settings.with_changes(max_event_bytes=1024)
    with TestClient(create_app(small, clock=clock)) as client:
        response = client.get("/synapse/events?data=" + quote(CALL_START.ljust(1100)))
        assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")
        assert tables(client) == {"calls": [], "events": []}


def test_other_methods_get_a_json_refusal(client: TestClient) -> None:
    response = client.put("/synapse/events", content=CALL_START)
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_a_restart_keeps_live_calls_and_every_acknowledged_event(
    settings: Settings, clock: FakeClock
) -> None:
    with TestClient(create_app(settings, clock=clock)) as client:
        sign_in(client)
        send(client, CALL_START)
        send(client, CALL_CONNECT)
        before = client.get("/api/calls/active").json()
    with TestClient(create_app(settings, clock=clock)) as client:
        sign_in(client)
        assert client.get("/api/calls/active").json() == before
        assert before["calls"][0]["status"] == "connected"
        assert len(tables(client)["events"]) == 2
        send(client, CALL_FINISH)
        assert client.get("/api/calls/active").json() == {"calls": []}


def test_an_event_that_cannot_be_stored_is_not_acknowledged(client: TestClient) -> None:
    parts_of(client).store.db.execute("DROP TABLE events")
    response = client.get("/synapse/events?data=" + quote(CALL_START, safe=""))
    assert response.status_code == 503
    assert response.json()["error"] == "storage_unavailable"
    assert client.get("/api/calls/active").json() == {"calls": []}
    assert parts_of(client).store.count("calls") == 0


def test_a_fault_in_the_dashboard_is_a_json_500_with_the_usual_headers(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The endpoint is answered outside Starlette's error middleware: its own fault is
    answered as that middleware's handler would, and logged with its traceback."""

    class BrokenTally:
        def note_accepted(self, seconds: float) -> None:
            raise RuntimeError("a defect")

    ingestor = parts_of(client).ingestor
    working, ingestor.tally = ingestor.tally, BrokenTally()  # type: ignore[assignment]
    response = client.get("/synapse/events?data=" + quote(CALL_START, safe=""))
    assert response.status_code == 500
    assert response.json()["error"] == "internal"
    expected = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
    assert {name: response.headers.get(name) for name in expected} == expected
    assert "RuntimeError: a defect" in caplog.text
    ingestor.tally = working
    assert send(client, CALL_CONNECT)["ok"] is True  # and the next event is taken


def test_the_endpoint_tallies_every_answer_for_the_log_summary(
    settings: Settings, clock: FakeClock
) -> None:
    guarded = settings.with_changes(synapse_event_token="s3cret")
    with TestClient(create_app(guarded, clock=clock)) as client:
        for query in (
            "token=s3cret&data=" + quote(CALL_START),
            "token=s3cret&data=" + quote(CALL_CONNECT),
            "token=s3cret&data=%7Bnot",
            "token=wrong&data=" + quote(CALL_FINISH),
        ):
            client.get("/synapse/events?" + query)
        parts_of(client).store.db.execute("DROP TABLE events")
        client.get("/synapse/events?token=s3cret&data=" + quote(CALL_FINISH))
        tally = parts_of(client).ingestor.tally
        assert (tally.accepted, dict(tally.refused)) == (
            2,
            {"not_json": 1, "forbidden": 1, "storage_unavailable": 1},
        )


@pytest.mark.parametrize("status", list(Status))
def test_the_answer_to_an_event_is_what_a_json_response_renders(status: Status) -> None:
    rendered = JSONResponse({"ok": True, "event_id": 123456789, "status": status.value})
    call = Call(host="192.168.1.51", uniqueid="1430819361.25418", status=status)
    answer = accepted_response(Accepted(123456789, call))
    assert (answer.body, answer.headers.items()) == (rendered.body, rendered.headers.items())


def test_an_event_is_answered_with_the_headers_of_every_other_answer(client: TestClient) -> None:
    response = client.get("/synapse/events?data=" + quote(CALL_START, safe=""))
    refused = client.get("/synapse/events?data=nothing")
    head = client.head("/synapse/events?data=" + quote(CALL_CONNECT, safe=""))  # by the route
    security = [(name.decode(), value.decode()) for name, value in SECURITY_HEADERS]
    answers = [(response, len(response.content)), (refused, len(refused.content))]
    connected = b'{"ok":true,"event_id":3,"status":"connected"}'  # what a GET would have read
    for answer, length in [*answers, (head, len(connected))]:
        assert answer.headers.multi_items() == [
            ("content-length", str(length)),
            ("content-type", "application/json"),
            *security,
            ("cache-control", "no-store"),
        ]


def test_events_are_taken_only_for_an_allowed_host_name(settings: Settings) -> None:
    event_url = "/synapse/events?data=" + quote(CALL_START, safe="")
    guarded = settings.with_changes(allowed_hosts=("dash.example",))
    with TestClient(create_app(guarded)) as client:
        refused = client.get(event_url, headers={"host": "evil.example"})
        assert (refused.status_code, refused.text) == (400, "Invalid host header")
        assert refused.headers["x-frame-options"] == "DENY"  # the app's answer, headers and all
        assert tables(client)["events"] == []
        accepted = client.get(event_url, headers={"host": "dash.example"})
        assert accepted.json() == {"ok": True, "event_id": 1, "status": "ringing"}


@pytest.mark.parametrize(
    ("method", "path", "root_path", "token"),
    [
        ("GET", "/synapse/events", "", ""),
        ("POST", "/synapse/events", "", ""),
        ("GET", "/synapse/events/s3cret", "", "s3cret"),
        ("POST", "/synapse/events/s3cret", "", "s3cret"),
        ("HEAD", "/synapse/events", "", None),
        ("PUT", "/synapse/events", "", None),
        ("GET", "/synapse/events/", "", None),
        ("GET", "/synapse/events/a/b", "", None),
        ("GET", "/synapse/eventsx", "", None),
        ("GET", "/synapse", "", None),
        ("GET", "/synapse/events", "/dash", None),
    ],
)
def test_only_what_the_event_routes_match_goes_around_the_app(
    method: str, path: str, root_path: str, token: str | None
) -> None:
    scope = {"type": "http", "method": method, "path": path, "root_path": root_path}
    assert event_token(scope) == token


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("PUT", "/synapse/events", 405), ("GET", "/synapse/events/a/b", 404)],
)
def test_what_goes_on_to_the_app_is_answered_as_before(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.json()["error"] == {405: "method_not_allowed", 404: "not_found"}[status]
    assert response.headers["cache-control"] == "no-store"


def test_a_sender_gone_before_the_whole_body_is_a_refusal_not_an_error() -> None:
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"event": "Call', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "headers": [(b"content-length", b"500")]}
    with pytest.raises(EventError) as caught:
        asyncio.run(read_body(Request(scope, receive), 65536))
    assert (caught.value.status, caught.value.reason, caught.value.detail) == (
        400,
        "incomplete",
        "the sender went away after 15 bytes of the event's body",
    )


def test_what_came_of_a_body_before_its_sender_went_away_is_kept_with_the_refusal(
    client: TestClient,
) -> None:
    body = json.dumps(CALL_START).encode()
    post_in_chunks(client, "/synapse/events", body, chunk=20, gone_after=2)
    [rejected] = parts_of(client).store.rejected.all()
    assert (rejected["reason"], rejected["body"], rejected["size"]) == (
        "incomplete",
        body[:40].decode(),
        40,
    )
    assert parts_of(client).store.count("events") == 0
