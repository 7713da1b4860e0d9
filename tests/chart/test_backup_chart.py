"""The chart's backups (values ``backup.*``): the CronJob, its suspended restore twin, the archives'
claim or bucket, the alert rule; rendered, never run here (``test_rendered_scaled`` runs them)."""

from __future__ import annotations

import json

import helm_python as helm
import pytest
import yaml
from test_chart import CHART, by_name, container_env, merge, render, values_of

SCALED = values_of(CHART / "ci" / "scaled-values.yaml")
S3 = values_of(CHART / "ci" / "backup-s3-values.yaml")


def cronjobs(documents: list[dict]) -> dict[str, dict]:
    return by_name(documents, "CronJob")


def job_pod(cronjob: dict) -> dict:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_no_backup_unless_asked():
    documents = render({"database": {"type": "sqlite"}, "persistence": {"enabled": True}})
    assert not cronjobs(documents) and not by_name(documents, "PrometheusRule")


def test_a_nightly_backup_onto_a_claim_of_its_own_and_a_restore_one_command_away():
    documents = render(SCALED)
    jobs = cronjobs(documents)
    backup, restore = jobs["demo-genropy-asgi-backup"], jobs["demo-genropy-asgi-restore"]
    assert backup["spec"]["schedule"] == "17 3 * * *" and not backup["spec"].get("suspend")
    assert backup["spec"]["concurrencyPolicy"] == "Forbid"
    assert restore["spec"]["suspend"] is True
    container = job_pod(backup)["containers"][0]
    assert container["args"] == ["backup"]
    assert job_pod(restore)["containers"][0]["args"] == ["restore", "latest", "--replace"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["GENROPY_BACKUP_DESTINATION"] == "/var/lib/genropy-backups" and env["GENROPY_BACKUP_KEEP"] == "7"
    assert env["GENROPY_SITE_DATA"] == SCALED.get("persistence", {}).get("mountPath", "/var/lib/genropy-site")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["backups"] == "/var/lib/genropy-backups" and "site-data" in mounts and "db-secret" in mounts
    claims = by_name(documents, "PersistentVolumeClaim")
    assert claims["demo-genropy-asgi-backups"]["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert "affinity" not in job_pod(backup)  # ReadWriteMany: anywhere
    web = container_env(by_name(documents, "Deployment")["demo-genropy-asgi-web"])
    assert {k: v for k, v in env.items() if k in web} == {k: web[k] for k in env if k in web}  # the site's settings


def test_an_s3_bucket_with_its_secret_as_files_and_the_alert_rule():
    documents = render(S3)
    backup = cronjobs(documents)["demo-genropy-asgi-backup"]
    pod = job_pod(backup)
    env = {item["name"]: item.get("value") for item in pod["containers"][0]["env"]}
    assert env["GENROPY_BACKUP_DESTINATION"] == "s3://site-backups/shop"
    assert env["GENROPY_BACKUP_S3_ENDPOINT"] == "https://minio.example.com:9000"
    assert env["AWS_SECRET_ACCESS_KEY_FILE"].startswith("/run/secrets/") and "AWS_SECRET_ACCESS_KEY" not in env
    secret = next(v for v in pod["volumes"] if v["name"] == "s3-secret")["secret"]
    assert secret["secretName"] == "shop-backup-s3" and secret["defaultMode"] == 0o440
    assert "demo-genropy-asgi-backups" not in by_name(documents, "PersistentVolumeClaim")
    affinity = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert affinity["topologyKey"] == "kubernetes.io/hostname"  # a ReadWriteOnce claim: beside the web pod
    rule = by_name(documents, "PrometheusRule")["demo-genropy-asgi-backup"]
    expressions = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert any("> 43200" in e and 'namespace="shop"' in e for e in expressions), expressions


def test_the_alert_rules_name_the_metrics_the_site_exports(tmp_path):
    from genropy_asgi.container.backup_status import write_status
    from genropy_asgi.container.metrics import BackupCollector

    assert list(BackupCollector(str(tmp_path / "none.json")).collect()) == []  # nothing before the first backup
    write_status(str(tmp_path), "demo-20261205T031700Z.tar.gz", 1234, "/backups")
    exported = {family.name for family in BackupCollector(str(tmp_path / ".genropy-asgi-backup.json")).collect()}
    rules = yaml.safe_load((CHART / "dashboards" / "backup-alerts.yaml").read_text())
    expressions = json.dumps(rules)
    assert "genropy_backup_last_success_timestamp_seconds" in exported
    assert all(name in exported for name in ("genropy_backup_last_success_timestamp_seconds",
                                             "genropy_backup_last_size_bytes"))
    assert "genropy_backup_last_success_timestamp_seconds" in expressions


@pytest.mark.parametrize("values, words", [
    ({"backup": {"enabled": True}}, "backup.enabled needs persistence.enabled"),
    ({"persistence": {"enabled": True}, "backup": {"enabled": True, "s3": {"bucket": "site-backups"}}},
     "backup.s3.bucket=site-backups needs backup.s3.existingSecret"),
])
def test_backup_values_that_cannot_work_are_refused(values, words):
    with pytest.raises(helm.HelmError) as caught:
        render(merge({"database": {"type": "sqlite"}}, values))
    assert words in str(caught.value)
