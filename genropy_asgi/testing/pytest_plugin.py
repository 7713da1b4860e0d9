"""pytest fixtures for testing a GenroPy site in a genropy-asgi container.

Installing the package enables it (a ``pytest11`` entry point; nothing starts until a
test asks for a fixture). Configure it in ``pytest.ini``/``pyproject.toml`` (``[tool.pytest.ini_options]``) or
with the environment variable of the same meaning (the variable wins):

| ini option          | variable                      | meaning                                  |
|---------------------|-------------------------------|------------------------------------------|
| genropy_project     | GENROPY_ASGI_PROJECT          | your GenroPy project folder (rootdir-relative) |
| genropy_site        | GENROPY_ASGI_SITE             | the instance to serve (default: demo)    |
| genropy_image       | GENROPY_ASGI_IMAGE            | the image (default: genropy-asgi:latest) |
| genropy_database    | GENROPY_ASGI_DATABASE         | sqlite (default) or postgres             |
| genropy_postgres_image | GENROPY_ASGI_POSTGRES_IMAGE | PostgreSQL image (default: postgres:17)  |
| genropy_requirements | GENROPY_ASGI_REQUIREMENTS   | install (default): the packages' requirements.txt are pip-installed at start; check: only checked |
| genropy_env         | (none)                        | extra container variables, one ``NAME=value`` per line |

Fixtures: ``genropy_site`` (session: the started ``GenropyAsgiContainer``; its
``get_url()``) and ``genropy_client`` (per test: an ``httpx.Client`` on the site
with a fresh cookie jar).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:  # imported lazily: the plugin loads for everyone who installs the package
    import httpx

    from genropy_asgi.testing.containers import GenropyAsgiContainer

OPTIONS = {
    "genropy_project": ("GENROPY_ASGI_PROJECT", "GenroPy project folder to serve"),
    "genropy_site": ("GENROPY_ASGI_SITE", "GenroPy instance to serve"),
    "genropy_image": ("GENROPY_ASGI_IMAGE", "genropy-asgi image"),
    "genropy_database": ("GENROPY_ASGI_DATABASE", "sqlite or postgres"),
    "genropy_postgres_image": ("GENROPY_ASGI_POSTGRES_IMAGE", "PostgreSQL image"),
    "genropy_requirements": ("GENROPY_ASGI_REQUIREMENTS", "install or check the packages' requirements.txt"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, (variable, help_text) in OPTIONS.items():
        parser.addini(name, f"{help_text} (or ${variable})", default="")
    parser.addini("genropy_env", "extra container environment: NAME=value lines", type="linelist", default=[])


def container_env(lines: list[str]) -> dict[str, str]:
    env = {}
    for line in lines:
        name, equals, value = line.partition("=")
        if not equals or not name.strip():
            raise pytest.UsageError(f"genropy_env: {line!r}: expected NAME=value")
        env[name.strip()] = value.strip()
    return env


def option(config: pytest.Config, name: str, default: str = "") -> str:
    return os.environ.get(OPTIONS[name][0]) or config.getini(name) or default


@pytest.fixture(scope="session")
def genropy_site(pytestconfig: pytest.Config) -> Iterator[GenropyAsgiContainer]:
    project = option(pytestconfig, "genropy_project")
    project_dir = (Path(pytestconfig.rootpath) / project) if project else None
    database = option(pytestconfig, "genropy_database", "sqlite")
    if database not in ("sqlite", "postgres"):
        raise pytest.UsageError(f"genropy_database={database!r}: expected sqlite or postgres")
    from genropy_asgi.testing.containers import GenropyAsgiContainer

    requirements = option(pytestconfig, "genropy_requirements", "install")
    if requirements not in ("install", "check"):
        raise pytest.UsageError(f"genropy_requirements={requirements!r}: expected install or check")
    container = GenropyAsgiContainer(image=option(pytestconfig, "genropy_image") or None, project_dir=project_dir,
                                     site_name=option(pytestconfig, "genropy_site", "demo"),
                                     env=container_env(pytestconfig.getini("genropy_env")),
                                     requirements=requirements)
    if database == "postgres":
        container.with_postgres(image=option(pytestconfig, "genropy_postgres_image") or None)
    with container:
        yield container


@pytest.fixture
def genropy_client(genropy_site: GenropyAsgiContainer) -> Iterator[httpx.Client]:
    import httpx

    with httpx.Client(base_url=genropy_site.get_url(), timeout=60) as client:
        yield client
