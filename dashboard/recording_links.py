"""Which recording links may be fetched, and the exact request that fetching them sends.

A recording link comes from a call event, so it is never trusted: whoever holds the event
token may send any link, and the dashboard fetches it from an address the PBX trusts. So a
link must name an audio file under the recording folder of the PBX it belongs to, and
nothing else: no query string, fragment, user name, dot segment, encoded dot, slash or
backslash, empty segment or directory with a dot (a script's PATH_INFO), whatever a web
server would read differently than this check does. What is fetched is rebuilt from the
checked parts, so the request line carries exactly the path that was checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

AUDIO_SUFFIXES = (".wav", ".mp3", ".gsm", ".ogg", ".oga", ".opus", ".flac", ".m4a")
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_LINK_CHARS = 1024
SHOWN_CHARS = 200  # of a refused link, in the log

LINK = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)")
HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>[0-9]{1,5}))?")
# A path of RFC 3986 characters, less ";" (a path parameter to some servers: "..;/").
PATH = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,=:@/-]|%[0-9A-Fa-f]{2})*")
ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~")
# Escapes that a server would decode into a separator, a second escape or a control.
FORBIDDEN_ESCAPES = frozenset(b"./\\%") | frozenset(range(0x20)) | frozenset(range(0x7F, 0x100))


class UnsafeLink(ValueError):
    """Why a link is not fetched: `cause`, one word (the metric's label), and `reason`."""

    def __init__(self, cause: str, reason: str) -> None:
        super().__init__(reason)
        self.cause = cause
        self.reason = reason


@dataclass(frozen=True)
class CheckedLink:
    """A link that passed the check, in the parts the request is built from."""

    scheme: str  # "http" or "https"
    host: str  # lower case; an IPv6 address without its brackets
    port: int
    path: str  # exactly what goes on the request line

    @property
    def url(self) -> httpx.URL:
        port = None if self.port == DEFAULT_PORTS[self.scheme] else self.port
        return httpx.URL(
            scheme=self.scheme, host=self.host, port=port, raw_path=self.path.encode("ascii")
        )


def check_link(link: str, pbx_url: str, prefix: str) -> CheckedLink:
    """The link's parts, if it names an audio file under `prefix` on the PBX at `pbx_url`;
    raises UnsafeLink otherwise."""
    if len(link) > MAX_LINK_CHARS:
        raise UnsafeLink("too_long", f"the recording link is over {MAX_LINK_CHARS} characters")
    if "\\" in link:
        raise UnsafeLink("backslash", "the recording link holds a backslash")
    if re.search(r"[^\x21-\x7e]", link):
        raise UnsafeLink(
            "characters", "the recording link holds spaces, control or non-ASCII characters"
        )
    match = LINK.match(link)
    if match is None:
        raise UnsafeLink("not_a_url", "the recording link is not an absolute http(s) URL")
    scheme, authority, path = match["scheme"].lower(), match["authority"], match["path"]
    if scheme not in DEFAULT_PORTS:
        raise UnsafeLink("scheme", f"the recording link's scheme {scheme!r} is not http or https")
    rest = link[match.end() :]
    if rest.startswith("?"):
        raise UnsafeLink("query", "the recording link carries a query string")
    if rest.startswith("#"):
        raise UnsafeLink("fragment", "the recording link carries a fragment")
    host, port = _endpoint(scheme, authority, pbx_url)
    return CheckedLink(scheme, host, port, _checked_path(path, prefix))


def _web_server(pbx_url: str) -> tuple[str, set[tuple[str, int]]]:
    """The PBX's host, and the schemes and ports its web server answers on: its URL's, and
    HTTPS on 443 too when that is plain HTTP on 80. Never plain HTTP for an HTTPS PBX: the
    password its URL may carry would travel in the clear."""
    pbx = urlsplit(pbx_url)
    scheme = pbx.scheme.lower()
    try:
        port = pbx.port
    except ValueError:
        raise UnsafeLink("pbx_url", "the PBX's URL has an invalid port") from None
    if scheme not in DEFAULT_PORTS or not pbx.hostname:
        raise UnsafeLink("pbx_url", "the PBX's URL is not an http(s) URL with a host")
    endpoint = (scheme, port or DEFAULT_PORTS[scheme])
    if endpoint == ("http", 80):
        return pbx.hostname.lower(), {endpoint, ("https", 443)}
    return pbx.hostname.lower(), {endpoint}


def _endpoint(scheme: str, authority: str, pbx_url: str) -> tuple[str, int]:
    """The link's host and port, if they are the PBX's web server's."""
    if "@" in authority:
        raise UnsafeLink("userinfo", "the recording link carries a user name or password")
    match = HOST_PORT.fullmatch(authority)
    if match is None:
        raise UnsafeLink("not_a_url", "the recording link's host and port are not valid")
    pbx_host, endpoints = _web_server(pbx_url)
    host = match["host"].strip("[]").lower()
    if host != pbx_host:
        shown = match["host"][:100]
        raise UnsafeLink("host", f"the recording link's host {shown!r} is not the PBX's")
    port = int(match["port"]) if match["port"] else DEFAULT_PORTS[scheme]
    if (scheme, port) not in endpoints:
        raise UnsafeLink("port", f"the recording link's {scheme} port {port} is not the PBX's")
    return host, port


def _checked_path(path: str, prefix: str) -> str:
    """The path, normalised (unreserved characters decoded, other escapes in capitals), if
    it names an audio file under the prefix and a web server can read it only one way."""
    if PATH.fullmatch(path) is None:
        raise UnsafeLink("characters", "the recording link's path holds characters it may not")
    if any(int(code, 16) in FORBIDDEN_ESCAPES for code in ESCAPE.findall(path)):
        raise UnsafeLink(
            "encoded", "the recording link's path encodes a dot, slash, backslash, % or control"
        )
    path = ESCAPE.sub(_normal_escape, path)
    segments = path.split("/")[1:]
    if "" in segments[:-1]:
        raise UnsafeLink("empty_segment", "the recording link's path has an empty segment")
    if any(segment.strip(".") == "" for segment in segments if segment):
        raise UnsafeLink("dot_segment", "the recording link's path has a . or .. segment")
    if not path.startswith(prefix):
        raise UnsafeLink("prefix", f"the recording link's path is not under {prefix}")
    directories = path[len(prefix) :].split("/")[:-1]
    if any("." in directory for directory in directories):
        raise UnsafeLink("dotted_directory", "the recording link's path has a dot in a folder")
    if not segments[-1].lower().endswith(AUDIO_SUFFIXES):
        raise UnsafeLink("not_audio", "the recording link does not name an audio file")
    return path


def _normal_escape(match: re.Match[str]) -> str:
    code = int(match[1], 16)
    return chr(code) if code in UNRESERVED else "%" + match[1].upper()


def request_for(
    client: httpx.AsyncClient, checked: CheckedLink, method: str, headers: dict[str, str]
) -> httpx.Request:
    """The request for a checked link; raises UnsafeLink should httpx rebuild its URL into
    anything else than what was checked (it removes dot segments, for one)."""
    request = client.build_request(method, checked.url, headers=headers)
    url = request.url
    sent = (url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme), url.raw_path)
    if sent != (checked.scheme, checked.host, checked.port, checked.path.encode("ascii")):
        raise UnsafeLink("rebuilt", "the recording link would not be sent as it was checked")
    return request


def shown_link(link: str) -> str:
    """The link as the log may show it: no user name or password, controls escaped, cut."""
    redacted = re.sub(r"^([^/?#]*//)[^/?#]*@", r"\1[redacted]@", link)
    printable = redacted.encode("ascii", "backslashreplace").decode("ascii")
    escaped = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m[0]):02x}", printable)
    if len(escaped) <= SHOWN_CHARS:
        return escaped
    return f"{escaped[:SHOWN_CHARS]}... ({len(link)} characters)"
