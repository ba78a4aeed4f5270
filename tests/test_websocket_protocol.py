from __future__ import annotations

import base64
import json
import os
import socket
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.sync.client import connect

from dashboard.websocket_protocol import DirectFrames
from tests.servers import DashboardProcess


def raw_stalled_viewer(port: int, token: str) -> socket.socket:
    """A viewer that completes the handshake, then never reads again (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: nothing after the handshake is read
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def server_owns(server_port: int, client_port: int) -> bool:
    """Whether the server still holds its end of that connection open (ESTABLISHED, with an
    inode: a process has it), per /proc/net/tcp."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        ports = int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)
        if ports == (server_port, client_port):
            return state == "01" and inode != "0"
    return False


def metric(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def test_a_viewer_that_stops_reading_is_evicted_and_the_others_get_everything(
    tmp_path: Path,
) -> None:
    server = DashboardProcess(tmp_path, DASHBOARD_VIEWER_QUEUE="8")
    server.start()
    try:
        server.cli("user", "add", "wall", "--role", "supervisor", "--password", "correct horse 1")
        token = server.cli("token", "create", "wall").strip()
        headers = {"Authorization": f"Bearer {token}"}
        stalled = raw_stalled_viewer(server.port, token)
        url = server.base_url.replace("http", "ws") + "/ws"
        with (
            stalled,
            connect(url, additional_headers=headers) as reader,
            httpx.Client(base_url=server.base_url, headers=headers) as http,
        ):
            reader.recv(timeout=10)  # the snapshot
            sent = 0
            while metric(http.get("/metrics").text, "dashboard_viewer_evictions_total") < 1:
                assert sent < 20_000, "the stalled viewer was never evicted"
                for kind in ("CallStart", "CallFinish"):
                    event = {
                        "event": kind,
                        "uniqueid": f"1700000000.{sent}",
                        "number": f"555{sent}",
                    }
                    event |= {"extension": "41", "direction": "Incoming", "disposition": "Busy"}
                    http.get("/synapse/events", params={"data": json.dumps(event)})
                last = f"555{sent}"
                sent += 1
            received = ""
            while f'data-number="{last}"' not in received:  # everything, up to the last
                received = str(reader.recv(timeout=10))
            assert metric(http.get("/metrics").text, "dashboard_viewers") == 1
            # The server let go of its socket (closed, the kernel alone holds what is unsent),
            # rather than keep it open to drain into a viewer that never reads.
            client_port = stalled.getsockname()[1]
            deadline = time.monotonic() + 15
            while server_owns(server.port, client_port) and time.monotonic() < deadline:
                time.sleep(0.05)  # polling the kernel's table of sockets, with a deadline
            assert not server_owns(server.port, client_port)
    finally:
        server.stop()


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def abort(self) -> None:
        self.closing = True


def direct_frames() -> tuple[DirectFrames, ServerProtocol, FakeTransport]:
    conn, transport = ServerProtocol(state=State.OPEN), FakeTransport()
    protocol = SimpleNamespace(conn=conn, transport=transport)
    return DirectFrames(cast(Any, protocol)), conn, transport


def test_a_sink_writes_only_while_the_connection_is_open() -> None:
    we_closed, conn, transport = direct_frames()
    assert we_closed.write_frame(b"one")
    conn.send_close(1001)  # the dashboard closes it: nothing may follow the close frame
    assert not we_closed.write_frame(b"two")
    assert transport.written == [b"one"]

    they_closed, conn, transport = direct_frames()
    close = Frame(Opcode.CLOSE, Close(1000, "").serialize())
    conn.receive_data(close.serialize(mask=True, extensions=[]))  # the viewer closes it
    assert not they_closed.write_frame(b"two")
    assert transport.written == []

    lost, _, transport = direct_frames()
    transport.closing = True  # the connection is lost
    assert not lost.write_frame(b"two")
    assert transport.written == []
