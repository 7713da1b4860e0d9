"""Metrics of a real gnrasgiserve (demo project, real gnrdaemon), scraped after real traffic and
read with prometheus-client's own parser: a histogram per kind of request, counters that move,
GenroPy's register counted, build info; the public port has no /metrics."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import start_server

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.local import free_port

pytestmark = pytest.mark.site


def scrape(port: int) -> dict[str, list]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples, name: str, **labels) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.fixture(scope="module")
def measured(demo_workspace, gnr_daemon):
    port = free_port()
    server = start_server(demo_workspace, "gnrasgiserve", "--nodebug", name="metrics",
                          env={"GENROPY_METRICS_PORT": str(port)})
    yield server, port
    server.stop()


def test_requests_are_counted_by_kind_and_status(measured):
    server, port = measured
    before = scrape(port)["genropy_http_requests"]
    page = GenropyPage(server.base_url)
    for _ in range(3):
        page.rpc("note_count")
    assert httpx.get(server.base_url + "/_dojo/11/dojo/dojo/dojo.js").status_code == 200
    assert httpx.get(server.base_url + "/_server/health").status_code == 200
    try:  # a websocket (this server relays none: refused before the handshake, counted all the same)
        with page.channel():
            pass
    except Exception:
        pass
    assert httpx.get(server.base_url + "/_dojo/11/dojo/dojo/no-such-file.js").status_code == 404
    after = scrape(port)
    requests = after["genropy_http_requests"]

    def moved(**labels) -> float:
        return value(requests, "genropy_http_requests_total", **labels) - \
            value(before, "genropy_http_requests_total", **labels)

    assert moved(kind="rpc", status="200") >= 3
    assert moved(kind="page", status="200") >= 1
    assert moved(kind="static", status="200") >= 1
    assert moved(kind="server", status="200") >= 1
    assert moved(kind="static", status="404") >= 1
    assert moved(kind="websocket") >= 1
    duration = after["genropy_http_request_duration_seconds"]
    for kind in ("rpc", "page", "static", "websocket", "server"):
        buckets = [s for s in duration if s.name.endswith("_bucket") and s.labels["kind"] == kind]
        assert len({s.labels["le"] for s in buckets}) > 5 and any(s.labels["le"] == "+Inf" for s in buckets), kind
    assert value(after["genropy_http_requests_in_flight"], "genropy_http_requests_in_flight") >= 0


def test_the_register_and_the_build_are_reported(measured):
    server, port = measured
    GenropyPage(server.base_url)  # a page in gnrdaemon's register
    deadline = time.monotonic() + 40  # counted every 15 s
    while time.monotonic() < deadline:
        found = scrape(port)
        if value(found["genropy_site_pages"], "genropy_site_pages") >= 1:
            break
        time.sleep(1)
    assert value(found["genropy_site_pages"], "genropy_site_pages") >= 1
    assert value(found["genropy_site_connections"], "genropy_site_connections") >= 1
    build = found.get("genropy_build_info") or found.get("genropy_build")
    assert build and build[0].labels["genropy"] == "26.10.26" and build[0].value == 1


def test_the_public_port_has_no_metrics(measured):
    server, _ = measured
    response = httpx.get(server.base_url + "/metrics")
    assert response.status_code == 404 and "genropy_site_counters" not in response.text
