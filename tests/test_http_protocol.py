from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from uvicorn.server import ServerState

from dashboard.http_protocol import HeadWithBody, QuietEventsProtocol
from tests.servers import STARTUP_SECONDS, free_port


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(await request.body())


APP = Starlette(
    routes=[
        Route("/synapse/events", ok),
        Route("/synapse/events/echo", echo, methods=["POST"]),
        Route("/healthz", ok),
    ]
)


@contextmanager
def serving(protocol: type[QuietEventsProtocol] | None) -> Iterator[str]:
    """A real uvicorn in a thread; no logging set-up of its own (the test's records it)."""
    port = free_port()
    options = {"http": protocol} if protocol else {}
    config = uvicorn.Config(APP, host="127.0.0.1", port=port, log_config=None, **options)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)  # the interval between polls of a condition, with a deadline
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.parametrize("quiet", [True, False])
def test_no_access_record_is_made_for_a_call_event(
    quiet: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    with serving(QuietEventsProtocol if quiet else None) as base, httpx.Client() as http:
        for path in ("/synapse/events?data=%7B%7D", "/synapse/events/t0ken", "/healthz"):
            assert http.get(base + path).status_code in (200, 404)
    paths = [record.args[2] for record in caplog.records if record.name == "uvicorn.access"]  # type: ignore[index]
    everything = ["/synapse/events?data=%7B%7D", "/synapse/events/t0ken", "/healthz"]
    assert paths == (["/healthz"] if quiet else everything)


class RecordingTransport(asyncio.Transport):
    """A connection that keeps what each write sent."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def connection() -> tuple[QuietEventsProtocol, RecordingTransport]:
    config = uvicorn.Config(APP, log_config=None)
    config.load()
    protocol = QuietEventsProtocol(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def written(transport: RecordingTransport, count: int) -> list[bytes]:
    """The transport's writes once there are `count` (the app runs in the loop's tasks)."""
    for _ in range(1000):
        if len(transport.writes) >= count:
            break
        await asyncio.sleep(0)
    return transport.writes


OK_HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain; charset=utf-8\r\n\r\n"


def writes_for(requests: bytes, count: int) -> list[bytes]:
    """What a connection writes for these requests, once it has written `count` times."""

    async def main() -> list[bytes]:
        protocol, transport = connection()
        protocol.data_received(requests)
        writes = await written(transport, count)
        protocol.connection_lost(None)
        return writes

    return asyncio.run(main())


def test_a_call_events_answer_leaves_in_one_write_and_others_as_uvicorn_writes_them() -> None:
    requests = (
        b"GET /synapse/events?data=%7B%7D HTTP/1.1\r\nHost: pbx\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\nHost: pbx\r\n\r\n"
        b"GET /synapse/events HTTP/1.1\r\nHost: pbx\r\n\r\n"
    )
    assert writes_for(requests, 4) == [OK_HEAD + b"ok", OK_HEAD, b"ok", OK_HEAD + b"ok"]


def test_an_answer_to_head_leaves_when_it_completes_on_a_connection_kept_alive() -> None:
    requests = (
        b"HEAD /synapse/events HTTP/1.1\r\nHost: pbx\r\n\r\n"
        b"GET /synapse/events HTTP/1.1\r\nHost: pbx\r\n\r\n"
    )
    assert writes_for(requests, 2) == [OK_HEAD, OK_HEAD + b"ok"]


def test_a_100_continue_is_not_held_back_and_the_answer_after_it_is_one_write() -> None:
    async def main() -> tuple[list[bytes], list[bytes]]:
        protocol, transport = connection()
        protocol.data_received(
            b"POST /synapse/events/echo HTTP/1.1\r\nHost: pbx\r\n"
            b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        )
        before_the_body = list(await written(transport, 1))
        protocol.data_received(b"hello")
        writes = await written(transport, 2)
        protocol.connection_lost(None)
        return before_the_body, writes

    before_the_body, writes = asyncio.run(main())
    assert before_the_body == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    head = OK_HEAD.replace(b"length: 2", b"length: 5")
    assert writes == [b"HTTP/1.1 100 Continue\r\n\r\n", head + b"hello"]


def test_a_held_head_is_sent_before_the_connection_closes() -> None:
    transport = RecordingTransport()
    cycle = SimpleNamespace(response_started=False)
    connection = HeadWithBody(transport, cycle)  # type: ignore[arg-type]
    connection.write(b"before")
    cycle.response_started = True
    connection.write(b"head")
    assert transport.writes == [b"before"]
    connection.close()
    assert (transport.writes, transport.closed) == ([b"before", b"head"], True)
    assert connection.is_closing()


def test_an_answered_event_is_freed_without_the_garbage_collector() -> None:
    """No reference cycle is left per event: a collection is a pause for every viewer."""

    async def main() -> tuple[list[bytes], weakref.ref[Any]]:
        protocol, transport = connection()
        protocol.data_received(b"GET /synapse/events HTTP/1.1\r\nHost: pbx\r\n\r\n")
        first = weakref.ref(protocol.cycle)
        await written(transport, 1)
        protocol.data_received(b"GET /synapse/events HTTP/1.1\r\nHost: pbx\r\n\r\n")
        writes = await written(transport, 2)
        for _ in range(10):  # the first cycle's task finishing, and its done-callbacks
            await asyncio.sleep(0)
        protocol.connection_lost(None)
        return writes, first

    gc.collect()
    gc.disable()
    try:
        writes, first = asyncio.run(main())
        assert writes == [OK_HEAD + b"ok", OK_HEAD + b"ok"]
        assert first() is None
    finally:
        gc.enable()
