"""A call in words: one result word per call, the same capitalised word on every list."""

from __future__ import annotations

import json
import re

from starlette.testclient import TestClient

from tests.conftest import CALL_CONNECT, CALL_START, USUAL, Moment, just_finished, send

NOW = USUAL.at


def test_the_state_words_are_the_same_capitalised_words_on_every_list(
    client: TestClient, moment: Moment
) -> None:
    caller = json.loads(CALL_START) | {"direction": "Incoming", "number": "9876543210"}
    send(client, caller | {"uniqueid": "2.1"})
    send(client, caller | {"uniqueid": "2.2"})
    send(client, json.loads(CALL_CONNECT) | caller | {"uniqueid": "2.2", "event": "CallConnect"})
    unanswered = {"answertime": "", "billableseconds": "0", "number": "9876543210"}
    for uniqueid, direction, disposition in (
        ("2.3", "Incoming", "NO ANSWER"),
        ("2.4", "Outgoing", "BUSY"),
    ):
        send(
            client,
            just_finished(
                NOW, moment.tz, uniqueid=uniqueid, direction=direction, disposition=disposition
            )
            | unanswered,
        )
    words = ["Busy", "Missed", "Ringing", "Talking"]
    wall = client.get("/").text
    assert sorted(re.findall(r'<span class="call-state">([^<]+)</span>', wall)) == words
    history = client.get("/calls", params={"period": "all", "sort": "result", "order": "asc"}).text
    cell = r'<td class="{}-result">(?:<span class="tile-missed">)?([^<]+)<'
    assert re.findall(cell.format("history"), history) == words
    search = client.get("/search", params={"number": "98765"}).text
    assert sorted(re.findall(cell.format("search"), search)) == words
