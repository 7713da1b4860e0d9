"""Lints that guard what users build and deploy: hadolint on every Dockerfile,
yamllint on the compose file, the chart's values and scenarios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import REPO

BIN = Path(sys.executable).parent


def test_dockerfiles_are_hadolint_clean():
    dockerfiles = [REPO / "Dockerfile", *sorted((REPO / "images").glob("*/Dockerfile")),
                   REPO / "examples" / "derived-image" / "Dockerfile"]
    result = subprocess.run([str(BIN / "hadolint"), "--no-color", *map(str, dockerfiles)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_yaml_is_lint_clean():
    files = ["docker-compose.yml", ".yamllint.yaml", "helm/genropy-asgi/values.yaml",
             "helm/genropy-asgi/Chart.yaml", *map(str, sorted((REPO / "helm/genropy-asgi/ci").glob("*.yaml"))),
             "tests/compose/remotedb.yml", "tests/compose/wheels.yml"]
    result = subprocess.run([sys.executable, "-m", "yamllint", "-s", *files], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def shell_scripts() -> list[Path]:
    """Every file of ours that a shell runs (by its first line)."""
    candidates = [*sorted((REPO / "scripts").iterdir()), *sorted((REPO / "entrypoint").iterdir()),
                  REPO / ".ci" / "run", *sorted((REPO / "images").glob("*/*"))]
    found = []
    for path in candidates:
        if path.is_file():
            with open(path, "rb") as handle:
                first = handle.readline()
            if first.startswith(b"#!") and (b"bash" in first or b"/sh" in first):
                found.append(path)
    return found


def test_shell_scripts_are_shellcheck_clean():
    import shutil

    from support import require

    shellcheck = shutil.which("shellcheck")
    require(shellcheck is not None, "shellcheck is not installed (apt install shellcheck)")
    scripts = shell_scripts()
    assert REPO / "scripts" / "test" in scripts and REPO / ".ci" / "run" in scripts  # the finder finds them
    result = subprocess.run([shellcheck, "-S", "warning", *map(str, scripts)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_is_ruff_clean():
    """pyflakes, pycodestyle, import order, pyupgrade, bugbear ([tool.ruff] of pyproject.toml)."""
    result = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "--output-format", "concise", str(REPO)],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


MYPY_STRICT = ("genropy_asgi/data_api", "genropy_asgi/launch", "genropy_asgi/compat", "genropy_asgi/container",
               "genropy_asgi/settings.py",
               "genropy_asgi/settings_docs.py", "genropy_asgi/cpu_quota.py")
"""Packages held to ``mypy --strict`` (the rest of the package: issue 35, one at a time)."""


def test_strict_packages_are_mypy_clean():
    result = subprocess.run([str(BIN / "mypy"), "--strict", "--ignore-missing-imports", "--follow-imports=silent",
                             "--no-incremental", *MYPY_STRICT], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_pre_commit_runs_every_lint_test_and_nothing_else():
    """.pre-commit-config.yaml: one local hook per lint test of this module, each running that test."""
    import yaml

    hooks = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    selected = [hook["entry"].split(" -k ")[1] for hook in hooks]
    lints = sorted(name for name in globals() if name.startswith("test_") and name != __name__.split(".")[-1]
                   and name != "test_pre_commit_runs_every_lint_test_and_nothing_else")
    assert sorted(selected) == lints
    for hook in hooks:
        assert hook["entry"].startswith(".venv/bin/python -m pytest") and hook["pass_filenames"] is False
    result = subprocess.run([str(BIN / "pre-commit"), "validate-config", ".pre-commit-config.yaml"], cwd=REPO,
                            capture_output=True, text=True)  # the dev extra installs pre-commit
    assert result.returncode == 0, result.stdout + result.stderr
