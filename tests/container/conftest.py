"""Container tests: the image built from this repository, run with testcontainers.

Docker must be reachable; locally its absence skips these tests, with CI=true it
fails them. Images: GENROPY_ASGI_IMAGE (default genropy-asgi:latest, built by
scripts/build-image) and GENROPY_ASGI_POSTGRES_IMAGE (scripts/test sets the
bootstrapped one when the official image is not available).
"""

from __future__ import annotations

import os

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # the reaper image cannot be pulled here
os.environ.setdefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")

import pytest  # noqa: E402
from support import require  # noqa: E402


def docker_client():
    import docker

    try:
        client = docker.from_env()
        client.ping()
        return client
    except Exception as exc:  # no socket, no daemon, no permission
        require(False, f"Docker is not reachable ({type(exc).__name__}: {exc})")


@pytest.fixture(scope="session")
def docker():
    client = docker_client()
    yield client
    client.close()


@pytest.fixture(scope="session")
def image(docker) -> str:
    name = os.environ.get("GENROPY_ASGI_IMAGE", "genropy-asgi:latest")
    try:
        docker.images.get(name)
    except Exception:
        require(False, f"image {name} is missing: build it with scripts/build-image (or --airgap)")
    return name


@pytest.fixture(scope="session")
def postgres_image(docker) -> str:
    return os.environ.get("GENROPY_ASGI_POSTGRES_IMAGE", "postgres:17")


@pytest.fixture(autouse=True)
def no_leftovers(docker):
    """Every test leaves no container, network or volume behind."""
    before = snapshot(docker)
    yield
    after = snapshot(docker)
    assert after == before, f"left behind: {sorted(after - before)}"


def snapshot(client) -> set[str]:
    return ({f"container {c.name}" for c in client.containers.list(all=True)}
            | {f"network {n.name}" for n in client.networks.list()}
            | {f"volume {v.name}" for v in client.volumes.list()})
