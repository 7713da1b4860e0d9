"""Surface: the metrics port (``GENROPY_METRICS_PORT``), its own listener.

Clients that connect and never finish a request are dropped at the connection deadline and
never hold more than ``MAX_CONNECTIONS`` threads, so a flood neither grows the process nor
outlives the deadline: the next scrape is answered. ``GENROPY_METRICS_BIND`` is where it
listens (else where the web server does). The public port's refusal of GenroPy's own
metrics routes is in ``test_attack_paths``."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from genropy_asgi.asgi import metrics_listener
from genropy_asgi.asgi.metrics import serve_in_process
from genropy_asgi.testing.local import free_port

DEADLINE = 1.5


@pytest.fixture
def short_deadline(monkeypatch):
    monkeypatch.setattr(metrics_listener, "CONNECTION_DEADLINE", DEADLINE)
    monkeypatch.setattr(metrics_listener._DeadlinedHandler, "timeout", DEADLINE)


@pytest.fixture
def listener(short_deadline):
    from prometheus_client import CollectorRegistry, Counter

    registry = CollectorRegistry()
    Counter("attack_probe", "a metric the scrape must carry", registry=registry).inc()
    port = free_port()
    server = metrics_listener.serve_metrics("127.0.0.1", port, registry)
    yield f"http://127.0.0.1:{port}", port
    server.shutdown()
    server.server_close()


def stalled(port: int, count: int, first_bytes: bytes = b"") -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if first_bytes:
            sock.sendall(first_bytes)
        socks.append(sock)
    return socks


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
            # an answer (a 400 for the half-sent request) then the close: both end the connection
    except TimeoutError:
        return False
    except OSError:
        return True


@pytest.mark.parametrize("first_bytes", [b"", b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "], ids=["silent", "slow-header"])
def test_stalled_clients_are_dropped_at_the_deadline_and_bounded(listener, first_bytes):
    url, port = listener
    threads_before = threading.active_count()
    started = time.monotonic()
    socks = stalled(port, 60, first_bytes)
    try:
        time.sleep(0.3)
        # at most MAX_CONNECTIONS of them got a thread; the others were closed at accept
        assert threading.active_count() - threads_before <= metrics_listener.MAX_CONNECTIONS
        assert all(closed_by_server(sock, DEADLINE + 3) for sock in socks)
        waited = time.monotonic() - started
        print(f"\nmetrics port: 60 stalled clients ({'slow header' if first_bytes else 'silent'}) "
              f"all dropped {waited:.1f}s after connecting (deadline {DEADLINE}s)")
    finally:
        for sock in socks:
            sock.close()
    answer = httpx.get(url + "/metrics", timeout=5)
    assert answer.status_code == 200 and "attack_probe_total 1.0" in answer.text


def test_a_client_that_trickles_bytes_is_cut_at_the_deadline_not_per_read(listener):
    _, port = listener
    sock = stalled(port, 1, b"GET /metrics HTTP/1.1\r\n")[0]
    started = time.monotonic()
    try:
        sock.settimeout(0.2)
        while time.monotonic() - started < DEADLINE + 3:
            try:
                sock.sendall(b"X-Drip: a\r\n")  # each read arrives well within the per-read timeout
                if sock.recv(4096) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        elapsed = time.monotonic() - started
    finally:
        sock.close()
    assert elapsed < DEADLINE + 1, f"a trickling client kept its connection {elapsed:.1f}s (deadline {DEADLINE}s)"


def test_the_bind_setting_is_where_it_listens(short_deadline):
    port = free_port()
    host = serve_in_process("0.0.0.0", port, environ={"GENROPY_METRICS_BIND": "127.0.0.1"})
    assert host == "127.0.0.1"
    assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.2:{port}/metrics", timeout=5)  # another address of this machine


def test_a_bad_bind_is_one_line_naming_the_variable():
    from genropy_asgi.settings import SettingError

    with pytest.raises(SettingError, match=r"^GENROPY_METRICS_BIND='1\.2\.3': expected an IP address"):
        serve_in_process("0.0.0.0", free_port(), environ={"GENROPY_METRICS_BIND": "1.2.3"})
