"""Raw Synapse requests -> typed call events.

All tolerance for odd input lives here: where the JSON sits in the request,
`\\/` escapes, typographic quotes pasted from the vendor's guide, numbers sent
as numbers, empty times, casing of dispositions. Anything this module cannot
read becomes an `EventError` naming the problem; the core never sees raw dicts.

It is also where the implausible is refused: a call's identity must look like what Asterisk
makes (it ends up in URLs and on every screen), no call lasts over a day, and no time is
more than a day after the event arrived.
"""

from __future__ import annotations

import binascii
import functools
import ipaddress
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus
from zoneinfo import ZoneInfo

from dashboard.errors import Refusal


class EventKind(StrEnum):
    START = "CallStart"
    CONNECT = "CallConnect"
    FINISH = "CallFinish"


class EventError(Refusal):
    """An event the dashboard refuses; `reason` (its `error`) is kept with the event."""

    @property
    def reason(self) -> str:
        return self.error


@dataclass(frozen=True)
class CallEvent:
    kind: EventKind
    host: str
    uniqueid: str
    received_at: datetime
    direction: str | None = None
    number: str | None = None
    extension: str | None = None
    hangupchannel: str | None = None
    redirectchannel: str | None = None
    start_time: datetime | None = None
    answer_time: datetime | None = None
    end_time: datetime | None = None
    duration: int | None = None
    billable_seconds: int | None = None
    disposition: str | None = None
    disposition_raw: str | None = None
    recordlink: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.host, self.uniqueid)


TOKEN_PARAM = "token"
MAX_UNIQUEID = 64
MAX_HOST = 253  # the longest DNS name
MAX_TEXT = 2048
# Asterisk's uniqueid is "epoch.sequence", perhaps after a system name: nothing that could
# move a URL it is put in ("/", ".." or an escape).
UNIQUEID = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_UNIQUEID}}}")
HOST_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
MAX_CALL_SECONDS = 86_400  # a call over a day is a typing error, and would skew every average
FUTURE_SLACK = timedelta(days=1)  # a PBX clock some hours off is tolerated; a year is not
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # no Synapse box is older: a time before is a fault
ORDER_SLACK = timedelta(seconds=1)  # a call answered or ended before it started, beyond rounding
# An extension as a dial plan names one: digits mostly, perhaps letters or * # + (no markup).
EXTENSION = re.compile(r"[A-Za-z0-9*#+_.-]{1,32}")
TEXT_FIELDS = ("number", "extension", "hangupchannel", "redirectchannel", "recordlink")
TIME_FIELDS = {"starttime": "start_time", "answertime": "answer_time", "endtime": "end_time"}
SECONDS_FIELDS = {"duration": "duration", "billableseconds": "billable_seconds"}
KNOWN_FIELDS = {
    "event",
    "asteriskhost",
    "uniqueid",
    "direction",
    "disposition",
    *TEXT_FIELDS,
    *TIME_FIELDS,
    *SECONDS_FIELDS,
}
KINDS = {kind.value.lower(): kind for kind in EventKind}
DIRECTIONS = {
    "incoming": "incoming",
    "inbound": "incoming",
    "in": "incoming",
    "outgoing": "outgoing",
    "outbound": "outgoing",
    "out": "outgoing",
    "internal": "internal",
    "local": "internal",
}
DISPOSITIONS = {
    "ANSWERED": "answered",
    "ANSWER": "answered",
    "NOANSWER": "no_answer",
    "NO ANSWER": "no_answer",
    "BUSY": "busy",
    "FAILED": "failed",
    "CONGESTION": "congestion",
}
TIME_FORMATS = ("%Y%m%d%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y%m%d%H%M%S")
TYPOGRAPHIC_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2033": '"', "\u201e": '"'})
YEARS = range(1970, 2200)  # times outside are typing errors, and would not convert safely
SYNAPSE_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2}):(\d{2}):(\d{2})")
MALFORMED_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
PARAM_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]+")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # a JSON escape of half of a pair


# A PBX's event token (a path segment, or a `token` parameter) and a wall screen's link.
SECRET_IN_URL = re.compile(r"(/synapse/events/|/kiosk/)[^\s?\"/]+|((?:^|[?&])token=)[^&\s\"]+")


def redact_secrets(text: str) -> str:
    """The text with event tokens and wall-screen links' tokens blotted out."""
    return SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


# -- where the JSON sits in the request ------------------------------------------------


def extract_json(raw_query: str, body: bytes, max_bytes: int) -> tuple[str, dict[str, Any]]:
    """Find the event's JSON object in a request: a query parameter, the query, or the body.
    Returns the JSON text that was read, and the object."""
    if len(raw_query) + len(body) > max_bytes:
        raise EventError(413, "payload_too_large", f"the event is larger than {max_bytes} bytes")
    seen_any = False
    for text in itertools.chain(_query_candidates(raw_query), _body_candidates(body)):
        seen_any = True
        loaded = _load_object(text)
        if loaded is not None:
            if _maybe_unstorable(*loaded):  # rare: the walk is for those alone
                check_storable(loaded[1])
            return loaded
    if not seen_any:
        raise EventError(400, "empty", "the request carries no event: expected a JSON object")
    raise EventError(400, "not_json", "the request carries no JSON object")


def _maybe_unstorable(text: str, obj: dict[str, Any]) -> bool:
    """Whether `check_storable` could find anything. Half of a surrogate pair comes only from
    a JSON escape (the text itself was decoded with replacement), and a number too large only
    as a float: a PBX's event, texts in a flat object, needs no walk. (A search of the text
    for what might be either was a tenth of an event's cost.)"""
    return "\\u" in text or not all(type(value) is str for value in obj.values())


def _body_candidates(body: bytes) -> Iterator[str]:
    if not body.strip():
        return
    text = body.decode("utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        yield text
    else:
        yield from _query_candidates(text)


def _query_candidates(query: str) -> Iterator[str]:
    pieces = [piece for piece in query.split("&") if not piece.startswith(TOKEN_PARAM + "=")]
    query = "&".join(pieces).strip()
    if not query:
        return
    # The whole query string is the JSON (raw, or percent-encoded).
    yield from _decodings(query)
    # One parameter whose value is the JSON: take everything after the first "=", so
    # raw JSON holding "&" or "=" stays whole.
    name, sep, value = query.partition("=")
    if sep and PARAM_NAME.fullmatch(name):
        yield from _decodings(value)
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != TOKEN_PARAM:
            yield value


def _decodings(text: str) -> Iterator[str]:
    if text.lstrip().startswith("{"):
        yield percent_decode(text)  # sent raw: a "+" is a plus sign, not a space
    elif text[:3].upper() == "%7B":
        yield percent_decode(text, plus_is_space=True)
        yield percent_decode(text)


def percent_decode(text: str, *, plus_is_space: bool = False) -> str:
    """`unquote` (or `unquote_plus`), done in C when it safely can: an encoded event is
    mostly escapes, and Python's loop over them was a tenth of an event's cost.

    Percent-encoding is quoted-printable with "%" for "=": with every "=" escaped, a
    well-formed ASCII text decodes alike both ways (tests/test_events.py compares them).
    """
    if not text.isascii() or "\r" in text or "\n" in text or MALFORMED_ESCAPE.search(text):
        return unquote_plus(text) if plus_is_space else unquote(text)
    if plus_is_space:
        text = text.replace("+", " ")
    quoted_printable = text.replace("=", "=3D").replace("%", "=").encode("ascii")
    return binascii.a2b_qp(quoted_printable).decode("utf-8", errors="replace")


def _load_object(text: str) -> tuple[str, dict[str, Any]] | None:
    for attempt in _attempts(text):
        try:
            obj = _DECODER.decode(attempt)
        except (ValueError, RecursionError):
            continue
        return (attempt, obj) if isinstance(obj, dict) else None
    return None


def _attempts(text: str) -> Iterator[str]:
    """The text, then (only if it is not JSON as it is) its typographic quotes made plain."""
    yield text
    yield text.translate(TYPOGRAPHIC_QUOTES)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def check_storable(obj: Mapping[str, Any]) -> None:
    """Every text in the object (names of fields included, at any depth) is valid Unicode
    and every number finite: a lone half of a surrogate pair (from an escape like \\ud800)
    cannot be sent as UTF-8, nor a number too large for a float (1e999, read as Infinity) or
    NaN as JSON, and no API could answer with the call."""
    pending: list[tuple[str, Any]] = list(obj.items())
    while pending:  # a loop, not recursion: JSON may nest deeper than Python's stack
        top, value = pending.pop()
        if isinstance(value, dict):
            pending.extend((top, item) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            pending.extend((top, item) for item in value)
        elif isinstance(value, float) and not math.isfinite(value):
            detail = f"'{_shown(top)}' holds a number too large for a float, or not a number"
            raise EventError(422, "bad_value", detail)
        for text in (top, value) if isinstance(value, str) else (top,):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise EventError(
                    422, "bad_value", f"'{_shown(top)}' is not valid Unicode text"
                ) from None


def _shown(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode()


# One decoder for every event: json.loads with an option builds a new one each call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


# -- what the JSON says -------------------------------------------------------------------


def parse_event(
    obj: Mapping[str, Any],
    *,
    tz: ZoneInfo,
    default_host: str,
    received_at: datetime,
    trusted: bool = False,
) -> CallEvent:
    """Turn one decoded JSON object into a `CallEvent`, or raise `EventError`.

    `received_at` is the dashboard's clock when the event arrived: times are checked against
    it. `trusted` is for what the dashboard wrote itself: an event read back from its log was
    checked when it arrived and reads as it did then (a check made stricter later must not
    change what stored events fold to), and an expiry names a call it already holds.
    """
    kind_name = _text(obj, "event")
    if kind_name is None:
        raise EventError(422, "missing_field", "the event has no 'event' field")
    kind = KINDS.get(kind_name.lower())
    if kind is None:
        raise EventError(
            422,
            "unknown_event",
            f"unknown event {kind_name[:40]!r}: expected CallStart, CallConnect or CallFinish",
        )
    uniqueid = _text(obj, "uniqueid")
    if uniqueid is None:
        raise EventError(422, "missing_field", "the event has no 'uniqueid' field")
    host = _text(obj, "asteriskhost")
    if not trusted:
        _check_uniqueid(uniqueid)
        if host is not None:
            _check_host(host)
            host = host.lower()  # host names know no case: PBX-B is pbx-b
    disposition_raw = _text(obj, "disposition")
    direction = _text(obj, "direction")
    fields: dict[str, Any] = {name: _text(obj, name) for name in TEXT_FIELDS}
    fields.update({attr: _time(obj, name, tz) for name, attr in TIME_FIELDS.items()})
    fields.update({attr: _seconds(obj, name) for name, attr in SECONDS_FIELDS.items()})
    if not trusted:
        _check_extension(fields["extension"])
        _check_seconds(fields["duration"], fields["billable_seconds"])
        for name, attr in TIME_FIELDS.items():
            _check_not_future(name, fields[attr], received_at)
        _check_order(fields["start_time"], fields["answer_time"], fields["end_time"])
    return CallEvent(
        kind=kind,
        host=host or default_host,
        uniqueid=uniqueid,
        received_at=received_at,
        direction=DIRECTIONS.get(direction.lower(), direction.lower()) if direction else None,
        disposition=normalise_disposition(disposition_raw) if disposition_raw else None,
        disposition_raw=disposition_raw,
        extra={key: value for key, value in obj.items() if key not in KNOWN_FIELDS},
        **fields,
    )


def _check_uniqueid(uniqueid: str) -> None:
    if not UNIQUEID.fullmatch(uniqueid) or ".." in uniqueid or not _has_alnum(uniqueid):
        raise EventError(
            422,
            "bad_value",
            f"'uniqueid' must be 1 to {MAX_UNIQUEID} letters, digits, '.', '-' or '_'"
            f" (as Asterisk makes them, like 1430819361.25418), got {uniqueid[:40]!r}",
        )


@functools.lru_cache(maxsize=256)  # a PBX sends its own host name on every event
def valid_host(host: str) -> bool:
    """Whether `host` is what an `asteriskhost` may be: a host name or an IP address."""
    return len(host) <= MAX_HOST and (_is_ip_address(host) or _is_host_name(host))


def _check_host(host: str) -> None:
    if valid_host(host):
        return
    raise EventError(
        422,
        "bad_value",
        "'asteriskhost' must be a host name or an IP address (like 192.168.1.51),"
        f" got {host[:40]!r}",
    )


def _is_ip_address(text: str) -> bool:
    if "%" in text:  # an IPv6 zone: a name of the sender's own, never needed here
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_host_name(text: str) -> bool:
    """Labels of letters, digits, - (and _), each with a letter or digit; the last one not
    all digits (999.999.999.999 is a broken address, not a name)."""
    labels = text.split(".")
    return (
        all(HOST_LABEL.fullmatch(label) and _has_alnum(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _has_alnum(text: str) -> bool:
    return any(char.isascii() and char.isalnum() for char in text)


def _check_extension(extension: str | None) -> None:
    if extension is not None and not EXTENSION.fullmatch(extension):
        raise EventError(
            422,
            "bad_value",
            "'extension' must be 1 to 32 letters, digits or * # + _ . - (like 70),"
            f" got {extension[:40]!r}",
        )


def _check_order(start: datetime | None, answer: datetime | None, end: datetime | None) -> None:
    for name, moment in (("starttime", start), ("answertime", answer), ("endtime", end)):
        # (A year after EARLIEST's is after it in any zone: compared only near it.)
        if moment is not None and moment.year <= EARLIEST.year and moment < EARLIEST:
            raise EventError(
                422, "bad_value", f"'{name}' is {moment.isoformat()}: before any Synapse box"
            )
    for name, later, earlier, what in (
        ("answertime", answer, start, "'starttime'"),
        ("endtime", end, start, "'starttime'"),
        ("endtime", end, answer, "'answertime'"),
    ):
        if later is None or earlier is None or later >= earlier:
            continue  # in order, as nearly always
        if later < earlier - ORDER_SLACK:
            raise EventError(
                422,
                "bad_value",
                f"'{name}' ({later.isoformat()}) is before {what} ({earlier.isoformat()})",
            )


def _check_seconds(duration: int | None, billable: int | None) -> None:
    for name, seconds in (("duration", duration), ("billableseconds", billable)):
        if seconds is not None and seconds > MAX_CALL_SECONDS:
            raise EventError(
                422,
                "bad_value",
                f"'{name}' is {seconds} seconds: no call lasts over a day ({MAX_CALL_SECONDS} s)",
            )
    if duration is not None and billable is not None and billable > duration:
        raise EventError(
            422,
            "bad_value",
            f"'billableseconds' ({billable}) is more than the call's 'duration' ({duration})",
        )


def _check_not_future(name: str, moment: datetime | None, received_at: datetime) -> None:
    if moment is not None and moment - received_at > FUTURE_SLACK:
        raise EventError(
            422,
            "bad_value",
            f"'{name}' is {moment.isoformat()}, more than a day after the event arrived"
            f" ({received_at.astimezone(moment.tzinfo).isoformat(timespec='seconds')}):"
            " is the PBX's clock or time zone wrong?",
        )


def normalise_disposition(raw: str) -> str:
    key = " ".join(raw.replace("_", " ").upper().split())
    return (
        DISPOSITIONS.get(key)
        or DISPOSITIONS.get(key.replace(" ", ""))
        or key.lower().replace(" ", "_")
    )


# The guide sends no caller-ID name; some boxes add one under one of these (kept in `extra`).
CALLER_NAME_FIELDS = ("callername", "calleridname", "cidname")
MAX_CALLER_NAME = 60
NO_CALLER_NAME = ("unknown", "<unknown>", "unavailable")  # what Asterisk says when it has none


def caller_id_name(extra: Mapping[str, Any]) -> str | None:
    """The PBX's caller-ID name of a call, if it sent one that names someone: a text with a
    letter in it (not the number again, nor empty), its control characters dropped."""
    for name in CALLER_NAME_FIELDS:
        value = extra.get(name)
        if isinstance(value, str):
            text = " ".join("".join(ch for ch in value if ch.isprintable()).split())
            if any(ch.isalpha() for ch in text) and text.lower() not in NO_CALLER_NAME:
                return text[:MAX_CALLER_NAME]
    return None


def _text(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if type(value) is str and len(value) <= MAX_TEXT and value.isascii():
        return value.strip() or None  # what a PBX sends: on every field of every event
    return _other_text(name, value)


def _other_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise EventError(422, "wrong_type", f"'{name}' must be a string, not {_json_type(value)}")
    if len(value) > MAX_TEXT:
        raise EventError(422, "bad_value", f"'{name}' is longer than {MAX_TEXT} characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, from a \ud800-style escape
            raise EventError(422, "bad_value", f"'{name}' is not valid Unicode text") from None
    return value.strip() or None


def _seconds(obj: Mapping[str, Any], name: str) -> int | None:
    value = obj.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _text(obj, name) if not isinstance(value, int) else str(value)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise EventError(422, "bad_value", f"'{name}' must be whole seconds, got {text[:40]!r}")
    return int(text)


def _time(obj: Mapping[str, Any], name: str, tz: ZoneInfo) -> datetime | None:
    text = _text(obj, name)
    if text is None or not text.strip("0-: T"):
        return None  # unanswered calls carry an empty (or all-zero) answer time
    moment = _read_time(text, tz)
    if moment is None:
        raise EventError(
            422, "bad_value", f"'{name}' is not a time like 2015050515:19:21, got {text[:40]!r}"
        )
    if moment.year not in YEARS:  # checked before any conversion, which could overflow
        raise EventError(422, "bad_value", f"'{name}' is not a plausible time: {text[:40]!r}")
    return moment


def _read_time(text: str, tz: ZoneInfo) -> datetime | None:
    synapse = SYNAPSE_TIME.fullmatch(text)
    if synapse:  # the usual form, read without strptime (it is on every CDR)
        try:
            year, month, day, hour, minute, second = map(int, synapse.groups())
            return datetime(year, month, day, hour, minute, second, tzinfo=tz)
        except ValueError:
            return None
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _json_type(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", float: "a number"}.get(
        type(value), type(value).__name__
    )
