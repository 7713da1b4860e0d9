"""Shared fixtures: real GenroPy sites run as processes; Docker and its images.

Site fixtures are session-scoped: one scratch workspace (SQLite), one gnrdaemon,
one ``gnrasgiserve`` and one ``gnrwsgiserve`` on 127.0.0.1, shared by the site
tests; everything is stopped by PID at the end.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # the reaper image cannot be pulled here
os.environ.setdefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")  # this VM has /.dockerenv
# ...and its Docker engine runs here, not on a host around it: published ports are reached on
# 127.0.0.1 (testcontainers would otherwise guess Docker-in-Docker and use the bridge gateway)
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import DEMO_PROJECT, require, start_server  # noqa: E402,F401

pytest_plugins = ("depot_site",)  # the data bridge's site (fixture ``depot``): tests/site and tests/security


@pytest.fixture(scope="session")
def tester_password() -> str:
    return secrets.token_urlsafe(12)


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory, tester_password):
    from genropy_asgi.testing.local import GnrWorkspace

    workspace = GnrWorkspace.create(
        DEMO_PROJECT, root=tmp_path_factory.mktemp("sqlite-ws"),
        xml_users={"tester": {"pwd": tester_password, "tags": "admin,user"}},
    )
    workspace.db_setup()
    return workspace


@pytest.fixture(scope="session")
def gnr_daemon(demo_workspace):
    from genropy_asgi.testing.local import GnrDaemonProcess

    daemon = GnrDaemonProcess(demo_workspace)
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def asgi_site(demo_workspace, gnr_daemon):
    server = start_server(demo_workspace, "gnrasgiserve", "--nodebug")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def wsgi_site(demo_workspace, gnr_daemon):
    server = start_server(demo_workspace, "gnrwsgiserve", "--nodebug")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """DSN of the throwaway PostgreSQL (scripts/test-postgres, started by scripts/test)."""
    dsn = os.environ.get("GENROPY_ASGI_TEST_PG", "")
    require(bool(dsn), "GENROPY_ASGI_TEST_PG is not set: run the suite with scripts/test")
    return dsn


# -- Docker (container and compose tests) -------------------------------------------
# Images: GENROPY_ASGI_IMAGE (default genropy-asgi:latest, built by scripts/build-image)
# and GENROPY_ASGI_POSTGRES_IMAGE (scripts/test picks the bootstrapped one when the
# official image is not available). Without Docker: skipped locally, failed in CI.

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


def pytest_collection_modifyitems(config, items):
    """Every test that needs the Docker engine (the ``docker`` fixture, directly or through
    ``image``/``project``...) is marked ``docker``: ``scripts/test --fast`` leaves them out."""
    for item in items:
        if "docker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)
