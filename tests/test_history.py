"""Call history: every filter, keyset pages that lose and repeat nothing, the export, the API."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import random
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from dashboard.calls import Call, Status
from dashboard.history import SORTS, FilterError, History, parse_filters
from dashboard.results import RESULTS, result_of, result_word
from dashboard.seed import seed
from dashboard.views.history import spreadsheet_safe
from tests.conftest import (
    CALL_FINISH,
    CALL_START,
    USUAL,
    Moment,
    at_edges,
    just_finished,
    parts_of,
    send,
    sign_in,
)

NOW = USUAL.at


def day_edges(moment: Moment) -> list[datetime]:
    """Local midnights the periods start or end at, and the last microsecond before each."""
    midnights = [
        datetime.combine(moment.today - timedelta(days=days), time(), moment.tz)
        for days in (0, 1, 6, 7, 29, 30)
    ]
    return [t for m in midnights for t in (m, m - timedelta(microseconds=1))]


def history_calls(moment: Moment, count: int = 300) -> list[Call]:
    """Calls over the 40 days before the moment, some of them at the edges of its days."""
    rnd = random.Random(4)
    starts = [moment.at - timedelta(minutes=rnd.randrange(0, 60 * 24 * 40)) for _ in range(count)]
    starts[: len(day_edges(moment))] = day_edges(moment)
    calls = []
    for n, started in enumerate(starts):
        answered = rnd.random() < 0.6
        duration = rnd.randrange(0, 600)
        calls.append(
            Call(
                host=rnd.choice(("192.168.1.51", "192.168.1.52")),
                uniqueid=f"h.{n}",
                status=Status.FINISHED,
                direction=rnd.choice(("incoming", "outgoing")),
                number=rnd.choice(("9876543210", "5550100", "+919812345678", "7001")),
                extension=rnd.choice(("40", "41", "70")),
                start_time=started,
                answer_time=started + timedelta(seconds=5) if answered else None,
                end_time=started + timedelta(seconds=duration),
                duration=duration,
                billable_seconds=max(0, duration - 5) if answered else 0,
                disposition="answered" if answered else rnd.choice(("no_answer", "busy")),
                cdr_seen=True,
                first_seen_at=started,
            )
        )
    return calls


@pytest.fixture
def filled(client: TestClient, moment: Moment) -> tuple[TestClient, list[Call]]:
    calls = history_calls(moment)
    parts_of(client).store.record_events(
        [(call.first_seen_at, "CallFinish", "{}", call) for call in calls]
    )
    return client, calls


def expected(calls: list[Call], moment: Moment, **params: str) -> set[str]:
    filters = parse_filters(params, moment.tz, moment.today)
    keep = []
    for call in calls:
        started = call.started_at
        assert started is not None
        if (filters.start and started < filters.start) or (filters.end and started >= filters.end):
            continue
        if filters.extension and call.extension != filters.extension:
            continue
        if filters.direction and call.direction != filters.direction:
            continue
        if filters.disposition and call.disposition != filters.disposition:
            continue
        if filters.number and filters.number not in (call.number or ""):
            continue
        if filters.min_duration and (call.duration or 0) < filters.min_duration:
            continue
        if filters.host and call.host != filters.host:
            continue
        keep.append(call.uniqueid)
    return set(keep)


def every_page(client: TestClient, **params: str) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        query = {**params, "limit": "7", **({"after": after} if after else {})}
        body: dict[str, Any] = client.get("/api/calls", params=query).json()
        seen.extend(call["uniqueid"] for call in body["calls"])
        after = body["next"]
        if after is None:
            return seen


PERIODS = [
    {"period": "today"},
    {"period": "yesterday"},
    {"period": "7d"},
    {"period": "30d", "extension": "70"},
    {"period": "custom", "from": "-20", "to": "-10"},  # days before today
    {"period": "custom", "from": "-1", "to": "0"},
]
FILTER_SETS = [
    {"period": "all"},
    {"period": "all", "direction": "incoming", "disposition": "no_answer"},
    {"period": "all", "number": "98123"},
    {"period": "all", "min_duration": "300", "host": "192.168.1.52"},
]


def on_days_of(moment: Moment, params: dict[str, str]) -> dict[str, str]:
    """A custom period's days, given as days before the moment's day, as dates."""
    days = {
        name: (moment.today + timedelta(days=int(params[name]))).isoformat()
        for name in ("from", "to")
        if name in params
    }
    return params | days


@at_edges
@pytest.mark.parametrize("params", PERIODS)
def test_every_period_over_every_page_finds_exactly_the_calls_of_its_days(
    filled: tuple[TestClient, list[Call]], moment: Moment, params: dict[str, str]
) -> None:
    client, calls = filled
    params = on_days_of(moment, params)
    seen = every_page(client, **params)
    assert len(seen) == len(set(seen)), "a call was repeated across pages"
    assert set(seen) == expected(calls, moment, **params)


@pytest.mark.parametrize("params", FILTER_SETS)
def test_every_filter_over_every_page_finds_exactly_the_matching_calls(
    filled: tuple[TestClient, list[Call]], moment: Moment, params: dict[str, str]
) -> None:
    client, calls = filled
    seen = every_page(client, **params)
    assert len(seen) == len(set(seen)), "a call was repeated across pages"
    assert set(seen) == expected(calls, moment, **params)


@pytest.mark.parametrize("sort", ["started", "duration", "extension", "number"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sorted_pages_are_in_order_and_complete(
    filled: tuple[TestClient, list[Call]], sort: str, order: str
) -> None:
    client, calls = filled
    seen = every_page(client, period="all", sort=sort, order=order)
    assert sorted(seen) == sorted(call.uniqueid for call in calls)
    by_id = {call.uniqueid: call for call in calls}
    key = {
        "started": lambda c: c.started_at,
        "duration": lambda c: c.duration,
        "extension": lambda c: c.extension,
        "number": lambda c: c.number,
    }[sort]
    values = [key(by_id[uniqueid]) for uniqueid in seen]
    assert values == sorted(values, reverse=order == "desc")


def test_the_export_holds_every_matching_row(
    filled: tuple[TestClient, list[Call]], moment: Moment
) -> None:
    client, calls = filled
    response = client.get("/calls.csv", params={"period": "30d", "direction": "outgoing"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    matching = expected(calls, moment, period="30d", direction="outgoing")
    assert {row["uniqueid"] for row in rows} == matching
    assert len(rows) == len(matching)
    page = client.get("/calls", params={"period": "30d", "direction": "outgoing"}).text
    assert f"Export all {len(rows):,} as CSV" in page


def test_a_formula_in_a_caller_id_is_defused_in_the_export(client: TestClient) -> None:
    hostile = Call(
        host="h",
        uniqueid="x.1",
        status=Status.FINISHED,
        number="=HYPERLINK(1)",
        first_seen_at=NOW,
        cdr_seen=True,
    )
    parts_of(client).store.record_event(NOW, "CallFinish", "{}", hostile)
    text = client.get("/calls.csv", params={"period": "all"}).text
    assert "'=HYPERLINK(1)" in text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "someday"}, "period must be"),
        ({"period": "custom"}, "needs both"),
        ({"extension": "7O"}, "extension must be"),
        ({"sort": "name"}, "sort must be"),
        ({"period": "custom", "from": "2026-02-30", "to": "2026-03-01"}, "from must be"),
        ({"after": "bm9wZQ"}, "page link is damaged"),
        ({"period": "custom", "from": "9999-12-31", "to": "9999-12-31"}, "between 1970"),
        ({"period": "custom", "from": "0001-01-01", "to": "0001-01-02"}, "between 1970"),
        (
            {"after": "WzEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAsICJoIiwgInUiXQ"},
            "page link is damaged",
        ),
    ],
)
def test_bad_filters_get_a_clear_message(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    response = client.get("/api/calls", params=params)
    assert response.status_code == 422 and message in response.json()["detail"]
    assert message in client.get("/calls", params=params).text


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


DAMAGED = {"error": "bad_filter", "detail": "the page link is damaged: start from the first page"}
BAD_CURSORS = {
    "lists 10,000 deep": cursor("[" * 10_000 + "]" * 10_000),
    "objects 5,000 deep": cursor('{"a":' * 5_000 + "1" + "}" * 5_000),
    "over 32 KiB": cursor(json.dumps(["2026-11-27", "h", "u" * 30_000])),
    "a lone surrogate": cursor('["\\ud800", "192.168.1.51", "1.1"]'),
    "a boolean key": cursor('[true, "192.168.1.51", "1.1"]'),
    "a number for a host": cursor('["2026-11-27", 51, "1.1"]'),
    "a float key": cursor('[1e309, "192.168.1.51", "1.1"]'),
    "two values": cursor('["2026-11-27", "192.168.1.51"]'),
    "an object": cursor('{"after": "1.1"}'),
    "not base64": "!!!!",
    "not UTF-8": base64.urlsafe_b64encode(b"\xff\xfe").decode(),
}


@pytest.mark.parametrize("after", BAD_CURSORS.values(), ids=BAD_CURSORS)
def test_a_crafted_page_link_gets_a_clear_refusal(client: TestClient, after: str) -> None:
    api = client.get("/api/calls", params={"after": after})
    assert (api.status_code, api.json()) == (422, DAMAGED)
    page = client.get("/calls", params={"after": after})
    assert page.status_code == 422 and DAMAGED["detail"] in page.text


def test_a_limit_that_is_not_a_number_is_named(client: TestClient) -> None:
    for limit in ("1e309", "ten", "9" * 5000):
        response = client.get("/api/calls", params={"limit": limit})
        assert (response.status_code, response.json()) == (
            422,
            {"error": "bad_filter", "detail": "limit must be a whole number"},
        )


def test_agents_see_only_their_own_extension(filled: tuple[TestClient, list[Call]]) -> None:
    client, calls = filled
    sign_in(client, "agent")  # extension 70
    seen = every_page(client, period="all")
    assert set(seen) == {call.uniqueid for call in calls if call.extension == "70"}
    other = next(call for call in calls if call.extension == "40")
    assert client.get(f"/calls/{other.uniqueid}").status_code == 404
    mine = next(call for call in calls if call.extension == "70")
    assert client.get(f"/calls/{mine.uniqueid}").status_code == 200


def test_a_call_page_shows_every_field_and_the_events(client: TestClient) -> None:
    for sample in (CALL_START, CALL_FINISH):
        assert client.get("/synapse/events?data=" + quote(sample)).status_code == 200
    page = client.get("/calls/1430819361.25418").text
    assert "hangupchannel" in page and "SIP/700000418d" in page
    assert page.count("<td>CallStart</td>") == 1 and page.count("<td>CallFinish</td>") == 1


HOURS_IN_THE_DAY = {"dst-spring": 23, "dst-spring-late": 23, "dst-autumn-late": 25}


@at_edges
def test_parse_filters_reads_periods_in_the_pbx_zone(moment: Moment) -> None:
    tz, today = moment.tz, moment.today
    filters = parse_filters({"period": "yesterday"}, tz, today)
    assert filters.start == datetime.combine(today - timedelta(days=1), time(), tz)
    assert filters.end == datetime.combine(today, time(), tz)
    filters = parse_filters({"period": "today"}, tz, today)
    assert filters.start is not None and filters.end is not None
    assert filters.start <= moment.at < filters.end
    length = filters.end.astimezone(UTC) - filters.start.astimezone(UTC)  # in real hours
    assert length == timedelta(hours=HOURS_IN_THE_DAY.get(moment.label, 24))
    assert (filters.start.astimezone(tz).hour, filters.end.astimezone(tz).hour) == (0, 0)
    filters = parse_filters({"period": "7d"}, tz, today)
    assert filters.start == datetime.combine(today - timedelta(days=6), time(), tz)
    with pytest.raises(FilterError):
        parse_filters(
            {"period": "custom", "from": today.isoformat(), "to": "2026-01-01"}, tz, today
        )


def test_the_export_names_each_caller_after_the_number(client: TestClient) -> None:
    parts_of(client).contacts.import_csv("number,name\n9876543210,=Asha Rao\n")
    calls = [
        Call(host="h", uniqueid="n.1", number="+919876543210", first_seen_at=NOW),
        Call(host="h", uniqueid="n.2", number="5550100111", extra={"callername": "Ravi K"}),
        Call(host="h", uniqueid="n.3", number="5550100222"),
    ]
    for n, call in enumerate(calls):
        done = replace(call, status=Status.FINISHED, first_seen_at=NOW - timedelta(minutes=n))
        parts_of(client).store.record_event(NOW, "CallFinish", "{}", done)
    rows = list(csv.reader(io.StringIO(client.get("/calls.csv", params={"period": "all"}).text)))
    assert rows[0][:6] == ["started_at", "answered_at", "ended_at", "direction", "number", "name"]
    assert [(row[4], row[5]) for row in rows[1:]] == [
        ("+919876543210", "'=Asha Rao"),  # a formula in a name is defused as in a number
        ("5550100111", "Ravi K"),
        ("5550100222", ""),
    ]


def varied_calls(moment: Moment, count: int = 130) -> list[Call]:
    """Calls of every result (live ones too), some with recordings, many sharing a start, a
    length or a talk time (so that ties are broken by host and uniqueid)."""
    rnd = random.Random(16)
    calls = []
    for n in range(count):
        started = moment.at - timedelta(minutes=rnd.choice((5, 60, 600, 3000)))
        status = rnd.choice((Status.FINISHED,) * 6 + (Status.RINGING, Status.CONNECTED))
        ends = ("answered", "no_answer", "busy", "failed", "congestion", "expired", "lost")
        disposition = rnd.choice((*ends, "closed", None))
        answered = disposition == "answered" or (disposition is None and rnd.random() < 0.5)
        finished = status is Status.FINISHED
        calls.append(
            Call(
                host=rnd.choice(("192.168.1.51", "192.168.1.52")),
                uniqueid=f"v.{n}",
                status=status,
                direction=rnd.choice(("incoming", "outgoing", "internal", None)),
                number=rnd.choice(("9876543210", "5550100", None)),
                extension=rnd.choice(("40", "41", None)),
                start_time=started,
                answer_time=started + timedelta(seconds=5) if answered else None,
                end_time=started + timedelta(seconds=60) if finished else None,
                duration=rnd.choice((0, 60, 95, None)) if finished else None,
                billable_seconds=rnd.choice((0, 55, None)) if answered else None,
                disposition=disposition if finished else None,
                recordlink=rnd.choice(("", "http://192.168.1.51/rec/a.wav", None)),
                cdr_seen=finished and disposition is not None,
                first_seen_at=started,
            )
        )
    return calls


@pytest.fixture
def varied(client: TestClient, moment: Moment) -> tuple[TestClient, list[Call]]:
    calls = varied_calls(moment)
    parts_of(client).store.record_events([(NOW, "CallStart", "{}", call) for call in calls])
    return client, calls


def test_every_call_has_one_result_and_each_result_filter_finds_exactly_its_calls(
    varied: tuple[TestClient, list[Call]],
) -> None:
    client, calls = varied
    found = {key: sorted(every_page(client, period="all", result=key)) for key in RESULTS}
    wanted = {
        key: sorted(call.uniqueid for call in calls if result_of(call) == key) for key in RESULTS
    }
    assert found == wanted
    assert all(wanted.values()), "the calls do not hold every result"


def test_the_result_filter_offers_the_words_the_table_shows(
    varied: tuple[TestClient, list[Call]],
) -> None:
    client, calls = varied
    page = client.get("/calls", params={"period": "all", "result": "missed"}).text
    select = page.split('<select name="result">')[1].split("</select>")[0]
    assert re.findall(r">([^<]+)</option>", select) == ["Any", *RESULTS.values()]
    assert '<option value="missed" selected>Missed</option>' in select
    cells = re.findall(r'<td class="history-result">(?:<span[^>]*>)?([^<]+)<', page)
    missed = sum(1 for call in calls if result_of(call) == "missed")
    assert cells == ["Missed"] * missed
    words = re.findall(
        r'<td class="history-result">(?:<span[^>]*>)?([^<]+)<',
        client.get("/calls", params={"period": "all", "sort": "result"}).text,
    )
    assert set(words) <= set(RESULTS.values()) and "ringing" not in words


SORT_KEYS: dict[str, Callable[[Call], Any]] = {
    "started": lambda c: c.started_at,
    "direction": lambda c: c.direction or "",
    "number": lambda c: c.number or "",
    "extension": lambda c: c.extension or "",
    "result": result_word,
    "duration": lambda c: -1 if c.duration is None else c.duration,
    "talk": lambda c: -1 if c.billable_seconds is None else c.billable_seconds,
    "recording": lambda c: bool(c.recordlink),
}


def in_order(calls: list[Call], sort: str, order: str) -> list[str]:
    key = SORT_KEYS[sort]
    ordered = sorted(calls, key=lambda c: (key(c), c.host, c.uniqueid), reverse=order == "desc")
    return [call.uniqueid for call in ordered]


def pages_backwards(client: TestClient, **params: str) -> list[list[str]]:
    """From the last page (`before` with no cursor) to the first, by `previous`."""
    pages: list[list[str]] = []
    before = ""
    while before is not None:
        query = {**params, "limit": "9", "before": before}
        body: dict[str, Any] = client.get("/api/calls", params=query).json()
        pages.insert(0, [call["uniqueid"] for call in body["calls"]])
        before = body["previous"]
    return pages


def test_the_sorts_cover_every_column_of_the_table() -> None:
    assert set(SORTS) == set(SORT_KEYS)


@pytest.mark.parametrize("sort", list(SORT_KEYS))
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_every_column_sorts_in_a_stable_order_forwards_and_backwards(
    varied: tuple[TestClient, list[Call]], sort: str, order: str
) -> None:
    client, calls = varied
    wanted = in_order(calls, sort, order)
    assert every_page(client, period="all", sort=sort, order=order) == wanted
    backwards = pages_backwards(client, period="all", sort=sort, order=order)
    assert [uniqueid for page in backwards for uniqueid in page] == wanted
    assert len(backwards[-1]) == 9, "reading backwards starts from a full last page"


def walk_pages(history: History, filters: Any, size: int) -> tuple[list[str], list[str]]:
    """Every call, by `next` from the first page, and by `previous` from the last."""
    forwards: list[str] = []
    after = None
    while True:
        page = history.page(filters, None, after, size)
        forwards.extend(call.uniqueid for call in page.calls)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    backwards: list[str] = []
    before: str | None = ""
    while before is not None:
        page = history.page(filters, None, None, size, before=before)
        backwards[:0] = [call.uniqueid for call in page.calls]
        before = page.previous_cursor
    return forwards, backwards


@pytest.mark.parametrize("sort", list(SORT_KEYS))
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_sort_read_in_its_own_index_pages_as_the_sorted_one_does(
    varied: tuple[TestClient, list[Call]], moment: Moment, sort: str, order: str
) -> None:
    client, calls = varied
    filters = parse_filters(
        {"period": "all", "sort": sort, "order": order}, moment.tz, moment.today
    )
    walked = History(parts_of(client).store, sort_at_most=0)  # always the sort's index
    wanted = in_order(calls, sort, order)
    assert walk_pages(walked, filters, 9) == (wanted, wanted)


@pytest.mark.parametrize("sort", [sort for sort in SORT_KEYS if sort != "started"])
def test_a_page_in_a_sorts_index_seeks_the_rest_of_its_key_then_the_keys_past_it(
    varied: tuple[TestClient, list[Call]], moment: Moment, sort: str
) -> None:
    client, _ = varied
    store = parts_of(client).store
    filters = parse_filters({"period": "30d", "sort": sort}, moment.tz, moment.today)
    walked = History(store, sort_at_most=0)
    cursor = walked.page(filters, None, None, 9).next_cursor
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    walked.page(filters, None, cursor, 100)  # past the cursor's key (no key has 100 calls)
    store.db.conn.set_trace_callback(None)
    rows = [sql for sql in seen if sql.startswith("SELECT *")]
    plans = [
        "; ".join(row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + sql)) for sql in rows
    ]
    # The finished calls in order in the sort's index, from a seek (never a scan of a whole
    # key); the live ones (few) sorted beside them; the two merged.
    live = "RIGHT; SCAN calls USING INDEX idx_calls_live; USE TEMP B-TREE FOR ORDER BY"
    index = f"SEARCH calls USING INDEX idx_calls_by_{sort}"
    assert plans == [
        f"MERGE (UNION ALL); LEFT; {index} (<expr>=? AND (host,uniqueid)<(?,?)); {live}",
        f"MERGE (UNION ALL); LEFT; {index} (<expr><?); {live}",
    ]


def test_past_five_thousand_calls_a_page_counts_no_further(
    client: TestClient, moment: Moment
) -> None:
    store = parts_of(client).store
    seed(
        store,
        5_060,
        days=2,
        tz=moment.tz,
        host="192.168.1.51",
        extensions=("40", "41"),
        now=NOW,
        seed=1,
    )
    first = client.get("/calls", params={"period": "all"}).text
    summary = re.search(r'<p class="history-summary">([^<]+)<', first)
    assert summary is not None and summary[1].split() == ["5,000+", "calls", "found."]
    assert "Export all 5,000+ as CSV" in first
    assert pager(first)["position"] == "Page 1 of 100+"
    last = client.get("/calls", params={"period": "all", "before": ""}).text
    assert pager(last)["position"] == "Beyond page 100"
    assert last.count('<td class="history-result">') == 50


def pager(page: str) -> dict[str, str]:
    nav = page.split('<nav class="pager" aria-label="Pages">')[1].split("</nav>")[0]
    links = dict(re.findall(r'<a href="([^"]+)" rel="(\w+)">', nav))
    words = {rel: href for href, rel in links.items()}
    position = re.search(r'<span class="pager-position">([^<]+)</span>', nav)
    return words | {"position": position[1] if position else ""}


def test_the_history_pages_say_where_they_are_and_go_both_ways(
    varied: tuple[TestClient, list[Call]],
) -> None:
    client, calls = varied  # 130 calls: pages of 50, 50 and 30
    wanted = in_order(calls, "talk", "asc")

    def shown(url: str) -> tuple[list[str], dict[str, str]]:
        page = client.get(url.replace("&amp;", "&")).text
        ids = re.findall(r'href="/calls/([^"?]+)\?host=', page)
        return ids, pager(page)

    first_url = "/calls?period=all&sort=talk&order=asc"
    ids, nav = shown(first_url)
    assert (ids, nav["position"], set(nav)) == (
        wanted[:50],
        "Page 1 of 3",
        {"next", "last", "position"},
    )
    ids, nav = shown(nav["next"])
    assert (ids, nav["position"], set(nav)) == (
        wanted[50:100],
        "Page 2 of 3",
        {"first", "prev", "next", "last", "position"},
    )
    ids, last = shown(nav["last"])
    assert (ids, last["position"], set(last)) == (
        wanted[100:],
        "Page 3 of 3",
        {"first", "prev", "position"},
    )
    ids, nav = shown(last["prev"])
    assert (ids, nav["position"]) == (wanted[50:100], "Page 2 of 3")
    ids, nav = shown(nav["prev"])
    assert (ids, nav["position"], set(nav)) == (
        wanted[:50],
        "Page 1 of 3",
        {"next", "last", "position"},
    )


def call_summary(page: str) -> dict[str, str]:
    """The call page's summary: its title, then each term and what it says, as read."""
    title = page.split('<h2 class="call-title">')[1].split("</h2>")[0]
    summary = page.split('<dl class="call-summary">')[1].split("</dl>")[0]
    terms = re.findall(r"<dt>([^<]+)</dt><dd[^>]*>(.*?)</dd>", summary)

    def text(html: str) -> str:
        return " ".join(re.sub(r"<[^>]+>", " ", html).split())

    return {"title": text(title)} | {term: text(said) for term, said in terms}


def test_a_call_page_says_first_in_words_who_called_whom_when_and_how_it_went(
    client: TestClient,
) -> None:
    parts_of(client).accounts.add_user("ravi", "agent", "a long password", "70")
    for sample in (CALL_START, CALL_FINISH):
        assert client.get("/synapse/events?data=" + quote(sample)).status_code == 200
    page = client.get("/calls/1430819361.25418").text
    assert call_summary(page) == {
        "title": "Extension 70 called 9876543XXX",
        "When": "Tue 05 May 2015, 15:19:21 (Asia/Kolkata time)",
        "Rang": "0:08",
        "Talked": "0:07",
        "Result": "Answered",
        "Agent": "ravi (extension 70)",
    }
    summary_at = page.index('<dl class="call-summary">')
    assert summary_at < page.index("data-player") < page.index('<details class="call-raw">')
    raw = page[page.index('<details class="call-raw">') :]
    assert "<summary>Every field, as stored</summary>" in raw and "hangupchannel" in raw
    assert "<summary>Events, as received (2)</summary>" in raw


def test_a_missed_and_a_ringing_call_say_so_in_words(client: TestClient, moment: Moment) -> None:
    caller = {"direction": "Incoming", "number": "9876543210", "extension": "41"}
    missed = just_finished(NOW, moment.tz, uniqueid="3.1", disposition="NO ANSWER")
    send(client, missed | caller | {"answertime": "", "billableseconds": "0"})
    assert call_summary(client.get("/calls/3.1").text) == {
        "title": "98765 43210 called extension 41",
        "When": "Fri 27 Nov 2026, 15:29:45 (Asia/Kolkata time)",
        "Rang": "0:15",
        "Talked": "nobody answered",
        "Result": "Missed",
        "Agent": "no user has extension 41",
    }
    send(client, json.loads(CALL_START) | caller | {"uniqueid": "3.2"})
    summary = call_summary(client.get("/calls/3.2").text)
    assert (summary["Rang"], summary["Talked"], summary["Result"]) == (
        "still ringing",
        "not yet answered",
        "Ringing",
    )


@pytest.mark.parametrize(
    ("back", "link"),
    [
        (None, "/calls"),
        (
            "period=30d&sort=talk&order=asc&result=missed",
            "/calls?period=30d&result=missed&sort=talk&order=asc",
        ),
        (
            "period=all&after=" + cursor('["2026-11-27", "h", "u"]'),
            "/calls?period=all&sort=started&order=desc&after=" + cursor('["2026-11-27", "h", "u"]'),
        ),
        ("period=all&before=", "/calls?period=all&sort=started&order=desc&before="),  # the last
        ("period=someday", "/calls"),
        ("after=bm9wZQ", "/calls"),
        ("javascript:alert(1)", "/calls?period=7d&sort=started&order=desc"),
        ("x" * 40_000, "/calls"),
    ],
)
def test_a_call_page_goes_back_to_the_history_it_came_from(
    client: TestClient, back: str | None, link: str
) -> None:
    send(client, json.loads(CALL_START))
    params = {"back": back} if back is not None else {}
    page = client.get("/calls/1430819361.25418", params=params).text
    found = re.search(
        r'<p class="call-back"><a href="([^"]*)">← Back to the call history</a>', page
    )
    assert found is not None and html.unescape(found[1]) == link


@pytest.mark.parametrize(
    ("cell", "exported"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("\uff1d1+1", "'\uff1d1+1"),  # a fullwidth equals sign: read as "=" too
        ("\uff0b1+1", "'\uff0b1+1"),  # a fullwidth plus sign
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+919876543210", "+919876543210"),  # a number stays as it is
        ("Ravi", "Ravi"),
        ("", ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_quoted(cell: str, exported: str) -> None:
    assert spreadsheet_safe(cell) == exported
