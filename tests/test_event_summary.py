from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from dashboard.cli import access_log_filters
from dashboard.event_summary import EventTally, QuietEvents, is_event_request, log_summary
from tests.conftest import CALL_START, FakeClock
from tests.servers import DashboardProcess
from tests.waiting import wait_until

ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'


def access_record(path: str) -> logging.LogRecord:
    """An access line as uvicorn logs it."""
    args = ("10.0.0.5:4000", "GET", path, "1.1", 200)
    return logging.LogRecord("uvicorn.access", logging.INFO, "", 0, ACCESS_FORMAT, args, None)


def test_a_summary_counts_what_was_accepted_and_refused_by_reason() -> None:
    clock = FakeClock()
    tally = EventTally(clock)
    for seconds in (0.0011, 0.0012, 0.0013, 0.0200, 0.0500):
        tally.note_accepted(seconds)
    for reason in ("bad_value", "forbidden", "bad_value"):
        tally.note_refused(reason)
    clock.advance(60)
    assert tally.summary() == (
        "events in the last 60 s: 5 accepted, 3 refused (2 bad_value, 1 forbidden), p50 1.3 ms"
    )


def test_thousands_are_grouped_and_a_period_with_none_refused_says_so() -> None:
    clock = FakeClock()
    tally = EventTally(clock)
    for _ in range(12_345):
        tally.note_accepted(0.0004)
    clock.advance(61)
    assert tally.summary() == "events in the last 61 s: 12,345 accepted, 0 refused, p50 0.40 ms"


def test_only_refusals_give_no_median() -> None:
    clock = FakeClock()
    tally = EventTally(clock)
    tally.note_refused("not_json")
    clock.advance(60)
    assert tally.summary() == "events in the last 60 s: 0 accepted, 1 refused (1 not_json)"


def test_no_traffic_no_line_and_each_summary_starts_a_new_period() -> None:
    clock = FakeClock()
    tally = EventTally(clock)
    clock.advance(60)
    assert tally.summary() is None
    tally.note_accepted(0.002)
    clock.advance(30)
    assert tally.summary() == "events in the last 30 s: 1 accepted, 0 refused, p50 2.0 ms"
    clock.advance(60)
    assert tally.summary() is None


@pytest.mark.parametrize("seconds", [0.00002, 0.0007, 0.0031, 0.25, 7.5])
def test_the_median_is_within_five_percent(seconds: float) -> None:
    tally = EventTally(FakeClock())
    for latency in (seconds / 10, seconds, seconds * 10):
        tally.note_accepted(latency)
    median = tally.median()
    assert median is not None and abs(median - seconds) / seconds < 0.05


def test_latencies_beyond_the_buckets_still_count() -> None:
    tally = EventTally(FakeClock())
    tally.note_accepted(0.0)
    tally.note_accepted(3600.0)
    tally.note_accepted(3600.0)
    assert (tally.accepted, tally.median()) == (3, pytest.approx(1e-5 * 1.05**329))


def test_the_summary_goes_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    tally = EventTally(clock)
    caplog.set_level(logging.INFO, logger="dashboard.event_summary")
    log_summary(tally)  # no traffic: nothing logged
    tally.note_refused("wrong_sender")
    clock.advance(60)
    log_summary(tally)
    assert caplog.messages == ["events in the last 60 s: 0 accepted, 1 refused (1 wrong_sender)"]


@pytest.mark.parametrize(
    ("path", "is_event"),
    [
        ("/synapse/events", True),
        ("/synapse/events?data=%7B%7D", True),
        ("/synapse/events/s3cret?data=%7B%7D", True),
        ("/synapse/eventsx", False),
        ("/calls?q=1", False),
        ("/healthz", False),
    ],
)
def test_only_the_event_endpoint_is_an_event_request(path: str, is_event: bool) -> None:
    assert is_event_request(path) is is_event
    assert QuietEvents().filter(access_record(path)) is not is_event


@pytest.mark.parametrize("every_event", [False, True])
def test_the_access_log_leaves_events_out_unless_told(
    every_event: bool, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tests.access")
    filters = access_log_filters(every_event)
    for access_filter in filters:
        logger.addFilter(access_filter)
    caplog.set_level(logging.INFO, logger="tests.access")
    try:
        for path in ("/synapse/events/s3cret?data=%7B%7D", "/healthz"):
            logger.handle(access_record(path))  # Logger.handle applies the logger's filters
    finally:
        for access_filter in filters:
            logger.removeFilter(access_filter)
    healthz = '10.0.0.5:4000 - "GET /healthz HTTP/1.1" 200'
    event = '10.0.0.5:4000 - "GET /synapse/events/[redacted]?data=%7B%7D HTTP/1.1" 200'
    assert caplog.messages == ([event, healthz] if every_event else [healthz])


@pytest.mark.parametrize("every_event", [False, True])
def test_serve_logs_no_access_line_per_event_unless_told(tmp_path: Path, every_event: bool) -> None:
    env = {"DASHBOARD_LOG_EVERY_EVENT": "on"} if every_event else {}
    server = DashboardProcess(tmp_path, **env)
    server.start()
    try:
        with httpx.Client(timeout=10, trust_env=False) as http:
            sent = http.get(server.events_url, params={"data": CALL_START})
            assert sent.status_code == 200, sent.text
            assert http.get(server.base_url + "/healthz").status_code == 200
        wait_until(lambda: '"GET /healthz' in server.log(), 10, "the access line of /healthz")
    finally:
        server.stop()
    requests = [
        line.split('"')[1].split("?")[0] for line in server.log().splitlines() if '"GET /' in line
    ]
    # /healthz: polled by the start, and by this test.
    assert set(requests) == (
        {"GET /synapse/events", "GET /healthz HTTP/1.1"}
        if every_event
        else {"GET /healthz HTTP/1.1"}
    )
    assert requests.count("GET /synapse/events") == every_event
