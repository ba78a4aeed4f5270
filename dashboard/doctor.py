"""`dashboard doctor`: what a new set-up gets wrong, checked for each PBX, with what to fix.

For each PBX: its API answers (and within the 100 ms the vendor asks for); it takes our
commands (a Hangup of a channel that cannot exist: harmless, and refused by the Allowed IP
List if this machine is not on it); the exact Remote APP URL to paste into Synapse; that
URL reaches this dashboard (an empty event sent through it, refused for being empty, not
for its token); and its event times agree with our clock in its time zone. With several
PBXs, also that each agent's extension is one of theirs (else the agent sees no call).
"""

from __future__ import annotations

import contextlib
import sqlite3
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from dashboard.pbx import PROBE_EXTENSION, CDRShapeError, PBXError
from dashboard.pbxs import PBX
from dashboard.settings import Settings

FAST_ENOUGH_MS = 100.0
PROBES = 3
HARMLESS_CHANNEL = "SIP/dashboard-doctor-check"
SKEW_TOLERATED = timedelta(minutes=15)
RECENT = timedelta(days=7)
RECENT_EVENTS = 20_000  # the clock is read from the last of these (a bounded read)
ALLOW_US = "add this machine's address to Synapse's API Settings → Allowed IP List"


@dataclass(frozen=True)
class Check:
    pbx: str
    what: str
    ok: bool | None  # None: could not be checked yet (not a failure)
    says: str

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "--  "}[self.ok]
        return f"[{mark}] {self.pbx}: {self.what}: {self.says}"


def remote_app_url(dashboard_url: str, pbx: PBX) -> str:
    base = dashboard_url.rstrip("/") + "/synapse/events"
    return f"{base}/{pbx.config.event_token}" if pbx.config.event_token else base


async def examine(
    pbx: PBX, settings: Settings, dashboard_url: str, client: httpx.AsyncClient, now: datetime
) -> list[Check]:
    return [
        await _api(pbx, now),
        await _commands(pbx),
        Check(pbx.name, "Remote APP URL", True, remote_app_url(dashboard_url, pbx)),
        await _reaches_us(pbx, dashboard_url, client),
        _clock(pbx, settings, now),
    ]


async def _api(pbx: PBX, now: datetime) -> Check:
    """Asked a few times: the quickest answer is the network's, the others the machine's."""
    today = now.astimezone(ZoneInfo(pbx.config.timezone)).date()
    times = []
    for _ in range(PROBES):
        started = time.perf_counter()
        try:
            await pbx.synapse.cdr(PROBE_EXTENSION, today, today)
        except CDRShapeError as error:  # a web page, not the API's JSON
            return Check(
                pbx.name,
                "its API",
                False,
                f"cdr.php answered, but not with call records ({error}): is its URL the"
                " Synapse box, with the Sukam API installed?",
            )
        except PBXError as error:
            fix = ALLOW_US if _refused_us(error) else "is its URL right?"
            return Check(pbx.name, "its API", False, f"{error.message}: {fix}")
        times.append((time.perf_counter() - started) * 1000)
    took = min(times)
    if took > FAST_ENOUGH_MS:
        return Check(
            pbx.name,
            "its API",
            False,
            f"answers in {took:.0f} ms; the vendor asks for under {FAST_ENOUGH_MS:.0f} ms"
            " between the PBX and the dashboard (the network, or a busy PBX)",
        )
    return Check(pbx.name, "its API", True, f"answers in {took:.0f} ms")


async def _commands(pbx: PBX) -> Check:
    """A Hangup of a channel no call has: taken (2xx, or "no such channel") or refused."""
    try:
        accepted = await pbx.synapse.send({"action": "Hangup", "hangupchannel": HARMLESS_CHANNEL})
    except PBXError as error:
        if "no such channel" in error.message.lower():
            return Check(pbx.name, "our commands", True, "taken (a test Hangup of no call)")
        if _refused_us(error):
            return Check(pbx.name, "our commands", False, f"{error.message}: {ALLOW_US}")
        return Check(pbx.name, "our commands", False, error.message)
    return Check(pbx.name, "our commands", True, f"taken: {accepted.reply[:80]}")


def _refused_us(error: PBXError) -> bool:
    text = error.message.lower()
    return any(sign in text for sign in ("http 403", "http 401", "denied", "not allowed"))


async def _reaches_us(pbx: PBX, dashboard_url: str, client: httpx.AsyncClient) -> Check:
    url = remote_app_url(dashboard_url, pbx)
    what = "the Remote APP URL reaches this dashboard"
    try:
        answer = await client.get(url, params={"data": "{}"})  # refused as empty, by design
    except httpx.HTTPError as error:
        return Check(
            pbx.name,
            what,
            False,
            f"could not reach {dashboard_url}: {error or type(error).__name__}; is the dashboard"
            " serving there, at an address the PBX can reach? (dashboard doctor --url URL)",
        )
    try:
        refusal = answer.json().get("error")
    except ValueError:
        refusal = None
    if answer.status_code == 422 and refusal == "missing_field":
        return Check(pbx.name, what, True, "it answered, and took the token")
    if answer.status_code == 403 and pbx.config.event_allow:
        return Check(
            pbx.name,
            what,
            True,
            f"it answered; it takes events from {', '.join(pbx.config.event_allow)} only"
            " (this machine is not one of them, as it should be)",
        )
    if answer.status_code == 403:
        return Check(pbx.name, what, False, "it refused the token: is the URL pasted whole?")
    return Check(
        pbx.name, what, False, f"{url} answered HTTP {answer.status_code}: is it the dashboard?"
    )


def agents_placed(settings: Settings) -> list[Check]:
    """With several PBXs, an agent whose extension none of them owns sees no call: named,
    with what to fix (nothing is said with one PBX, which has every extension)."""
    if len(settings.pbx_configs) < 2:
        return []
    what = "agents' extensions"
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True)
        ) as conn:
            rows = conn.execute(
                "SELECT name, extension FROM users WHERE role = 'agent' AND disabled = 0"
                " ORDER BY name"
            ).fetchall()
    except sqlite3.Error:  # no database yet: no agent
        rows = []
    lost = [(name, ext) for name, ext in rows if settings.agent_scope(ext or "").nowhere]
    if not lost:
        return [Check("users", what, True, "each agent's is one PBX's")]
    return [
        Check(
            "users",
            what,
            False,
            f"{name} has extension {ext}, which no PBX owns: they see no call until it is in"
            f" one PBX's extensions in {settings.config_path or 'DASHBOARD_CONFIG'}",
        )
        for name, ext in lost
    ]


def _clock(pbx: PBX, settings: Settings, now: datetime) -> Check:
    """How far the PBX's start times are from when the dashboard heard of each call."""
    what = f"its times, read in {pbx.config.timezone}"
    conn = sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True)
    try:
        # Calls whose CallStart came as it happened (a call merged from the CDR was first
        # seen when it was fetched, which says nothing of the PBX's clock).
        rows = conn.execute(
            "SELECT c.started_at, e.received_at"
            " FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?) e JOIN calls c"
            " ON c.host = e.host AND c.uniqueid = e.uniqueid"
            " WHERE e.host = ? AND e.event = 'CallStart' AND c.started_at IS NOT NULL"
            " AND e.received_at >= ? LIMIT 50",
            [RECENT_EVENTS, pbx.config.host, (now - RECENT).isoformat()],
        ).fetchall()
    except sqlite3.Error:
        rows = []
    finally:
        conn.close()
    if not rows:
        return Check(pbx.name, what, None, "no call from it in the last week: not checked yet")
    offsets = [
        (datetime.fromisoformat(started) - datetime.fromisoformat(seen)).total_seconds()
        for started, seen in rows
    ]
    skew = timedelta(seconds=statistics.median(offsets))
    if abs(skew) > SKEW_TOLERATED:
        hours = skew.total_seconds() / 3600
        return Check(
            pbx.name,
            what,
            False,
            f"its calls start {hours:+.1f} h from when they reach us: set its time zone"
            " (SYNAPSE_TIMEZONE, or timezone in DASHBOARD_CONFIG) to the PBX's, or fix its clock",
        )
    return Check(pbx.name, what, True, f"within {abs(skew.total_seconds()):.0f} s of ours")
