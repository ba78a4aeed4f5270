"""The missed calls to return."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.testclient import TestClient

from tests.conftest import (
    CALL_FINISH,
    FakeClock,
    Moment,
    at_edges,
    parts_of,
    pbx_time,
    send,
    sign_in,
)


def cdr(
    clock: FakeClock, tz: ZoneInfo, uniqueid: str, minutes_ago: int, **fields: str
) -> dict[str, Any]:
    """A CallFinish of a call that started `minutes_ago` (times in the PBX's zone); one
    answered ends when it was answered, at the latest."""
    text = pbx_time(clock.now - timedelta(minutes=minutes_ago), tz)
    if fields.get("answertime") and "endtime" not in fields:
        fields = {**fields, "endtime": fields["answertime"]}
    return (
        json.loads(CALL_FINISH)
        | {
            "uniqueid": uniqueid,
            "starttime": text,
            "answertime": "",
            "endtime": text,
            "direction": "Incoming",
            "disposition": "NO ANSWER",
            "billableseconds": "0",
            "number": "9876543210",
            "extension": "70",
        }
        | fields
    )


def numbers(client: TestClient) -> list[str]:
    page = client.get("/missed").text
    return [
        line.split('title="Call ')[1].split('"')[0]
        for line in page.splitlines()
        if 'class="dial-link"' in line and "<td>" in line
    ]


@at_edges
def test_a_missed_caller_stays_on_the_list_until_called_back(
    client: TestClient, clock: FakeClock, moment: Moment
) -> None:
    send(client, cdr(clock, moment.tz, "1.1", 50))
    send(client, cdr(clock, moment.tz, "1.2", 40))
    send(client, cdr(clock, moment.tz, "2.1", 30, number="5550100"))
    send(
        client,
        cdr(
            clock,
            moment.tz,
            "2.2",
            35,
            number="5550111",
            disposition="ANSWERED",
            answertime=pbx_time(clock.now, moment.tz),
        ),
    )  # answered: not missed
    assert numbers(client) == ["5550100", "9876543210"]
    assert ">2</td>" in client.get("/missed").text  # two tries from 98765 43210
    # An outgoing call to that number that is not answered does not return it...
    send(client, cdr(clock, moment.tz, "3.1", 20, direction="Outgoing", number="+91 98765 43210"))
    assert numbers(client) == ["5550100", "9876543210"]
    # ...one that is answered does, whichever way the number is written.
    send(
        client,
        cdr(
            clock,
            moment.tz,
            "3.2",
            10,
            direction="Outgoing",
            number="+91 98765 43210",
            disposition="ANSWERED",
            answertime=pbx_time(clock.now, moment.tz),
        ),
    )
    assert numbers(client) == ["5550100"]


@at_edges
def test_marking_done_is_recorded_and_a_new_miss_brings_it_back(
    client: TestClient, clock: FakeClock, moment: Moment
) -> None:
    csrf = sign_in(client, "supervisor")
    send(client, cdr(clock, moment.tz, "1.1", 50))
    response = client.post(
        "/missed/done",
        data={"number_key": "9876543210"},
        headers={"x-csrf-token": csrf, "hx-request": "true"},
    )
    assert (response.status_code, response.text) == (200, "")
    assert numbers(client) == []
    done = parts_of(client).callbacks.done("9876543210")
    assert done is not None and done[0] == "supervisor-user"
    clock.advance(60)
    send(client, cdr(clock, moment.tz, "1.9", 0))
    assert numbers(client) == ["9876543210"]
    assert (
        client.post(
            "/missed/done", data={"number_key": "123"}, headers={"x-csrf-token": csrf}
        ).status_code
        == 404
    )


def test_agents_see_only_their_own_missed_calls(
    anonymous: TestClient, clock: FakeClock, moment: Moment
) -> None:
    send(anonymous, cdr(clock, moment.tz, "1.1", 50))
    send(anonymous, cdr(clock, moment.tz, "1.2", 40, number="5550100", extension="46"))
    csrf = sign_in(anonymous, "agent")  # extension 70
    assert numbers(anonymous) == ["9876543210"]
    refused = anonymous.post(
        "/missed/done", data={"number_key": "5550100"}, headers={"x-csrf-token": csrf}
    )
    assert refused.status_code == 404


def as_agent(client: TestClient, extension: str) -> tuple[str, str]:
    """Sign in as the agent of `extension`; returns their session cookie and CSRF token."""
    client.cookies.clear()
    csrf = sign_in(client, "agent", f"agent-{extension}", extension)
    return client.cookies["dashboard_session"], csrf


def be(client: TestClient, session: str) -> TestClient:
    """The client, as the user of this session from now on."""
    client.cookies.clear()
    client.cookies.set("dashboard_session", session)
    return client


def test_an_agent_marks_done_only_the_missed_callers_of_their_own_extension(
    anonymous: TestClient, clock: FakeClock, moment: Moment
) -> None:
    """Two agents, 70 and 46. 555 0100 was missed at 46 and once answered at 70: agent 70 may
    not mark it done (it would leave agent 46's list), nor a caller of theirs who was answered."""
    send(anonymous, cdr(clock, moment.tz, "1.1", 50))  # 98765 43210, missed at 70
    send(anonymous, cdr(clock, moment.tz, "2.1", 40, number="5550100", extension="46"))
    answered = {"disposition": "ANSWERED", "answertime": pbx_time(clock.now, moment.tz)}
    send(anonymous, cdr(clock, moment.tz, "2.2", 30, number="5550100", **answered))
    send(anonymous, cdr(clock, moment.tz, "3.1", 20, number="5550122", **answered))
    seventy, csrf = as_agent(anonymous, "70")
    forty_six, _ = as_agent(anonymous, "46")
    audit = parts_of(anonymous).audit

    def mark_done(number_key: str) -> tuple[int, bool]:
        response = be(anonymous, seventy).post(
            "/missed/done", data={"number_key": number_key}, headers={"x-csrf-token": csrf}
        )
        return response.status_code, "No such missed call to return that you may see." in (
            response.text
        )

    def lists() -> tuple[list[str], list[str]]:
        return numbers(be(anonymous, seventy)), numbers(be(anonymous, forty_six))

    audited = len(audit.entries())
    assert [mark_done(key) for key in ("5550100", "5550122", "5550199")] == [(404, True)] * 3
    assert lists() == (["9876543210"], ["5550100"])
    assert parts_of(anonymous).callbacks.done("5550100") is None
    assert len(audit.entries()) == audited
    assert mark_done("9876543210") == (200, False)  # its own
    assert lists() == ([], ["5550100"])
    anonymous.cookies.clear()
    supervisor = sign_in(anonymous, "supervisor")  # any extension's
    done = anonymous.post(
        "/missed/done", data={"number_key": "5550100"}, headers={"x-csrf-token": supervisor}
    )
    assert (done.status_code, lists()) == (200, ([], []))
