"""The Synapse HTTP client: Originate, Transfer and Hangup.

Each command is one GET to `synapseactions.php` whose `actiondetails` parameter holds
the JSON, built with a JSON encoder and URL-encoded. Any 2xx means "accepted" (what
happens comes back later as call events); anything else is a `PBXError` that names the
PBX and the cause. Commands are never retried: a retried Originate dials twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import anyio
import httpx

ACTIONS_PATH = "/SukamAsteriskAPI/synapseactions.php"
CDR_PATH = "/SukamAsteriskAPI/asteriskapi/cdr.php"
# An extension no PBX has: asking cdr.php for its records is a harmless probe of the API.
PROBE_EXTENSION = "0"
CONNECT_TIMEOUT = 2.0
# An idle connection is dropped before the PBX's web server drops it (Apache's and uvicorn's
# default: 5 s): a command sent on one it was closing failed as "Could not reach the PBX".
KEEPALIVE_SECONDS = 2.0
TOTAL_TIMEOUT = 5.0


class PBXError(Exception):
    """A command the PBX did not accept; `status` is what our API answers (502 or 504)."""

    def __init__(
        self, outcome: str, message: str, status: int, *, http_status: int = 0, reply: str = ""
    ) -> None:
        super().__init__(message)
        self.outcome = outcome  # "unreachable", "timeout", "refused"
        self.message = message
        self.status = status
        self.http_status = http_status  # a refusal's: what the PBX answered, and its words
        self.reply = reply


@dataclass(frozen=True)
class Accepted:
    action: str
    status: int
    reply: str  # the PBX's answer, kept for the operator
    seconds: float


class Synapse:
    def __init__(
        self,
        base_url: str,
        *,
        context: str,
        channel_template: str,
        client: httpx.AsyncClient,
        total_timeout: float = TOTAL_TIMEOUT,
        observe: Callable[[str], None] | None = None,
    ) -> None:
        """`observe` hears of every command: "" when accepted, else why not."""
        self.observe = observe
        self.base_url = base_url.rstrip("/")
        self.context = context
        self.channel_template = channel_template
        self.client = client
        self.total_timeout = total_timeout

    @staticmethod
    def make_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
        timeout = httpx.Timeout(TOTAL_TIMEOUT, connect=CONNECT_TIMEOUT)
        limits = httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS)
        return httpx.AsyncClient(
            timeout=timeout, limits=limits, transport=transport, follow_redirects=False
        )

    @property
    def shown_url(self) -> str:
        """The PBX's address as people see it in messages: never its user and password."""
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))

    def channel(self, extension: str) -> str:
        return self.channel_template.format(extension=extension)

    async def originate(self, extension: str, number: str) -> Accepted:
        return await self.send(
            {
                "action": "Originate",
                "extension": self.channel(extension),
                "number": number,
                "context": self.context,
            }
        )

    async def transfer(self, channel: str, new_extension: str) -> Accepted:
        return await self.send(
            {
                "action": "Transfer",
                "transferchannel": channel,
                "newextension": new_extension,
                "context": self.context,
            }
        )

    async def hangup(self, channel: str) -> Accepted:
        return await self.send({"action": "Hangup", "hangupchannel": channel})

    async def cdr(self, extension: str, first: date, last: date) -> list[dict[str, Any]]:
        """The call detail records of one extension between two dates (inclusive)."""
        params = {
            "action": "getcdr",
            "extension": extension,
            "fromdate": first.isoformat(),
            "todate": last.isoformat(),
        }
        pbx = self.shown_url
        try:
            with anyio.fail_after(self.total_timeout * 4):
                response = await self.client.get(self.base_url + CDR_PATH, params=params)
                body = await response.aread()
        except (TimeoutError, httpx.TimeoutException):
            raise PBXError(
                "timeout", f"The PBX at {pbx} did not send its records in time", 504
            ) from None
        except httpx.HTTPError as error:
            raise PBXError(
                "unreachable", f"Could not reach the PBX at {pbx}: {error}", 502
            ) from None
        if not response.is_success:
            raise PBXError(
                "refused", f"The PBX at {pbx} refused cdr.php: HTTP {response.status_code}", 502
            )
        try:
            payload = json.loads(body.decode("utf-8", errors="replace"))
        except ValueError:
            raise CDRShapeError("cdr.php did not answer JSON") from None
        return cdr_records(payload)

    def url(self, action: dict[str, str]) -> str:
        details = json.dumps(action, separators=(",", ":"))
        return f"{self.base_url}{ACTIONS_PATH}?actiondetails={quote(details, safe='')}"

    async def send(self, action: dict[str, str]) -> Accepted:
        try:
            accepted = await self._send(action)
        except PBXError as error:
            if self.observe:
                self.observe(error.message)
            raise
        if self.observe:
            self.observe("")
        return accepted

    async def _send(self, action: dict[str, str]) -> Accepted:
        started = time.perf_counter()
        pbx = self.shown_url
        try:
            with anyio.fail_after(self.total_timeout):
                response = await self.client.get(self.url(action))
                body = await response.aread()
        except (TimeoutError, httpx.TimeoutException):
            raise PBXError(
                "timeout", f"The PBX at {pbx} did not answer in {self.total_timeout:g} s", 504
            ) from None
        except httpx.HTTPError as error:  # refused, reset, not HTTP, undecodable...
            raise PBXError(
                "unreachable",
                f"Could not reach the PBX at {pbx}: {error or type(error).__name__}",
                502,
            ) from None
        reply = body[:500].decode("utf-8", errors="replace").strip()
        if not response.is_success:
            raise PBXError(
                "refused",
                f"The PBX at {pbx} refused: HTTP {response.status_code} {reply}".strip(),
                502,
                http_status=response.status_code,
                reply=reply,
            )
        return Accepted(
            action["action"], response.status_code, reply, time.perf_counter() - started
        )


class CDRShapeError(ValueError):
    """cdr.php answered something that is not a list of records: reported, not guessed."""


def cdr_records(payload: object) -> list[dict[str, Any]]:
    """The records of a cdr.php answer: a JSON list of records, or an object whose values
    are records (the guide does not say which)."""
    if isinstance(payload, dict):
        payload = list(payload.values())
    if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
        raise CDRShapeError(
            "cdr.php did not answer a list of call records (nor an object of them): "
            f"got {type(payload).__name__}"
        )
    return payload
