"""Call recordings, streamed from the PBX to signed-in users.

A recording link comes from a call event, so it is never trusted: only links that pass
`recording_links.check_link` (an audio file under the PBX's recording folder, and nothing
that a web server could read otherwise) are fetched, and exactly as they were checked. The
answer is streamed, never buffered whole, and honours one HTTP byte range so that a player
can seek at once, even when the PBX itself ignores ranges.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import anyio
import httpx
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from dashboard.errors import Refusal
from dashboard.recording_links import (
    AUDIO_SUFFIXES,
    UnsafeLink,
    check_link,
    request_for,
    shown_link,
)

log = logging.getLogger(__name__)

DEFAULT_TYPE = "audio/wav"
# One range only; several ranges, or anything else, are ignored (RFC 9110 allows that).
RANGE = re.compile(r"\s*bytes\s*=\s*(\d{0,18})\s*-\s*(\d{0,18})\s*", re.IGNORECASE)
CONTENT_RANGE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", re.IGNORECASE)
AUDIO_TYPE = re.compile(r"\s*(audio/[a-z0-9!#$&^_.+-]+)\s*(;[^,]*)?", re.IGNORECASE)  # one type


class RecordingError(Refusal):
    """Why a recording cannot be served: the HTTP answer, and `error` for the audit log."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        *,
        reason: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, error, detail, headers=headers)  # `detail`: for the user
        self.reason = reason or detail  # for the log and the audit: may name hosts


class LinkRefused(RecordingError):
    """The call's recording link is not fetched: `cause` (one word, counted in /metrics)
    and `link` as the log may show it."""

    def __init__(self, unsafe: UnsafeLink, link: str) -> None:
        super().__init__(
            403,
            "refused",
            "the recording link does not point at the configured PBX, so it is not fetched",
            reason=unsafe.reason,
        )
        self.cause = unsafe.cause
        self.link = shown_link(link)


# -- ranges --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ByteRange:
    """One range of a `Range: bytes=...` header: `first-last`, `first-` or a suffix `-last`."""

    first: int | None  # None: a suffix range, the last `last` bytes
    last: int | None  # inclusive; None: to the end

    @property
    def header(self) -> str:
        first = "" if self.first is None else str(self.first)
        last = "" if self.last is None else str(self.last)
        return f"bytes={first}-{last}"

    def resolve(self, length: int) -> tuple[int, int] | None:
        """The (first, last) byte positions within `length` bytes; None if unsatisfiable."""
        if self.first is None:
            assert self.last is not None
            if self.last == 0 or length == 0:
                return None
            return max(0, length - self.last), length - 1
        if self.first >= length:
            return None
        last = length - 1 if self.last is None else min(self.last, length - 1)
        return self.first, last


def parse_range(header: str | None) -> ByteRange | None:
    """The single byte range asked for, or None for the whole file (no header, or one that
    is malformed or asks for several ranges: those are ignored, as RFC 9110 allows)."""
    match = RANGE.fullmatch(header or "")
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        return ByteRange(None, int(last)) if last else None
    if last and int(last) < int(first):
        return None  # syntactically invalid: ignored
    return ByteRange(int(first), int(last) if last else None)


def pbx_auth(synapse_url: str) -> httpx.BasicAuth | None:
    """The PBX's user and password, when SYNAPSE_URL carries them (they also guard files)."""
    parts = urlsplit(synapse_url)
    if parts.username is None:
        return None
    return httpx.BasicAuth(unquote(parts.username), unquote(parts.password or ""))


def file_suffix(link: str) -> str:
    path = urlsplit(link).path.lower()
    return next((suffix for suffix in AUDIO_SUFFIXES if path.endswith(suffix)), ".wav")


# -- fetching and answering ----------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What to answer, given the PBX's answer: status, headers, and which bytes to pass on."""

    status: int
    headers: dict[str, str]
    skip: int = 0  # bytes of the PBX's body to drop (when it ignored our range)
    limit: int | None = None  # bytes to pass on at most


class RecordingResponse(StreamingResponse):
    """Streams the PBX's body; closes it whatever happens (the listener may hang up)."""

    def __init__(self, upstream: httpx.Response, reply: Reply) -> None:
        super().__init__(_body(upstream, reply), status_code=reply.status, headers=reply.headers)
        self.upstream = upstream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.upstream.aclose()


async def open_recording(
    client: httpx.AsyncClient,
    link: str,
    pbx_url: str,
    prefix: str,
    byte_range: ByteRange | None,
    *,
    method: str = "GET",
) -> RecordingResponse:
    """The recording at `link`, if it is one of the PBX at `pbx_url` under `prefix`, as a
    response to stream; raises RecordingError (LinkRefused for a link not fetched)."""
    headers = {"accept-encoding": "identity"}  # lengths and ranges count the file's bytes
    if byte_range is not None:
        headers["range"] = byte_range.header
    try:
        request = request_for(client, check_link(link, pbx_url, prefix), method, headers)
    except UnsafeLink as unsafe:
        raise LinkRefused(unsafe, link) from None
    upstream = await _fetch(client, request, pbx_auth(pbx_url))
    try:
        reply = plan_reply(upstream.status_code, upstream.headers, byte_range)
    except BaseException:
        await upstream.aclose()
        raise
    return RecordingResponse(upstream, reply)


async def _fetch(
    client: httpx.AsyncClient, request: httpx.Request, auth: httpx.BasicAuth | None
) -> httpx.Response:
    try:
        return await client.send(request, stream=True, auth=auth, follow_redirects=False)
    except httpx.TimeoutException as error:
        raise RecordingError(
            504,
            "pbx_timeout",
            "the PBX did not answer in time: try again in a moment",
            reason=f"the PBX did not answer in time ({type(error).__name__})",
        ) from error
    except httpx.HTTPError as error:
        raise RecordingError(
            502,
            "pbx_unreachable",
            "could not reach the PBX to fetch the recording",
            reason=f"could not reach the PBX: {type(error).__name__}: {error}",
        ) from error


def plan_reply(status: int, headers: httpx.Headers, byte_range: ByteRange | None) -> Reply:
    """Our answer to the listener, from the PBX's status and headers."""
    if status in (404, 410):
        raise RecordingError(404, "missing", "the PBX no longer has this recording")
    if status == 416:
        total = _total_length(headers.get("content-range", ""))
        raise _not_satisfiable(total)
    if status not in (200, 206):
        raise RecordingError(
            502,
            "pbx_error",
            f"the PBX answered HTTP {status} instead of the recording",
        )
    base = {
        "content-type": _audio_type(headers.get("content-type", "")),
        "accept-ranges": "bytes",
        "cache-control": "private, no-store",  # recordings are private: kept by no cache
    }
    if status == 206:
        return _partial(headers, byte_range, base)
    return _whole(_length(headers), byte_range, base)


def _whole(length: int | None, byte_range: ByteRange | None, base: dict[str, str]) -> Reply:
    """The PBX sent the whole file: pass it on, or cut the asked range out of it."""
    if byte_range is None or length is None:
        # Without a length, a range cannot be placed: the whole file it is (RFC 9110 allows).
        length_header = {} if length is None else {"content-length": str(length)}
        return Reply(200, {**base, **length_header})
    span = byte_range.resolve(length)
    if span is None:
        raise _not_satisfiable(length)
    first, last = span
    headers = {
        **base,
        "content-length": str(last - first + 1),
        "content-range": f"bytes {first}-{last}/{length}",
    }
    return Reply(206, headers, skip=first, limit=last - first + 1)


def _partial(headers: httpx.Headers, byte_range: ByteRange | None, base: dict[str, str]) -> Reply:
    """The PBX sent a range: pass it on if it is the one asked for."""
    match = CONTENT_RANGE.fullmatch(headers.get("content-range", ""))
    if byte_range is None or match is None:
        raise RecordingError(
            502, "pbx_error", "the PBX answered with a part of the recording nobody asked for"
        )
    first, last, total = int(match[1]), int(match[2]), match[3]
    expected = byte_range.resolve(int(total)) if total != "*" else None
    wanted_first = expected[0] if expected else byte_range.first
    if last < first or (wanted_first is not None and first != wanted_first):
        raise RecordingError(
            502, "pbx_error", "the PBX answered with another part of the recording than asked"
        )
    size = last - first + 1
    if _length(headers) not in (None, size):
        raise RecordingError(
            502, "pbx_error", "the PBX's part of the recording is not the length it says"
        )
    return Reply(
        206,
        {**base, "content-length": str(size), "content-range": f"bytes {first}-{last}/{total}"},
        limit=size,
    )


def _not_satisfiable(total: int | None) -> RecordingError:
    return RecordingError(
        416,
        "out_of_range",
        "the range asked for is outside the recording",
        headers={"content-range": f"bytes */{total}"} if total is not None else None,
    )


def _length(headers: httpx.Headers) -> int | None:
    """The body's length in bytes, when the PBX says it and sends the bytes as they are."""
    raw = headers.get("content-length", "")
    if not raw.isdigit() or headers.get("content-encoding", "identity") != "identity":
        return None
    return int(raw)


def _total_length(content_range: str) -> int | None:
    match = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", content_range, re.IGNORECASE)
    return int(match[1]) if match else None


def _audio_type(content_type: str) -> str:
    """The PBX's type if it is one audio type (its parameters left out), else DEFAULT_TYPE:
    a browser reads a list such as `audio/x, text/html` as its last type, a page."""
    match = AUDIO_TYPE.fullmatch(content_type)
    return match[1].lower() if match else DEFAULT_TYPE


async def _body(upstream: httpx.Response, reply: Reply) -> AsyncIterator[bytes]:
    skip, left = reply.skip, reply.limit
    try:
        async for chunk in upstream.aiter_bytes():
            if skip:
                dropped = min(skip, len(chunk))
                chunk, skip = chunk[dropped:], skip - dropped
            if left is not None:
                chunk = chunk[:left]
                left -= len(chunk)
            if chunk:
                yield chunk
            if left == 0:
                return
    except httpx.HTTPError as error:
        # The status is sent already: the short body tells the player the file was cut.
        log.warning("the PBX stopped sending %s: %s", upstream.request.url.path, error)
    finally:
        await upstream.aclose()
