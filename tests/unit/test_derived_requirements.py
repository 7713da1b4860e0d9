"""entrypoint/install-project-requirements.sh in the derived image's first stage (PIP_PREFIX): a
requirement that would replace a version the image has is refused, in one line; others install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import REPO, require

SCRIPT = REPO / "entrypoint" / "install-project-requirements.sh"


def wheel(source: Path, version: str, wheels: Path) -> None:
    package = source / f"pinme-{version}"
    (package / "pinme").mkdir(parents=True)
    (package / "pinme" / "__init__.py").write_text("")
    (package / "pyproject.toml").write_text('[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
                                            f'[project]\nname = "pinme"\nversion = "{version}"\n')
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-index", "--find-links", str(REPO / "wheelhouse"),
                    "--no-deps", str(package), "-w", str(wheels)], check=True, capture_output=True, timeout=300)


def test_a_requirement_replacing_the_images_version_is_refused(tmp_path):
    require((REPO / "wheelhouse").is_dir(), "no wheelhouse (scripts/wheelhouse): hatchling is built from it")
    wheels = tmp_path / "wheels"
    for version in ("1.0", "2.0"):
        wheel(tmp_path / "src", version, wheels)
    venv = tmp_path / "venv"  # the image's venv, with pinme 2.0
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheels),
                    "pinme==2.0"], check=True, capture_output=True, timeout=300)
    project = tmp_path / "shop"
    (project / "packages" / "shop").mkdir(parents=True)

    def install(requirement: str) -> subprocess.CompletedProcess:
        (project / "packages" / "shop" / "requirements.txt").write_text(requirement + "\n")
        env = {**os.environ, "GENROPY_VENV": str(venv), "PIP_PREFIX": str(tmp_path / f"prefix-{requirement}"),
               "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
        return subprocess.run(["sh", str(SCRIPT), str(project)], env=env, capture_output=True, text=True, timeout=300)

    same = install("pinme==2.0")  # satisfied by the image: nothing to install, accepted
    assert same.returncode == 0, same.stderr[-2000:]
    older = install("pinme==1.0")
    assert older.returncode == 1
    assert older.stderr.strip().splitlines()[-1] == (
        "install-project-requirements.sh: the project's requirements replace the image's own versions: "
        "pinme 1.0 (the image has 2.0); pin the image's versions in requirements.txt")
