from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus, unquote, unquote_plus
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from dashboard.events import (
    CallEvent,
    EventError,
    EventKind,
    caller_id_name,
    extract_json,
    normalise_disposition,
    parse_event,
    percent_decode,
)
from tests.conftest import CALL_FINISH, CALL_START, FakeClock, parts_of, send

KOLKATA = ZoneInfo("Asia/Kolkata")
RECEIVED = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
LIMIT = 64 * 1024


def parse(raw_query: str = "", body: bytes = b"") -> CallEvent:
    _, obj = extract_json(raw_query, body, LIMIT)
    return parse_event(obj, tz=KOLKATA, default_host="pbx.example", received_at=RECEIVED)


def every_transport(sample: str) -> dict[str, tuple[str, bytes]]:
    return {
        "parameter, url-encoded": ("data=" + quote(sample, safe=""), b""),
        "parameter, form-encoded": ("data=" + quote_plus(sample), b""),
        "parameter, raw with \\/ escapes": ("data=" + sample, b""),
        "parameter with a token beside it": ("token=s3cret&json=" + quote(sample), b""),
        "parameter before a token": ("payload=" + sample + "&token=s3cret", b""),
        "raw query string": (sample, b""),
        "query string url-encoded": (quote(sample, safe=""), b""),
        "POST body": ("", sample.encode()),
        "POST form body": ("", ("data=" + quote_plus(sample)).encode()),
    }


def test_call_start_sample_is_read_the_same_way_whichever_way_it_arrives() -> None:
    expected = CallEvent(
        kind=EventKind.START,
        host="192.168.1.51",
        uniqueid="1430819361.25418",
        received_at=RECEIVED,
        direction="outgoing",
        number="9876543XXX",
        extension="70",
        hangupchannel="SIP/700000418d",
        redirectchannel="DAHDI/21",
    )
    for name, (query, body) in every_transport(CALL_START).items():
        assert parse(query, body) == expected, name


def test_call_finish_sample_is_read_in_the_pbx_time_zone() -> None:
    expected = CallEvent(
        kind=EventKind.FINISH,
        host="192.168.1.51",
        uniqueid="1430819361.25418",
        received_at=RECEIVED,
        direction="outgoing",
        number="9876543XXX",
        extension="70",
        start_time=datetime(2015, 5, 5, 15, 19, 21, tzinfo=KOLKATA),
        answer_time=datetime(2015, 5, 5, 15, 19, 29, tzinfo=KOLKATA),
        end_time=datetime(2015, 5, 5, 15, 19, 36, tzinfo=KOLKATA),
        duration=15,
        billable_seconds=7,
        disposition="answered",
        disposition_raw="Answered",
        recordlink="http://192.168.1.51/callrecord/2015/May/05052015/"
        "050520151430819361.25418639033917453.wav",
    )
    for name, (query, body) in every_transport(CALL_FINISH).items():
        assert parse(query, body) == expected, name
    assert expected.start_time is not None
    assert expected.start_time.astimezone(UTC) == datetime(2015, 5, 5, 9, 49, 21, tzinfo=UTC)


def test_the_guides_typographic_quotes_are_understood() -> None:
    for quote_mark in ("\u201c", "\u201d", "\u2033"):
        pasted = CALL_FINISH.replace('"', quote_mark)
        assert parse("data=" + pasted) == parse("data=" + CALL_FINISH)


def test_a_plus_sign_in_a_raw_query_is_kept() -> None:
    raw = CALL_START.replace("9876543XXX", "+919876543210")
    assert parse("data=" + raw).number == "+919876543210"
    assert parse("data=" + quote_plus(raw)).number == "+919876543210"


def test_fields_the_guide_does_not_name_are_kept() -> None:
    sample = json.loads(CALL_START) | {"callername": "Asha", "queue": {"id": 3}}
    event = parse("", json.dumps(sample).encode())
    assert event.extra == {"callername": "Asha", "queue": {"id": 3}}


def test_a_host_less_event_takes_the_configured_pbx_host() -> None:
    sample = json.loads(CALL_START)
    del sample["asteriskhost"]
    assert parse("", json.dumps(sample).encode()).host == "pbx.example"


def test_numbers_sent_as_numbers_and_empty_answer_times_are_accepted() -> None:
    sample = json.loads(CALL_FINISH) | {
        "extension": 70,
        "duration": 15,
        "billableseconds": 0,
        "answertime": "",
        "disposition": "NO ANSWER",
    }
    event = parse("", json.dumps(sample).encode())
    assert (event.extension, event.duration, event.billable_seconds) == ("70", 15, 0)
    assert (event.answer_time, event.disposition, event.disposition_raw) == (
        None,
        "no_answer",
        "NO ANSWER",
    )


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Answered", "answered"),
        ("ANSWERED", "answered"),
        ("No Answer", "no_answer"),
        ("NO ANSWER", "no_answer"),
        ("noanswer", "no_answer"),
        ("no_answer", "no_answer"),
        ("Busy", "busy"),
        ("FAILED", "failed"),
        ("Congestion", "congestion"),
        ("Left  Voicemail", "left_voicemail"),
    ],
)
def test_dispositions_are_normalised(raw: str, normalised: str) -> None:
    assert normalise_disposition(raw) == normalised


def test_event_names_are_case_insensitive() -> None:
    assert parse("data=" + CALL_START.replace("CallStart", "callstart")).kind is EventKind.START


def test_large_finite_numbers_and_whole_surrogate_pairs_are_kept_as_sent() -> None:
    body = b'{"event": "CallStart", "uniqueid": "1", "x": [1.5e308, 1e-999], "n": "\\ud83d\\ude00"}'
    assert parse(body=body).extra == {"x": [1.5e308, 0.0], "n": "\U0001f600"}


def test_what_another_parameter_holds_does_not_refuse_the_event() -> None:
    for other in ("x=1e999", "x=%5B1e999%5D", "x=%22%5Cud800%22"):
        assert parse(f"{other}&data=" + quote(CALL_START)).uniqueid == "1430819361.25418"


def refusal(raw_query: str = "", body: bytes = b"") -> tuple[str, int]:
    with pytest.raises(EventError) as caught:
        parse(raw_query, body)
    assert caught.value.detail  # every refusal says what is wrong
    return caught.value.reason, caught.value.status


def with_fields(**fields: object) -> bytes:
    return json.dumps(json.loads(CALL_START) | fields).encode()


@pytest.mark.parametrize(
    ("raw_query", "body", "expected"),
    [
        ("", b"", ("empty", 400)),
        ("data=hello", b"", ("not_json", 400)),
        ("data=" + quote("[1, 2]"), b"", ("not_json", 400)),
        ("", b"{not json", ("not_json", 400)),
        ("", b'{"event": NaN, "uniqueid": "1"}', ("not_json", 400)),
        ("", b"[" * 100_00 + b"]" * 100_00, ("not_json", 400)),
        ("token=" + quote(CALL_START), b"", ("empty", 400)),
        ("", with_fields(event=None), ("missing_field", 422)),
        ("", with_fields(uniqueid=""), ("missing_field", 422)),
        ("", with_fields(event="CallTeleport"), ("unknown_event", 422)),
        ("", with_fields(number={"a": 1}), ("wrong_type", 422)),
        ("", with_fields(extension=["70"]), ("wrong_type", 422)),
        ("", with_fields(uniqueid=True), ("wrong_type", 422)),
        ("", with_fields(duration="fifteen"), ("bad_value", 422)),
        ("", with_fields(duration=-3), ("bad_value", 422)),
        ("", with_fields(starttime="yesterday"), ("bad_value", 422)),
        ("", with_fields(starttime="2015023015:19:21"), ("bad_value", 422)),
        ("", with_fields(starttime="0001010100:00:00"), ("bad_value", 422)),
        ("", with_fields(endtime="9999-12-31T23:59:59-01:00"), ("bad_value", 422)),
        ("", with_fields(duration="\u00b2"), ("bad_value", 422)),
        ("", b'{"event": "CallStart", "uniqueid": "1", "number": "\\ud800"}', ("bad_value", 422)),
        ("", b'{"event": "CallStart", "uniqueid": "1", "x": {"y": [1e999]}}', ("bad_value", 422)),
        ("", b'{"event": "CallStart", "uniqueid": "1", "x": -1e999}', ("bad_value", 422)),
        ("", b'{"event": "CallStart", "uniqueid": "1", "note": "\\udc80"}', ("bad_value", 422)),
        ("", b'{"event": "CallStart", "uniqueid": "1", "\\ud800": 1}', ("bad_value", 422)),
        (
            "",
            b'{"event": "CallStart", "uniqueid": "1", "x": [{"y": "\\ud83d"}]}',
            ("bad_value", 422),
        ),
        ("", with_fields(uniqueid="9" * 200), ("bad_value", 422)),
        ("", with_fields(number="9" * 5000), ("bad_value", 422)),
        ("data=" + "x" * LIMIT, b"", ("payload_too_large", 413)),
        ("", b" " * (LIMIT + 1), ("payload_too_large", 413)),
    ],
)
def test_bad_input_is_refused_with_a_reason(
    raw_query: str, body: bytes, expected: tuple[str, int]
) -> None:
    assert refusal(raw_query, body) == expected


@given(st.text(alphabet='%+=_ ~.-/\\\r\n\t"{}:,0123456789aAbBcCdDeEfFgGzZé€😀\x00\x7f'))
def test_percent_decoding_is_exactly_urllibs(text: str) -> None:
    assert percent_decode(text) == unquote(text)
    assert percent_decode(text, plus_is_space=True) == unquote_plus(text)


@given(st.text())
def test_percent_decoding_any_encoded_text_gives_it_back(text: str) -> None:
    encoded = quote_plus(text.encode("utf-8", errors="surrogatepass"))
    assert percent_decode(encoded, plus_is_space=True) == unquote_plus(encoded)


def finish_with(**fields: object) -> dict[str, object]:
    """The guide's CallFinish, with some fields changed (or removed, given None)."""
    sample: dict[str, object] = json.loads(CALL_FINISH) | fields
    return {name: value for name, value in sample.items() if value is not None}


UNIQUEID_RULE = (
    "'uniqueid' must be 1 to 64 letters, digits, '.', '-' or '_'"
    " (as Asterisk makes them, like 1430819361.25418), got "
)
HOST_RULE = "'asteriskhost' must be a host name or an IP address (like 192.168.1.51), got "
# RECEIVED is 15:30 in Kolkata, the PBX's zone.
LATE = "more than a day after the event arrived (2026-11-27T15:30:00+05:30): is the PBX's clock"
IMPLAUSIBLE = {
    "a uniqueid that climbs out of its URL": (
        {"uniqueid": "../calls/T70.1"},
        UNIQUEID_RULE + "'../calls/T70.1'",
    ),
    "a uniqueid holding '..'": ({"uniqueid": "1430819361..1"}, UNIQUEID_RULE + "'1430819361..1'"),
    "a uniqueid holding an escape": ({"uniqueid": "%2e%2e"}, UNIQUEID_RULE + "'%2e%2e'"),
    "a uniqueid holding a space and a #": ({"uniqueid": "1.2 #3"}, UNIQUEID_RULE + "'1.2 #3'"),
    "a uniqueid over 64 characters": ({"uniqueid": "1" * 65}, UNIQUEID_RULE + repr("1" * 40)),
    "a host with a path": (
        {"asteriskhost": "pbx.example/../x"},
        HOST_RULE + "'pbx.example/../x'",
    ),
    "a host with a port": ({"asteriskhost": "192.168.1.51:80"}, HOST_RULE + "'192.168.1.51:80'"),
    "a host with a space": ({"asteriskhost": "pbx one"}, HOST_RULE + "'pbx one'"),
    "a host with an IPv6 zone": ({"asteriskhost": "fe80::1%eth0"}, HOST_RULE + "'fe80::1%eth0'"),
    "a host over 253 characters": (
        {"asteriskhost": "a." * 127},
        HOST_RULE + repr("a." * 20),
    ),
    "a uniqueid of dots alone": ({"uniqueid": "."}, UNIQUEID_RULE + "'.'"),
    "a host that is a broken address": (
        {"asteriskhost": "999.999.999.999"},
        HOST_RULE + "'999.999.999.999'",
    ),
    "a host of punctuation": ({"asteriskhost": "_"}, HOST_RULE + "'_'"),
    "an extension holding markup": (
        {"extension": "<script>alert(1)</script>"},
        "'extension' must be 1 to 32 letters, digits or * # + _ . - (like 70),"
        " got '<script>alert(1)</script>'",
    ),
    "answered before it started": (
        {"starttime": "2015050515:19:29", "answertime": "2015050515:19:20"},
        "'answertime' (2015-05-05T15:19:20+05:30) is before 'starttime'"
        " (2015-05-05T15:19:29+05:30)",
    ),
    "a time before any Synapse box": (
        {"starttime": "1970-01-01T00:00:00+01:00", "answertime": "", "endtime": ""},
        "'starttime' is 1970-01-01T00:00:00+01:00: before any Synapse box",
    ),
    "a call over a day": (
        {"duration": "86401", "billableseconds": "7"},
        "'duration' is 86401 seconds: no call lasts over a day (86400 s)",
    ),
    "a call of 999999999 seconds": (
        {"duration": "999999999", "billableseconds": None},
        "'duration' is 999999999 seconds: no call lasts over a day (86400 s)",
    ),
    "billable seconds over a day": (
        {"duration": None, "billableseconds": "86401"},
        "'billableseconds' is 86401 seconds: no call lasts over a day (86400 s)",
    ),
    "billable seconds over the duration": (
        {"duration": "15", "billableseconds": "16"},
        "'billableseconds' (16) is more than the call's 'duration' (15)",
    ),
    "a start a day and a second ahead": (
        {"starttime": "2026112815:30:01"},
        f"'starttime' is 2026-11-28T15:30:01+05:30, {LATE} or time zone wrong?",
    ),
    "a start in 2199": (
        {"starttime": "2199123123:59:59"},
        f"'starttime' is 2199-12-31T23:59:59+05:30, {LATE} or time zone wrong?",
    ),
    "an answer far ahead": (
        {"answertime": "2027-01-01 00:00:00"},
        f"'answertime' is 2027-01-01T00:00:00+05:30, {LATE} or time zone wrong?",
    ),
    "an end far ahead, in another zone": (
        {"endtime": "2026-11-29T00:00:00+00:00"},
        "'endtime' is 2026-11-29T00:00:00+00:00, more than a day after the event arrived"
        " (2026-11-27T10:00:00+00:00): is the PBX's clock or time zone wrong?",
    ),
}


@pytest.mark.parametrize(("fields", "detail"), IMPLAUSIBLE.values(), ids=IMPLAUSIBLE)
def test_an_implausible_event_is_refused_saying_why(fields: dict[str, object], detail: str) -> None:
    with pytest.raises(EventError) as caught:
        parse("", json.dumps(finish_with(**fields)).encode())
    assert (caught.value.status, caught.value.reason, caught.value.detail) == (
        422,
        "bad_value",
        detail,
    )


def test_what_asterisk_makes_is_accepted_up_to_the_bounds() -> None:
    edges = [
        {"uniqueid": "1" * 64},
        {"uniqueid": "pbx-main_1430819361.25418"},
        {"asteriskhost": "pbx.example"},
        {"asteriskhost": "pbx_2.office.example"},  # (any case is read in lower case)
        {"asteriskhost": "2001:db8::51"},
        {"asteriskhost": "a" * 63 + ".example"},
        {"duration": "86400", "billableseconds": "86400"},
        {"duration": "15", "billableseconds": "15"},
        {  # a day ahead exactly: a PBX clock a day off
            "starttime": "2026112815:30:00",
            "answertime": "2026112815:30:00",
            "endtime": "2026112815:30:00",
        },
    ]
    for fields in edges:
        event = parse("", json.dumps(finish_with(**fields)).encode())
        assert (event.host, event.uniqueid, event.duration, event.billable_seconds) == (
            fields.get("asteriskhost", "192.168.1.51"),
            fields.get("uniqueid", "1430819361.25418"),
            int(fields.get("duration", "15")),
            int(fields.get("billableseconds", "7")),
        )


def test_a_host_is_read_in_lower_case() -> None:
    event = parse("", json.dumps(finish_with(asteriskhost="PBX-B.Office.Example")).encode())
    assert event.host == "pbx-b.office.example"


def test_what_the_dashboard_wrote_itself_is_read_as_it_was() -> None:
    stored_long_ago = finish_with(uniqueid="../calls/T70.1", duration="999999999")
    event = parse_event(
        stored_long_ago, tz=KOLKATA, default_host="pbx.example", received_at=RECEIVED, trusted=True
    )
    assert (event.uniqueid, event.duration) == ("../calls/T70.1", 999999999)


@pytest.mark.parametrize(("fields", "detail"), IMPLAUSIBLE.values(), ids=IMPLAUSIBLE)
def test_an_implausible_event_at_the_endpoint_changes_nothing_and_is_kept(
    client: TestClient, clock: FakeClock, fields: dict[str, object], detail: str
) -> None:
    assert clock() == RECEIVED
    send(client, CALL_START)
    state = parts_of(client)
    before = (state.store.all_calls(), list(state.store.events()), state.live.board.snapshot())
    query = "data=" + quote(json.dumps(finish_with(**fields)), safe="")
    response = client.get("/synapse/events?" + query)
    assert (response.status_code, response.json()) == (
        422,
        {"error": "bad_value", "detail": detail},
    )
    after = (state.store.all_calls(), list(state.store.events()), state.live.board.snapshot())
    assert after == before
    assert state.store.rejected.all() == [
        {
            "id": 1,
            "received_at": "2026-11-27T10:00:00.000000+00:00",
            "reason": "bad_value",
            "detail": detail,
            "method": "GET",
            "query": query[:4096],
            "body": "",
            "size": len(query),
            "remote": "testclient",
        }
    ]


def test_a_caller_id_name_is_read_only_when_it_names_someone() -> None:
    assert caller_id_name({"callername": " Asha\x00  Rao\n"}) == "Asha Rao"
    assert caller_id_name({"calleridname": "ACME LTD", "cidname": "other"}) == "ACME LTD"
    assert caller_id_name({"cidname": "x" * 80}) == "x" * 60
    for nothing in ({}, {"callername": "9876543210"}, {"callername": "<unknown>"}, {"cidname": 7}):
        assert caller_id_name(nothing) is None
