"""The Synapse client against the simulated Synapse, and against broken PBXs, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import pytest

from dashboard.pbx import PBXError, Synapse
from dashboard.simulator.pbx import SimulatedPBX
from dashboard.simulator.server import create_simulator_app
from dashboard.simulator.traffic import Traffic
from tests.servers import RawServer, ThreadedServer, free_port

SENT: list[dict[str, str]] = []


async def record(event: dict[str, str]) -> None:
    SENT.append(event)


@pytest.fixture
def simulator() -> Iterator[tuple[ThreadedServer, SimulatedPBX]]:
    SENT.clear()
    pbx = SimulatedPBX(record, tz=ZoneInfo("UTC"), traffic=Traffic(seed=3, host="10.0.0.5"))
    with ThreadedServer(create_simulator_app(pbx, ["127.0.0.1"])) as server:
        yield server, pbx


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with Synapse.make_client() as http:
        yield http


def synapse(base_url: str, http: httpx.AsyncClient, total_timeout: float = 5.0) -> Synapse:
    return Synapse(
        base_url,
        context="DLPN_all",
        channel_template="SIP/{extension}",
        client=http,
        total_timeout=total_timeout,
    )


def received(server: ThreadedServer) -> list[dict[str, str]]:
    """The commands the simulator logged, each as the JSON its actiondetails carried."""
    log = httpx.get(server.base_url + "/simulator/commands").json()["commands"]
    return [json.loads(parse_qs(entry["query"])["actiondetails"][0]) for entry in log]


async def test_each_command_is_one_get_with_the_json_url_encoded(
    simulator: tuple[ThreadedServer, SimulatedPBX], client: httpx.AsyncClient
) -> None:
    server, pbx = simulator
    pbx_client = synapse(server.base_url, client)
    originated = await pbx_client.originate("70", "+919876543210")
    assert originated.status == 200 and originated.reply.startswith("Success")
    [call] = pbx.calls.values()
    trunk = call.plan.redirectchannel
    await pbx_client.transfer(trunk, "46")
    moved = call.plan.hangupchannel  # the simulator's channel at the new extension
    assert moved.startswith("SIP/46-")
    await pbx_client.hangup(moved)
    assert received(server) == [
        {
            "action": "Originate",
            "extension": "SIP/70",
            "number": "+919876543210",
            "context": "DLPN_all",
        },
        {
            "action": "Transfer",
            "transferchannel": trunk,
            "newextension": "46",
            "context": "DLPN_all",
        },
        {"action": "Hangup", "hangupchannel": moved},
    ]
    raw = httpx.get(server.base_url + "/simulator/commands").json()["commands"][0]["query"]
    assert raw.startswith("actiondetails=%7B%22action%22%3A%22Originate%22")
    assert "+" not in raw and " " not in raw  # every special character percent-encoded


def test_the_url_is_exactly_the_guides(client: httpx.AsyncClient) -> None:
    url = synapse("http://192.168.1.51/", client).url(
        {"action": "Hangup", "hangupchannel": "SIP/700000418d"}
    )
    assert url == (
        "http://192.168.1.51/SukamAsteriskAPI/synapseactions.php?actiondetails="
        "%7B%22action%22%3A%22Hangup%22%2C%22hangupchannel%22%3A%22SIP%2F700000418d%22%7D"
    )


async def test_the_pbx_refusing_is_an_error_with_its_reason(
    simulator: tuple[ThreadedServer, SimulatedPBX], client: httpx.AsyncClient
) -> None:
    server, _ = simulator
    with pytest.raises(PBXError) as refused:
        await synapse(server.base_url, client).hangup("SIP/99-deadbeef")
    assert (refused.value.outcome, refused.value.status) == ("refused", 502)
    assert "HTTP 404" in refused.value.message and "no such channel" in refused.value.message
    assert server.base_url in refused.value.message


async def test_a_pbx_that_is_not_in_the_allowed_ip_list_refuses(client: httpx.AsyncClient) -> None:
    pbx = SimulatedPBX(record, tz=ZoneInfo("UTC"))
    with (
        ThreadedServer(create_simulator_app(pbx, ["10.9.9.9"])) as server,
        pytest.raises(PBXError) as refused,
    ):
        await synapse(server.base_url, client).originate("70", "9876543210")
    assert "Allowed IP List" in refused.value.message and pbx.calls == {}


@pytest.mark.parametrize(
    ("reply", "outcome", "status", "words"),
    [
        (
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 9\r\n\r\nPHP error",
            "refused",
            502,
            "HTTP 500 PHP error",
        ),
        (b"\x00\xff garbage, not HTTP\r\n\r\n", "unreachable", 502, "Could not reach"),
        (None, "timeout", 504, "did not answer in 0.5 s"),
    ],
)
async def test_a_broken_pbx_is_a_clear_error_within_the_timeout(
    client: httpx.AsyncClient, reply: bytes | None, outcome: str, status: int, words: str
) -> None:
    with RawServer(reply) as broken:
        started = datetime.now(UTC)
        with pytest.raises(PBXError) as failed:
            await synapse(broken.base_url, client, total_timeout=0.5).originate("70", "98765")
        assert (datetime.now(UTC) - started).total_seconds() < 2
        assert broken.connections == 1  # never retried: a retried Originate dials twice
    assert (failed.value.outcome, failed.value.status) == (outcome, status)
    assert words in failed.value.message


async def test_a_pbx_that_is_down(client: httpx.AsyncClient) -> None:
    with pytest.raises(PBXError) as failed:
        await synapse(f"http://127.0.0.1:{free_port()}", client).hangup("SIP/70-1")
    assert (failed.value.outcome, failed.value.status) == ("unreachable", 502)
    assert "Could not reach the PBX at http://127.0.0.1:" in failed.value.message


async def test_a_reply_that_cannot_be_decoded_is_a_clear_error(client: httpx.AsyncClient) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!"
    with RawServer(reply) as broken, pytest.raises(PBXError) as failed:
        await synapse(broken.base_url, client).originate("70", "98765")
    assert (failed.value.outcome, failed.value.status) == ("unreachable", 502)


def test_messages_never_show_the_pbx_password(client: httpx.AsyncClient) -> None:
    pbx = synapse("http://admin:s3cret@192.168.1.51:8080", client)
    assert pbx.shown_url == "http://192.168.1.51:8080"
