"""Hostile HTTP against a real server process (tests/apps/gateway_app.py on uvicorn, our parser).

Smuggling and malformed framing, oversize headers, slow headers, oversize bodies
(with and without Content-Length, to GenroPy's WSGI side and to a mounted ASGI app),
and the traversal corpus on every kind of route. 127.0.0.1 only, bounded loops.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets
from traversal import corpus, refused

from genropy_asgi.testing.local import ManagedProcess, free_port, wait_for_port

HERE = Path(__file__).resolve().parent.parent / "apps"
LIMITS = {"GENROPY_HEADER_TIMEOUT": "2", "GENROPY_MAX_FORM_BYTES": "65536",
          "GENROPY_MAX_UPLOAD_BYTES": "1048576", "GENROPY_MAX_HEADER_BYTES": "16384"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    process = ManagedProcess([sys.executable, str(HERE / "gateway_app.py"), str(port)], {**os.environ, **LIMITS},
                             tmp_path_factory.mktemp("hardening") / "server.log")
    wait_for_port("127.0.0.1", port, 60, process.process)
    process.port = port
    process.base_url = f"http://127.0.0.1:{port}"
    yield process
    process.stop()


def exchange(port: int, raw: bytes, wait: float = 3.0) -> tuple[bytes, bool]:
    """Send raw bytes; return what came back and whether the server closed the connection."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(wait)
        sock.sendall(raw)
        received = b""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return received, True
                received += data
        except TimeoutError:
            return received, False


def test_content_length_with_transfer_encoding_is_refused_and_nothing_is_smuggled(server):
    raw = (b"POST /raw/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
    answer, closed = exchange(server.port, raw)
    assert answer.startswith(b"HTTP/1.1 400 ") and closed
    assert answer.count(b"HTTP/1.1") == 1 and b"smuggled" not in answer


@pytest.mark.parametrize("raw", [
    b"GET /lf HTTP/1.1\nHost: x\n\n",
    b"GET /fold HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
], ids=["bare LF", "obs-fold", "two Content-Length"])
def test_malformed_framing_is_refused(server, raw):
    answer, closed = exchange(server.port, raw)
    assert answer.startswith(b"HTTP/1.1 400 ") and closed


def test_oversize_headers_get_431(server):
    answer, closed = exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ") and closed
    ok, _ = exchange(server.port, b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\nConnection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200 ")


def latencies(url: str, count: int) -> list[float]:
    found = []
    with httpx.Client() as client:
        for _ in range(count):
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            found.append(time.perf_counter() - started)
    return found


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def test_slow_header_clients_are_dropped_at_the_deadline(server):
    idle = latencies(server.base_url + "/_server/health", 200)
    slow = []
    for _ in range(200):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setblocking(False)
        slow.append(sock)
    started = time.monotonic()
    loaded: list[float] = []
    open_socks = list(slow)
    try:
        for step in range(10):  # one header byte every 0.5 s, for 5 s at most (deadline: 2 s)
            for sock in list(open_socks):
                try:
                    sock.send(b"GET / HTTP/1.1\r\nX: "[step:step + 1] or b"a")
                except OSError:
                    open_socks.remove(sock)
            loaded += latencies(server.base_url + "/_server/health", 20)
            for sock in list(open_socks):
                try:
                    if sock.recv(4096) == b"":
                        open_socks.remove(sock)
                except BlockingIOError:
                    pass
                except OSError:
                    open_socks.remove(sock)
            if not open_socks:
                break
            time.sleep(0.5)
        dropped_after = time.monotonic() - started
    finally:
        for sock in slow:
            sock.close()
    print(f"\nslow-header clients: 200 dropped after {dropped_after:.1f}s (deadline 2s); "
          f"normal client p99 idle {p99(idle) * 1000:.1f} ms, under slow clients {p99(loaded) * 1000:.1f} ms")
    assert not open_socks, f"{len(open_socks)} slow clients still connected after {dropped_after:.1f}s"
    assert 1.5 <= dropped_after <= 4.5
    assert p99(loaded) <= max(2 * p99(idle), p99(idle) + 0.05)


def test_a_client_that_sends_nothing_is_dropped(server):
    started = time.monotonic()
    answer, closed = exchange(server.port, b"", wait=6)
    assert closed and answer == b"" and time.monotonic() - started < 4


def test_form_over_the_limit_is_413_at_once_and_health_still_answers(server):
    body = b"a=" + b"x" * 200_000
    started = time.monotonic()
    response = httpx.post(server.base_url + "/upload", content=body,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413 and time.monotonic() - started < 1
    assert "GENROPY_MAX_FORM_BYTES" in response.text
    assert httpx.get(server.base_url + "/_server/health").status_code == 200
    small = httpx.post(server.base_url + "/upload", content=b"a=" + b"x" * 60_000,
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert small.json()["size"] == 60_002


def chunks(total: int, size: int = 65536):
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("path", ["/upload", "/raw/"], ids=["WSGI site", "mounted ASGI app"])
def test_chunked_bodies_are_counted_while_read(server, path):
    """No Content-Length: the limit is enforced on the bytes received, not after buffering."""
    response = httpx.post(server.base_url + path, content=chunks(5 * 1024 * 1024),
                          headers={"content-type": "multipart/form-data; boundary=zz"})
    assert response.status_code == 413 and "GENROPY_MAX_UPLOAD_BYTES" in response.text
    ok = httpx.post(server.base_url + path, content=chunks(512 * 1024),
                    headers={"content-type": "multipart/form-data; boundary=zz"})
    assert ok.status_code == 200 and str(512 * 1024) in ok.text


def test_a_real_multipart_upload_under_the_limit_works(server):
    response = httpx.post(server.base_url + "/upload", files={"f": ("a.bin", b"y" * 300_000)})
    assert response.status_code == 200 and response.json()["size"] > 300_000
    too_big = httpx.post(server.base_url + "/upload", files={"f": ("a.bin", b"y" * 2_000_000)})
    assert too_big.status_code == 413


def test_traversal_corpus_on_every_kind_of_route(server):
    prefixes = ["/static/sub/", "/api/", "/raw/", "/legacy/x/", "/_server/", "/ws/"]
    answers = {}
    for name, target in corpus(prefixes, "/etc/passwd"):
        answer, _ = exchange(server.port, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        status = int(answer.split(b" ", 2)[1])
        answers[name] = status
        assert refused(status) and b"root:" not in answer, (name, target, answer[:200])
    print(f"\n{len(answers)} traversal forms, all refused: {sorted(set(answers.values()))}")


def test_a_websocket_on_a_traversal_path_is_refused(server):
    async def attempt(path: str):
        async with websockets.connect(f"ws://127.0.0.1:{server.port}{path}") as socket_:
            await socket_.send("hi")
            return await socket_.recv()

    assert asyncio.run(attempt("/ws/")) == "echo:hi"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        asyncio.run(attempt("/ws/%2e%2e/x"))
