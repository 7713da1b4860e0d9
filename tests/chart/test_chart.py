"""The Helm chart: lint, render every scenario, validate against Kubernetes' schemas,
and the values schema (rejections readable, every key covered). No cluster needed:
Helm runs as a library (helm-python-sdk), the schemas come from kubernetes-validate."""

from __future__ import annotations

from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from support import REPO

CHART = REPO / "helm" / "genropy-asgi"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
KUBERNETES = ["1.25.0", "1.37.0"]  # oldest and newest supported (Chart.yaml kubeVersion >=1.25)


def values_of(scenario: Path) -> dict:
    return yaml.safe_load(scenario.read_text()) or {}


def render(values: dict) -> list[dict]:
    manifests = helm.Chart.load(CHART).render(values, name="demo", namespace="shop", is_install=True)
    documents = []
    for path, text in manifests.items():
        if path.endswith("NOTES.txt"):
            continue
        documents += [doc for doc in yaml.safe_load_all(text) if doc]
    return documents


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name.removesuffix("-values.yaml"))
def test_lint_strict(scenario):
    for version in KUBERNETES:
        report = helm.lint(CHART, values_of(scenario), strict=True, kube_version=f"v{version}")
        problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
        assert problems == [], problems


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name.removesuffix("-values.yaml"))
@pytest.mark.parametrize("version", KUBERNETES)
def test_every_manifest_is_valid_kubernetes(scenario, version):
    documents = render(values_of(scenario))
    assert any(doc["kind"] == "Deployment" for doc in documents)
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)


def test_secrets_are_files_never_env_values():
    for scenario in SCENARIOS:
        for document in render(values_of(scenario)):
            for container in pod_containers(document):
                for variable in container.get("env", []):
                    assert "valueFrom" not in variable or "secretKeyRef" not in variable["valueFrom"]
                    if variable["name"].endswith(("PASSWORD", "HMAC_KEY")):
                        pytest.fail(f"{scenario.name}: {variable['name']} in env")


def test_security_defaults():
    deployment = kind(render(values_of(CHART / "ci" / "default-values.yaml")), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    paths = {probe: container[probe]["httpGet"]["path"] for probe in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert paths == {"startupProbe": "/_server/health", "livenessProbe": "/_server/health",
                     "readinessProbe": "/_server/ready"}


def test_sessions_stick_to_a_pod_by_default():
    documents = render(values_of(CHART / "ci" / "ingress-tls-values.yaml"))
    assert kind(documents, "Service")["spec"]["sessionAffinity"] == "ClientIP"
    annotations = kind(documents, "Ingress")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert kind(documents, "Ingress")["spec"]["tls"][0]["secretName"] == "genropy-example-tls"


def test_config_change_rolls_the_pods():
    base = values_of(CHART / "ci" / "default-values.yaml")
    changed = {**base, "site": {"name": "demo", "workers": 3}}
    before = kind(render(base), "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    after = kind(render(changed), "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert before != after


def test_dbsetup_job_hooks_switch():
    hooked = kind(render(values_of(CHART / "ci" / "default-values.yaml")), "Job")
    assert hooked["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    plain = kind(render(values_of(CHART / "ci" / "bundled-db-values.yaml")), "Job")
    assert "annotations" not in plain["metadata"] and plain["metadata"]["name"].startswith("demo-genropy-asgi-dbsetup-")


def test_missing_database_host_is_a_clear_error():
    with pytest.raises(helm.HelmError, match=r"database.external.(host|password).* is required"):
        render({})


def test_process_switches_reach_the_container_environment():
    sqlite = values_of(CHART / "ci" / "sqlite-values.yaml")
    config = kind(render(merge(sqlite, {"processes": {"asyncServer": False,
                                                      "tasks": {"enabled": True, "workers": 3}}})), "ConfigMap")
    assert {key: config["data"][key] for key in ("GENROPY_ASYNC_SERVER", "GENROPY_TASKS", "GENROPY_TASK_WORKERS")} == {
        "GENROPY_ASYNC_SERVER": "false", "GENROPY_TASKS": "true", "GENROPY_TASK_WORKERS": "3"}
    defaults = kind(render(values_of(CHART / "ci" / "default-values.yaml")), "ConfigMap")["data"]
    assert (defaults["GENROPY_ASYNC_SERVER"], defaults["GENROPY_TASKS"]) == ("true", "false")


@pytest.mark.parametrize("scaling", [{"replicaCount": 2}, {"autoscaling": {"enabled": True}}])
def test_tasks_in_several_pods_is_refused(scaling):
    sqlite = values_of(CHART / "ci" / "sqlite-values.yaml")
    with pytest.raises(helm.HelmError, match="runs the task scheduler in every pod"):
        render(merge(sqlite, {**scaling, "processes": {"tasks": {"enabled": True}}}))


@pytest.mark.parametrize("values,expected", [
    ({"replicaCount": "three"}, "replicaCount"),
    ({"databse": {}}, "databse"),
    ({"service": {"type": "Gateway"}}, "/service/type"),
    ({"site": {"workers": 0}}, "/site/workers"),
    ({"site": {"workers": 2, "name": None}}, "missing property 'name'"),
    ({"ingress": {"hosts": [{"host": "x"}]}}, "paths"),
    ({"database": {"type": "mysql"}}, "/database/type"),
    ({"image": {"repository": "r", "tagg": "1"}}, "tagg"),
    ({"processes": {"tasks": {"workers": -1}}}, "/processes/tasks/workers"),
    ({"processes": {"asyncServer": "yes"}}, "/processes/asyncServer"),
])
def test_schema_rejects_typical_mistakes_readably(values, expected):
    with pytest.raises(helm.HelmError) as caught:
        helm.Chart.load(CHART).validate_schema(merge(helm.Chart.load(CHART).values, values))
    assert expected in str(caught.value), str(caught.value)


def test_schema_covers_every_key_of_values_yaml():
    schema = helm.Chart.load(CHART).schema
    missing = [path for path in leaf_paths(yaml.safe_load((CHART / "values.yaml").read_text()))
               if not covered(schema, path)]
    assert missing == []


# -- helpers ----------------------------------------------------------------------

def kind(documents: list[dict], name: str) -> dict:
    return next(doc for doc in documents if doc["kind"] == name)


def pod_containers(document: dict) -> list[dict]:
    spec = document.get("spec", {})
    template = spec.get("template", spec.get("jobTemplate", {}))
    pod = template.get("spec", spec if document["kind"] == "Pod" else {})
    return pod.get("containers", []) if isinstance(pod, dict) else []


def merge(base: dict, override: dict) -> dict:
    result = dict(base)
    for key, value in override.items():
        result[key] = merge(result[key], value) if isinstance(value, dict) and isinstance(result.get(key), dict) else value
    return result


def leaf_paths(value, prefix=()):
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from leaf_paths(child, (*prefix, key))
    else:
        yield prefix


def covered(schema: dict, path: tuple) -> bool:
    node = schema
    for key in path:
        properties = node.get("properties")
        if properties is None:
            return node.get("type") == "object" and node.get("additionalProperties", True) is not False
        if key not in properties:
            return False
        node = properties[key]
    return True
