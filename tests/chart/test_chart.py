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
KUBERNETES = ["1.25.0", "1.37.0"]
CRD_GROUPS = ("monitoring.coreos.com/",)  # oldest and newest supported (Chart.yaml kubeVersion >=1.25)


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
        if document["apiVersion"].startswith(CRD_GROUPS):
            continue  # the Prometheus Operator's kinds: no schema offline (test_backup_chart checks them)
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
    assert not any(key.startswith("helm.sh/") for key in plain["metadata"]["annotations"])
    assert plain["metadata"]["name"].startswith("demo-genropy-asgi-dbsetup-")


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


# -- topology scaled ------------------------------------------------------------

def by_name(documents: list[dict], kind_name: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind_name}


def container_env(deployment: dict) -> dict[str, str]:
    return {item["name"]: item.get("value") for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_scaled_runs_one_shared_daemon_and_web_pods_any_user_reaches():
    documents = render(values_of(CHART / "ci" / "scaled-values.yaml"))
    deployments = by_name(documents, "Deployment")
    assert set(deployments) == {"demo-genropy-asgi-gnrdaemon", "demo-genropy-asgi-web", "demo-genropy-asgi-scheduler",
                                "demo-genropy-asgi-taskworker", "demo-genropy-asgi-async"}
    daemon, web = deployments["demo-genropy-asgi-gnrdaemon"], deployments["demo-genropy-asgi-web"]
    assert daemon["spec"]["replicas"] == 1 and daemon["spec"]["strategy"] == {"type": "Recreate"}
    assert web["spec"]["replicas"] == 3
    assert web["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert web["spec"]["template"]["spec"]["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert "preStop" in web["spec"]["template"]["spec"]["containers"][0]["lifecycle"]
    args = {name: d["spec"]["template"]["spec"]["containers"][0]["args"] for name, d in deployments.items()}
    assert args == {"demo-genropy-asgi-gnrdaemon": ["daemon"], "demo-genropy-asgi-web": ["serve"],
                    "demo-genropy-asgi-scheduler": ["scheduler"], "demo-genropy-asgi-taskworker": ["taskworker"],
                    "demo-genropy-asgi-async": ["async"]}
    assert container_env(web)["GENROPY_ASYNC_ADDRESS"] == "demo-genropy-asgi-async:9999"
    assert container_env(daemon)["GNR_DAEMON_BIND"] == "0.0.0.0"
    for name in ("demo-genropy-asgi-web", "demo-genropy-asgi-scheduler", "demo-genropy-asgi-taskworker",
                 "demo-genropy-asgi-async"):
        env = container_env(deployments[name])
        assert env["GNR_DAEMON_HOST"] == "demo-genropy-asgi-gnrdaemon" and env["GENROPY_TASKS"] == "false"
        assert env["GNR_SCHEDULER_URL"] == "http://demo-genropy-asgi-scheduler:14951"
    for deployment in deployments.values():  # the same key, the same shared data, everywhere
        env = container_env(deployment)
        assert env["GNR_DAEMON_HMAC_KEY_FILE"] == "/run/secrets/genropy/daemon/hmac-key"
        assert env["GENROPY_SITE_DATA"] == "/var/lib/genropy-site"
        claims = [v["persistentVolumeClaim"]["claimName"] for v in deployment["spec"]["template"]["spec"]["volumes"]
                  if "persistentVolumeClaim" in v]
        assert claims == ["demo-genropy-asgi-site-data"]
    services = by_name(documents, "Service")
    assert services["demo-genropy-asgi"]["spec"]["sessionAffinity"] == "None"
    assert services["demo-genropy-asgi"]["spec"]["selector"]["app.kubernetes.io/component"] == "web"
    assert services["demo-genropy-asgi-gnrdaemon"]["spec"]["ports"][0]["port"] == 40404
    policies = by_name(documents, "NetworkPolicy")
    assert set(policies) == {"demo-genropy-asgi-gnrdaemon", "demo-genropy-asgi-scheduler", "demo-genropy-asgi-async",
                             "demo-genropy-asgi-web", "demo-genropy-asgi-postgresql", "demo-genropy-asgi-taskworker"}
    assert "hmac-key" in kind(documents, "Secret")["stringData"]
    assert by_name(documents, "PersistentVolumeClaim")["demo-genropy-asgi-site-data"]["spec"]["accessModes"] == \
        ["ReadWriteMany"]


def test_single_stays_one_deployment_without_a_daemon_key():
    documents = render(values_of(CHART / "ci" / "sqlite-values.yaml"))
    assert list(by_name(documents, "Deployment")) == ["demo-genropy-asgi"]
    assert "GNR_DAEMON_HMAC_KEY_FILE" not in container_env(kind(documents, "Deployment"))
    assert set(by_name(documents, "NetworkPolicy")) == {"demo-genropy-asgi-web"}  # SQLite: no PostgreSQL to guard


def test_every_values_problem_is_listed_in_one_message():
    scaled = values_of(CHART / "ci" / "scaled-values.yaml")
    bad = merge(scaled, {"database": {"type": "sqlite", "bundled": {"enabled": False}},
                         "persistence": {"accessModes": ["ReadWriteOnce"]},
                         "podDisruptionBudget": {"minAvailable": 3}})
    with pytest.raises(helm.HelmError) as caught:
        render(bad)
    message = str(caught.value)
    assert "topology=scaled needs PostgreSQL" in message
    assert "pods can mount the site data claim at once, which needs ReadWriteMany" in message
    assert "podDisruptionBudget.minAvailable=3 with replicaCount=3" in message
    one_pod = {"database": {"type": "sqlite"}, "persistence": {"enabled": True}}
    assert by_name(render(one_pod), "PersistentVolumeClaim")  # one pod: ReadWriteOnce is enough


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
    ({"topology": "cluster"}, "/topology"),
    ({"persistence": {"accessModes": ["Shared"]}}, "/persistence/accessModes"),
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
    if document["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
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


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name.removesuffix("-values.yaml"))
def test_the_grace_period_derives_from_site_shutdown_timeout(scenario):
    """terminationGracePeriodSeconds = preStop + drain + the container's stop margin, for any drain
    (tests/unit/test_stop_budget.py ties the image and compose to the same facts)."""
    from genropy_asgi import settings

    for drain in (30, 90):
        documents = render(merge(values_of(scenario), {"site": {"shutdownTimeout": drain}}))
        configmap = next(d for d in documents if d["kind"] == "ConfigMap" and "GENROPY_SHUTDOWN_TIMEOUT" in d["data"])
        assert float(configmap["data"]["GENROPY_SHUTDOWN_TIMEOUT"]) == drain
        pods = [d["spec"]["template"]["spec"] for d in documents if d["kind"] in ("Deployment", "StatefulSet")
                and configmap["metadata"]["name"] in str(d["spec"]["template"]["spec"]["containers"][0].get("envFrom"))]
        assert pods
        for pod in pods:  # ours (the bundled PostgreSQL keeps its own)
            web = [c for c in pod["containers"] if c.get("lifecycle", {}).get("preStop")]
            if web:
                assert web[0]["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(settings.PRESTOP_SECONDS)]
            # the same budget for every one of our pods: the web pods' preStop pause included
            assert pod["terminationGracePeriodSeconds"] == settings.stop_grace_seconds(drain, settings.PRESTOP_SECONDS)


SQLITE = {"database": {"type": "sqlite"}}


def test_metrics_have_their_own_port_on_the_pods_and_the_service():
    documents = render(SQLITE)
    service = next(d for d in documents if d["kind"] == "Service")
    assert {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"} in service["spec"]["ports"]
    container = next(d for d in documents if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in container["ports"]
    config = next(d for d in documents if d["kind"] == "ConfigMap")["data"]
    assert config["GENROPY_METRICS_PORT"] == "9090" and config["GENROPY_LOG_FORMAT"] == "text"
    assert not [d for d in documents if d["kind"] == "ServiceMonitor"]
    off = render({**SQLITE, "metrics": {"enabled": False}})
    assert next(d for d in off if d["kind"] == "ConfigMap")["data"]["GENROPY_METRICS_PORT"] == "0"
    assert [p["name"] for p in next(d for d in off if d["kind"] == "Service")["spec"]["ports"]] == ["http"]


def test_service_monitor_and_dashboard_when_asked():
    import json

    documents = render({**SQLITE, "metrics": {"serviceMonitor": {"enabled": True, "interval": "15s",
                                                       "labels": {"release": "kube-prometheus"}},
                                    "dashboard": {"enabled": True}}})
    monitor = next(d for d in documents if d["kind"] == "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus"
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s"}]
    service = next(d for d in documents if d["kind"] == "Service")
    assert all(service["metadata"]["labels"].get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    board = next(d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard"))
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(board["data"]["genropy-asgi.json"])
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    for metric in ("genropy_http_requests_total", "genropy_http_request_duration_seconds_bucket",
                   "genropy_http_requests_in_flight", "genropy_site_pages", "genropy_program_cpu_seconds_total",
                   "genropy_program_resident_memory_bytes", "genropy_program_restarts_total", "genropy_build_info"):
        assert metric in exprs, metric


# -- the register in Redis/Valkey ---------------------------------------------------

def test_scaled_with_the_register_in_valkey_runs_no_gnrdaemon():
    documents = render(values_of(CHART / "ci" / "scaled-redis-values.yaml"))
    deployments = by_name(documents, "Deployment")
    assert set(deployments) == {"demo-genropy-asgi-web", "demo-genropy-asgi-scheduler",
                                "demo-genropy-asgi-taskworker", "demo-genropy-asgi-async"}
    for deployment in deployments.values():  # every GenroPy program reaches the one register, signed with one key
        env = container_env(deployment)
        assert "GNR_DAEMON_HOST" not in env
        assert (env["GENROPY_REGISTER"], env["GENROPY_REDIS_URL"], env["GENROPY_REDIS_PREFIX"]) == \
            ("redis", "redis://demo-genropy-asgi-valkey:6379/0", "genropy")
        assert env["GENROPY_REDIS_PASSWORD_FILE"] == "/run/secrets/genropy/redis/password"
        assert env["GNR_DAEMON_HMAC_KEY_FILE"] == "/run/secrets/genropy/daemon/hmac-key"
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["redis-secret"]["secret"] == {"secretName": "demo-genropy-asgi", "defaultMode": 0o440,
                                                     "items": [{"key": "redis-password", "path": "password"}]}
    valkey = by_name(documents, "StatefulSet")["demo-genropy-asgi-valkey"]
    pod = valkey["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["valkey-server", "/etc/valkey/valkey.conf"]
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    assert valkey["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    secret = kind(documents, "Secret")["stringData"]
    password = secret["redis-password"]
    assert len(password) == 32 and f"requirepass {password}\n" in secret["valkey.conf"]
    assert "appendonly yes" in secret["valkey.conf"] and "hmac-key" in secret
    policies = by_name(documents, "NetworkPolicy")
    assert "demo-genropy-asgi-gnrdaemon" not in policies
    valkey_policy = policies["demo-genropy-asgi-valkey"]["spec"]
    assert valkey_policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "valkey"
    assert valkey_policy["ingress"][0]["ports"] == [{"port": 6379, "protocol": "TCP"}]
    assert by_name(documents, "Service")["demo-genropy-asgi-valkey"]["spec"]["ports"][0]["port"] == 6379
    assert "demo-genropy-asgi-gnrdaemon" not in by_name(documents, "Service")


def test_an_external_redis_with_its_password_in_the_users_secret():
    documents = render(values_of(CHART / "ci" / "redis-external-values.yaml"))
    assert "StatefulSet" not in {doc["kind"] for doc in documents}  # no bundled Valkey
    deployment = kind(documents, "Deployment")
    env = container_env(deployment)
    assert (env["GENROPY_REGISTER"], env["GENROPY_REDIS_URL"], env["GENROPY_REDIS_PREFIX"]) == \
        ("redis", "rediss://redis.cache.svc:6380/2", "shop")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["redis-secret"]["secret"]["secretName"] == "shop-redis"
    assert volumes["redis-secret"]["secret"]["items"] == [{"key": "redis-password", "path": "password"}]
    # the signing key must be the same in every pod: the chart's Secret, even with one topology=single pod
    assert env["GNR_DAEMON_HMAC_KEY_FILE"] == "/run/secrets/genropy/daemon/hmac-key"
    assert set(kind(documents, "Secret")["stringData"]) == {"hmac-key"}
    no_password = merge(values_of(CHART / "ci" / "redis-external-values.yaml"),
                        {"register": {"redis": {"existingSecret": ""}}})
    env = container_env(kind(render(no_password), "Deployment"))
    assert "GENROPY_REDIS_PASSWORD_FILE" not in env and env["GENROPY_REGISTER"] == "redis"


def test_the_redis_password_outlives_an_upgrade_and_rolls_valkey_with_the_secret():
    documents = render(values_of(CHART / "ci" / "scaled-redis-values.yaml"))
    valkey = by_name(documents, "StatefulSet")["demo-genropy-asgi-valkey"]
    assert "checksum/secret" in valkey["spec"]["template"]["metadata"]["annotations"]
    template = (CHART / "templates" / "secret.yaml").read_text()
    assert 'persistentRandom" (dict "root" . "name" $name "key" "redis-password")' in template


@pytest.mark.parametrize("values,expected", [
    ({"register": {"backend": "redis", "redis": {"existingSecret": "mine"}}},
     "register.redis.existingSecret is the password of register.redis.url"),
    ({"register": {"backend": "redis"}, "remotedb": {"enabled": True, "ssh": {"host": "h", "user": "u"},
                                                      "db": {"name": "d", "user": "u"}, "sshPassword": "p"}},
     "remotedb.enabled with register.backend=redis"),
])
def test_redis_register_mistakes_are_named(values, expected):
    sqlite = values_of(CHART / "ci" / "sqlite-values.yaml")
    with pytest.raises(helm.HelmError, match=expected):
        render(merge(sqlite, values))


@pytest.mark.parametrize("values,expected", [
    ({"register": {"backend": "memcached"}}, "/register/backend"),
    ({"register": {"redis": {"url": "redis://:secret@valkey:6379/0"}}}, "/register/redis/url"),
    ({"register": {"redis": {"url": "valkey:6379"}}}, "/register/redis/url"),
])
def test_schema_rejects_redis_register_mistakes(values, expected):
    with pytest.raises(helm.HelmError) as caught:
        helm.Chart.load(CHART).validate_schema(merge(helm.Chart.load(CHART).values, values))
    assert expected in str(caught.value), str(caught.value)


def test_data_api_values_reach_the_pods_and_are_checked():
    """site.dataApi sets the image's GENROPY_DATA_API* (off by default); a wrong mode or mount is
    refused by the schema before anything renders."""
    from genropy_asgi import settings

    default = next(d for d in render(SQLITE) if d["kind"] == "ConfigMap")["data"]
    assert default["GENROPY_DATA_API"] == "off"
    config = next(d for d in render({**SQLITE, "site": {"name": "demo", "dataApi": {
        "mode": "read", "mount": "api-data", "maxRows": 50}}}) if d["kind"] == "ConfigMap")["data"]
    assert (config["GENROPY_DATA_API"], config["GENROPY_DATA_API_MOUNT"], config["GENROPY_DATA_API_MAX_ROWS"]) == \
        ("read", "api-data", "50")
    settings.validate(config, settings.IMAGE)  # the image accepts what the chart writes
    for wrong in ({"mode": "all"}, {"mount": "a/b"}, {"maxRows": 0}, {"modes": "read"}):
        with pytest.raises(helm.HelmError):
            render({**SQLITE, "site": {"name": "demo", "dataApi": wrong}})
