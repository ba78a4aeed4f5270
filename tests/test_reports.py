"""Reports: figures per period in the PBX's zone with a business day's start, CSV tables."""

from __future__ import annotations

import csv
import html
import io
import re
import sqlite3
from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from dashboard.calls import Call, Status
from dashboard.reports import ReportError, build_report, period_words
from dashboard.store import Store
from tests.conftest import USUAL, Moment, at_edges, parts_of, sign_in

KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = USUAL.at


def finished(
    uniqueid: str,
    started: datetime,
    extension: str,
    *,
    answered: bool,
    direction: str = "incoming",
    talk: int = 60,
    ring: int = 10,
) -> Call:
    return Call(
        host="h",
        uniqueid=uniqueid,
        status=Status.FINISHED,
        direction=direction,
        number="98765",
        extension=extension,
        start_time=started,
        answer_time=started + timedelta(seconds=ring) if answered else None,
        end_time=started + timedelta(seconds=ring + talk),
        duration=ring + talk,
        billable_seconds=talk if answered else 0,
        disposition="answered" if answered else "no_answer",
        cdr_seen=True,
        first_seen_at=started,
    )


@pytest.fixture
def store() -> Store:
    store = Store(sqlite3.connect(":memory:", isolation_level=None))
    local = lambda day, hour: datetime(2026, 11, day, hour, tzinfo=KOLKATA)  # noqa: E731
    calls = [
        finished("1", local(23, 10), "40", answered=True, talk=120, ring=5),  # Monday 10:00
        finished("2", local(23, 10), "40", answered=False),
        finished("3", local(24, 14), "41", answered=True, talk=60, ring=15),  # Tuesday 14:00
        finished("4", local(24, 3), "41", answered=False, direction="outgoing"),  # night shift
        finished("5", local(20, 10), "40", answered=True),  # before the period
    ]
    store.record_events([(call.first_seen_at, "CallFinish", "{}", call) for call in calls])
    return store


def test_totals_by_extension_heat_map_and_days(store: Store) -> None:
    report = build_report(store.db.conn, date(2026, 11, 23), date(2026, 11, 24), KOLKATA, time(0))
    total = report.total
    assert (total.calls, total.answered, total.missed, total.talk) == (4, 2, 1, 180)
    # The rate is over incoming calls: the unanswered outgoing call 4 is not a missed caller.
    assert (total.answer_rate, total.average_talk, total.average_ring) == (2 / 3, 90, 10)
    rows = {ext: (f.calls, f.answered, f.missed) for ext, f in report.extension_rows()}
    assert rows == {"40": (2, 1, 1), "41": (2, 1, 0)}
    assert report.heat[0][10] == 2 and report.heat[1][14] == 1 and report.heat[1][3] == 1
    assert [(day.day, f.calls) for day, f in report.by_day.items()] == [(23, 2), (24, 2)]
    by_calls = [ext for ext, _ in report.extension_rows("answer_rate", descending=True)]
    assert by_calls == ["41", "40"]


def test_a_business_day_that_starts_at_six(store: Store) -> None:
    report = build_report(store.db.conn, date(2026, 11, 23), date(2026, 11, 24), KOLKATA, time(6))
    # The 03:00 call on the 24th belongs to the 23rd's night shift.
    assert [(day.day, f.calls) for day, f in report.by_day.items()] == [(23, 3), (24, 1)]


def test_extensions_narrow_the_report(store: Store) -> None:
    report = build_report(
        store.db.conn, date(2026, 11, 23), date(2026, 11, 24), KOLKATA, time(0), ["41"]
    )
    assert (report.total.calls, list(report.by_extension)) == (2, ["41"])


def test_bad_periods_are_refused(store: Store) -> None:
    with pytest.raises(ReportError):
        build_report(store.db.conn, date(2026, 11, 24), date(2026, 11, 23), KOLKATA, time(0))
    with pytest.raises(ReportError):
        build_report(store.db.conn, date(2024, 1, 1), date(2026, 1, 1), KOLKATA, time(0))


@at_edges
def test_the_reports_page_and_its_csv_tables(client: TestClient, moment: Moment) -> None:
    midnight = datetime.combine(moment.today, time(), moment.tz)  # today's first moment
    calls = [
        finished("p.1", moment.at - timedelta(minutes=1), "70", answered=True),
        finished("p.2", midnight, "70", answered=False),
        finished("p.3", midnight - timedelta(microseconds=1), "70", answered=False),
        finished("p.4", midnight - timedelta(days=6), "70", answered=True),  # the first day
        finished("p.5", midnight - timedelta(days=6, microseconds=1), "70", answered=True),
    ]
    parts_of(client).store.record_events(
        [(call.first_seen_at, "CallFinish", "{}", call) for call in calls]
    )
    page = client.get("/reports", params={"period": "7d"})
    assert page.status_code == 200 and "<svg" in page.text and "By extension" in page.text
    daily = list(
        csv.reader(
            io.StringIO(client.get("/reports.csv", params={"period": "7d", "table": "daily"}).text)
        )
    )
    assert daily[0][:4] == ["day", "calls", "answered", "missed"]
    days = [moment.today - timedelta(days=n) for n in range(6, -1, -1)]
    on_day = Counter(
        call.start_time.astimezone(moment.tz).date() for call in calls if call.start_time
    )
    assert [(row[0], int(row[1])) for row in daily[1:]] == [
        (day.isoformat(), on_day[day]) for day in days
    ]
    heat = client.get("/reports.csv", params={"period": "7d", "table": "heatmap"}).text
    assert heat.splitlines()[0].startswith("weekday,00:00")
    assert client.get("/reports", params={"period": "all"}).status_code == 422
    assert client.get("/reports.csv", params={"table": "nope"}).status_code == 422
    sign_in(client, "agent")
    assert client.get("/reports").status_code == 403


def text_of(html_part: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html_part).split())


def kpis(page: str) -> dict[str, tuple[str, str]]:
    """Each total as the page shows it: its label -> (its value, what it is over)."""
    section = page.split('<section class="kpis" aria-label="Totals">')[1].split("</section>")[0]
    found = re.findall(
        r'<span class="counter-value">([^<]*)</span><span class="counter-label">([^<]*)</span>'
        r'<span class="counter-basis">([^<]*)</span>',
        section,
    )
    return {label: (value, html.unescape(basis)) for value, label, basis in found}


@pytest.fixture
def reported(client: TestClient) -> TestClient:
    local = lambda day, hour: datetime(2026, 11, day, hour, tzinfo=KOLKATA)  # noqa: E731
    calls = [
        finished("1", local(23, 10), "40", answered=True, talk=120, ring=5),  # Monday 10:00
        finished("2", local(23, 10), "40", answered=False),
        finished("3", local(24, 14), "41", answered=True, talk=60, ring=15),  # Tuesday 14:00
        finished("4", local(24, 3), "41", answered=False, direction="outgoing"),
    ]
    parts_of(client).store.record_events([(NOW, "CallFinish", "{}", call) for call in calls])
    return client


PERIOD = {"period": "custom", "from": "2026-11-23", "to": "2026-11-24"}


def test_every_report_figure_says_what_it_is_over(reported: TestClient) -> None:
    page = reported.get("/reports", params=PERIOD).text
    over = re.search(r'<p class="report-over">([^<]*)</p>', page)
    assert over is not None and over[1] == (
        "Finished calls started 23\N{EN DASH}24 Nov 2026, every extension"
        " (days in Asia/Kolkata time)."
    )
    assert kpis(page) == {
        "Calls": ("4", "every finished call, 23\N{EN DASH}24 Nov 2026"),
        "Answered": ("2", "of the 4 calls, any direction"),
        "Missed": ("1", "incoming calls nobody answered"),
        "Answer rate": ("67%", "answered ÷ offered incoming calls: 2 ÷ 3"),
        "Average talk": ("1:30", "per answered call, over 2"),
        "Total talk": ("3:00", "of the 2 answered calls"),
        "Average ring": ("0:10", "before an answer, over 2 answered calls"),
    }
    rates = [text_of(cell) for cell in re.findall(r'<td class="report-rate">(.*?)</td>', page)]
    assert rates == ["50% 1 of 2", "100% 1 of 1"]
    days = page.split('<ol class="trend-days" aria-hidden="true">')[1].split("</ol>")[0]
    assert re.findall(r"<li>([^<]*)</li>", days) == ["23 Nov", "24 Nov"]  # HTML, not stretched
    legend = re.search(r'<p class="legend">(.*?)</p>', page, re.S)
    assert legend is not None and text_of(legend[1]).endswith(
        "the busiest day, the full height, had 2 calls"
    )


def test_the_heat_map_has_a_scale_from_nothing_to_its_busiest_hour(reported: TestClient) -> None:
    page = reported.get("/reports", params=PERIOD).text
    scale = page.split('<p class="heat-scale"')[1].split("</p>")[0]
    keys = re.findall(r'fill-opacity="([0-9.]+)"></rect></svg>(\d+)</span>', scale)
    assert keys == [("0.06", "0"), ("0.53", "1"), ("1.00", "2")]  # Monday 10:00 had 2
    cells = re.findall(r'class="cell" fill-opacity="([0-9.]+)"><title>Mon 10:00, 2 calls<', page)
    assert cells == ["1.00"]


def test_an_empty_period_says_no_calls_rather_than_drawing_nothing(reported: TestClient) -> None:
    empty = {"period": "custom", "from": "2026-10-01", "to": "2026-10-31"}
    page = reported.get("/reports", params=empty).text
    assert page.count("No calls in this period.") == 3  # the table, the heat map, the days
    assert "busiest" not in page and "tallest" not in page and 'class="chart' not in page
    assert kpis(page)["Answer rate"] == ("-", "answered ÷ offered incoming calls: 0 ÷ 0")


@pytest.mark.parametrize(
    ("first", "last", "words"),
    [
        (date(2026, 11, 27), date(2026, 11, 27), "27 Nov 2026"),
        (date(2026, 11, 1), date(2026, 11, 30), "1\N{EN DASH}30 Nov 2026"),
        (date(2026, 10, 29), date(2026, 11, 27), "29 Oct \N{EN DASH} 27 Nov 2026"),
        (date(2026, 12, 26), date(2027, 1, 1), "26 Dec 2026 \N{EN DASH} 1 Jan 2027"),
    ],
)
def test_a_period_in_words(first: date, last: date, words: str) -> None:
    assert period_words(first, last) == words
