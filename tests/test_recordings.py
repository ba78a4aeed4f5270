"""Recordings: streamed from the simulated PBX (a real HTTP server) through the dashboard,
with byte ranges; only from the configured PBX; only to those who may see the call; audited."""

from __future__ import annotations

import io
import re
import threading
import time
import wave
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.recordings import (
    ByteRange,
    RecordingError,
    RecordingResponse,
    Reply,
    open_recording,
    parse_range,
    plan_reply,
)
from dashboard.seed import seed
from dashboard.settings import Settings
from dashboard.simulator.audio import Recordings, recording_wav
from dashboard.simulator.pbx import SimulatedPBX
from dashboard.simulator.server import create_simulator_app
from dashboard.simulator.traffic import Traffic
from tests.conftest import USUAL, FakeClock, just_finished, parts_of, send, sign_in
from tests.servers import RawServer, ThreadedServer, free_port

PBX_HOST = "192.168.1.51"
AGENT_EXTENSION = "70"  # sign_in(client, "agent") makes an agent at 70
OTHER_EXTENSION = "41"


class Recorder:
    """The events the simulated PBX sends, for the test to hand to the dashboard."""

    def __init__(self) -> None:
        self.events: list[dict[str, str]] = []
        self.changed = threading.Condition()

    async def __call__(self, event: dict[str, str]) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def wait_for(self, kind: str, uniqueid: str) -> dict[str, str]:
        def found() -> dict[str, str] | None:
            return next(
                (e for e in self.events if e["event"] == kind and e["uniqueid"] == uniqueid), None
            )

        with self.changed:
            if not self.changed.wait_for(lambda: found() is not None, timeout=10):
                raise AssertionError(f"the PBX never sent {kind} for {uniqueid}: {self.events}")
            event = found()
        assert event is not None
        return event


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[ThreadedServer, Recorder]]:
    recorder = Recorder()
    traffic = Traffic(seed=11, host=PBX_HOST)
    began = time.monotonic()

    def clock() -> datetime:  # the dashboards' day, whatever today is; calls' real lengths
        return USUAL.at + timedelta(seconds=time.monotonic() - began)

    pbx = SimulatedPBX(recorder, tz=ZoneInfo("UTC"), traffic=traffic, clock=clock)
    server = ThreadedServer(create_simulator_app(pbx, ["127.0.0.1"]))
    traffic.recording_base = server.base_url  # as `serve_simulator` does
    with server:
        yield server, recorder


@pytest.fixture(scope="module")
def recorded(simulator: tuple[ThreadedServer, Recorder]) -> dict[str, dict[str, str]]:
    """One short answered call at each of two extensions: their CallFinish, by extension."""
    server, recorder = simulator
    uniqueids = {}
    for extension in (AGENT_EXTENSION, OTHER_EXTENSION):
        params = {"extension": extension, "number": "9876543210", "ring": "0.05", "talk": "1"}
        answer = httpx.post(server.base_url + "/simulator/ring", params=params)
        assert answer.status_code == 200, answer.text
        uniqueids[extension] = answer.json()["uniqueid"]
    return {ext: recorder.wait_for("CallFinish", uid) for ext, uid in uniqueids.items()}


@pytest.fixture
def dashboard(
    settings: Settings, clock: FakeClock, simulator: tuple[ThreadedServer, Recorder]
) -> Iterator[TestClient]:
    """A dashboard whose PBX (SYNAPSE_URL) is the simulator."""
    wired = settings.with_changes(synapse_url=simulator[0].base_url)
    with TestClient(create_app(wired, clock=clock)) as client:
        yield client


def url(event: dict[str, str]) -> str:
    return f"/recordings/{quote(event['uniqueid'])}?host={quote(event['asteriskhost'])}"


def at_pbx(event: dict[str, str]) -> bytes:
    """The recording as the PBX itself serves it."""
    response = httpx.get(event["recordlink"])
    assert response.status_code == 200
    return response.content


def with_link(event: dict[str, str], uniqueid: str, link: str | None) -> dict[str, str]:
    changed = {**event, "uniqueid": uniqueid}
    changed.pop("recordlink", None)
    return changed if link is None else {**changed, "recordlink": link}


def audit(client: TestClient) -> list[tuple[str, str, str, str]]:
    """The recording entries of the audit log, oldest first."""
    entries = parts_of(client).audit.entries()
    return [
        (e.user, e.action, e.target, e.result)
        for e in reversed(entries)
        if e.action.startswith("recording")
    ]


@pytest.fixture
def supervisor(dashboard: TestClient, recorded: dict[str, dict[str, str]]) -> TestClient:
    for event in recorded.values():
        send(dashboard, event)
    sign_in(dashboard, "supervisor")
    return dashboard


# -- the whole file, and ranges ------------------------------------------------------------


def test_the_whole_recording_streams_as_the_pbx_has_it(
    supervisor: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    event = recorded[AGENT_EXTENSION]
    expected = at_pbx(event)
    response = supervisor.get(url(event))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["content-length"] == str(len(expected))
    assert response.headers["accept-ranges"] == "bytes"
    assert "no-store" in response.headers["cache-control"]
    assert response.content == expected
    with wave.open(io.BytesIO(response.content)) as audio:  # a real WAV: 1 s, 8 kHz mono
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
        assert audio.getnframes() == 8000


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=1000-1999", 1000, 1999), ("bytes=-500", -500, -1)],
    ids=["first bytes", "middle", "suffix"],
)
def test_a_range_gives_206_with_just_those_bytes(
    supervisor: TestClient,
    recorded: dict[str, dict[str, str]],
    header: str,
    first: int,
    last: int,
) -> None:
    event = recorded[AGENT_EXTENSION]
    whole = at_pbx(event)
    first, last = first % len(whole), last % len(whole)
    response = supervisor.get(url(event), headers={"Range": header})
    assert response.status_code == 206, response.text
    assert response.headers["content-range"] == f"bytes {first}-{last}/{len(whole)}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["content-type"] == "audio/wav"
    assert response.content == whole[first : last + 1]


def test_a_range_past_the_end_is_416_with_the_length(
    supervisor: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    event = recorded[AGENT_EXTENSION]
    response = supervisor.get(url(event), headers={"Range": "bytes=999999999-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(at_pbx(event))}"
    assert response.json()["error"] == "out_of_range"


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "bytes=abc", "pages=1-2", "bytes=9-2"])
def test_a_malformed_or_multiple_range_gets_the_whole_file(
    supervisor: TestClient, recorded: dict[str, dict[str, str]], header: str
) -> None:
    event = recorded[AGENT_EXTENSION]
    response = supervisor.get(url(event), headers={"Range": header})
    assert response.status_code == 200
    assert response.content == at_pbx(event)


def test_without_host_the_newest_call_with_that_uniqueid_is_found(
    supervisor: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    event = recorded[AGENT_EXTENSION]
    response = supervisor.get(f"/recordings/{event['uniqueid']}", headers={"Range": "bytes=0-3"})
    assert (response.status_code, response.content) == (206, b"RIFF")


# -- where recordings may come from --------------------------------------------------------


def test_a_recording_link_to_another_host_is_refused_fetched_never_and_logged(
    supervisor: TestClient,
    recorded: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fetched: list[httpx.Request] = []

    def spy(request: httpx.Request) -> httpx.Response:
        fetched.append(request)
        return httpx.Response(200, content=b"RIFF")

    state = parts_of(supervisor)
    monkeypatch.setattr(
        state, "recordings_client", httpx.AsyncClient(transport=httpx.MockTransport(spy))
    )
    base = recorded[AGENT_EXTENSION]
    port = free_port()
    links = {
        "evil-1": "http://evil.example/x.wav",
        "evil-2": f"http://127.0.0.1:{port}/callrecord/x.wav",  # the PBX's address, not its port
        "evil-3": f"http://user:pw@{base['recordlink'].split('//')[1]}",
        "evil-4": base["recordlink"].replace(".wav", ".php"),
        "evil-5": "file:///etc/passwd.wav",
    }
    for uniqueid, link in links.items():
        send(supervisor, with_link(base, uniqueid, link))
        response = supervisor.get(f"/recordings/{uniqueid}?host={PBX_HOST}")
        assert response.status_code == 403, (link, response.text)
        assert response.json() == {
            "error": "refused",
            "detail": "the recording link does not point at the configured PBX, so it is"
            " not fetched",
        }
    check = supervisor.get(f"/recordings/evil-1?host={PBX_HOST}&check=1")
    assert (check.status_code, check.json()["error"]) == (403, "refused")
    assert fetched == []
    assert [entry[2:] for entry in audit(supervisor)] == [(uid, "refused") for uid in links]
    assert (
        "refused to fetch the recording of evil-1 (host): the recording link's host" in caplog.text
    )


CANARY_AUDIO = (
    b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: 4\r\n"
    b"Connection: close\r\n\r\nRIFF"
)
GOOD_PATH = "/callrecord/2015/May/05052015/050520151430819361.25418.wav"
NORMALISED_PATH = "/callrecord/2015/May/05052015/%7eagent%2a.wav"
ORIGINATE = '{"action":"Originate","channel":"SIP/70","exten":"900","context":"DLPN_all"}'
SCRIPT = "/SukamAsteriskAPI/synapseactions.php"
# (why it is refused, as /metrics counts it; the link, {pbx} being the canary's http://host:port)
ATTACKS = [
    ("query", "{pbx}" + SCRIPT + "/x.wav?actiondetails=" + ORIGINATE),
    ("query", "{pbx}/callrecord/x.wav?"),
    ("query", "{pbx}/callrecord/x.wav?download=1"),
    ("fragment", "{pbx}/callrecord/x.wav#"),
    ("dot_segment", "{pbx}/callrecord/.." + SCRIPT + "/b.wav"),
    ("dot_segment", "{pbx}/callrecord/./x.wav"),
    ("encoded", "{pbx}/callrecord/%2e%2e" + SCRIPT + "/b.wav"),
    ("encoded", "{pbx}/callrecord/%2E%2E" + SCRIPT + "/b.wav"),
    ("encoded", "{pbx}/callrecord/..%2F..%2fSukamAsteriskAPI/b.wav"),
    ("encoded", "{pbx}/callrecord/..%5c..%5CSukamAsteriskAPI/b.wav"),
    ("encoded", "{pbx}/callrecord/%252e%252e" + SCRIPT + "/b.wav"),
    ("encoded", "{pbx}/callrecord/x%00.wav"),
    ("backslash", "{pbx}/callrecord/..\\SukamAsteriskAPI\\b.wav"),
    ("characters", "{pbx}/callrecord/x\r\nX-Injected: 1\r\n.wav"),
    ("characters", "{pbx}/callrecord/x\t.wav"),
    ("characters", "{pbx}/callrecord/x y.wav"),
    ("characters", "{pbx}/callrecord/..;" + SCRIPT + "/b.wav"),
    ("empty_segment", "{pbx}/callrecord//x.wav"),
    ("empty_segment", "{pbx}//callrecord/x.wav"),
    ("userinfo", "http://user@{hostport}/callrecord/x.wav"),
    ("userinfo", "http://user:pw@{hostport}/callrecord/x.wav"),
    ("host", "http://localhost:{port}/callrecord/x.wav"),
    ("port", "https://{hostport}/callrecord/x.wav"),
    ("scheme", "ftp://{hostport}/callrecord/x.wav"),
    ("not_a_url", "//{hostport}/callrecord/x.wav"),
    ("prefix", "{pbx}" + SCRIPT + "/x.wav"),
    ("prefix", "{pbx}/CallRecord/x.wav"),
    ("dotted_directory", "{pbx}/callrecord/x.php/y.wav"),
    ("not_audio", "{pbx}/callrecord/x.php"),
    ("not_audio", "{pbx}/callrecord/2015"),
    ("too_long", "{pbx}/callrecord/" + "a" * 1100 + ".wav"),
]


@pytest.fixture
def canary() -> Iterator[RawServer]:
    """The PBX's web server, as a canary: it says exactly which request lines reached it."""
    with RawServer(CANARY_AUDIO) as server:
        yield server


@pytest.fixture
def guarded(settings: Settings, clock: FakeClock, canary: RawServer) -> Iterator[TestClient]:
    """A supervisor on a dashboard whose PBX (SYNAPSE_URL) is the canary."""
    wired = settings.with_changes(synapse_url=canary.base_url)
    with TestClient(create_app(wired, clock=clock)) as client:
        sign_in(client, "supervisor")
        yield client


def at_canary(template: str, canary: RawServer) -> str:
    hostport = canary.base_url.removeprefix("http://")
    filled = template.replace("{pbx}", canary.base_url).replace("{hostport}", hostport)
    return filled.replace("{port}", str(canary.port))


def refused_counts(client: TestClient) -> dict[str, int]:
    text = client.get("/metrics").text
    found = re.findall(r'dashboard_recording_links_refused_total\{reason="(\w+)"\} (\d+)', text)
    return {reason: int(count) for reason, count in found}


def test_only_recordings_under_the_prefix_reach_the_pbx_exactly_as_checked(
    guarded: TestClient, canary: RawServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tz = ZoneInfo("UTC")
    for number, (reason, template) in enumerate(ATTACKS):
        uniqueid = f"attack-{number}"
        link = at_canary(template, canary)
        send(guarded, just_finished(clock(), tz, uniqueid=uniqueid, recordlink=link))
        response = guarded.get(f"/recordings/{uniqueid}")
        assert (canary.connections, canary.request_lines) == (0, []), (reason, link)
        assert (response.status_code, response.json()) == (
            403,
            {
                "error": "refused",
                "detail": "the recording link does not point at the configured PBX, so it is"
                " not fetched",
            },
        ), (reason, link)
    for uniqueid, path in (("good-1", GOOD_PATH), ("good-2", NORMALISED_PATH)):
        link = canary.base_url + path
        send(guarded, just_finished(clock(), tz, uniqueid=uniqueid, recordlink=link))
        good = guarded.get(f"/recordings/{uniqueid}")
        assert (good.status_code, good.content) == (200, b"RIFF")
    assert canary.request_lines == [
        f"GET {GOOD_PATH} HTTP/1.1".encode(),
        b"GET /callrecord/2015/May/05052015/~agent%2A.wav HTTP/1.1",  # as checked: normalised
    ]
    assert refused_counts(guarded) == dict(Counter(reason for reason, _ in ATTACKS))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    refusals = [message for message in warnings if message.startswith("refused to fetch")]
    assert len(refusals) == len(ATTACKS)
    assert all(
        len(message) < 600 and "\r" not in message and "\n" not in message for message in refusals
    )
    assert refusals[0] == (
        "refused to fetch the recording of attack-0 (query): the recording link carries a query"
        f" string; the link: {canary.base_url}{SCRIPT}/x.wav?actiondetails=" + ORIGINATE
    )
    assert "user:pw" not in "\n".join(refusals)


def test_a_recording_the_pbx_no_longer_has_says_so(
    supervisor: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    base = recorded[AGENT_EXTENSION]
    gone = base["recordlink"].rsplit("/", 1)[0] + "/gone.wav"
    send(supervisor, with_link(base, "gone-1", gone))
    response = supervisor.get(f"/recordings/gone-1?host={PBX_HOST}")
    assert response.status_code == 404
    assert response.json() == {"error": "missing", "detail": "the PBX no longer has this recording"}
    check = supervisor.get(f"/recordings/gone-1?host={PBX_HOST}&check=1")
    assert (check.status_code, check.json()["error"]) == (404, "missing")
    assert audit(supervisor)[-1] == ("supervisor-user", "recording play", "gone-1", "missing")


def test_a_call_without_a_recording_is_404(
    supervisor: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    send(supervisor, with_link(recorded[AGENT_EXTENSION], "none-1", None))
    response = supervisor.get(f"/recordings/none-1?host={PBX_HOST}")
    assert response.status_code == 404
    assert response.json()["detail"] == "no recording for this call"
    assert supervisor.get("/recordings/no-such-call").status_code == 404


def test_the_check_answers_without_sending_audio_or_auditing(
    supervisor: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    response = supervisor.get(url(recorded[AGENT_EXTENSION]) + "&check=1")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "detail": "the PBX has this recording"}
    assert audit(supervisor) == []


# -- who may listen and download -----------------------------------------------------------


def test_an_agent_hears_their_own_calls_only_and_may_not_download(
    dashboard: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    for event in recorded.values():
        send(dashboard, event)
    sign_in(dashboard, "agent")
    own, other = recorded[AGENT_EXTENSION], recorded[OTHER_EXTENSION]
    assert dashboard.get(url(own)).content == at_pbx(own)
    refused = dashboard.get(url(other))
    missing = dashboard.get("/recordings/no-such-call")
    assert refused.status_code == missing.status_code == 404
    assert refused.json() == missing.json()  # no telling a call exists from a wrong one
    assert dashboard.get(url(own) + "&download=1").status_code == 403
    assert dashboard.get(url(other) + "&download=1").status_code == 404
    assert [entry[1:] for entry in audit(dashboard) if entry[0] == "agent-user"] == [
        ("recording play", own["uniqueid"], "ok"),
        ("recording play", other["uniqueid"], "not_found"),
        ("recording play", "no-such-call", "not_found"),
        ("recording download", own["uniqueid"], "forbidden"),
        ("recording download", other["uniqueid"], "not_found"),
    ]


def test_a_supervisor_downloads_an_attachment(
    supervisor: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    event = recorded[OTHER_EXTENSION]
    response = supervisor.get(url(event) + "&download=1")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{event["uniqueid"]}.wav"'
    )
    assert response.content == at_pbx(event)
    assert audit(supervisor) == [("supervisor-user", "recording download", event["uniqueid"], "ok")]


def test_a_playback_is_audited_once_not_at_every_seek(
    supervisor: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    event = recorded[AGENT_EXTENSION]
    assert supervisor.get(url(event), headers={"Range": "bytes=0-"}).status_code == 206
    for seek in ("bytes=4000-", "bytes=12000-", "bytes=-100"):
        assert supervisor.get(url(event), headers={"Range": seek}).status_code == 206
    assert supervisor.head(url(event)).status_code == 200
    assert audit(supervisor) == [("supervisor-user", "recording play", event["uniqueid"], "ok")]


def test_a_listening_that_never_starts_at_byte_0_is_audited_too(
    supervisor: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    event = recorded[AGENT_EXTENSION]
    whole = supervisor.get(url(event), headers={"Range": "bytes=-100000000"})
    assert whole.status_code == 206 and whole.content == at_pbx(event)
    assert audit(supervisor) == [("supervisor-user", "recording play", event["uniqueid"], "ok")]
    assert (
        supervisor.get(url(event), headers={"Range": "bytes=" + "9" * 5000 + "-"}).status_code
        == 200
    )


def test_what_no_call_has_is_audited_at_every_try_and_kept_nowhere(
    supervisor: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    event = recorded[AGENT_EXTENSION]
    state = parts_of(supervisor)
    assert supervisor.get(url(event)).status_code == 200
    for _ in range(2):
        for n in range(3):
            assert supervisor.get(f"/recordings/{n}.{'9' * 60}").status_code == 404
    user = state.accounts.find_user("supervisor-user")
    call = state.store.get_call_by_uniqueid(event["uniqueid"])
    assert user is not None and call is not None
    assert list(state.recording_listens) == [(user.id, call.key)]
    assert [entry[3] for entry in audit(supervisor)] == ["ok"] + ["not_found"] * 6


def test_signed_out_is_sent_to_sign_in(
    dashboard: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    response = dashboard.get(url(recorded[AGENT_EXTENSION]), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_the_player_partial_renders_its_controls(
    supervisor: TestClient, recorded: dict[str, dict[str, str]]
) -> None:
    from dashboard.calls import Call

    env = parts_of(supervisor).fragments.env
    template = env.from_string(
        '{% from "partials/player.html" import player %}{{ player(call, can_download) }}'
    )
    call = Call(host=PBX_HOST, uniqueid="1.2", number="98765", billable_seconds=75)
    html = template.render(call=call, can_download=True)
    assert 'src="/recordings/1.2?host=192.168.1.51"' in html
    assert 'preload="none"' in html
    for hook in ("data-player-play", "data-player-seek", 'data-player-skip="-10"'):
        assert hook in html
    assert "1:15" in html and 'href="/recordings/1.2?host=192.168.1.51&amp;download=1"' in html
    assert "download=1" not in template.render(call=call, can_download=False)
    assert "<script" not in html and "style=" not in html


# -- the logic, without HTTP ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=1000-", ByteRange(1000, None)),
        ("bytes=-500", ByteRange(None, 500)),
        (" Bytes = 5 - 9 ", ByteRange(5, 9)),
        ("bytes=0-1,3-4", None),
        ("bytes=9-2", None),
        ("bytes=-", None),
        ("bytes=x-1", None),
        ("items=0-1", None),
    ],
)
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header) == expected


@pytest.mark.parametrize(
    ("byte_range", "length", "span"),
    [
        (ByteRange(0, 99), 1000, (0, 99)),
        (ByteRange(990, 2000), 1000, (990, 999)),
        (ByteRange(1000, None), 1000, None),
        (ByteRange(None, 5000), 1000, (0, 999)),
        (ByteRange(None, 0), 1000, None),
    ],
)
def test_a_range_resolves_against_the_length(
    byte_range: ByteRange, length: int, span: tuple[int, int] | None
) -> None:
    assert byte_range.resolve(length) == span


Handler = Callable[[httpx.Request], httpx.Response]


async def fetch(handler: Handler, byte_range: ByteRange | None) -> tuple[RecordingResponse, bytes]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        response = await open_recording(
            client,
            "http://10.0.0.5/callrecord/x.wav",
            "http://10.0.0.5",
            "/callrecord/",
            byte_range,
        )
        body = b"".join([chunk async for chunk in _chunks(response)])
        return response, body


async def _chunks(response: RecordingResponse) -> AsyncIterator[bytes]:
    async for chunk in response.body_iterator:
        assert isinstance(chunk, bytes)
        yield chunk


def whole_file_server(body: bytes, **headers: str) -> Handler:
    """A PBX that ignores Range and always sends the whole file, in small chunks."""

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-length": str(len(body)), **headers}, content=chunks()
        )

    return handler


async def test_a_pbx_ignoring_ranges_still_lets_the_player_seek() -> None:
    body = bytes(range(256)) * 4
    response, sent = await fetch(whole_file_server(body), ByteRange(100, 199))
    assert response.status_code == 206
    assert response.headers["content-range"] == "bytes 100-199/1024"
    assert sent == body[100:200]
    response, sent = await fetch(whole_file_server(body), ByteRange(None, 10))
    assert (response.headers["content-range"], sent) == ("bytes 1014-1023/1024", body[-10:])
    with pytest.raises(RecordingError) as raised:
        await fetch(whole_file_server(body), ByteRange(5000, None))
    assert (raised.value.status, raised.value.headers) == (416, {"content-range": "bytes */1024"})


async def test_the_pbx_content_type_is_kept_when_it_is_audio() -> None:
    body = b"ID3" + bytes(50)
    response, _ = await fetch(whole_file_server(body, **{"content-type": "audio/mpeg"}), None)
    assert response.headers["content-type"] == "audio/mpeg"
    response, _ = await fetch(whole_file_server(body, **{"content-type": "text/plain"}), None)
    assert response.headers["content-type"] == "audio/wav"


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        (httpx.ConnectError("refused"), 502, "pbx_unreachable"),
        (httpx.ConnectTimeout("slow"), 504, "pbx_timeout"),
        (httpx.ReadTimeout("slow"), 504, "pbx_timeout"),
        (httpx.Response(404), 404, "missing"),
        (httpx.Response(410), 404, "missing"),
        (httpx.Response(416, headers={"content-range": "bytes */77"}), 416, "out_of_range"),
        (httpx.Response(302, headers={"location": "http://evil.example/"}), 502, "pbx_error"),
        (httpx.Response(500), 502, "pbx_error"),
        (httpx.Response(206, headers={"content-range": "bytes 50-59/100"}), 502, "pbx_error"),
    ],
)
async def test_what_goes_wrong_at_the_pbx_is_said_clearly(
    answer: Any, status: int, error: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, httpx.Response)
        return answer

    with pytest.raises(RecordingError) as raised:
        await fetch(handler, ByteRange(0, 9))
    assert (raised.value.status, raised.value.error) == (status, error)
    if status == 416:
        assert raised.value.headers == {"content-range": "bytes */77"}


async def test_the_pbx_range_answer_is_passed_on() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["range"] == "bytes=10-19"
        assert request.headers["accept-encoding"] == "identity"
        return httpx.Response(206, headers={"content-range": "bytes 10-19/100"}, content=b"x" * 10)

    response, body = await fetch(handler, ByteRange(10, 19))
    assert (response.status_code, body) == (206, b"x" * 10)
    assert response.headers["content-range"] == "bytes 10-19/100"
    assert response.headers["content-length"] == "10"


# -- the simulator's recordings ------------------------------------------------------------


def test_simulated_recordings_are_real_wav_files_that_differ_by_call() -> None:
    first, again, other = (
        recording_wav("/callrecord/a.wav", 3),
        recording_wav("/callrecord/a.wav", 3),
        recording_wav("/callrecord/b.wav", 3),
    )
    assert first == again and first != other
    with wave.open(io.BytesIO(first)) as audio:
        assert (audio.getframerate(), audio.getnframes()) == (8000, 24000)


def test_the_simulator_keeps_the_last_recordings_only() -> None:
    recordings = Recordings(size=2)
    for name in ("a", "b", "c"):
        recordings.remember(f"http://pbx/callrecord/{name}.wav", 500)
    assert "/callrecord/a.wav" not in recordings
    wav = recordings.wav("/callrecord/c.wav")
    assert wav is not None
    with wave.open(io.BytesIO(wav)) as audio:
        assert audio.getnframes() == 120 * 8000  # capped at two minutes


def test_the_simulator_serves_ranges_like_a_web_server(
    simulator: tuple[ThreadedServer, Recorder], recorded: dict[str, dict[str, str]]
) -> None:
    link = recorded[AGENT_EXTENSION]["recordlink"]
    assert link.startswith(simulator[0].base_url + "/callrecord/")
    whole = httpx.get(link).content
    part = httpx.get(link, headers={"Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, whole[10:20])
    assert part.headers["content-range"] == f"bytes 10-19/{len(whole)}"
    beyond = httpx.get(link, headers={"Range": f"bytes={len(whole)}-"})
    assert (beyond.status_code, beyond.headers["content-range"]) == (416, f"bytes */{len(whole)}")
    assert httpx.get(simulator[0].base_url + "/callrecord/nothing.wav").status_code == 404


def test_a_seeded_calls_recording_plays_through_the_dashboard_with_ranges(
    dashboard: TestClient, simulator: tuple[ThreadedServer, Recorder]
) -> None:
    """As `dashboard demo` seeds its history: links at the simulator, which plays them."""
    store = parts_of(dashboard).store
    seed(
        store, 40, days=1, tz=ZoneInfo("UTC"), host=PBX_HOST, extensions=["41"],
        now=USUAL.at, seed=3, recording_base=simulator[0].base_url,
    )  # fmt: skip
    uniqueid, link = store.db.execute(
        "SELECT uniqueid, recordlink FROM calls WHERE recordlink IS NOT NULL LIMIT 1"
    ).fetchone()
    assert link.startswith(simulator[0].base_url + "/callrecord/")
    sign_in(dashboard, "supervisor")
    address = f"/recordings/{quote(uniqueid)}?host={PBX_HOST}"
    whole = dashboard.get(address)
    assert (whole.status_code, whole.headers["content-type"]) == (200, "audio/wav")
    with wave.open(io.BytesIO(whole.content)) as audio:
        assert audio.getframerate() == 8000 and 20 * 8000 <= audio.getnframes() <= 60 * 8000
    part = dashboard.get(address, headers={"Range": "bytes=1000-1999"})
    assert (part.status_code, part.content) == (206, whole.content[1000:2000])
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(whole.content)}"


@pytest.mark.parametrize(
    ("pbx_type", "served"),
    [
        ("audio/mpeg", "audio/mpeg"),
        ("AUDIO/X-WAV; codecs=1", "audio/x-wav"),
        ("audio/x, text/html", "audio/wav"),  # a browser would read the last: a page
        ("audio/x;a=b, text/javascript", "audio/wav"),
        ("text/html", "audio/wav"),
        ("audio/", "audio/wav"),
        ("", "audio/wav"),
    ],
)
def test_the_type_served_is_one_audio_type_whatever_the_pbx_says(
    pbx_type: str, served: str
) -> None:
    reply = plan_reply(200, httpx.Headers({"content-type": pbx_type}), None)
    assert reply.headers["content-type"] == served


def test_a_part_is_passed_on_only_at_the_length_its_range_says() -> None:
    asked = parse_range("bytes=0-")
    told = {"content-range": "bytes 0-99999/100000"}
    with pytest.raises(RecordingError) as caught:
        plan_reply(206, httpx.Headers({**told, "content-length": "100"}), asked)
    assert (caught.value.status, caught.value.error) == (502, "pbx_error")
    headers = {"content-type": "audio/wav", "accept-ranges": "bytes"}
    headers |= {"cache-control": "private, no-store", "content-length": "100000"}
    headers |= {"content-range": "bytes 0-99999/100000"}
    assert plan_reply(206, httpx.Headers({**told, "content-length": "100000"}), asked) == Reply(
        206, headers, limit=100000
    )
