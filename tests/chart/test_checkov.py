"""checkov (Kubernetes policy checks) on every rendered scenario of the chart: no finding left;
each finding the chart keeps on purpose is skipped in the chart with its reason
(``genropy-asgi.checkovSkips``). checkov runs from its own venv (``scripts/checkov``)."""

from __future__ import annotations

import json
import subprocess

import yaml
from support import REPO
from test_chart import SCENARIOS, render, values_of


def test_checkov_finds_nothing_unexplained_in_any_scenario(tmp_path):
    for scenario in SCENARIOS:
        folder = tmp_path / scenario.name.removesuffix("-values.yaml")
        folder.mkdir()
        (folder / "manifests.yaml").write_text(yaml.safe_dump_all(render(values_of(scenario))))
    run = subprocess.run([str(REPO / "scripts" / "checkov"), str(tmp_path), "-o", "json"],
                         capture_output=True, text=True, timeout=900)
    reports = json.loads(run.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [(check["check_id"], check["resource"]) for report in reports
              for check in report["results"]["failed_checks"]]
    skipped = [check for report in reports for check in report["results"]["skipped_checks"]]
    passed = sum(report["summary"]["passed"] for report in reports)
    print(f"\ncheckov on {len(SCENARIOS)} scenarios: {passed} passed, {len(skipped)} skipped (with reasons), "
          f"{len(failed)} failed")
    assert passed > 1000, run.stderr[-2000:]
    assert not failed, failed
    unexplained = [(check["check_id"], check["resource"]) for check in skipped
                   if len(check["check_result"].get("suppress_comment") or "") < 20]
    assert not unexplained, unexplained


def test_every_workload_has_a_liveness_probe():
    documents = render(values_of(REPO / "helm" / "genropy-asgi" / "ci" / "scaled-values.yaml")) + \
        render(values_of(REPO / "helm" / "genropy-asgi" / "ci" / "bundled-db-values.yaml"))
    for document in documents:
        if document["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for container in document["spec"]["template"]["spec"]["containers"]:
            assert "livenessProbe" in container, (document["metadata"]["name"], container["name"])
    worker = next(d for d in documents if d["metadata"]["name"].endswith("-taskworker") and d["kind"] == "Deployment")
    probe = worker["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    assert probe["exec"]["command"][-1] == "genropy_asgi.container.liveness"
