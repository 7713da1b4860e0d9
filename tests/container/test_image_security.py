"""The security front in the image (demo site, PostgreSQL): no URL reads a file outside
GenroPy's static roots -- not /etc/passwd, not the process environment, not a mounted
secret, not the generated GenroPy config with the database password, the login's
password and the gnrdaemon HMAC key -- and hostile requests don't stall the site."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import httpx
import pytest
from traversal import corpus, refused, static_prefixes

from genropy_asgi.testing.containers import GenropyAsgiContainer

pytestmark = pytest.mark.docker

TARGETS = ["/etc/passwd", "/proc/self/environ", "/srv/secrets/gnr_admin_password",
           "/var/lib/genropy/gnr/environment.xml", "/var/lib/genropy/gnr/instanceconfig/default.xml"]
OTHER_PREFIXES = ["/_site/", "/_vol/", "/_storage/site/", "/_pkg/sys/", "/_temp/"]


def raw_get(url: str, target: str) -> tuple[int, bytes]:
    address = urlparse(url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


def test_traversal_reads_nothing_and_bodies_are_bounded(image, postgres_image):
    admin_password = "admin-" + "Vq83LmZx"
    with GenropyAsgiContainer(image).with_postgres(image=postgres_image) \
            .with_secret("GNR_ADMIN_PASSWORD", admin_password) as site:
        url = site.get_url()
        hmac_key = site.exec(["sh", "-c", "grep -o 'hmac_key=\"[^\"]*' /var/lib/genropy/gnr/environment.xml"]) \
            .output.decode().split('"')[-1].strip()
        secrets = [s.encode() for s in (admin_password, site.postgres.password, hmac_key)] + [b"root:x:0:0"]
        assert len(hmac_key) >= 32
        prefixes = static_prefixes(httpx.get(url + "/index", timeout=60).text) + OTHER_PREFIXES
        statuses: dict[int, int] = {}
        count = 0
        for target_file in TARGETS:
            for name, target in corpus(prefixes if target_file == "/etc/passwd" else prefixes[:4], target_file):
                status, answer = raw_get(url, target)
                statuses[status] = statuses.get(status, 0) + 1
                count += 1
                assert refused(status), (name, target, status)
                assert not any(secret in answer for secret in secrets), (name, target)
        print(f"\nimage: {count} traversal requests over {len(prefixes)} prefixes: {statuses}")

        started = time.monotonic()
        response = httpx.post(url + "/index", content=b"a=" + b"x" * 3_000_000,
                              headers={"content-type": "application/x-www-form-urlencoded"}, timeout=30)
        assert response.status_code == 413 and time.monotonic() - started < 1
        assert httpx.get(url + "/_server/health", timeout=5).status_code == 200
        smuggle = (b"POST /index HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        address = urlparse(url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(smuggle)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400 ") and answer.count(b"HTTP/1.1 ") == 1


def test_storages_metrics_and_the_websocket_are_closed_in_the_image(image):
    """Issue 30's attacks, on the image with its default settings (SQLite, websockets on)."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with GenropyAsgiContainer(image) as site:
        url = site.get_url()
        hmac_key = site.exec(["sh", "-c", "grep -o 'hmac_key=\"[^\"]*' /var/lib/genropy/gnr/environment.xml"]) \
            .output.decode().split('"')[-1].strip()
        assert len(hmac_key) >= 32
        for target in ["/_storage/_raw_/etc/passwd", "/_storage/_raw_/var/lib/genropy/gnr/environment.xml",
                       "/_vol/_raw_/etc/passwd", "/_raw_:etc/passwd", "/_storage/temp/", "/_storage/_http_/x",
                       "//metrics", "/metrics/", "/_tools/prometheus", "/metrics"]:
            status, answer = raw_get(url, target)
            assert status in (400, 403, 404), (target, status)
            assert hmac_key.encode() not in answer and b"root:x:0:0" not in answer, target
        assert raw_get(url, "/_dojo/11/dojo/dojo/dojo.js")[0] == 200
        client = httpx.Client(base_url=url, timeout=60)
        assert client.get("/index").status_code == 200
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        ws_url = url.replace("http", "ws") + "/websocket"
        for headers in ({"Origin": "http://evil.example", "Cookie": cookie}, {"Origin": url}):
            with pytest.raises(InvalidStatus) as refused_ws:
                connect(ws_url, additional_headers=headers, open_timeout=10)
            assert refused_ws.value.response.status_code == 403
        info = client.get("/_server/info").json()  # from outside the container: no database host
        assert set(info["site_database"] or {}) <= {"implementation"}
