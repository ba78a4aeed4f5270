"""Watching the PBXs: a PBX whose API stops answering puts a banner on every board, which
clears by itself when it answers again; /api/pbxs and /metrics say the same."""

from __future__ import annotations

import httpx
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.pbx_config import PBXConfig
from dashboard.pbx_watch import PBXWatch
from dashboard.settings import Settings
from tests.conftest import FakeClock, parts_of, send, sign_in

HEAD = PBXConfig(name="head-office", url="http://head.pbx", host="10.0.0.1", extensions=("70",))


class Switch:
    """PBX web servers that answer cdr.php, but refuse connections while their host is down."""

    def __init__(self, *down: str) -> None:
        self.down = set(down)
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(f"{request.url.host}{request.url.path}?{request.url.query.decode()}")
        if request.url.host in self.down:
            raise httpx.ConnectError("Connection refused", request=request)
        return httpx.Response(200, json=[])


def watch_of(client: TestClient) -> PBXWatch:
    state = parts_of(client)
    return PBXWatch(state.pbxs, state.publisher, state.fragments, state.clock)


def check(client: TestClient, watch: PBXWatch) -> None:
    client.portal.call(watch.check_all)  # type: ignore[union-attr]


def test_a_pbx_that_stops_answering_is_shown_on_every_board_until_it_is_back(
    settings: Settings, clock: FakeClock
) -> None:
    dead = PBXConfig(name="Branch", url="http://branch.pbx", host="10.0.0.2", extensions=("46",))
    switch = Switch("branch.pbx")
    wired = settings.with_changes(pbx_configs=(HEAD, dead), synapse_timezone="Asia/Kolkata")
    with TestClient(
        create_app(wired, clock=clock, pbx_transport=httpx.MockTransport(switch))
    ) as client:
        sign_in(client, "supervisor")
        watch = watch_of(client)
        with client.websocket_connect("/ws") as board:
            first = board.receive_text()
            assert 'id="pbx-banner"' not in first
            check(client, watch)
            banner = board.receive_text()
            assert banner.startswith(
                '<div id="pbx-banner" class="pbx-banner" role="alert" hx-swap-oob="true">'
            )
            assert "<strong>PBX Branch</strong> is not answering since" in banner
            assert "head-office" not in banner
        today = clock.now.astimezone(wired.timezone).date()
        assert sorted(switch.asked) == [
            f"{host}/SukamAsteriskAPI/asteriskapi/cdr.php?action=getcdr&extension=0"
            f"&fromdate={today}&todate={today}"
            for host in ("branch.pbx", "head.pbx")
        ]
        pbxs = {pbx["name"]: pbx for pbx in client.get("/api/pbxs").json()["pbxs"]}
        assert (pbxs["head-office"]["api_ok"], pbxs["Branch"]["api_ok"]) == (True, False)
        assert pbxs["Branch"]["last_error"] == (
            "Could not reach the PBX at http://branch.pbx: Connection refused"
        )
        assert pbxs["head-office"]["round_trip_ms"] is not None
        page = client.get("/calls").text  # every page carries it, for its first paint
        assert "<strong>PBX Branch</strong> is not answering" in page
        metrics = client.get("/metrics").text
        assert 'dashboard_pbx_up{pbx="Branch"} 0' in metrics
        assert 'dashboard_pbx_up{pbx="head-office"} 1' in metrics
        with client.websocket_connect("/ws") as late:  # a board that connects now sees it
            assert "<strong>PBX Branch</strong> is not answering" in late.receive_text()
            switch.down.add("head.pbx")  # the head office goes down too; the branch stays down
            check(client, watch)
            both = late.receive_text()
            assert both.count("is not answering since") == 2


def test_the_banner_clears_by_itself_when_the_pbx_answers_again(
    settings: Settings, clock: FakeClock
) -> None:
    switch = Switch("head.pbx")
    wired = settings.with_changes(pbx_configs=(HEAD,))
    with TestClient(
        create_app(wired, clock=clock, pbx_transport=httpx.MockTransport(switch))
    ) as client:
        sign_in(client, "agent")
        watch = watch_of(client)
        check(client, watch)
        with client.websocket_connect("/ws?only=popups") as agent_page:  # any page of an agent
            assert "<strong>PBX head-office</strong> is not answering" in agent_page.receive_text()
            switch.down.clear()
            check(client, watch)
            cleared = agent_page.receive_text()
            assert cleared == (
                '<div id="pbx-banner" class="pbx-banner" role="alert" hx-swap-oob="true"'
                " hidden>\n</div>"
            )
            check(client, watch)  # nothing changed: nothing pushed
        assert "is not answering" not in client.get("/").text


def test_a_quiet_pbx_is_asked_for_its_busiest_extensions_only(
    settings: Settings, clock: FakeClock
) -> None:
    asked: list[str] = []

    def pbx(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["extension"])
        return httpx.Response(200, json=[])

    many = PBXConfig(
        name="big",
        url="http://big.pbx",
        host="10.0.0.9",
        extensions=tuple(map(str, range(100, 400))),
    )
    wired = settings.with_changes(pbx_configs=(many,))
    with TestClient(
        create_app(wired, clock=clock, pbx_transport=httpx.MockTransport(pbx))
    ) as client:
        for n, extension in enumerate(["150"] * 3 + ["120"] * 2 + ["390"]):
            finish = {"event": "CallFinish", "uniqueid": f"9.{n}", "asteriskhost": "10.0.0.9"}
            send(client, finish | {"extension": extension, "disposition": "ANSWERED"})
        state = parts_of(client)
        watch = PBXWatch(state.pbxs, state.publisher, state.fragments, clock, state.cdr)
        clock.advance(3 * 60)
        client.portal.call(watch.check_all)  # type: ignore[union-attr]
    assert sorted(asked) == ["0", "120", "150", "390"]  # the probe, and the three with calls
