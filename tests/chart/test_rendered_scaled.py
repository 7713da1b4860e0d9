"""The chart's ``topology: scaled``, run as the cluster would run it, with Docker.

Every rendered Deployment's container (gnrdaemon, 3 web pods, async, scheduler, taskworker) is
started from its rendered spec (image, args, env, Secret files, security context,
read-only root) on one network where the Services' names are aliases, the claim is one
shared volume and PostgreSQL is real. Then the contract of the topology:
- a user logged in through web-0 is the same user, on the same page, through web-1 and
  web-2 (no session affinity needed);
- rolling the web pods one by one (taken out of the endpoints, SIGTERM, started again)
  under a bounded load of that user's RPCs fails no request, and the session survives;
- a file uploaded through web-0 (GenroPy's own upload RPC) is served by web-2, and by the
  new pods after the roll;
- a page open through web-0 receives the live update of a record saved through web-1
  (one shared ``gnr web async``, relayed by every web pod);
- restarting the shared register (SIGTERM, start again) keeps the login: gnrdaemon saved its
  registers; Valkey (``register.backend: redis``, the chart's StatefulSet, no gnrdaemon at all,
  2 uvicorn workers per web pod) has them in its append-only file on its claim;
- the demo's every-minute task runs, never twice in a minute (one scheduler, whatever the web pods).
Both values files run the same checks: ``ci/scaled-values.yaml`` and ``ci/scaled-redis-values.yaml``.
Figures (seconds, requests) are printed, never asserted as timings.
"""

from __future__ import annotations

import os
import secrets
import threading
import time

import httpx
import pytest
import yaml
from backup_rig import Rig
from rendered import cronjob_pod, docker_run_kwargs, statefulset_pod
from scaled_checks import assert_live_update_across, logged_in_page, served, through, upload_proof
from support import no_leftovers  # noqa: F401  (autouse fixture)
from test_chart import CHART, kind, render

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.containers import remove_all

pytestmark = pytest.mark.docker

WEB_REPLICAS = 3


class Cluster:
    """The rendered workloads as containers; ``web`` is what the Service would balance over."""

    def __init__(self, docker, documents, tmp_path, postgres_image):
        self.docker, self.documents, self.tmp_path = docker, documents, tmp_path
        suffix = secrets.token_hex(3)
        self.network = docker.networks.create(f"scaled-{suffix}")
        self.volume = docker.volumes.create(f"scaled-site-data-{suffix}")
        self.containers: list = []
        self.extra_volumes: list = []
        self.web: dict[str, str] = {}  # pod name -> base URL, the pods in the endpoints
        self.claims = {"demo-genropy-asgi-site-data": self.volume.name}
        try:
            self.start_postgres(postgres_image)
        except BaseException:
            self.remove()
            raise

    def start_postgres(self, postgres_image: str) -> None:
        docker, documents = self.docker, self.documents
        config = kind(documents, "ConfigMap")["data"]
        password = kind(documents, "Secret")["stringData"]["db-password"]
        self.run_container("postgresql", dict(
            image=postgres_image, detach=True, environment={
                "POSTGRES_USER": config["GNR_DB_USER"], "POSTGRES_PASSWORD": password, "POSTGRES_DB": "postgres"}),
            alias=config["GNR_DB_HOST"])
        image = next(d for d in documents if d["kind"] == "Deployment")
        image = image["spec"]["template"]["spec"]["containers"][0]["image"]
        # the kubelet's fsGroup: the claim's root is group 0 and group-writable
        docker.containers.run(image, entrypoint=["sh", "-c", "chgrp 0 /data && chmod 2775 /data"], user="0",
                              volumes={self.volume.name: {"bind": "/data", "mode": "rw"}}, remove=True)

    def run_container(self, name: str, kwargs: dict, alias: str | None = None):
        container = self.docker.containers.run(name=f"{self.network.name}-{name}", network=self.network.name,
                                               **kwargs)
        self.containers.append(container)
        if alias:  # a Service name resolves to its pod
            self.network.disconnect(container)
            self.network.connect(container, aliases=[alias])
        return container

    def start_workload(self, deployment: str, pod: str, alias: str | None = None):
        kwargs, _ = docker_run_kwargs(self.documents, self.tmp_path / pod, deployment, self.claims)
        # the kubelet restarts a failed container (an async or task pod may start before the
        # first web pod's db setup has made the tables: it exits, and comes back)
        kwargs["restart_policy"] = {"Name": "on-failure", "MaximumRetryCount": 10}
        return self.run_container(pod, kwargs, alias)

    def url(self, container) -> str:
        container.reload()
        return f"http://127.0.0.1:{container.attrs['NetworkSettings']['Ports']['8080/tcp'][0]['HostPort']}"

    def wait_ready(self, container, seconds: float = 240) -> str:
        deadline = time.monotonic() + seconds
        url = self.url(container)
        while time.monotonic() < deadline:
            container.reload()
            assert container.status == "running", container.logs().decode(errors="replace")[-4000:]
            try:
                if httpx.get(url + "/_server/ready", timeout=5).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise AssertionError(f"{container.name} not ready:\n" + container.logs().decode(errors="replace")[-4000:])

    def remove(self) -> None:
        remove_all(self.containers, self.network, (self.volume, *self.extra_volumes))


@pytest.fixture(params=["scaled", "scaled-redis"])
def cluster(request, docker, image, tmp_path):
    repository, _, tag = image.partition(":")
    values = yaml.safe_load((CHART / "ci" / f"{request.param}-values.yaml").read_text())
    values["image"] = {"repository": repository, "tag": tag or "latest", "pullPolicy": "Never"}
    values["replicaCount"] = WEB_REPLICAS
    values["podDisruptionBudget"] = {"enabled": False}
    values["processes"]["tasks"]["replicas"] = 1
    redis = values.get("register", {}).get("backend") == "redis"
    if redis:
        from genropy_asgi.testing.topology import local_valkey_image

        valkey_repository, _, valkey_tag = (os.environ.get("GENROPY_ASGI_VALKEY_IMAGE")
                                            or local_valkey_image(docker)).partition(":")
        values["register"]["redis"] = {"bundled": {"image": {"repository": valkey_repository,
                                                             "tag": valkey_tag or "latest", "pullPolicy": "Never"}}}
    cluster = Cluster(docker, render(values), tmp_path, os.environ.get("GENROPY_ASGI_POSTGRES_IMAGE", "postgres:17"))
    try:
        started = time.monotonic()
        if redis:  # the StatefulSet's pod, its claim template a volume of its own
            valkey_data = docker.volumes.create(f"{cluster.network.name}-valkey-data")
            cluster.extra_volumes = [valkey_data]
            cluster.claims["data"] = valkey_data.name
            kwargs, _ = docker_run_kwargs(cluster.documents, tmp_path / "valkey", claims=cluster.claims,
                                          pod=statefulset_pod(cluster.documents, "demo-genropy-asgi-valkey"))
            docker.containers.run(kwargs["image"], entrypoint=["sh", "-c", "chown 999:999 /data"], user="0",
                                  volumes={valkey_data.name: {"bind": "/data", "mode": "rw"}}, remove=True)
            kwargs["restart_policy"] = {"Name": "on-failure", "MaximumRetryCount": 10}
            cluster.register = cluster.run_container("valkey", kwargs, alias="demo-genropy-asgi-valkey")
        else:
            cluster.register = cluster.start_workload("demo-genropy-asgi-gnrdaemon", "gnrdaemon",
                                                      alias="demo-genropy-asgi-gnrdaemon")
        cluster.start_workload("demo-genropy-asgi-scheduler", "scheduler", alias="demo-genropy-asgi-scheduler")
        cluster.start_workload("demo-genropy-asgi-taskworker", "taskworker-0")
        cluster.start_workload("demo-genropy-asgi-async", "async", alias="demo-genropy-asgi-async")
        pods = {f"web-{i}": cluster.start_workload("demo-genropy-asgi-web", f"web-{i}") for i in range(WEB_REPLICAS)}
        for pod, container in pods.items():
            cluster.web[pod] = cluster.wait_ready(container)
        print(f"\nscaled topology ({WEB_REPLICAS} web pods, {'valkey' if redis else 'gnrdaemon'}, async, scheduler, "
              f"taskworker, PostgreSQL): all web pods ready after {time.monotonic() - started:.1f} s")
        cluster.pods = pods
        cluster.admin_password = kind(cluster.documents, "Secret")["stringData"]["admin-password"]
        yield cluster
    finally:
        cluster.remove()


def test_any_web_pod_serves_any_user_across_rolls_and_a_register_restart(cluster):
    page = logged_in_page(cluster.web["web-0"], cluster.admin_password)
    for pod in ("web-1", "web-2"):
        assert through(page, cluster.web[pod]).rpc("whoami") == "admin", pod

    assert_live_update_across(cluster.web["web-0"], cluster.web["web-1"])

    file_url = upload_proof(page)  # through web-0
    assert served(cluster.web["web-2"], file_url)  # by another pod

    # a bounded load of the user's RPCs over the pods in the endpoints, while they roll
    failures, done, stop = [], [0], threading.Event()

    pages: dict[str, GenropyPage] = {}

    def load() -> None:
        while not stop.is_set():
            for pod, url in list(cluster.web.items()):
                response = pages.setdefault(url, through(page, url)).rpc_raw("whoami")
                done[0] += 1
                if response.status_code != 200 or "<result>admin</result>" not in response.text:
                    failures.append(f"{pod}: HTTP {response.status_code} {response.text[:200]}")

    worker = threading.Thread(target=load)
    worker.start()
    started = time.monotonic()
    try:
        for pod in list(cluster.pods):
            del cluster.web[pod]  # the endpoints forget it (the preStop sleep's job), then SIGTERM
            cluster.pods[pod].stop(timeout=60)
            cluster.pods[pod].remove(v=True)
            cluster.containers.remove(cluster.pods[pod])
            cluster.pods[pod] = cluster.start_workload("demo-genropy-asgi-web", pod)
            cluster.web[pod] = cluster.wait_ready(cluster.pods[pod])
    finally:
        stop.set()
        worker.join(120)
    print(f"\nrolled {WEB_REPLICAS} web pods in {time.monotonic() - started:.1f} s under load: "
          f"{done[0]} RPCs, {len(failures)} failed")
    assert failures == []
    assert through(page, cluster.web["web-1"]).rpc("whoami") == "admin"
    assert served(cluster.web["web-0"], file_url)  # every pod was replaced

    register = cluster.register
    started = time.monotonic()
    register.restart(timeout=30)  # SIGTERM (gnrdaemon saves its registers, Valkey its AOF), then the same pod
    answer = through(page, cluster.web["web-2"]).rpc("whoami")
    print(f"\n{register.name} restarted: the logged-in page answered again after {time.monotonic() - started:.1f} s")
    assert answer == "admin", register.logs().decode(errors="replace")[-3000:]
    if register.name.endswith("-gnrdaemon"):
        assert "registers of demo saved" in register.logs().decode(errors="replace")

    # the demo's every-minute task: queued by the one scheduler and run by the taskworker, never
    # twice in a minute whatever the number of web pods
    deadline, minutes = time.monotonic() + 90, {}
    while time.monotonic() < deadline and not minutes:
        titles = through(page, cluster.web["web-1"]).rpc("note_titles") or []  # GenroPy sends an empty list as None
        stamps = [title.removeprefix("scheduled ")[:16] for title in titles if title.startswith("scheduled ")]
        minutes = {stamp: stamps.count(stamp) for stamp in stamps}
        time.sleep(3)
    print(f"\nscheduled task runs per minute, 3 web pods + 1 scheduler + 1 taskworker: {minutes}")
    logs = "".join(f"\n--- {c.name}\n" + c.logs().decode(errors="replace")[-2500:] for c in cluster.containers
                   if c.name.endswith(("-scheduler", "-taskworker-0")))
    assert minutes and set(minutes.values()) == {1}, f"{minutes}{logs}"


@pytest.mark.parametrize("cluster", ["scaled"], indirect=True)
def test_the_backup_cronjob_and_its_restore_twin_run_on_the_scaled_volumes(cluster, docker):
    """The rendered CronJobs' pods, run as the kubelet would: the backup reads the database and the
    shared claim while the web pods serve; the suspended restore twin puts that state back."""
    page = logged_in_page(cluster.web["web-0"], cluster.admin_password)
    page.rpc("add_note", title="before the backup")
    file_url = upload_proof(page)
    backups = docker.volumes.create(f"{cluster.network.name}-backups")
    cluster.claims["demo-genropy-asgi-backups"] = backups.name
    try:
        docker.containers.run(next(iter(cluster.pods.values())).image.tags[0], remove=True, user="0",
                              entrypoint=["sh", "-c", "chgrp 0 /data && chmod 2775 /data"],  # the kubelet's fsGroup
                              volumes={backups.name: {"bind": "/data", "mode": "rw"}})
        outputs = {}
        for job in ("backup", "restore"):
            if job == "restore":
                page.rpc("add_note", title="after the backup")
            kwargs, _ = docker_run_kwargs(cluster.documents, cluster.tmp_path / job, claims=cluster.claims,
                                          pod=cronjob_pod(cluster.documents, f"demo-genropy-asgi-{job}"))
            started = time.monotonic()
            container = cluster.run_container(job, kwargs)
            status = container.wait(timeout=600)["StatusCode"]
            outputs[job] = container.logs().decode(errors="replace")
            print(f"\nthe {job} CronJob's pod: exit {status} after {time.monotonic() - started:.1f} s\n"
                  f"{outputs[job][-700:]}")
            assert status == 0, outputs[job][-3000:]
        assert "backup of demo: demo-" in outputs["backup"] and "restored demo-" in outputs["restore"]
        titles = through(page, cluster.web["web-1"]).rpc("note_titles") or []
        assert "before the backup" in titles and "after the backup" not in titles
        assert served(cluster.web["web-2"], file_url)

        # moving a site in: an archive of another install (the image on its own PostgreSQL, another
        # user, as compose runs it) dropped into the claim, then the restore twin run again
        other = Rig(docker, cluster.pods["web-0"].image.tags[0],
                    os.environ.get("GENROPY_ASGI_POSTGRES_IMAGE", "postgres:17"), backups=backups.name,
                    pg_user="elsewhere")
        try:
            GenropyPage(other.start_site().get_url()).rpc("add_note", title="moved in")
            status, output = other.one_off("backup")
            assert status == 0, output
        finally:
            other.remove()
        time.sleep(1.1)  # its archive is the newest: what `restore latest` takes
        kwargs, _ = docker_run_kwargs(cluster.documents, cluster.tmp_path / "move", claims=cluster.claims,
                                      pod=cronjob_pod(cluster.documents, "demo-genropy-asgi-restore"))
        container = cluster.run_container("restore-move", kwargs)
        status = container.wait(timeout=600)["StatusCode"]
        assert status == 0, container.logs().decode(errors="replace")[-3000:]
        assert (through(page, cluster.web["web-2"]).rpc("note_titles") or []) == ["moved in"]
    finally:
        for container in [c for c in cluster.containers if c.name.endswith(("-backup", "-restore", "-restore-move"))]:
            container.remove(force=True)
            cluster.containers.remove(container)
        backups.remove(force=True)
