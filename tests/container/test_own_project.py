"""A GenroPy project that is not the demo (tests/projects/shelf), through every documented path.

Its package wants ``humanize`` (requirements.txt; not in the image), its instance says
SQLite and uses ``gnrcore:email``. The wheel reaches the container from a wheelhouse
made on the host (containers here cannot verify PyPI), with pip's own PIP_* variables.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
from support import REPO

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.containers import GenropyAsgiContainer, GenropySiteDidNotStart

pytestmark = pytest.mark.docker

SHELF = REPO / "tests" / "projects" / "shelf"
SITE = "shelfsite"
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    """humanize's wheel for the image's Python, downloaded on the host."""
    folder = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps",
                    "--python-version", "3.13", "--platform", "any", "-d", str(folder), "humanize"],
                   check=True, capture_output=True, timeout=300)
    assert list(folder.glob("humanize-*.whl"))
    return folder


def with_wheelhouse(site: GenropyAsgiContainer, wheels: Path) -> GenropyAsgiContainer:
    for wheel in wheels.glob("*.whl"):
        site.with_file(f"/tmp/{wheel.name}", wheel.read_bytes())
    return site.with_env("PIP_NO_INDEX", "1").with_env("PIP_FIND_LINKS", "/tmp")


def test_requirements_installed_at_start_on_sqlite(image, wheels):
    """Without compose: the admin of GNR_ADMIN_* logs in, with GenroPy's full admin tags."""
    site = with_wheelhouse(GenropyAsgiContainer(image, project_dir=SHELF, site_name=SITE), wheels)
    site.with_env("GNR_ADMIN_USER", "boss").with_secret("GNR_ADMIN_PASSWORD", "shelf-Admin-42")
    with site:
        page = GenropyPage(site.get_url())
        page.rpc("login_doLogin", login="<GenRoBag><user>boss</user><password>shelf-Admin-42</password></GenRoBag>::BAG",
                 rootenv="<GenRoBag></GenRoBag>::BAG")
        assert page.rpc("whoami") == "boss"
        assert {"superadmin", "_DEV_", "admin", "user"} <= set(page.rpc("user_tags").split(","))
        page.rpc("add_book", title="Dune", pages="1200")
        page.rpc("add_book", title="Emma", pages="474")
        assert page.rpc("pages_in_words") == "1,674"  # humanize, from the package's requirements.txt
        assert page.rpc("database_in_use").startswith("sqlite ")
        logs = site.get_wrapped_container().logs().decode(errors="replace")
        assert "installing the packages' requirements: humanize" in logs
        assert "missing dependencies" not in logs  # gnrcore:sys, adm, email: all in the image


def test_gnr_db_implementation_postgres_wins_over_the_instance(image, postgres_image, wheels):
    site = with_wheelhouse(GenropyAsgiContainer(image, project_dir=SHELF, site_name=SITE), wheels)
    with site.with_postgres(image=postgres_image) as site:
        page = GenropyPage(site.get_url())
        page.rpc("add_book", title="In PostgreSQL", pages="10")
        assert page.rpc("database_in_use") == "postgres shelf"
        ready = GenropyPage(site.get_url()).client.get("/_server/ready").json()
        assert ready["database"] == {"implementation": "postgres"}  # host and name: loopback only
        inside = site.exec(["python", "-c", "import json, urllib.request; print(json.load(urllib.request.urlopen("
                                            "'http://127.0.0.1:8080/_server/ready'))['database']['dbname'])"])
        assert inside.output.decode().strip().splitlines()[-1] == "shelf"
        info = GenropyPage(site.get_url()).client.get("/_server/info").json()
        assert "site" in info["databases"] and "password" not in str(info["site_database"])
        tables = site.postgres.exec(["psql", "-U", "genropy", "-d", "shelf", "-Atc",
                                     "select count(*) from information_schema.tables where table_schema='shelf'"])
        assert tables.output.decode().strip() == "1"
        data = site.exec(["sh", "-c", f"ls /srv/projects/shelf/instances/{SITE}/data 2>/dev/null; true"])
        assert data.output.decode().split() == []  # no SQLite file anywhere in the instance
        logs = site.get_wrapped_container().logs().decode(errors="replace")
        assert "database: postgres shelf on " in logs


def test_a_missing_requirement_is_one_line_and_exit_2(image):
    site = GenropyAsgiContainer(image, project_dir=SHELF, site_name=SITE, requirements="check", ready_timeout=60)
    with pytest.raises(GenropySiteDidNotStart) as caught:
        site.start()
    message = str(caught.value)
    assert "the container exited (2)" in message
    errors = [line for line in message.splitlines() if "genropy-asgi: error:" in line]
    assert len(errors) == 1 and "humanize (wanted by shelf)" in errors[0]
    assert "GENROPY_PROJECT_REQUIREMENTS=install" in errors[0] and "Traceback" not in message


def build_context(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("layout", ["one project", "several repositories"])
def test_a_derived_image_bakes_the_project_and_its_requirements(image, docker, wheels, tmp_path, layout):
    """The README's derived-image Dockerfile, air-gapped (its wheelhouse in the build context, 20 MB of
    padding beside the wheel): the wheels stay in the first stage, the image is the base + the project."""
    several = layout == "several repositories"
    context = tmp_path / ("projects" if several else "shelf")
    project = context / "shelf" if several else context
    shutil.copytree(SHELF, project)
    if several:  # another repository's project beside it (here: the demo, under another name)
        shutil.copytree(REPO / "demo", context / "library", ignore=shutil.ignore_patterns("data", "site"))
    shutil.copytree(wheels, context / ".wheels")
    (context / ".wheels" / "padding.bin").write_bytes(os.urandom(20 * 1024 * 1024))
    where = "/opt/genropy/projects/.wheels" if several else "/opt/genropy/projects/shelf/.wheels"
    tag = f"genropy-asgi-derived-test:{uuid.uuid4().hex[:8]}"
    result = subprocess.run([DOCKER, "build", "-q", "-t", tag, "-f", str(REPO / "examples" / "derived-image" / "Dockerfile"),
                             "--build-arg", f"BASE={image}", "--build-arg", f"PROJECT={'' if several else 'shelf'}",
                             "--build-arg", f"SITE={SITE}", "--build-arg", "PIP_NO_INDEX=1",
                             "--build-arg", f"PIP_FIND_LINKS={where}",
                             str(context)], env={**os.environ, "DOCKER_BUILDKIT": "0"},
                            capture_output=True, text=True, timeout=900)
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        grown = docker.images.get(tag).attrs["Size"] - docker.images.get(image).attrs["Size"]
        assert grown < 5 * 1024 * 1024, f"the derived image is {grown / 2**20:.1f} MB over its base"
        with GenropyAsgiContainer(tag, site_name=SITE, requirements="check") as site:  # nothing to install
            page = GenropyPage(site.get_url())
            page.rpc("add_book", title="Baked", pages="2500")
            assert page.rpc("pages_in_words") == "2,500"
            assert site.exec(["id", "-u"]).output.decode().strip() == "10001"
            listing = site.exec(["sh", "-c", "find /opt/genropy/projects -name .wheels 2>/dev/null"]).output.decode().split()
            assert listing == []
            if several:
                assert site.exec(["test", "-d", "/opt/genropy/projects/library/packages"]).exit_code == 0
    finally:
        subprocess.run([DOCKER, "image", "rm", "-f", tag], capture_output=True)


@pytest.mark.parametrize("mode, owner, expected", [
    ("ro", None, "Read-only file system"), ("rw", 4321, "--user 4321:0"),
], ids=["read-only mount", "owned by another UID"])
def test_docker_run_with_an_unwritable_project_names_the_fix(image, docker, tmp_path, mode, owner, expected):
    """The README's docker run, without --user: the image's UID 10001 cannot write the instance."""
    project = tmp_path / "shelf"
    shutil.copytree(SHELF, project)
    if owner:
        subprocess.run(["chown", "-R", f"{owner}:{owner}", str(project)], check=True)
    container = docker.containers.run(image, detach=True, environment={"GNR_CURRENT_SITE": SITE,
                                      "GENROPY_PROJECTS": "/srv/projects/shelf"},  # the project itself: fine
                                      volumes={str(project): {"bind": "/srv/projects/shelf", "mode": mode}})
    try:
        status = container.wait(timeout=120)["StatusCode"]
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    errors = [line for line in logs.splitlines() if "genropy-asgi: error:" in line]
    assert status == 2 and len(errors) == 1, logs[-3000:]
    assert "not writable by uid 10001" in errors[0] and expected in errors[0], errors[0]


def test_docker_run_as_the_owner_serves(image, docker, tmp_path, wheels):
    """docker run --user <owner>:0 with the project mounted read-write: served, files stay the owner's."""
    project = tmp_path / "shelf"
    shutil.copytree(SHELF, project)
    subprocess.run(["chown", "-R", "4321:4321", str(project)], check=True)
    site = with_wheelhouse(GenropyAsgiContainer(image, site_name=SITE), wheels).with_env(
        "GENROPY_PROJECTS", "/srv/projects").with_volume_mapping(str(project), "/srv/projects/shelf", "rw")
    site.with_kwargs(user="4321:0")
    with site:
        page = GenropyPage(site.get_url())
        page.rpc("add_book", title="Mine", pages="3")
        assert page.rpc("book_count") == 1
    data = project / "instances" / SITE / "data"
    assert data.stat().st_uid == 4321 and all(p.stat().st_uid == 4321 for p in data.iterdir())


def test_an_undeclared_import_is_one_line_and_exit_2(image, tmp_path):
    """A model that imports a module no requirements.txt declares (as many real projects do):
    gnr db setup's traceback becomes one line naming the module, the importer and the file to fix."""
    project = tmp_path / "shelf"
    shutil.copytree(SHELF, project)
    (project / "packages" / "shelf" / "requirements.txt").unlink()
    model = project / "packages" / "shelf" / "model" / "book.py"
    model.write_text("import humanize  # noqa: F401\n" + model.read_text())
    site = GenropyAsgiContainer(image, project_dir=project, site_name=SITE, ready_timeout=90)
    with pytest.raises(GenropySiteDidNotStart) as caught:
        site.start()
    message = str(caught.value)
    errors = [line for line in message.splitlines() if "genropy-asgi: error:" in line]
    assert "the container exited (2)" in message and len(errors) == 1, message[-3000:]
    assert "'humanize' imported by /srv/projects/shelf/packages/shelf/model/book.py" in errors[0]
    assert "/srv/projects/shelf/packages/shelf/requirements.txt" in errors[0]
    assert "Traceback" not in message
