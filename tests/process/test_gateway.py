"""WsgiGatewayMiddleware under a real uvicorn process (see tests/apps/gateway_app.py)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from pathlib import Path

import httpx
import pytest
import websockets

from genropy_asgi.testing.local import ManagedProcess, free_port, wait_for_port

HERE = Path(__file__).resolve().parent.parent / "apps"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    port = free_port()
    process = ManagedProcess([sys.executable, str(HERE / "gateway_app.py"), str(port)], os.environ,
                             tmp_path_factory.mktemp("gw") / "server.log")
    wait_for_port("127.0.0.1", port, 60, process.process)
    process.base_url = f"http://127.0.0.1:{port}"
    yield process
    process.stop()


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_unmounted_paths_go_to_wsgi(gateway):
    response = httpx.get(gateway.base_url + "/anything/here")
    assert response.text == "wsgi:/anything/here"


def test_repeated_set_cookie_headers_survive(gateway):
    response = httpx.get(gateway.base_url + "/cookies")
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]


def test_root_site_environ(gateway):
    env = httpx.get(gateway.base_url + "/environ?x=1").json()
    assert env == {"SCRIPT_NAME": "", "PATH_INFO": "/environ", "QUERY_STRING": "x=1", "REQUEST_METHOD": "GET"}


def test_proxy_on_a_prefix_gets_script_name(gateway):
    env = httpx.get(gateway.base_url + "/legacy/sub/environ").json()
    assert env["SCRIPT_NAME"] == "/legacy"
    assert env["PATH_INFO"] == "/sub/environ"


def test_rest_app_and_its_docs_on_the_same_port(gateway):
    assert httpx.get(gateway.base_url + "/api/api/hello?name=gnr").json() == {"hello": "gnr"}
    docs = httpx.get(gateway.base_url + "/api/_meta/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    schema = httpx.get(gateway.base_url + "/api/_meta/schema_json").json()
    assert schema["info"]["title"] == "Notes API"


def test_websocket_next_to_the_site(gateway):
    async def talk():
        url = gateway.base_url.replace("http", "ws") + "/ws"
        async with websockets.connect(url) as socket:
            await socket.send("hi")
            return await socket.recv()

    assert asyncio.run(talk()) == "echo:hi"


def test_server_info_lists_every_prefix(gateway):
    info = httpx.get(gateway.base_url + "/_server/info").json()
    assert info["asgi_prefixes"] == ["/_server", "/api", "/legacy", "/raw", "/ws"]
    protocols = {app["name"]: app["protocol"] for app in info["apps"]}
    assert protocols["legacy"] == "wsgi" and protocols["api"] == "asgi"
    assert info["wsgi"] == {"site": True, "threads": 4}


def test_wsgi_exception_is_a_500_and_a_log_line(gateway):
    response = httpx.get(gateway.base_url + "/boom", timeout=10)
    assert response.status_code == 500
    assert "boom from the WSGI side" in gateway.output()
    assert httpx.get(gateway.base_url + "/cookies").status_code == 200  # still serving


def test_huge_download_streams_with_bounded_memory(gateway):
    before = peak_rss_kb(gateway.pid)
    received = 0
    with httpx.stream("GET", gateway.base_url + "/big?mb=300", timeout=120) as response:
        for chunk in response.iter_bytes():
            received += len(chunk)
    assert received == 300 * 1024 * 1024
    growth_mb = (peak_rss_kb(gateway.pid) - before) / 1024
    assert growth_mb < 64, f"server peak RSS grew {growth_mb:.0f} MB for a 300 MB download"


def test_large_upload_reaches_the_site_intact(gateway):
    payload = os.urandom(1024 * 1024) * 64  # 64 MB
    response = httpx.post(gateway.base_url + "/upload", content=payload, timeout=120)
    assert response.json() == {"sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}


def test_site_requests_get_503_until_the_process_set_is_ready(tmp_path):
    flag = tmp_path / "ready"
    port = free_port()
    process = ManagedProcess([sys.executable, str(HERE / "ready_gate_app.py"), str(port), str(flag)], os.environ,
                             tmp_path / "server.log")
    try:
        wait_for_port("127.0.0.1", port, 60, process.process)
        base = f"http://127.0.0.1:{port}"
        early = httpx.get(base + "/index")
        assert early.status_code == 503 and early.headers["retry-after"] == "1"
        assert httpx.get(base + "/_server/health").status_code == 200  # the server's own app is not gated
        flag.write_text("")
        import time

        deadline = time.monotonic() + 10
        while httpx.get(base + "/index").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert httpx.get(base + "/index").text == "site answered"
        flag.unlink()  # once ready, always served: GenroPy's own errors are GenroPy's
        assert httpx.get(base + "/index").status_code == 200
    finally:
        process.stop()
