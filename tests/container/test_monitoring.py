"""Monitoring in the image: the metrics port after real traffic through 2 gunicorn workers
(summed across them), every program's figures, GenroPy's /metrics off the public port; a json
start and traffic where every line is a JSON record; healthy starts with no ERROR/CRIT line."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.containers import GenropyAsgiContainer


def families(url: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(httpx.get(url, timeout=30).text)}


def total(samples, name: str, **labels) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def bad_lines(logs: str) -> list[str]:
    return [line for line in logs.splitlines() if any(word in line for word in (" ERROR", "ERROR:", " CRIT", "CRITICAL"))]


def test_metrics_summed_over_two_workers_and_every_program(image):
    with GenropyAsgiContainer(image, env={"GENROPY_WORKERS": "2"}) as site:
        url = site.get_url()

        def writers() -> set[str]:
            files = site.exec(["sh", "-c", "ls /var/lib/genropy/run/metrics"]).output.decode().split()
            return {name.rsplit("_", 1)[-1] for name in files if name.startswith("counter_")}

        calls = 0
        for attempt in range(20):  # new clients (new connections) until both workers have counted
            page = GenropyPage(url)
            for _ in range(3):
                page.rpc("note_count")
                calls += 1
            if attempt >= 3 and len(writers()) >= 2:
                break
        assert len(writers()) >= 2  # both workers counted requests: the figure below is their sum
        found = families(site.get_metrics_url())
        assert total(found["genropy_http_requests"], "genropy_http_requests_total", kind="rpc", status="200") == calls
        for program in ("gnrdaemon", "async", "server", "metrics"):
            assert total(found["genropy_program_up"], "genropy_program_up", program=program) == 1, program
            assert total(found["genropy_program_resident_memory_bytes"], "genropy_program_resident_memory_bytes",
                         program=program) > 1e6, program
        assert total(found["genropy_program_cpu_seconds"], "genropy_program_cpu_seconds_total", program="server") > 0
        assert total(found["genropy_program_restarts"], "genropy_program_restarts_total", program="async") == 0
        from genropy_asgi.testing import faults

        container = site.get_wrapped_container()
        faults.kill(container, faults.program_pid(container, "async"))  # supervisord restarts it
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            restarted = families(site.get_metrics_url())
            if total(restarted["genropy_program_restarts"], "genropy_program_restarts_total", program="async") >= 1:
                break
            time.sleep(1)
        assert total(restarted["genropy_program_restarts"], "genropy_program_restarts_total", program="async") == 1
        assert httpx.get(url + "/metrics").status_code == 404
        logs = site.get_wrapped_container().logs().decode(errors="replace").split("exited: async")[0]
        assert bad_lines(logs) == [], bad_lines(logs)  # the healthy start, before the kill
        assert "/_server/ready" not in logs  # the healthcheck's probes are not access-logged


@pytest.mark.parametrize("workers", ["1", "2"])  # one uvicorn process; gunicorn with its own logging config
def test_json_logs_every_line_one_record(image, workers):
    with GenropyAsgiContainer(image, env={"GENROPY_LOG_FORMAT": "json", "GENROPY_WORKERS": workers}) as site:
        page = GenropyPage(site.get_url())
        page.rpc("note_count")
        answer = httpx.get(site.get_url() + "/index", headers={"X-Request-ID": "trace-me-42"})
        assert answer.headers["x-request-id"] == "trace-me-42"
        # the access line is written once the response is sent, then travels through
        # supervisord's pipe and prefix_output: wait for it rather than read once
        deadline = time.monotonic() + 20
        while True:
            logs = site.get_wrapped_container().logs().decode(errors="replace")
            if "trace-me-42" in logs or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    records = []
    for line in logs.splitlines():
        record = json.loads(line)  # every line: one JSON object
        assert {"time", "level", "program", "message"} <= record.keys(), record
        records.append(record)
    programs = {r["program"] for r in records}
    assert {"entrypoint", "supervisord", "gnrdaemon", "server"} <= programs, programs
    access = [r for r in records if r.get("request_id") == "trace-me-42"]
    assert access and access[0]["path"] == "/index" and access[0]["status"] == 200
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL")]
