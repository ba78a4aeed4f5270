"""Which recording links may be fetched: the check alone, without HTTP (tests/test_recordings.py
sends the same kinds of links through the dashboard to a real server)."""

from __future__ import annotations

import httpx
import pytest

from dashboard.recording_links import CheckedLink, UnsafeLink, check_link, request_for, shown_link

PBX = "http://192.168.1.51"
PREFIX = "/callrecord/"


def cause(link: str, pbx_url: str = PBX, prefix: str = PREFIX) -> str | None:
    """Why the link is refused, or None when it passes."""
    try:
        check_link(link, pbx_url, prefix)
    except UnsafeLink as unsafe:
        return unsafe.cause
    return None


@pytest.mark.parametrize(
    ("link", "pbx_url", "checked"),
    [
        (  # the guide's example
            "http://192.168.1.51/callrecord/2015/May/05052015/050520151430819361.25418639033917453.wav",
            PBX,
            CheckedLink(
                "http",
                "192.168.1.51",
                80,
                "/callrecord/2015/May/05052015/050520151430819361.25418639033917453.wav",
            ),
        ),
        (
            "HTTPS://192.168.1.51/callrecord/x.WAV",
            PBX,
            CheckedLink("https", "192.168.1.51", 443, "/callrecord/x.WAV"),
        ),
        (
            "http://192.168.1.51:80/callrecord/x.wav",
            "http://admin:secret@192.168.1.51",
            CheckedLink("http", "192.168.1.51", 80, "/callrecord/x.wav"),
        ),
        (
            "http://PBX.local:8001/callrecord/x.mp3",
            "http://pbx.LOCAL:8001",
            CheckedLink("http", "pbx.local", 8001, "/callrecord/x.mp3"),
        ),
        (
            "https://pbx.local:8443/callrecord/x.ogg",
            "https://pbx.local:8443/",
            CheckedLink("https", "pbx.local", 8443, "/callrecord/x.ogg"),
        ),
        (
            "http://[::1]:8001/callrecord/x.wav",
            "http://[::1]:8001",
            CheckedLink("http", "::1", 8001, "/callrecord/x.wav"),
        ),
        (  # normalised: unreserved characters decoded, other escapes in capitals
            "http://192.168.1.51/%63allrecord/a%7e%2a%20b.wav",
            PBX,
            CheckedLink("http", "192.168.1.51", 80, "/callrecord/a~%2A%20b.wav"),
        ),
    ],
)
def test_a_recording_of_the_pbx_passes_normalised(
    link: str, pbx_url: str, checked: CheckedLink
) -> None:
    assert check_link(link, pbx_url, PREFIX) == checked


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("http://192.168.1.51/SukamAsteriskAPI/synapseactions.php/x.wav?actiondetails={}", "query"),
        ("http://192.168.1.51/callrecord/x.wav?", "query"),
        ("http://192.168.1.51/callrecord/x.wav#", "fragment"),
        ("http://192.168.1.51/callrecord/x.wav#t=10", "fragment"),
        (
            "http://192.168.1.51/callrecord/../SukamAsteriskAPI/synapseactions.php/b.wav",
            "dot_segment",
        ),
        ("http://192.168.1.51/callrecord/./x.wav", "dot_segment"),
        ("http://192.168.1.51/callrecord/.../x.wav", "dot_segment"),
        ("http://192.168.1.51/callrecord/a/..", "dot_segment"),
        ("http://192.168.1.51/callrecord/%2e%2e/x.wav", "encoded"),
        ("http://192.168.1.51/callrecord/%2E./x.wav", "encoded"),
        ("http://192.168.1.51/callrecord/a%2fb.wav", "encoded"),
        ("http://192.168.1.51/callrecord/a%2Fb.wav", "encoded"),
        ("http://192.168.1.51/callrecord/a%5cb.wav", "encoded"),
        ("http://192.168.1.51/callrecord/a%5Cb.wav", "encoded"),
        ("http://192.168.1.51/callrecord/%252e%252e/x.wav", "encoded"),
        ("http://192.168.1.51/callrecord/%252F/x.wav", "encoded"),
        ("http://192.168.1.51/callrecord/x%00.wav", "encoded"),
        ("http://192.168.1.51/callrecord/x%0d%0a.wav", "encoded"),
        ("http://192.168.1.51/callrecord/x%c3%a9.wav", "encoded"),
        ("http://192.168.1.51/callrecord\\..\\x.wav", "backslash"),
        ("http://192.168.1.51/callrecord/x .wav", "characters"),
        ("http://192.168.1.51/callrecord/x\t.wav", "characters"),
        ("http://192.168.1.51/callrecord/x\n.wav", "characters"),
        ("http://192.168.1.51/callrecord/x\x7f.wav", "characters"),
        ("http://192.168.1.51/callrecord/é.wav", "characters"),
        ("http://192.168.1.51/callrecord/..;/x.wav", "characters"),
        ("http://192.168.1.51/callrecord/x%2.wav", "characters"),
        ("http://192.168.1.51/callrecord/<x>.wav", "characters"),
        ("http://192.168.1.51/callrecord//x.wav", "empty_segment"),
        ("http://192.168.1.51//callrecord/x.wav", "empty_segment"),
        ("http://u@192.168.1.51/callrecord/x.wav", "userinfo"),
        ("http://u:p@192.168.1.51/callrecord/x.wav", "userinfo"),
        ("http://192.168.1.51@evil.example/callrecord/x.wav", "userinfo"),
        ("http://192.168.1.52/callrecord/x.wav", "host"),
        ("http://192.168.1.51.evil.example/callrecord/x.wav", "host"),
        ("http://evil.example#@192.168.1.51/callrecord/x.wav", "fragment"),
        ("http://3232235827/callrecord/x.wav", "host"),
        ("http://192.168.1.51:22/callrecord/x.wav", "port"),
        ("http://192.168.1.51:443/callrecord/x.wav", "port"),
        ("https://192.168.1.51:80/callrecord/x.wav", "port"),
        ("http://192.168.1.51:/callrecord/x.wav", "not_a_url"),
        ("http://%31%39%32.168.1.51/callrecord/x.wav", "not_a_url"),
        ("//192.168.1.51/callrecord/x.wav", "not_a_url"),
        ("/callrecord/x.wav", "not_a_url"),
        ("ftp://192.168.1.51/callrecord/x.wav", "scheme"),
        ("file:///etc/passwd.wav", "scheme"),
        ("http://192.168.1.51/SukamAsteriskAPI/synapseactions.php/x.wav", "prefix"),
        ("http://192.168.1.51/callrecordings/x.wav", "prefix"),
        ("http://192.168.1.51/CALLRECORD/x.wav", "prefix"),
        ("http://192.168.1.51", "prefix"),
        ("http://192.168.1.51/callrecord/x.php/y.wav", "dotted_directory"),
        ("http://192.168.1.51/callrecord/2015/x.wav.d/y.wav", "dotted_directory"),
        ("http://192.168.1.51/callrecord/x.php", "not_audio"),
        ("http://192.168.1.51/callrecord/2015/", "not_audio"),
        ("http://192.168.1.51/callrecord/" + "a" * 1000 + ".wav", "too_long"),
    ],
)
def test_anything_else_is_refused_with_its_cause(link: str, expected: str) -> None:
    assert cause(link) == expected


@pytest.mark.parametrize(
    ("link", "pbx_url", "expected"),
    [
        ("https://pbx.local/callrecord/x.wav", "https://pbx.local", None),
        ("http://pbx.local/callrecord/x.wav", "https://pbx.local", "port"),  # no downgrade
        ("http://pbx.local:443/callrecord/x.wav", "https://pbx.local", "port"),
        ("https://pbx.local:8001/callrecord/x.wav", "http://pbx.local:8001", "port"),
        ("http://pbx.local/callrecord/x.wav", "http://pbx.local:8001", "port"),
        ("http://pbx.local/callrecord/x.wav", "http://pbx.local:80", None),
        ("http://pbx.local/callrecord/x.wav", "http://pbx.local:99999", "pbx_url"),
        ("http://pbx.local/callrecord/x.wav", "pbx.local", "pbx_url"),
    ],
)
def test_the_scheme_and_port_are_the_pbx_web_servers(
    link: str, pbx_url: str, expected: str | None
) -> None:
    assert cause(link, pbx_url) == expected


@pytest.mark.parametrize(
    ("link", "prefix", "expected"),
    [
        ("http://192.168.1.51/rec/2015/x.wav", "/rec/", None),
        ("http://192.168.1.51/callrecord/x.wav", "/rec/", "prefix"),
        (
            "http://192.168.1.51/var/spool/asterisk/monitor/x.wav",
            "/var/spool/asterisk/monitor/",
            None,
        ),
        ("http://192.168.1.51/x.wav", "/", None),
        ("http://192.168.1.51/SukamAsteriskAPI/synapseactions.php/x.wav", "/", "dotted_directory"),
    ],
)
def test_the_prefix_is_the_one_given(link: str, prefix: str, expected: str | None) -> None:
    assert cause(link, prefix=prefix) == expected


async def test_the_request_carries_exactly_the_checked_url() -> None:
    checked = check_link(
        "http://192.168.1.51:8001/callrecord/a%2a.wav", "http://192.168.1.51:8001", PREFIX
    )
    async with httpx.AsyncClient() as client:
        request = request_for(client, checked, "GET", {"range": "bytes=0-1"})
    assert (str(request.url), request.url.raw_path) == (
        "http://192.168.1.51:8001/callrecord/a%2A.wav",
        b"/callrecord/a%2A.wav",
    )
    assert (request.method, request.headers["range"]) == ("GET", "bytes=0-1")


async def test_a_url_that_httpx_would_rebuild_otherwise_is_not_sent() -> None:
    unchecked = CheckedLink("http", "192.168.1.51", 80, "/callrecord/a/../b.wav")
    async with httpx.AsyncClient() as client:
        with pytest.raises(UnsafeLink) as raised:
            request_for(client, unchecked, "GET", {})
    assert raised.value.cause == "rebuilt"


@pytest.mark.parametrize(
    ("link", "shown"),
    [
        ("http://u:secret@pbx/x.wav", "http://[redacted]@pbx/x.wav"),
        (
            "http://pbx/x\r\nSet-Cookie: a\r\n.wav",
            "http://pbx/x\\x0d\\x0aSet-Cookie: a\\x0d\\x0a.wav",
        ),
        ("http://pbx/é.wav", "http://pbx/\\xe9.wav"),
        ("http://pbx/" + "a" * 300, "http://pbx/" + "a" * 189 + "... (311 characters)"),
    ],
)
def test_a_refused_link_is_shown_safely(link: str, shown: str) -> None:
    assert shown_link(link) == shown
