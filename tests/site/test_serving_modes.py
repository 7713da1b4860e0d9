"""gnrasgiserve's serving modes on a real site: --reload, -o, SSL, SIGTERM; GenropyProxy."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import websockets
from support import DEMO_PROJECT, start_server

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.local import GnrDaemonProcess, GnrWorkspace, ManagedProcess, free_port, wait_for_port

pytestmark = pytest.mark.site
TESTS = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def own_site(tmp_path_factory):
    """A workspace of its own (its pages get edited) with its own gnrdaemon."""
    workspace = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path_factory.mktemp("modes-ws"))
    workspace.db_setup()
    daemon = GnrDaemonProcess(workspace)
    yield workspace
    daemon.stop()


def test_reload_shows_an_edited_page_on_the_next_request(own_site):
    server = start_server(own_site, "gnrasgiserve", "--reload", "--nodebug", name="reload")
    try:
        assert "GenroPy demo on genropy-asgi" in GenropyPage(server.base_url).rpc_raw("main").text
        page_file = own_site.project_dir / "packages" / "demo" / "webpages" / "index.py"
        page_file.write_text(page_file.read_text().replace("GenroPy demo on genropy-asgi", "Edited while running"))
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            try:
                text = GenropyPage(server.base_url).rpc_raw("main").text
                if "Edited while running" in text:
                    break
            except (httpx.HTTPError, AssertionError):
                pass
            time.sleep(0.5)
        assert "Edited while running" in text
        assert "WatchFiles detected changes" in server.output() or "StatReload detected" in server.output()
    finally:
        assert server.stop() == 0


def test_open_browser(own_site, tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f"#!/bin/sh\necho \"$1\" >> {opened}\n")
    browser.chmod(0o755)
    server = start_server(own_site, "gnrasgiserve", "-o", "--nodebug", name="open",
                          env={"BROWSER": f"{browser} %s"})
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not opened.exists():
            time.sleep(0.2)
        assert opened.read_text().strip() == f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def make_certificate(folder: Path, cert: str, key: str) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(folder / key), "-out", str(folder / cert)],
                   check=True, capture_output=True)


def test_ssl_cert_and_key(own_site, tmp_path):
    make_certificate(tmp_path, "cert.pem", "key.pem")
    server = start_server(own_site, "gnrasgiserve", "--nodebug", "--ssl_cert", str(tmp_path / "cert.pem"),
                          "--ssl_key", str(tmp_path / "key.pem"), name="ssl", scheme="https")
    try:
        assert httpx.get(server.base_url + "/index", verify=False).status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{server.port}/index")
    finally:
        server.stop()


def test_ssl_uses_the_config_folder_certificate(own_site):
    make_certificate(own_site.config_dir, "localhost.pem", "localhost-key.pem")
    server = start_server(own_site, "gnrasgiserve", "--nodebug", "--ssl", name="ssl2", scheme="https")
    try:
        assert httpx.get(server.base_url + "/_server/health", verify=False).status_code == 200
    finally:
        server.stop()


def test_sigterm_exits_zero(own_site):
    server = start_server(own_site, "gnrasgiserve", "--nodebug", name="term")
    assert server.stop() == 0
    assert "Shutting down" in server.output() or "Finished server process" in server.output()


def test_sigterm_drains_in_flight_requests(tmp_path):
    port = free_port()
    process = ManagedProcess([sys.executable, str(TESTS / "apps" / "gateway_app.py"), str(port)],
                             {**__import__("os").environ}, tmp_path / "drain.log")
    wait_for_port("127.0.0.1", port, 60, process.process)
    result = {}

    def slow_request():
        result["response"] = httpx.get(f"http://127.0.0.1:{port}/slow?s=3", timeout=30)

    worker = threading.Thread(target=slow_request)
    worker.start()
    time.sleep(1)
    process.signal(signal.SIGTERM)
    worker.join(30)
    assert process.process.wait(30) == 0
    assert result["response"].status_code == 200
    assert result["response"].text == "slow done"
    process.stop()


def test_genropy_proxy_mounts_the_site_on_a_prefix(own_site):
    port = free_port()
    process = ManagedProcess([sys.executable, str(TESTS / "apps" / "proxy_app.py"), str(port)],
                             own_site.env({"PYTHONPATH": str(TESTS / "apps")}), own_site.root / "proxy.log")
    try:
        wait_for_port("127.0.0.1", port, 120, process.process)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/api/api/ping").json() == {"pong": True}

        async def talk():
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as socket:
                await socket.send("next to GenroPy")
                return await socket.recv()

        assert asyncio.run(talk()) == "echo:next to GenroPy"
        page = GenropyPage(base + "/legacy")
        assert int(page.rpc("note_count")) >= 0
        assert "dojo.registerModulePath" in page.shell
        info = httpx.get(base + "/_server/info").json()
        assert {"name": "legacy", "prefix": "/legacy", "class": "GenropyProxy", "protocol": "wsgi"} in info["apps"]
    finally:
        process.stop()
