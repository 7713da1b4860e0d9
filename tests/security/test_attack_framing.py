"""Surface: request framing and bodies. One reading of every request (a repeated framing header
is 400), limits that cannot be lifted, and bodies with a deadline: clients that stall hold sockets,
never WSGI threads, and the site keeps answering (figures printed; the p99 comparison is in
bench/RESULTS.md)."""

from __future__ import annotations

import socket
import statistics
import time

import httpx
import pytest
from test_attack_paths import raw

from genropy_asgi.testing.load import stalled_bodies

pytestmark = pytest.mark.site
FLOOD = 50


@pytest.mark.parametrize("header", ["Content-Type: text/plain", "Content-Length: 3", "Host: other",
                                    "Transfer-Encoding: chunked", "content-type: text/plain"])
def test_a_repeated_framing_header_is_400(target, header):
    # a 3 MiB form, over the 1 MiB limit (with one Content-Type: 413): answered before its body is sent
    status, _ = raw(target.port, "POST", "/index", headers=f"Content-Type: application/x-www-form-urlencoded"
                                                           f"\r\n{header}\r\n", length=3 << 20)
    assert status == 400


def test_the_form_limit_holds_whatever_the_header_order(target):
    for content_type in ("application/x-www-form-urlencoded", "APPLICATION/X-WWW-FORM-URLENCODED; charset=utf-8"):
        status, _ = raw(target.port, "POST", "/index", headers=f"Content-Type: {content_type}\r\n", length=3 << 20)
        assert status == 413


def stalled_headers(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(b"GET /index HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)
    return sockets


def index_latencies(url: str, count: int) -> list[float]:
    found = []
    with httpx.Client(timeout=20) as client:
        for _ in range(count):
            started = time.perf_counter()
            assert client.get(url + "/index").status_code == 200
            found.append(time.perf_counter() - started)
    return found


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


def test_stalled_bodies_and_headers_never_take_the_site_down(target):
    idle = index_latencies(target.base_url, 20)
    flood = stalled_bodies(target.port, FLOOD) + stalled_headers(target.port, FLOOD)
    try:
        loaded = index_latencies(target.base_url, 20)  # every one 200 within 20 s: asserted inside
    finally:
        for sock in flood:
            sock.close()
    print(f"\n/index with {FLOOD} stalled bodies + {FLOOD} stalled headers: p99 {p99(loaded) * 1000:.0f} ms "
          f"(idle {p99(idle) * 1000:.0f} ms, median {statistics.median(loaded) * 1000:.0f} / "
          f"{statistics.median(idle) * 1000:.0f} ms)")


def test_a_stalled_body_gets_408_at_its_deadline(target):
    with socket.create_connection(("127.0.0.1", target.port), timeout=30) as sock:
        sock.sendall(b"POST /index HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded"
                     b"\r\nContent-Length: 1000\r\n\r\na=1")
        started = time.monotonic()
        answer = sock.recv(65536)
        waited = time.monotonic() - started
        while chunk := sock.recv(65536):  # the body may come in its own segment; the server then closes
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408") and b"GENROPY_BODY_TIMEOUT" in answer
    assert 2.0 < waited < 15, waited  # GENROPY_BODY_TIMEOUT=3 for this site
