"""The image's two flavours (genropy_asgi.container.flavours): what each carries, what the
final stage leaves out (pip, setuptools, tests), bytecode compiled at build; the slim one
serving a site of its own on SQLite and PostgreSQL through the testing module; the setup
record that makes a second start skip ``gnr db setup``."""

from __future__ import annotations

import re
import textwrap

import pytest
from projects.ledger_suite.checkout import run_pytest, user_project

from genropy_asgi.container import flavours
from genropy_asgi.testing.containers import GenropyAsgiContainer

BUILD_ONLY = {"pip", "setuptools", "wheel"}  # uninstalled at build (Paste declares setuptools, falls back without)

# every installed distribution's requirements are installed, but those the flavour leaves out
REQUIREMENTS_MET = textwrap.dedent("""\
    import importlib.metadata as m, re, sys
    from packaging.requirements import Requirement
    left_out = set(sys.argv[1].split(","))
    norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
    installed = {norm(d.metadata["Name"]) for d in m.distributions()}
    missing = []
    for d in m.distributions():
        for text in d.requires or []:
            r = Requirement(text)
            if r.marker and not r.marker.evaluate({"extra": ""}):
                continue
            if norm(r.name) not in installed and norm(r.name) not in left_out:
                missing.append(f"{d.metadata['Name']} needs {r.name}")
    print("\\n".join(missing) or "all requirements met")
    """)

# what GenroPy's optional features call, exercised in the full image
FULL_FEATURES = textwrap.dedent("""\
    import os, subprocess, tempfile
    import weasyprint, pymupdf
    pdf = weasyprint.HTML(string="<h1>Invoice 42</h1>").write_pdf()          # HTML to PDF (Pango)
    assert "Invoice 42" in pymupdf.open("pdf", pdf)[0].get_text()            # PDF pages
    from pdf2image import convert_from_bytes                                 # previews (poppler)
    assert convert_from_bytes(pdf, dpi=30)[0].size[0] > 0
    import boto3, caldav, dulwich, redbaron, docutils, PyPDF2, smart_open, openpyxl, paramiko, lxml, PIL
    for tool in ("psql", "pg_dump", "pg_restore"):
        assert subprocess.run([tool, "--version"], capture_output=True).returncode == 0, tool
    print("every feature answers")
    """)


def in_image(image: str, docker, code: str, *args: str) -> str:
    return docker.containers.run(image, ["/opt/venv/bin/python", "-c", code, *args], entrypoint=[], remove=True,
                                 working_dir="/tmp").decode()


@pytest.fixture(scope="module")
def slim_image(image, docker) -> str:
    name = image + "-slim" if ":" in image else image + ":latest-slim"
    docker.images.get(name)  # scripts/test builds both flavours
    return name


def test_the_full_image_keeps_every_feature_genropy_has(image, docker):
    assert in_image(image, docker, FULL_FEATURES).strip() == "every feature answers"
    assert in_image(image, docker, REQUIREMENTS_MET, ",".join(flavours.left_out("full") | BUILD_ONLY)).strip() \
        == "all requirements met"


def test_the_slim_image_leaves_out_only_the_optional_features(slim_image, docker):
    assert in_image(slim_image, docker, REQUIREMENTS_MET, ",".join(flavours.left_out("slim") | BUILD_ONLY)).strip() \
        == "all requirements met"
    probe = "import importlib.util as u, sys; print(' '.join(n for n in sys.argv[1:] if u.find_spec(n)))"
    assert in_image(slim_image, docker, probe, "weasyprint", "pymupdf", "boto3", "caldav", "gnr", "psycopg2",
                    "paramiko", "PIL").split() == ["gnr", "psycopg2", "paramiko", "PIL"]
    assert docker.images.get(slim_image).labels["org.genropy-asgi.flavour"] == "slim"


@pytest.mark.parametrize("flavour", ["full", "slim"])
def test_no_build_tools_no_tests_and_bytecode_compiled(image, slim_image, docker, flavour):
    name = image if flavour == "full" else slim_image
    code = textwrap.dedent("""\
        import importlib.util as u, pathlib, sysconfig
        site = pathlib.Path(sysconfig.get_path("purelib"))
        print([n for n in ("pip", "setuptools", "wheel") if u.find_spec(n)])  # pip: requirements at start
        print(sorted(str(p.relative_to(site)) for p in site.glob("*/tests") if p.is_dir() and p.parts[-2] != "gnr"))
        source = pathlib.Path(u.find_spec("gnr.web.gnrwsgisite").origin)
        print(any(source.parent.glob("__pycache__/gnrwsgisite.*.pyc")))
        """)
    lines = in_image(name, docker, code).splitlines()
    assert lines == ["['pip']", "[]", "True"]


def test_the_slim_image_serves_a_users_suite(tmp_path, slim_image, postgres_image):
    for database in ("sqlite", "postgres"):
        folder = user_project(tmp_path / database, database)
        result = run_pytest(folder, "-k", "not browser",
                            env={"GENROPY_ASGI_IMAGE": slim_image, "GENROPY_ASGI_POSTGRES_IMAGE": postgres_image})
        assert result.returncode == 0, result.stdout[-5000:]
        assert re.search(r"\b19 passed\b", result.stdout), result.stdout[-1000:]


def test_a_second_start_skips_the_unchanged_setup(image, docker):
    volume = docker.volumes.create()
    try:
        site = GenropyAsgiContainer(image).with_volume_mapping(volume.name, "/var/lib/genropy", "rw")
        with site:
            site.client().page("/index").rpc("add_note", title="kept across starts")
            first = site.get_wrapped_container().logs().decode()
        again = GenropyAsgiContainer(image).with_volume_mapping(volume.name, "/var/lib/genropy", "rw")
        with again:
            second = again.get_wrapped_container().logs().decode()
            assert "kept across starts" in again.client().page("/index").rpc("note_titles")
        forced = GenropyAsgiContainer(image, env={"GENROPY_DB_SETUP": "always"})
        with forced.with_volume_mapping(volume.name, "/var/lib/genropy", "rw"):
            third = forced.get_wrapped_container().logs().decode()
    finally:
        volume.remove(force=True)
    assert "gnr db setup (tables): done" in first and "first-use records: done" in first
    assert "database setup: skipped, the model is unchanged since this database's last setup" in second
    assert "gnr db setup (tables)" not in second
    assert "gnr db setup (tables): done" in third
