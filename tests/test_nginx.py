"""The dashboard behind Debian's real nginx, with deploy/'s site on loopback ports: sign-in
over TLS with Secure cookies, the live socket through it, X-Forwarded-For believed from nginx
and from nowhere else, and a recording that seeks."""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from websockets.sync.client import connect

from dashboard.simulator.audio import recording_wav
from dashboard.simulator.server import ranged_response
from tests.conftest import CALL_FINISH, CALL_START, PASSWORD
from tests.servers import DashboardProcess, ThreadedServer, free_ports
from tests.waiting import wait_until

SITE = Path(__file__).resolve().parent.parent / "deploy" / "synapse-dashboard-nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CLIENT, STRANGER = "127.0.0.3", "127.0.0.4"  # the PBX (allowed to send events), and not
WAV = recording_wav("/callrecord/x.wav", 2)


def pbx_recordings() -> Starlette:
    async def recording(request: Request) -> Response:
        return ranged_response(WAV, request.headers.get("range"), "audio/wav")

    return Starlette(routes=[Route("/callrecord/{name}", recording)])


@dataclass
class Proxied:
    dashboard: DashboardProcess
    https: str
    http: str
    access_log: Path

    def client(self, source: str = CLIENT, **options: object) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=source, verify=False)
        options.setdefault("timeout", 10)
        return httpx.Client(transport=transport, verify=False, **options)  # type: ignore[arg-type]


def site_for(dashboard_port: int, https_port: int, http_port: int, cert: Path, key: Path) -> str:
    """deploy/'s site as written, but on loopback ports and with a test certificate."""
    site = SITE.read_text()
    for old, new in (
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{dashboard_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("/etc/ssl/certs/dashboard.example.com.pem", str(cert)),
        ("/etc/ssl/private/dashboard.example.com.key", str(key)),
    ):
        assert old in site, old
        site = site.replace(old, new)
    return site


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Proxied]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    with ThreadedServer(pbx_recordings()) as pbx:
        dashboard = DashboardProcess(
            tmp_path,
            SYNAPSE_URL=pbx.base_url,
            SYNAPSE_EVENT_ALLOW=CLIENT,
            DASHBOARD_TRUSTED_PROXIES="127.0.0.2",
            DASHBOARD_PBX_CHECK_SECONDS="0",
        )
        dashboard.start()
        dashboard.cli("user", "add", "sup", "--role", "supervisor", "--password", PASSWORD)
        https_port, http_port = free_ports(2)
        (tmp_path / "site.conf").write_text(
            site_for(dashboard.port, https_port, http_port, cert, key)
        )
        (tmp_path / "nginx.conf").write_text(
            f"daemon off;\nmaster_process off;\npid {tmp_path}/nginx.pid;\n"
            f"error_log {tmp_path}/nginx-error.log;\nevents {{}}\n"
            f"http {{\n  access_log {tmp_path}/access.log;\n"
            f"  client_body_temp_path {tmp_path}/body;\n"
            f"  proxy_temp_path {tmp_path}/proxy;\n  include {tmp_path}/site.conf;\n}}\n"
        )
        nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")])
        try:
            proxied = Proxied(
                dashboard,
                f"https://127.0.0.1:{https_port}",
                f"http://127.0.0.1:{http_port}",
                tmp_path / "access.log",
            )
            wait_until(lambda: answers(proxied), 20, "nginx")
            yield proxied
        finally:
            nginx.terminate()
            nginx.wait(10)
            dashboard.stop()


def answers(proxied: Proxied) -> bool:
    try:
        with proxied.client() as http:
            return http.get(proxied.https + "/healthz").status_code == 200
    except httpx.TransportError:
        return False


def signed_in(proxied: Proxied, http: httpx.Client) -> httpx.Response:
    form = http.get(proxied.https + "/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    return http.post(
        proxied.https + "/login",
        data={"name": "sup", "password": PASSWORD, "csrf_token": token[1]},
        follow_redirects=False,
    )


def event(proxied_url: str, http: httpx.Client, fields: dict[str, str]) -> int:
    status: int = http.get(proxied_url, params={"data": json.dumps(fields)}).status_code
    return status


def test_sign_in_through_nginx_gives_a_secure_cookie(proxied: Proxied) -> None:
    with proxied.client() as http:
        answer = signed_in(proxied, http)
        assert answer.status_code == 303
        assert "Secure" in answer.headers["set-cookie"]
        assert http.get(proxied.https + "/").status_code == 200
        plain = http.get(proxied.http + "/", follow_redirects=False)
        # People on plain HTTP are sent to HTTPS (on its standard port: the site as written).
        assert (plain.status_code, plain.headers["location"]) == (301, "https://127.0.0.1/")


def test_x_forwarded_for_is_believed_from_nginx_and_from_nowhere_else(proxied: Proxied) -> None:
    events = f"{proxied.http}/synapse/events"
    start = json.loads(CALL_START)
    with proxied.client(CLIENT) as pbx, proxied.client(STRANGER) as stranger:
        assert event(events, pbx, start | {"uniqueid": "1.1"}) == 200  # nginx says: CLIENT
        forged = stranger.get(
            events,
            params={"data": json.dumps(start | {"uniqueid": "1.2"})},
            headers={"x-forwarded-for": CLIENT},
        )
        assert forged.status_code == 403  # nginx replaced the forged header with STRANGER
        direct = stranger.get(
            proxied.dashboard.events_url,
            params={"data": json.dumps(start | {"uniqueid": "1.3"})},
            headers={"x-forwarded-for": CLIENT},
        )
        assert direct.status_code == 403  # straight to the dashboard: not from its proxy


def test_the_live_board_and_a_recording_through_nginx(proxied: Proxied) -> None:
    with proxied.client() as http, proxied.client(CLIENT) as pbx:
        assert signed_in(proxied, http).status_code == 303
        cookie = http.cookies["dashboard_session"]
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with connect(
            proxied.https.replace("https", "wss") + "/ws",
            ssl=context,
            origin=proxied.https,  # type: ignore[arg-type]
            additional_headers={"Cookie": f"dashboard_session={cookie}"},
            open_timeout=30,  # a loaded CI machine was seen to take more than the default 10 s
        ) as board:
            board.recv(timeout=10)  # the snapshot
            start = json.loads(CALL_START) | {"uniqueid": "7.1"}
            assert event(f"{proxied.https}/synapse/events", pbx, start) == 200
            pushed = str(board.recv(timeout=10))
            assert 'class="call is-ringing' in pushed, pushed
        link = f"{proxied.dashboard.env['SYNAPSE_URL']}/callrecord/x.wav"
        finish = json.loads(CALL_FINISH) | {"uniqueid": "7.1", "recordlink": link}
        assert event(f"{proxied.https}/synapse/events", pbx, finish) == 200
        seek = http.get(proxied.https + "/recordings/7.1", headers={"range": "bytes=100-199"})
        assert (seek.status_code, seek.headers["content-range"]) == (
            206,
            f"bytes 100-199/{len(WAV)}",
        )
        assert seek.content == WAV[100:200]


def test_no_secret_in_a_path_reaches_nginx_s_log_and_browsers_keep_to_https(
    proxied: Proxied,
) -> None:
    with proxied.client(CLIENT) as http:
        for base in (proxied.http, proxied.https):
            http.get(f"{base}/synapse/events/pbx-s3cret", params={"data": "{}"})
        kiosk = http.get(f"{proxied.https}/kiosk/k70uVogPLJTfOFfCns6GJxPvKMDFTzRQUAx4")
        login = http.get(f"{proxied.https}/login")
    assert kiosk.status_code == 404
    assert login.headers["strict-transport-security"] == "max-age=31536000"
    wait_until(lambda: "/login" in proxied.access_log.read_text(), 10, "the access line")
    logged = proxied.access_log.read_text()
    assert "s3cret" not in logged and "k70uVog" not in logged
    assert "GET /login HTTP" in logged  # the rest is logged as nginx does


def test_a_contacts_file_past_the_sites_1_mib_reaches_the_dashboard_through_nginx(
    proxied: Proxied,
) -> None:
    rows = b"number,name\n" + b"9876543210,Asha\n" * (3 * 1024 * 1024 // 16)  # 3 MiB
    with proxied.client(timeout=60) as http:
        assert signed_in(proxied, http).status_code == 303
        page = http.get(proxied.https + "/contacts").text
        csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
        assert csrf is not None
        answer = http.post(
            proxied.https + "/contacts/import",
            headers={"x-csrf-token": csrf[1]},
            files={"file": ("people.csv", rows, "text/csv")},
        )
        too_large = http.post(
            proxied.https + "/contacts/import",
            headers={"x-csrf-token": csrf[1]},
            files={"file": ("people.csv", rows * 3, "text/csv")},  # 9 MiB
        )
    assert answer.status_code == 200
    assert "Imported: 1 added," in answer.text
    assert too_large.status_code == 200  # the dashboard's answer, which the page shows
    assert "the file is larger than 5 MiB" in too_large.text
