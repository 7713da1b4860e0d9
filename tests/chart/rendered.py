"""Rendered chart workloads as Docker would run them (no Kubernetes API server here).

``docker_run_kwargs`` turns one rendered Deployment's (or CronJob's, or StatefulSet's)
container into docker-py ``containers.run`` arguments, as the kubelet would start it: image,
command and args, env from the rendered ConfigMap and ``env``, Secret and ConfigMap files with
their modes and the pod's ``fsGroup`` as their group, emptyDirs as tmpfs, claims (and a
StatefulSet's claim templates, by name) as the named Docker volumes given, the security
context and a read-only root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def deployment_named(documents: list[dict], name: str | None = None) -> dict:
    deployments = [doc for doc in documents if doc["kind"] == "Deployment"]
    return deployments[0] if name is None else next(d for d in deployments if d["metadata"]["name"] == name)


def cronjob_pod(documents: list[dict], name: str) -> dict:
    """The pod spec a rendered CronJob's Jobs run."""
    cronjob = next(d for d in documents if d["kind"] == "CronJob" and d["metadata"]["name"] == name)
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def statefulset_pod(documents: list[dict], name: str) -> dict:
    """The pod spec a rendered StatefulSet runs."""
    statefulset = next(d for d in documents if d["kind"] == "StatefulSet" and d["metadata"]["name"] == name)
    return statefulset["spec"]["template"]["spec"]


def docker_run_kwargs(documents: list[dict], files_dir: Path, deployment: str | None = None,
                      claims: dict[str, str] | None = None, pod: dict | None = None) -> tuple[dict, dict]:
    """``pod``: a pod spec (``cronjob_pod``) instead of the Deployment's."""
    pod = pod or deployment_named(documents, deployment)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    configmaps = {doc["metadata"]["name"]: doc["data"] for doc in documents if doc["kind"] == "ConfigMap"}
    secrets = {doc["metadata"]["name"]: doc.get("stringData", {}) for doc in documents if doc["kind"] == "Secret"}
    env = {}
    for source in container.get("envFrom", []):
        env.update({k: v for k, v in configmaps[source["configMapRef"]["name"]].items() if ENV_NAME.match(k)})
    env.update({item["name"]: item["value"] for item in container.get("env", [])})
    volumes_by_name = {volume["name"]: volume for volume in pod["volumes"]}
    binds, tmpfs = {}, {}
    files_dir.mkdir(parents=True, exist_ok=True)
    group = pod["securityContext"].get("fsGroup")
    for mount in container["volumeMounts"]:
        if mount["name"] not in volumes_by_name:  # a StatefulSet's volumeClaimTemplate
            binds[(claims or {})[mount["name"]]] = {"bind": mount["mountPath"], "mode": "rw"}
            continue
        volume = volumes_by_name[mount["name"]]
        if "emptyDir" in volume:
            tmpfs[mount["mountPath"]] = "mode=0770"
            continue
        if "persistentVolumeClaim" in volume:
            binds[(claims or {})[volume["persistentVolumeClaim"]["claimName"]]] = {"bind": mount["mountPath"],
                                                                                   "mode": "rw"}
            continue
        if "configMap" in volume:
            data, mode = configmaps[volume["configMap"]["name"]], 0o444
        else:
            data, mode = secrets[volume["secret"]["secretName"]], volume["secret"]["defaultMode"]
        folder = files_dir / mount["name"]
        folder.mkdir(exist_ok=True)
        items = volume.get("configMap", volume.get("secret", {})).get("items") or \
            [{"key": key, "path": key} for key in data]
        for item in items:
            path = folder / item["path"]
            path.write_text(data[item["key"]])
            path.chmod(mode)
            if group is not None:  # the kubelet gives a Secret's files the pod's fsGroup
                os.chown(path, -1, group)
        source = folder / mount["subPath"] if "subPath" in mount else folder
        binds[str(source)] = {"bind": mount["mountPath"], "mode": "ro" if mount.get("readOnly") else "rw"}
    security = container["securityContext"]
    user = f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    ports = {f"{p['containerPort']}/tcp": ("127.0.0.1", None) for p in container.get("ports", [])}
    kwargs = dict(image=container["image"], command=container.get("args"), environment=env, volumes=binds,
                  tmpfs=tmpfs, user=user, read_only=security["readOnlyRootFilesystem"],
                  cap_drop=security["capabilities"]["drop"], security_opt=["no-new-privileges"],
                  ports=ports, detach=True)
    if "command" in container:  # Kubernetes' command replaces the image's entrypoint
        kwargs["entrypoint"] = container["command"]
    return kwargs, container
