"""Compose tests: the real docker-compose.yml with Compose v2 (`docker compose`).

Images are the ones scripts/test built or bootstrapped (no registry here):
GENROPY_ASGI_IMAGE, GENROPY_ASGI_POSTGRES_IMAGE and, for builds, PYTHON_BASE.
Each test runs its own project name and removes everything it created.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from support import REPO, no_leftovers, require  # noqa: F401  (autouse fixture)


def compose_available() -> bool:
    try:
        result = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    except OSError:
        return False
    return result.returncode == 0 and "v2." in result.stdout


class ComposeProject:
    """`docker compose -p NAME -f ...` in a folder, with an environment."""

    def __init__(self, folder: Path, name: str, env: dict[str, str], files: list[str] | None = None):
        self.folder = folder
        self.name = name
        self.env = env
        self.files = files or ["docker-compose.yml"]

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        command = ["docker", "compose", "-p", self.name]
        for file in self.files:
            command += ["-f", file]
        result = subprocess.run(command + list(args), cwd=self.folder, env=self.env, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            logs = subprocess.run(command + ["logs", "--no-color", "--tail", "80"], cwd=self.folder, env=self.env,
                                  capture_output=True, text=True).stdout
            raise AssertionError(f"docker compose {' '.join(args)} -> {result.returncode}\n{result.stdout}\n"
                                 f"{result.stderr}\n--- logs ---\n{logs}")
        return result

    def down(self) -> None:
        self.run("--profile", "remotedb", "--profile", "backup", "--profile", "redis", "down", "-v", "--remove-orphans",
                 check=False)


@pytest.fixture(scope="session")
def compose_env(image, postgres_image) -> dict[str, str]:
    require(compose_available(), "Docker Compose v2 is not installed (scripts/install-compose)")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COMPOSE_", "GENROPY_PROJECT"))}
    env.update({"GENROPY_ASGI_IMAGE": image, "POSTGRES_IMAGE": postgres_image})
    if "PYTHON_BASE" not in env and subprocess.run(
            ["docker", "image", "inspect", "genropy-asgi/python:3.13-trixie"], capture_output=True).returncode == 0:
        env["PYTHON_BASE"] = "genropy-asgi/python:3.13-trixie"
    if "VALKEY_IMAGE" not in env and subprocess.run(
            ["docker", "image", "inspect", "genropy-asgi/valkey:8-trixie"], capture_output=True).returncode == 0:
        env["VALKEY_IMAGE"] = "genropy-asgi/valkey:8-trixie"
    return env


@pytest.fixture
def clean_checkout(tmp_path) -> Path:
    """This repository as a fresh clone (committed files only), owned by whoever runs the
    tests (root in CI: the root-owned clone a CI runner or a root user has)."""
    clone = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    return clone


@pytest.fixture
def project(clean_checkout, compose_env):
    from genropy_asgi.testing.local import free_port

    port = free_port()
    env = {**compose_env, "SITE_PORT": str(port)}
    stack = ComposeProject(clean_checkout, f"gatest{secrets.token_hex(4)}", env)
    stack.url = f"http://127.0.0.1:{port}"
    yield stack
    stack.down()
    shutil.rmtree(clean_checkout, ignore_errors=True)
