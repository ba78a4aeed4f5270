from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from dashboard.http_protocol import QuietEventsProtocol
from tests.servers import STARTUP_SECONDS, free_port


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


APP = Starlette(routes=[Route("/synapse/events", ok), Route("/healthz", ok)])


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
