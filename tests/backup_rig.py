"""Backups' test rig: named volumes for site data and backups, a site of the image on them, one-off
containers of the image with the site's settings (as compose's ``run --rm`` and the chart's CronJob
start them), and the checks of what a restore brought back."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import uuid

import requests

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.containers import GenropyAsgiContainer

SITE_DATA, BACKUPS = "/srv/site-data", "/backups"
IMAGE_UID = 10001


class Rig:
    """Named volumes for site data and backups, a site on them, and one-off containers of the image."""

    def __init__(self, docker, image: str, postgres_image: str | None, backups: str | None = None,
                 pg_user: str = "genropy") -> None:
        self.docker, self.image, self.postgres_image, self.pg_user = docker, image, postgres_image, pg_user
        self.tag = uuid.uuid4().hex[:8]
        self.volumes = [self.volume(f"genropy-test-sitedata-{self.tag}")]
        self.backups = backups or self.volume(f"genropy-test-backups-{self.tag}")
        if backups is None:
            self.volumes.append(self.backups)
        self.site: GenropyAsgiContainer | None = None

    def volume(self, name: str) -> str:
        self.docker.volumes.create(name, labels={"genropy-asgi.test": "backup"})
        self.docker.containers.run(self.image, entrypoint=["chown", f"{IMAGE_UID}:0", "/v"], user="0", remove=True,
                                   volumes={name: {"bind": "/v", "mode": "rw"}})
        return name

    def mounts(self) -> dict:
        return {self.volumes[0]: {"bind": SITE_DATA, "mode": "rw"}, self.backups: {"bind": BACKUPS, "mode": "rw"}}

    def start_site(self) -> GenropyAsgiContainer:
        site = GenropyAsgiContainer(self.image, env={"GENROPY_SITE_DATA": SITE_DATA,
                                                     "GENROPY_BACKUP_DESTINATION": BACKUPS})
        for name, mount in self.mounts().items():
            site.with_volume_mapping(name, mount["bind"], mount["mode"])
        if self.postgres_image:
            site.with_postgres(image=self.postgres_image, user=self.pg_user)
        self.site = site.start()
        return self.site

    def one_off(self, *args: str, extra_env: dict | None = None, **create) -> tuple[int, str]:
        """The image in its own container, with the site's settings and volumes (compose's `run --rm`)."""
        site = self.site
        env = {k: v for k, v in site.env.items() if not k.endswith("_FILE")}
        env.update({k: v for k, v in site.secret_values.items() if k == "GNR_DB_PASSWORD"})
        env.update(extra_env or {})
        network = site.network.name if site.network is not None else None
        container = self.docker.containers.create(self.image, command=list(args), environment=env,
                                                  volumes=self.mounts(), network=network, **create)
        try:
            container.start()
            status = container.wait(timeout=300)["StatusCode"]
            return status, container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)

    def archive_bytes(self) -> dict[str, bytes]:
        """The backups volume's archives, read through a one-off container."""
        container = self.docker.containers.create(self.image, command=["true"], volumes=self.mounts())
        try:
            stream, _ = container.get_archive(BACKUPS + "/.")
            outer = tarfile.open(fileobj=io.BytesIO(b"".join(stream)))
            return {m.name.split("/")[-1]: outer.extractfile(m).read() for m in outer if m.name.endswith(".tar.gz")}
        finally:
            container.remove(force=True)

    def put_archive(self, name: str, content: bytes) -> None:
        container = self.docker.containers.create(self.image, command=["true"], volumes=self.mounts())
        try:
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                info = tarfile.TarInfo(name)
                info.size, info.uid, info.mode = len(content), IMAGE_UID, 0o640
                tar.addfile(info, io.BytesIO(content))
            assert container.put_archive(BACKUPS, buffer.getvalue())
        finally:
            container.remove(force=True)

    def stop_site(self) -> None:
        if self.site is not None:
            self.site.stop()
            self.site = None

    def remove(self, keep_backups: bool = False) -> None:
        self.stop_site()
        for name in list(self.volumes):
            if keep_backups and name == self.backups:
                continue
            self.docker.volumes.get(name).remove(force=True)
            self.volumes.remove(name)


def upload(page: GenropyPage, name: str, content: bytes) -> str:
    data_url = "data:application/octet-stream;base64," + base64.b64encode(content).decode()
    return page.rpc("rpc.upload_file", dataUrl=data_url, uploadPath="site:uploads/backup-test", filename=name)


def site_state(site: GenropyAsgiContainer, files: dict[str, bytes]) -> tuple[list[str], dict[str, str]]:
    page = GenropyPage(site.get_url())
    titles = sorted(page.rpc("note_titles") or [])
    fetched = {}
    for name in files:
        answer = requests.get(f"{site.get_url()}/_storage/site/uploads/backup-test/{name}", timeout=30)
        fetched[name] = hashlib.sha256(answer.content).hexdigest() if answer.status_code == 200 else answer.status_code
    return titles, fetched


def one_line_refusal(status: int, output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("genropy-asgi: error:")]
    assert status == 2 and len(errors) == 1 and "Traceback" not in output, output
    return errors[0]


