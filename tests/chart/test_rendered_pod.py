"""The proof that the chart's configuration boots: the rendered Deployment's container
(image, args, env from the rendered ConfigMap, Secret files, the siteconfig file,
security context, read-only root, emptyDir) run with Docker until its readiness
path answers 200. No Kubernetes API server can run here; Docker runs the same pod."""

from __future__ import annotations

import time

import httpx
import yaml
from rendered import docker_run_kwargs
from support import no_leftovers  # noqa: F401  (autouse fixture)
from test_chart import CHART, kind, render


def test_the_rendered_pod_boots_and_is_ready(docker, image, tmp_path):
    repository, _, tag = image.partition(":")
    values = yaml.safe_load((CHART / "ci" / "sqlite-values.yaml").read_text())
    values["image"] = {"repository": repository, "tag": tag or "latest", "pullPolicy": "Never"}
    documents = render(values)
    kwargs, container = docker_run_kwargs(documents, tmp_path)
    readiness = container["readinessProbe"]["httpGet"]["path"]
    running = docker.containers.run(**kwargs)
    try:
        running.reload()
        port = running.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        deadline = time.monotonic() + 180
        status = None
        while time.monotonic() < deadline:
            running.reload()
            assert running.status == "running", running.logs().decode()[-3000:]
            try:
                status = httpx.get(f"http://127.0.0.1:{port}{readiness}", timeout=10).status_code
                if status == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        assert status == 200, running.logs().decode()[-3000:]
        # what the chart configured is what the pod runs with
        assert running.exec_run(["id", "-u"]).output.decode().strip() == "10001"
        assert b"css_theme" in running.exec_run(["cat", "/var/lib/genropy/gnr/siteconfig/default.xml"]).output
        assert running.exec_run(["cat", "/run/secrets/genropy/admin/password"]).exit_code == 0
        logs = running.logs().decode()
        admin_password = kind(documents, "Secret")["stringData"]["admin-password"]
        assert admin_password not in logs
        programs = ("async", "taskscheduler", "taskworker_0")  # processes.* reached supervisord
        deadline = time.monotonic() + 30  # their first lines may follow readiness (a loaded machine)
        while time.monotonic() < deadline and not all(f"\n{p} | " in logs for p in programs):
            time.sleep(1)
            logs = running.logs().decode()
        for program in programs:
            assert f"\n{program} | " in logs, f"no {program} in the pod"
    finally:
        running.remove(force=True, v=True)
