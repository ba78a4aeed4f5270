"""The missed calls to return."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.callbacks import MarkedDone
from dashboard.pbx_config import PBXConfig
from dashboard.settings import Settings
from dashboard.views.missed import LOOK_BACK
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
    assert parts_of(client).callbacks.done("9876543210") == [
        MarkedDone("supervisor-user", clock.now)
    ]
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
    assert parts_of(anonymous).callbacks.done("5550100") == []
    assert len(audit.entries()) == audited
    assert mark_done("9876543210") == (200, False)  # its own
    assert lists() == ([], ["5550100"])
    anonymous.cookies.clear()
    supervisor = sign_in(anonymous, "supervisor")  # any extension's
    done = anonymous.post(
        "/missed/done", data={"number_key": "5550100"}, headers={"x-csrf-token": supervisor}
    )
    assert (done.status_code, lists()) == (200, ([], []))


def missed_at_46_and_70(client: TestClient, clock: FakeClock, moment: Moment) -> None:
    """98123 45678 missed at 46, then at 70."""
    send(client, cdr(clock, moment.tz, "5.1", 50, number="9812345678", extension="46"))
    send(client, cdr(clock, moment.tz, "5.2", 40, number="9812345678"))


def everyones(client: TestClient, clock: FakeClock) -> list[tuple[str, str, str | None, int]]:
    """The whole worklist (a supervisor's): each number, its latest miss's host and
    extension, and its tries."""
    entries = parts_of(client).callbacks.worklist(clock.now - LOOK_BACK)
    return [(e.number_key, e.call.host, e.call.extension, e.attempts) for e in entries]


def test_an_agents_done_leaves_the_other_extensions_lists_alone(
    anonymous: TestClient, clock: FakeClock, moment: Moment
) -> None:
    missed_at_46_and_70(anonymous, clock, moment)
    seventy, csrf = as_agent(anonymous, "70")
    forty_six, _ = as_agent(anonymous, "46")
    anonymous.cookies.clear()
    supervisor_csrf = sign_in(anonymous, "supervisor")
    supervisor = anonymous.cookies["dashboard_session"]

    def lists() -> tuple[list[str], list[str], list[str]]:
        return (
            numbers(be(anonymous, seventy)),
            numbers(be(anonymous, forty_six)),
            numbers(be(anonymous, supervisor)),
        )

    done = be(anonymous, seventy).post(
        "/missed/done", data={"number_key": "9812345678"}, headers={"x-csrf-token": csrf}
    )
    assert (done.status_code, done.text) == (200, "")
    assert lists() == ([], ["9812345678"], ["9812345678"])
    # The supervisor's list now shows the miss still to return: the one at 46.
    assert everyones(anonymous, clock) == [("9812345678", "192.168.1.51", "46", 1)]
    callbacks = parts_of(anonymous).callbacks
    assert callbacks.done("9812345678") == [MarkedDone("agent-70", clock.now, extension="70")]
    entry = parts_of(anonymous).audit.entries(limit=1)[0]
    assert (entry.user, entry.action, entry.target, entry.detail) == (
        "agent-70",
        "callback done",
        "9812345678",
        "for extension 70 alone",
    )
    # A supervisor's "done" is everyone's.
    clock.advance(60)
    done = be(anonymous, supervisor).post(
        "/missed/done",
        data={"number_key": "9812345678"},
        headers={"x-csrf-token": supervisor_csrf},
    )
    assert (done.status_code, lists()) == (200, ([], [], []))
    assert callbacks.done("9812345678") == [
        MarkedDone("supervisor-user", clock.now),
        MarkedDone("agent-70", clock.now - timedelta(seconds=60), extension="70"),
    ]
    entry = parts_of(anonymous).audit.entries(limit=1)[0]
    assert (entry.user, entry.target, entry.detail) == (
        "supervisor-user",
        "9812345678",
        "for everyone",
    )


def test_an_agents_done_is_for_their_own_pbxs_calls(
    settings: Settings, clock: FakeClock, moment: Moment
) -> None:
    """Agent 70 is the head office's: their "done" leaves a miss at 70 on a host watched
    only (someone else's phone) on the supervisor's list."""
    head = PBXConfig(name="head", url="http://127.0.0.1:9", host="10.0.0.1", extensions=("70",))
    wired = settings.with_changes(pbx_configs=(head,), allow_unknown_hosts=True)
    with TestClient(create_app(wired, clock=clock)) as client:
        for host, uniqueid, minutes_ago in (("10.9.9.9", "6.1", 40), ("10.0.0.1", "6.2", 30)):
            at_host = {"asteriskhost": host, "number": "9812345678"}
            send(client, cdr(clock, wired.zone_of(host), uniqueid, minutes_ago, **at_host))
        csrf = sign_in(client, "agent", "agent-70", "70")
        done = client.post(
            "/missed/done", data={"number_key": "9812345678"}, headers={"x-csrf-token": csrf}
        )
        assert (done.status_code, numbers(client)) == (200, [])
        assert everyones(client, clock) == [("9812345678", "10.9.9.9", "70", 1)]
        assert parts_of(client).callbacks.done("9812345678") == [
            MarkedDone("agent-70", clock.now, extension="70", host="10.0.0.1")
        ]
        assert parts_of(client).audit.entries(limit=1)[0].detail == (
            "for extension 70 at 10.0.0.1 alone"
        )


def test_a_done_kept_before_agents_had_their_own_is_still_everyones(
    settings: Settings, clock: FakeClock, moment: Moment
) -> None:
    """A database from before: its callbacks_done table has one row a number."""
    with sqlite3.connect(settings.db_path) as old:
        old.execute(
            "CREATE TABLE callbacks_done (number_key TEXT PRIMARY KEY, done_by TEXT, done_at TEXT)"
        )
        old.execute(
            "INSERT INTO callbacks_done VALUES ('9812345678', 'old-supervisor', ?)",
            [clock.now.astimezone(UTC).isoformat(timespec="microseconds")],
        )
    old.close()
    with TestClient(create_app(settings, clock=clock)) as client:
        missed_at_46_and_70(client, clock, moment)
        assert parts_of(client).callbacks.done("9812345678") == [
            MarkedDone("old-supervisor", clock.now)
        ]
        for extension in ("70", "46"):
            as_agent(client, extension)
            assert numbers(client) == []
        client.cookies.clear()
        sign_in(client, "supervisor")
        assert numbers(client) == []
        clock.advance(60)
        send(client, cdr(clock, moment.tz, "5.3", 0, number="9812345678", extension="46"))
        assert numbers(client) == ["9812345678"]
    with TestClient(create_app(settings, clock=clock)) as client:  # opened again: as it was
        assert parts_of(client).callbacks.done("9812345678") == [
            MarkedDone("old-supervisor", clock.now - timedelta(seconds=60))
        ]
