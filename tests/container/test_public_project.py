"""A public GenroPy application we did not write (GenroPy's own ``test_invoice``: see
``tests/public_project.py``), on PostgreSQL, through the documented paths: the ``docker run``
of docs/own-project.md as printed there, and a derived image run by the testing module.
(Compose runs it in ``tests/compose/test_compose.py``.) Each path: ready, its own page and a
table page answer, its own data imported by its own script, its own users and the image's admin
log in, and the data bridge shows nothing of a project that never opted in."""

from __future__ import annotations

import os
import secrets
import subprocess
import uuid
from pathlib import Path

import pytest
from public_project import NAME, SITE, copy_out_of, import_command, served_as_its_users_expect
from support import REPO, wait_ready

from genropy_asgi.testing.containers import GenropyAsgiContainer

pytestmark = pytest.mark.docker

DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")


def docker(*args: str, check: bool = True, timeout: float = 300) -> str:
    result = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} -> {result.returncode}: {result.stderr[-2000:]}")
    return result.stdout.strip()


@pytest.fixture
def public_project(image, tmp_path) -> Path:
    return copy_out_of(image, tmp_path / "projects", DOCKER)


def test_the_docs_docker_run_serves_it_on_postgresql(image, postgres_image, public_project, tmp_path):
    """docs/own-project.md's ``docker run``, with its PostgreSQL variables, as printed (a free host port)."""
    tag = uuid.uuid4().hex[:8]
    network, volume, web, db = f"gapub-{tag}", f"gapub-python-{tag}", f"gapub-web-{tag}", f"gapub-db-{tag}"
    admin_password, db_password = "Admin-" + secrets.token_urlsafe(9), secrets.token_urlsafe(12)
    (tmp_path / "admin.txt").write_text(admin_password)
    (tmp_path / "db.txt").write_text(db_password)
    try:
        docker("network", "create", network)
        docker("run", "-d", "--name", db, "--network", network, "--network-alias", "db", "-e", "POSTGRES_USER=shop",
               "-e", f"POSTGRES_PASSWORD={db_password}", postgres_image)
        docker("run", "-d", "--name", web, "--network", network, "-p", "127.0.0.1::8080", "--user", f"{os.getuid()}:0",
               "-v", f"{public_project}:/srv/projects/{NAME}", "-e", "GENROPY_PROJECTS=/srv/projects",
               "-e", f"GNR_CURRENT_SITE={SITE}", "-e", "GENROPY_PROJECT_REQUIREMENTS=install",
               "-v", f"{volume}:/var/lib/genropy/python",
               "-e", "GNR_DB_IMPLEMENTATION=postgres", "-e", "GNR_DB_HOST=db", "-e", "GNR_DB_USER=shop",
               "-e", "GNR_DB_PASSWORD_FILE=/run/secrets/db", "-v", f"{tmp_path / 'db.txt'}:/run/secrets/db:ro",
               "-e", "GNR_ADMIN_USER=admin", "-e", "GNR_ADMIN_PASSWORD_FILE=/run/secrets/admin",
               "-v", f"{tmp_path / 'admin.txt'}:/run/secrets/admin:ro", "-e", "GENROPY_DATA_API=read", image)
        url = "http://" + docker("port", web, "8080/tcp").splitlines()[0]
        try:
            wait_ready(url, 180, alive=lambda: docker("inspect", "-f", "{{.State.Running}}", web) == "true")
        except AssertionError as exc:
            logs = subprocess.run([DOCKER, "logs", "--tail", "60", web], capture_output=True, text=True)
            raise AssertionError(f"{exc}\n{logs.stdout}{logs.stderr}") from None
        docker("exec", "-e", f"PGPASSWORD={db_password}", web, *import_command(f"/srv/projects/{NAME}", "db", "shop"))
        served_as_its_users_expect(url, ("admin", admin_password), public_project)
        logs = subprocess.run([DOCKER, "logs", web], capture_output=True, text=True)
        text = logs.stdout + logs.stderr
        assert f"no root.py for site {SITE}" in text and "Traceback" not in text
        assert not (public_project / "instances" / SITE / "root.py").exists()  # the project untouched
    finally:
        for name in (web, db):
            docker("rm", "-f", "-v", name, check=False)
        docker("volume", "rm", "-f", volume, check=False)
        docker("network", "rm", network, check=False)


def test_a_derived_image_of_it_through_the_testing_module(image, postgres_image, public_project):
    """The docs' derived-image build from the project's folder, then the testing module on PostgreSQL."""
    tag = f"genropy-asgi-public-test:{uuid.uuid4().hex[:8]}"
    built = subprocess.run([DOCKER, "build", "-q", "-t", tag, "-f", str(REPO / "examples" / "derived-image" / "Dockerfile"),
                            "--build-arg", f"BASE={image}", "--build-arg", f"PROJECT={NAME}",
                            "--build-arg", f"SITE={SITE}", str(public_project)],
                           env={**os.environ, "DOCKER_BUILDKIT": "0"}, capture_output=True, text=True, timeout=900)
    try:
        assert built.returncode == 0, built.stderr[-3000:]
        site = (GenropyAsgiContainer(tag, site_name=SITE, requirements="check").with_postgres(image=postgres_image)
                .with_admin().with_env("GENROPY_DATA_API", "read"))
        with site:
            password = site.secret_values["GNR_DB_PASSWORD"]
            site.exec_in_site(["env", f"PGPASSWORD={password}",
                               *import_command(f"/opt/genropy/projects/{NAME}", "postgres", "genropy")])
            served_as_its_users_expect(site.get_url(), (site.admin.user, site.admin.password), public_project)
    finally:
        subprocess.run([DOCKER, "image", "rm", "-f", tag], capture_output=True)
