from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus, unquote, unquote_plus
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.events import (
    CallEvent,
    EventError,
    EventKind,
    extract_json,
    normalise_disposition,
    parse_event,
    percent_decode,
)
from tests.conftest import CALL_FINISH, CALL_START

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
