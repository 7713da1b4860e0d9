"""Backups with the real image: rows and uploads made through GenroPy pages, a backup taken under a
steady load by a one-off container (as compose's `run` and the chart's CronJob do), every volume
destroyed, the archive restored into a new install, and every row and file found byte for byte —
on SQLite and on PostgreSQL. Then each archive a restore must refuse: one line, exit 2, nothing
of the site touched."""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import tarfile
import time

import pytest
import requests
from backup_rig import IMAGE_UID, SITE_DATA, Rig, one_line_refusal, site_state, upload

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.load import SteadyLoad

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_backup_under_load_restores_every_row_and_file_into_a_new_install(docker, image, postgres_image,
                                                                           database):
    first = Rig(docker, image, postgres_image if database == "postgres" else None)
    second = None
    try:
        site = first.start_site()
        page = GenropyPage(site.get_url())
        titles = [f"note {n} {secrets.token_hex(4)}" for n in range(25)]
        for title in titles:
            page.rpc("add_note", title=title)
        files = {f"upload-{n}.bin": secrets.token_bytes(1000 * (n + 1) ** 2) for n in range(6)}
        for name, content in files.items():
            assert upload(page, name, content).endswith(name)
        with SteadyLoad(site.get_url(), clients=2, rpc="note_count") as load:
            time.sleep(1)
            started = time.monotonic()
            status, output = first.one_off("backup")
            seconds = time.monotonic() - started
            time.sleep(1)
        print(f"\n{database}: backup in {seconds:.1f}s under load: {load.summary()}\n{output[-600:]}")
        assert status == 0, output
        assert not load.failures(), load.summary(load.failures())
        assert len(load.snapshot()) > 5
        before = site_state(site, files)
        assert before[0] == sorted(titles)
        assert before[1] == {n: hashlib.sha256(c).hexdigest() for n, c in files.items()}
        archives = first.archive_bytes()
        assert len(archives) == 1
        with tarfile.open(fileobj=io.BytesIO(next(iter(archives.values())))) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest["site"] == "demo" and manifest["database"]["implementation"] == database
        assert all(f"files/site/uploads/backup-test/{n}" in manifest["members"] for n in files)
        assert "password" not in json.dumps(manifest).lower()
        scraped = requests.get(site.get_metrics_url(), timeout=30).text  # the site's metrics see the backup job's
        size = len(next(iter(archives.values())))
        assert f"genropy_backup_last_size_bytes {float(size)}" in scraped, scraped[-2000:]
        assert "genropy_backup_last_success_timestamp_seconds " in scraped

        first.remove(keep_backups=True)  # the site, its database and its site-data volume: gone
        second = Rig(docker, image, postgres_image if database == "postgres" else None, backups=first.backups)
        new_site = second.start_site()
        assert site_state(new_site, files)[0] == []  # a new, empty install
        refusal = one_line_refusal(*second.one_off("restore", "latest"))
        assert "already hold data: add --replace" in refusal
        started = time.monotonic()
        status, output = second.one_off("restore", "latest", "--replace")
        print(f"restore --replace into the running new install: {time.monotonic() - started:.1f}s\n{output[-600:]}")
        assert status == 0, output
        assert site_state(new_site, files) == before  # every row and every file, byte for byte
        if database == "postgres":  # --database: the archive's database beside the site's, nothing else
            GenropyPage(new_site.get_url()).rpc("add_note", title="only in the live site")
            status, output = second.one_off("restore", "latest", "--database", "demo_inspect")
            assert status == 0 and "untouched" in output, output
            titles, fetched = site_state(new_site, files)
            assert "only in the live site" in titles and fetched == before[1]
        GenropyPage(new_site.get_url()).rpc("add_note", title="after the restore")
    finally:
        if second is not None:
            second.remove()
        first.remove()


def rewritten(archive: bytes, change) -> bytes:
    """The archive with its manifest changed by ``change`` (a dict -> None)."""
    source = tarfile.open(fileobj=io.BytesIO(archive))
    output = io.BytesIO()
    with tarfile.open(fileobj=output, mode="w:gz") as tar:
        for member in source:
            body = source.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(body)
                change(manifest)
                body = json.dumps(manifest).encode()
                member.size = len(body)
            tar.addfile(member, io.BytesIO(body))
    return output.getvalue()


def test_a_restore_refuses_what_it_cannot_restore_in_one_line_and_touches_nothing(docker, image):
    rig = Rig(docker, image, None)
    try:
        site = rig.start_site()
        GenropyPage(site.get_url()).rpc("add_note", title="kept")
        status, output = rig.one_off("backup")
        assert status == 0, output
        good_name, good = next(iter(rig.archive_bytes().items()))
        stem = good_name[:-len(".tar.gz")]
        rig.put_archive(f"{stem}-2.tar.gz", good[: len(good) // 2])  # truncated
        flipped = bytearray(good)
        flipped[len(flipped) // 2] ^= 0xFF
        rig.put_archive(f"{stem}-3.tar.gz", bytes(flipped))  # a flipped byte
        rig.put_archive(f"{stem}-4.tar.gz", rewritten(good, lambda m: m.update(site="shop")))
        rig.put_archive(f"{stem}-5.tar.gz", rewritten(good, lambda m: m["versions"].update(genropy="99.1.0")))
        rig.put_archive(f"{stem}-6.tar.gz", rewritten(good, lambda m: next(iter(m["members"].values())).update(
            sha256="0" * 64)))
        cases = {
            f"{stem}-2.tar.gz": "is damaged", f"{stem}-3.tar.gz": "damaged",
            f"{stem}-4.tar.gz": "is a backup of 'shop', this is 'demo': add --other-instance",
            f"{stem}-5.tar.gz": "GenroPy 99.1.0", f"{stem}-6.tar.gz": "does not match its checksum",
            "nothing.tar.gz": "no such archive",
        }
        state = site.exec_in_site(f"cd {SITE_DATA} && find . -type f | sort | xargs sha256sum").output
        for name, words in cases.items():
            refusal = one_line_refusal(*rig.one_off("restore", name, "--replace"))
            assert words in refusal, (name, refusal)
        assert site.exec_in_site(f"cd {SITE_DATA} && find . -type f | sort | xargs sha256sum").output == state
        leftovers = site.exec_in_site(f"find {SITE_DATA} -name '*.restoring-*' -o -name '*.before-restore-*'",
                                      check=False).output.strip()
        assert leftovers == ""
        # a full disk: the site data on a 1 MB tmpfs cannot take the archive's files
        refusal = one_line_refusal(*rig.one_off(
            "restore", good_name, "--replace", extra_env={"GENROPY_SITE_DATA": "/srv/small"},
            tmpfs={"/srv/small": f"size=1m,uid={IMAGE_UID}"}))
        assert "not enough space" in refusal
        # a full destination: one line, no archive and no partial file left
        refusal = one_line_refusal(*rig.one_off("backup", extra_env={"GENROPY_BACKUP_DESTINATION": "/small"},
                                                tmpfs={"/small": f"size=128k,uid={IMAGE_UID}"}))
        assert "No space left on device: no archive was kept" in refusal
        # a bad destination: one line before anything is read
        refusal = one_line_refusal(*rig.one_off("backup", extra_env={"GENROPY_BACKUP_DESTINATION": "backups"}))
        assert "GENROPY_BACKUP_DESTINATION='backups': expected an absolute folder" in refusal
        assert GenropyPage(site.get_url()).rpc("note_titles") == ["kept"]
    finally:
        rig.remove()


@pytest.fixture
def s3_endpoint(docker):
    """An S3-compatible server (``scripts/s3-server``) on the Docker bridge's gateway: containers reach
    it as ``host.docker.internal``; stopped by its PID."""
    import socket
    import subprocess
    from pathlib import Path

    gateway = docker.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    with socket.socket() as probe:
        probe.bind((gateway, 0))
        port = probe.getsockname()[1]
    script = Path(__file__).resolve().parents[2] / "scripts" / "s3-server"
    server = subprocess.Popen([str(script), gateway, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180  # the first run makes its venv
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://{gateway}:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.stderr.read().decode(errors="replace")
                time.sleep(0.5)
        yield f"http://{gateway}:{port}", f"http://host.docker.internal:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_backups_to_an_s3_bucket_keep_their_count_and_restore(docker, image, s3_endpoint):
    import boto3

    from_host, from_containers = s3_endpoint
    key, secret = "backup-writer", "S3-secret-" + secrets.token_hex(8)
    s3 = boto3.client("s3", endpoint_url=from_host, aws_access_key_id=key, aws_secret_access_key=secret,
                      region_name="us-east-1")
    s3.create_bucket(Bucket="site-backups")
    env = {"GENROPY_BACKUP_DESTINATION": "s3://site-backups/demo/daily", "GENROPY_BACKUP_S3_ENDPOINT": from_containers,
           "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1",
           "GENROPY_BACKUP_KEEP": "2"}
    reach = {"extra_hosts": {"host.docker.internal": "host-gateway"}}
    rig = Rig(docker, image, None)
    try:
        site = rig.start_site()
        page = GenropyPage(site.get_url())
        page.rpc("add_note", title="in the bucket")
        upload(page, "in-the-bucket.bin", b"kept in S3" * 1000)
        outputs = []
        for _ in range(3):
            status, output = rig.one_off("backup", extra_env=env, **reach)
            assert status == 0, output
            outputs.append(output)
            time.sleep(1.1)  # one archive per second (names are UTC seconds)
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="site-backups")["Contents"])
        assert len(keys) == 2 and all(k.startswith("demo/daily/demo-") for k in keys), keys
        assert "removed 1 older" in outputs[-1]
        assert not any(secret in o for o in outputs)
        status, listing = rig.one_off("restore", "--list", extra_env=env, **reach)
        assert status == 0 and len([line for line in listing.splitlines() if line.startswith("demo-")]) == 2
        page.rpc("add_note", title="after the backup")
        status, output = rig.one_off("restore", "latest", "--replace", extra_env=env, **reach)
        assert status == 0, output
        assert GenropyPage(site.get_url()).rpc("note_titles") == ["in the bucket"]
        assert site_state(site, {"in-the-bucket.bin": b""})[1]["in-the-bucket.bin"] == hashlib.sha256(
            b"kept in S3" * 1000).hexdigest()
        missing = one_line_refusal(*rig.one_off("backup", extra_env={**env, "GENROPY_BACKUP_DESTINATION":
                                                                    "s3://no-such-bucket"}, **reach))
        assert "no bucket 'no-such-bucket'" in missing and secret not in missing
    finally:
        rig.remove()
