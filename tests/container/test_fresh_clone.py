"""A new user's first minute: a fresh clone, nothing made by hand.

``scripts/test`` makes its own venv (none exists in a clone) and runs; ``docker build``
passes every COPY of the Dockerfile with no wheelhouse (the PyPI path: the install step
itself cannot run here, containers cannot verify PyPI's certificate), with the legacy
builder and with BuildKit alike.
"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from support import REPO

pytestmark = pytest.mark.docker

DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")


@pytest.fixture
def fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    assert not (clone / ".venv").exists()
    assert sorted(p.name for p in (clone / "wheelhouse").iterdir()) == ["README.md"]
    return clone


def test_scripts_test_makes_its_venv_and_runs(fresh_clone):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "VIRTUAL_ENV", "PYTEST_ADDOPTS")}
    env["GENROPY_ASGI_TEST_PG"] = "unused"  # the subset below needs no database
    result = subprocess.run(["scripts/test", "--fast", "-q", "-p", "no:cacheprovider", "tests/unit/test_request_guard.py"],
                            cwd=fresh_clone, env=env, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "scripts/venv: creating .venv" in output and " passed" in output
    assert (fresh_clone / ".venv" / ".pyproject.sha256").is_file()
    again = subprocess.run(["scripts/venv"], cwd=fresh_clone, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stderr == ""  # nothing to do the second time


@pytest.mark.parametrize("buildkit", ["0", "1"], ids=["legacy builder", "BuildKit"])
def test_the_dockerfile_copies_pass_without_a_wheelhouse(fresh_clone, docker, buildkit):
    base = "genropy-asgi/python:3.13-trixie"
    if subprocess.run([DOCKER, "image", "inspect", base], capture_output=True).returncode != 0:
        base = "python:3.13-slim-trixie"
    tag = f"genropy-asgi-fresh-clone:{uuid.uuid4().hex[:8]}"
    result = subprocess.run([DOCKER, "build", "-q", "--target", "inputs", "--build-arg", f"PYTHON_BASE={base}",
                             "-t", tag, "."], cwd=fresh_clone, env={**os.environ, "DOCKER_BUILDKIT": buildkit},
                            capture_output=True, text=True, timeout=600)
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        listing = subprocess.run([DOCKER, "run", "--rm", "--entrypoint", "sh", tag, "-c",
                                  "ls /wheelhouse; ls /wheelhouse/*.whl >/dev/null 2>&1 && echo wheels || echo pypi"],
                                 capture_output=True, text=True, timeout=120).stdout.split()
        assert listing == ["README.md", "pypi"]  # the build's install step takes the PyPI branch
    finally:
        subprocess.run([DOCKER, "image", "rm", "-f", tag], capture_output=True)
