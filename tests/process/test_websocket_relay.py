"""The /websocket relay under a real uvicorn process, to a real aiohttp server on a Unix socket.

The upstream is built like GenroPy's ``gnr web async`` (aiohttp: GET ``/websocket``,
POST ``/wsproxy``) and records what it sees, so each test checks both ends: what
the browser-side client receives and what the async server received.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from aiohttp import WSMsgType, web
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from genropy_asgi.asgi.websocket_relay import sendable_close_code
from genropy_asgi.testing.local import ManagedProcess, free_port, wait_for_port

HERE = Path(__file__).resolve().parent.parent / "apps"
MIB = 1024 * 1024
FLOOD = 200
NOISE = os.urandom(MIB)  # incompressible: permessage-deflate must not hide the buffering


class Upstream:
    """An aiohttp app on a Unix socket, in a thread with its own loop."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.close_codes: list[int | None] = []
        self.handshakes: list[dict] = []
        self.flood_sent = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> Upstream:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/websocket", self.websocket)
        app.router.add_post("/wsproxy", self.wsproxy)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.UnixSite(self.runner, self.socket_path).start()

    def stop(self) -> None:
        if not self.loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def wsproxy(self, request: web.Request) -> web.Response:
        return web.Response(text="")

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("gnr",), max_msg_size=16 * MIB)
        await ws.prepare(request)
        self.handshakes.append({"path": request.path, "query": request.query_string,
                                "host": request.host, "subprotocol": ws.ws_protocol,
                                **{k.lower(): v for k, v in request.headers.items()}})
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                if message.data.startswith("close "):
                    _, code, reason = message.data.split(" ", 2)
                    await ws.close(code=int(code), message=reason.encode())
                elif message.data == "flood":
                    for _ in range(FLOOD):
                        await ws.send_bytes(NOISE)
                        self.flood_sent += 1
                else:
                    await ws.send_str("echo:" + message.data)
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data[::-1])
        self.close_codes.append(ws.close_code)
        return ws


@pytest.fixture
def relay(tmp_path):
    socket_path = str(tmp_path / "async.sock")
    upstream = Upstream(socket_path).start()
    port = free_port()
    process = ManagedProcess([sys.executable, str(HERE / "relay_app.py"), str(port), socket_path],
                             os.environ, tmp_path / "server.log")
    wait_for_port("127.0.0.1", port, 60, process.process)
    process.url = f"ws://127.0.0.1:{port}"
    process.upstream = upstream
    yield process
    process.stop()
    process.upstream.stop()


def wait_for(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_text_and_binary_both_ways(relay):
    with connect(relay.url + "/websocket") as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "echo:hello"
        ws.send(b"\x00\x01\x02")
        assert ws.recv(timeout=10) == b"\x02\x01\x00"


def test_handshake_reaches_upstream_with_path_query_headers_and_subprotocol(relay):
    origin = relay.url.replace("ws://", "http://")  # the site's own (another is 403: tests/security)
    with connect(relay.url + "/websocket?page=1", subprotocols=["gnr"],
                 additional_headers={"Cookie": "sid=abc", "Origin": origin}) as ws:
        assert ws.subprotocol == "gnr"
        ws.send("x")
        ws.recv(timeout=10)
    seen = relay.upstream.handshakes[-1]
    assert (seen["path"], seen["query"], seen["subprotocol"]) == ("/websocket", "page=1", "gnr")
    assert seen["cookie"] == "sid=abc" and seen["origin"] == origin
    assert seen["host"] == relay.url.removeprefix("ws://")
    assert seen["x-forwarded-proto"] == "http" and seen["x-forwarded-for"] == "127.0.0.1"


def test_front_proxy_forwarded_headers_are_kept(relay):
    with connect(relay.url + "/websocket", additional_headers={"X-Forwarded-Proto": "https",
                                                               "X-Forwarded-For": "203.0.113.9"}) as ws:
        ws.send("x")
        ws.recv(timeout=10)
    seen = relay.upstream.handshakes[-1]
    assert seen["x-forwarded-proto"] == "https" and seen["x-forwarded-for"] == "203.0.113.9"


def test_upstream_close_code_and_reason_reach_the_browser(relay):
    with connect(relay.url + "/websocket") as ws:
        ws.send("close 4001 session expired")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "session expired")


def test_browser_close_code_reaches_upstream(relay):
    with connect(relay.url + "/websocket") as ws:
        ws.send("x")
        ws.recv(timeout=10)
        ws.close(code=4002, reason="tab closed")
    wait_for(lambda: relay.upstream.close_codes)
    assert relay.upstream.close_codes == [4002]


def test_upstream_status_is_the_handshake_answer(relay):
    with pytest.raises(InvalidStatus) as refused:
        connect(relay.url + "/wsproxy", open_timeout=10)
    assert refused.value.response.status_code == 405  # /wsproxy is POST only, as in gnr web async


def test_no_async_server_is_503(relay):
    relay.upstream.stop()
    os.unlink(relay.upstream.socket_path)
    with pytest.raises(InvalidStatus) as refused:
        connect(relay.url + "/websocket", open_timeout=10)
    assert refused.value.response.status_code == 503
    assert b"gnr web async" in refused.value.response.body
    relay.upstream = Upstream(relay.upstream.socket_path).start()  # for the fixture's stop


def test_a_mounted_app_keeps_its_own_websocket(relay):
    with connect(relay.url + "/ws") as ws:
        assert ws.recv(timeout=10) == "mounted app"
    assert relay.upstream.handshakes == []


def test_slow_browser_holds_the_upstream_back(relay):
    """200 MiB offered by the upstream, nobody reading: the upstream's sends stall."""
    with connect(relay.url + "/websocket", max_size=2 * MIB, max_queue=1) as ws:
        ws.send("flood")
        time.sleep(3)
        stalled_at = relay.upstream.flood_sent
        assert stalled_at < 64, f"the upstream sent {stalled_at} MiB to a browser that reads nothing"
        received = [ws.recv(timeout=30) for _ in range(FLOOD)]
    assert all(chunk == NOISE for chunk in received)
    assert relay.upstream.flood_sent == FLOOD


@pytest.mark.parametrize(("code", "default", "expected"), [
    (None, 1000, 1000), (1000, 1011, 1000), (4001, 1000, 4001), (1005, 1000, 1000),
    (1006, 1011, 1011), (1015, 1011, 1011), (2000, 1011, 1011), (1011, 1000, 1011),
])
def test_sendable_close_codes(code, default, expected):
    assert sendable_close_code(code, default) == expected
