"""Live search by a caller's name: a contact's, or the PBX's caller-ID name of a live call."""

from __future__ import annotations

import json
import re

from starlette.testclient import TestClient

from tests.conftest import CALL_START, parts_of, send, sign_in

INCOMING = json.loads(CALL_START) | {"direction": "Incoming"}


def found(client: TestClient, typed: str) -> tuple[list[str], list[str]]:
    """What a search answers, as read: its live lines and its recent calls' rows."""
    html = client.get("/search", params={"number": typed}).text
    live = re.findall(r'<p class="search-live[^"]*">(.*?)</p>', html, re.S)
    rows = re.findall(r"<tr><td>(.*?)</tr>", html, re.S)
    return [as_read(line) for line in live], [as_read(row) for row in rows]


def as_read(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_caller_is_found_by_name_as_by_digits(client: TestClient) -> None:
    contacts = parts_of(client).contacts
    contacts.import_csv("name,number\nAsha Rao,9876543210\nAshok <b>,9123456789\nRavi,9000000001\n")
    finish = {"event": "CallFinish", "disposition": "NO ANSWER", "duration": "20"}
    send(client, INCOMING | {"uniqueid": "1.1", "number": "+919876543210"} | finish)
    send(client, INCOMING | {"uniqueid": "1.2", "number": "09876543210", "extension": "71"})
    send(client, INCOMING | {"uniqueid": "1.3", "number": "9000000001", "extension": "72"})
    send(client, INCOMING | {"uniqueid": "1.4", "number": "5550100111", "callername": "ASHWIN K"})
    sign_in(client, "supervisor")
    asha_now = "0 98765 43210 Asha Rao is ringing at extension 71 since 15:30:00"
    asha_before = [
        "27 Nov 2026 15:30 0 98765 43210 Asha Rao 71 incoming Ringing -",
        "27 Nov 2026 15:30 +91 98765 43210 Asha Rao 70 incoming Missed 0:20",
    ]
    assert found(client, "asha") == ([asha_now], asha_before)
    assert found(client, "  ASHA   rao ") == ([asha_now], asha_before)
    # Asha, Ashok (no calls) and, among live calls, the PBX's caller-ID name ASHWIN K.
    ashwin_now = "55501 00111 ASHWIN K is ringing at extension 70 since 15:30:00"
    assert found(client, "Ash") == ([asha_now, ashwin_now], asha_before)
    assert found(client, "98765 432") == ([asha_now], asha_before)  # digits, as before
    assert found(client, "nobody") == (["No call with nobody right now."], [])
    hint = client.get("/search", params={"number": "a"}).text
    assert "Type at least 3 digits of a number, or 2 letters of a name." in hint
    assert "Ashok &lt;b&gt;" in client.get("/contacts", params={"q": "ashok"}).text


def test_an_agent_finds_by_name_only_its_own_calls(client: TestClient) -> None:
    parts_of(client).contacts.import_csv("name,number\nAsha Rao,9876543210\n")
    send(client, INCOMING | {"uniqueid": "2.1", "number": "9876543210", "extension": "40"})
    sign_in(client, "agent", name="meena", extension="70")
    assert found(client, "asha") == (["No call with asha right now."], [])
