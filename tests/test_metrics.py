"""GET /metrics: the Prometheus text format, for supervisors and their API tokens."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.testclient import TestClient

from dashboard.metrics import Histogram
from tests.conftest import CALL_START, PASSWORD, parts_of


def test_metrics_count_events_viewers_and_time_writes(anonymous: TestClient) -> None:
    anonymous.get("/synapse/events?data=" + quote(CALL_START))
    anonymous.get("/synapse/events?data=nonsense")
    accounts = parts_of(anonymous).accounts
    accounts.add_user("prometheus", "supervisor", PASSWORD)
    token = accounts.tokens.create("prometheus")
    bearer = {"authorization": f"Bearer {token}"}
    with anonymous.websocket_connect("/ws", headers=bearer) as viewer:
        viewer.receive_text()
        anonymous.get("/synapse/events?data=" + quote(CALL_START.replace("25418", "25419")))
        viewer.receive_text()
        text = anonymous.get("/metrics", headers=bearer).text
    assert "dashboard_events_accepted_total 2" in text
    assert 'dashboard_events_rejected_total{reason="not_json"} 1' in text
    assert "dashboard_viewers 1" in text and "dashboard_viewer_evictions_total 0" in text
    assert re.search(r"dashboard_db_write_seconds_count 2\n", text)
    assert re.search(r'dashboard_fanout_seconds_bucket\{le="\+Inf"\} [12]\n', text)
    for line in text.splitlines():  # every sample line is NAME{LABELS} VALUE
        assert line.startswith("# ") or re.fullmatch(r"[a-z_]+(\{[^}]*\})? [0-9.e+-]+", line), line


def test_metrics_are_not_for_everyone(anonymous: TestClient) -> None:
    assert anonymous.get("/metrics", follow_redirects=False).status_code == 401
    accounts = parts_of(anonymous).accounts
    accounts.add_user("tv", "viewer", PASSWORD)
    assert (
        anonymous.get(
            "/metrics", headers={"authorization": f"Bearer {accounts.tokens.create('tv')}"}
        ).status_code
        == 403
    )


def test_a_histogram_renders_cumulative_buckets() -> None:
    histogram = Histogram("x_seconds", "X.", buckets=(0.1, 1.0))
    for value in (0.05, 0.5, 0.5, 3.0):
        histogram.observe(value, action="hangup")
    assert list(histogram.render())[2:] == [
        'x_seconds_bucket{action="hangup",le="0.1"} 1',
        'x_seconds_bucket{action="hangup",le="1"} 3',
        'x_seconds_bucket{action="hangup",le="+Inf"} 4',
        'x_seconds_sum{action="hangup"} 4.05',
        'x_seconds_count{action="hangup"} 4',
    ]
