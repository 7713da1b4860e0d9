"""The proof that the chart's configuration boots: the rendered Deployment's container
(image, args, env from the rendered ConfigMap, Secret files, the siteconfig file,
security context, read-only root, emptyDir) run with Docker until its readiness
path answers 200. No Kubernetes API server can run here; Docker runs the same pod."""

from __future__ import annotations

import re
import time

import httpx
import yaml
from support import no_leftovers  # noqa: F401  (autouse fixture)
from test_chart import CHART, kind, render

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def docker_run_kwargs(documents: list[dict], files_dir) -> tuple[dict, dict]:
    """docker-py ``containers.run`` arguments for the Deployment's first container."""
    deployment = kind(documents, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    configmaps = {doc["metadata"]["name"]: doc["data"] for doc in documents if doc["kind"] == "ConfigMap"}
    secrets = {doc["metadata"]["name"]: doc.get("stringData", {}) for doc in documents if doc["kind"] == "Secret"}
    env = {}
    for source in container.get("envFrom", []):
        env.update({k: v for k, v in configmaps[source["configMapRef"]["name"]].items() if ENV_NAME.match(k)})
    env.update({item["name"]: item["value"] for item in container.get("env", [])})
    volumes_by_name = {volume["name"]: volume for volume in pod["volumes"]}
    binds, tmpfs = {}, {}
    for mount in container["volumeMounts"]:
        volume = volumes_by_name[mount["name"]]
        if "emptyDir" in volume:
            tmpfs[mount["mountPath"]] = "mode=0770"
            continue
        if "configMap" in volume:
            data, mode = configmaps[volume["configMap"]["name"]], 0o444
        else:
            data, mode = secrets[volume["secret"]["secretName"]], volume["secret"]["defaultMode"]
        folder = files_dir / mount["name"]
        folder.mkdir()
        for item in volume.get("configMap", volume.get("secret", {})).get("items", []):
            path = folder / item["path"]
            path.write_text(data[item["key"]])
            path.chmod(mode)
        source = folder / mount["subPath"] if "subPath" in mount else folder
        binds[str(source)] = {"bind": mount["mountPath"], "mode": "ro" if mount.get("readOnly") else "rw"}
    security = container["securityContext"]
    user = f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    kwargs = dict(image=container["image"], command=container.get("args"), environment=env, volumes=binds,
                  tmpfs=tmpfs, user=user, read_only=security["readOnlyRootFilesystem"],
                  cap_drop=security["capabilities"]["drop"], security_opt=["no-new-privileges"],
                  ports={"8080/tcp": ("127.0.0.1", None)}, detach=True)
    return kwargs, container


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
