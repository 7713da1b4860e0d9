"""pytest fixtures for testing a GenroPy site in a genropy-asgi container.

Installing the package enables it (a ``pytest11`` entry point; nothing starts until a
test asks for a fixture). Configure it in ``pytest.ini``/``pyproject.toml``
(``[tool.pytest.ini_options]``) or with the environment variable of the same meaning
(the variable wins):

| ini option             | variable                    | meaning                                        |
|------------------------|-----------------------------|------------------------------------------------|
| genropy_project        | GENROPY_ASGI_PROJECT        | your GenroPy project folder (rootdir-relative) |
| genropy_site           | GENROPY_ASGI_SITE           | the instance to serve (default: demo)          |
| genropy_image          | GENROPY_ASGI_IMAGE          | the image (default: genropy-asgi:latest)       |
| genropy_database       | GENROPY_ASGI_DATABASE       | sqlite (default) or postgres                   |
| genropy_postgres_image | GENROPY_ASGI_POSTGRES_IMAGE | PostgreSQL image (default: postgres:17)        |
| genropy_requirements   | GENROPY_ASGI_REQUIREMENTS   | install (default) or check the packages' requirements.txt |
| genropy_isolation      | GENROPY_ASGI_ISOLATION      | test (default): each test on the database as at start; session: shared |
| genropy_reuse          | GENROPY_ASGI_REUSE          | true: keep the containers for the next run (also ``--genropy-reuse``) |
| genropy_admin_user     | GENROPY_ASGI_ADMIN_USER     | the admin login the container defines (default: admin) |
| genropy_env            | (none)                      | extra container variables, one ``NAME=value`` per line |

Fixtures:

- ``genropy_site`` (session): the started ``GenropyAsgiContainer`` (``get_url()``,
  ``exec_in_site()``, ``.postgres``); one container for the whole session.
- ``genropy_admin`` (session): the admin login, ``.user`` and ``.password``.
- ``genropy_client``: a ``GenropyClient`` (an ``httpx.Client`` on the site that opens
  pages and logs in) with a fresh cookie jar.
- ``genropy_page``: a factory, ``genropy_page("/pkg/page", login=True)`` opens a page
  (logged in as the admin, or ``login=(user, password)``) in a fresh client; its
  ``.rpc(method, **kwargs)`` returns the decoded result.
- ``genropy_exec``: ``genropy_exec("gnr", "db", "checkdb", ...)`` runs a command in the
  site container with GenroPy's configuration; raises on a non-zero exit.
- ``genropy_browser``: headless Chromium (the system's, over the DevTools protocol) on the
  site: ``open("/index")``, ``evaluate(js)``, ``wait_for(js)``; a fresh cookie jar per test.

Isolation: with ``genropy_isolation = test``, a test that uses any of these fixtures starts
from the database as it was when the site became ready (a PostgreSQL template database
cloned, or the SQLite files copied back, only after a test that could have written).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported lazily: the plugin loads for everyone who installs the package
    from genropy_asgi.testing.client import GenropyClient, GenropyPage
    from genropy_asgi.testing.containers import ExecResult, GenropyAdmin, GenropyAsgiContainer

OPTIONS = {  # ini option -> its variable (genropy_asgi.settings: default, choices, meaning)
    "genropy_project": "GENROPY_ASGI_PROJECT",
    "genropy_site": "GENROPY_ASGI_SITE",
    "genropy_image": "GENROPY_ASGI_IMAGE",
    "genropy_database": "GENROPY_ASGI_DATABASE",
    "genropy_postgres_image": "GENROPY_ASGI_POSTGRES_IMAGE",
    "genropy_requirements": "GENROPY_ASGI_REQUIREMENTS",
    "genropy_isolation": "GENROPY_ASGI_ISOLATION",
    "genropy_reuse": "GENROPY_ASGI_REUSE",
    "genropy_admin_user": "GENROPY_ASGI_ADMIN_USER",
}
STARTS: list[tuple[str, str, float]] = []  # (site, started|reused, seconds): the terminal summary
SITE_FIXTURES = {"genropy_site", "genropy_admin", "genropy_client", "genropy_page", "genropy_exec",
                 "genropy_browser"}


def pytest_addoption(parser: pytest.Parser) -> None:
    from genropy_asgi import settings

    for name, variable in OPTIONS.items():
        parser.addini(name, f"{settings.setting(variable).help} (or ${variable})", default="")
    parser.addini("genropy_env", "extra container environment: NAME=value lines", type="linelist", default=[])
    parser.getgroup("genropy").addoption(
        "--genropy-reuse", action="store_true", default=False,
        help="keep the GenroPy site's containers running for the next run with the same project, image "
             "and settings (found again in about a second); remove them with "
             "docker rm -f $(docker ps -aq --filter label=org.genropy-asgi.testing.reuse)")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for site, how, seconds in STARTS:
        terminalreporter.write_line(f"genropy_asgi: site {site!r} {how} in {seconds:.1f} s")


def container_env(lines: list[str]) -> dict[str, str]:
    env = {}
    for line in lines:
        name, equals, value = line.partition("=")
        if not equals or not name.strip():
            raise pytest.UsageError(f"genropy_env: {line!r}: expected NAME=value")
        env[name.strip()] = value.strip()
    return env


def option(config: pytest.Config, name: str) -> Any:
    """An option's value: its variable, else the ini file, else its default, read by the
    setting's own parser (``pytest.UsageError`` naming the variable, the ini option and
    what is expected)."""
    from genropy_asgi import settings

    variable = OPTIONS[name]
    entry = settings.setting(variable)
    raw = (os.environ.get(variable) or config.getini(name) or "").strip()
    if not raw:
        return entry.default
    try:
        return entry.parser(variable, raw)
    except settings.SettingError as exc:
        raise pytest.UsageError(f"{exc} (ini option {name})") from None


class DatabaseState:
    """Whether the site's database may differ from its snapshot (a test ran since)."""

    def __init__(self, site: GenropyAsgiContainer, isolated: bool) -> None:
        self.site, self.isolated, self.dirty = site, isolated, False

    def before_test(self) -> None:
        if self.isolated and self.dirty:
            self.site.restore_database()
        self.dirty = True


@pytest.fixture(scope="session")
def genropy_site(pytestconfig: pytest.Config) -> Iterator[GenropyAsgiContainer]:
    project = option(pytestconfig, "genropy_project")
    project_dir = (Path(pytestconfig.rootpath) / project) if project else None
    from genropy_asgi.testing.containers import GenropyAsgiContainer

    reuse = pytestconfig.getoption("genropy_reuse", False) or option(pytestconfig, "genropy_reuse")
    container = GenropyAsgiContainer(image=option(pytestconfig, "genropy_image"), project_dir=project_dir,
                                     site_name=option(pytestconfig, "genropy_site"),
                                     env=container_env(pytestconfig.getini("genropy_env")),
                                     requirements=option(pytestconfig, "genropy_requirements"), reuse=reuse)
    container.with_admin(option(pytestconfig, "genropy_admin_user"))
    if option(pytestconfig, "genropy_database") == "postgres":
        container.with_postgres(image=option(pytestconfig, "genropy_postgres_image"))
    started = time.monotonic()
    with container:
        STARTS.append((container.site_name, "reused" if container.reused else "started", time.monotonic() - started))
        isolated = option(pytestconfig, "genropy_isolation") == "test"
        container.database_state = DatabaseState(container, isolated)
        if isolated:
            if container.reused:  # its snapshot was taken by the run that started it
                container.database_state.dirty = True
            else:
                container.snapshot_database()
        yield container


@pytest.fixture(autouse=True)
def _genropy_database_isolation(request: pytest.FixtureRequest) -> None:
    """Before a test that uses the site: the database as it was after start (if a test ran since)."""
    if SITE_FIXTURES.isdisjoint(request.fixturenames):
        return
    request.getfixturevalue("genropy_site").database_state.before_test()


@pytest.fixture(scope="session")
def genropy_admin(genropy_site: GenropyAsgiContainer) -> GenropyAdmin:
    """The admin login of the site's container (``.user``, ``.password``)."""
    return genropy_site.admin


@pytest.fixture
def genropy_client(genropy_site: GenropyAsgiContainer) -> Iterator[GenropyClient]:
    with genropy_site.client() as client:
        yield client


@pytest.fixture
def genropy_page(genropy_site: GenropyAsgiContainer) -> Iterator[Callable[..., GenropyPage]]:
    """``genropy_page(path="/index", login=False)``: a page in a fresh client; ``login=True``
    logs in as the admin first, ``login=(user, password)`` as that user."""
    clients: list[GenropyClient] = []

    def open_page(path: str = "/index", login: bool | tuple[str, str] = False) -> GenropyPage:
        client = genropy_site.client()
        clients.append(client)
        if login:
            user, password = (genropy_site.admin.user, genropy_site.admin.password) if login is True else login
            client.login(user, password, page=path)
        return client.page(path)

    yield open_page
    for client in clients:
        client.close()


@pytest.fixture
def genropy_exec(genropy_site: GenropyAsgiContainer) -> Callable[..., ExecResult]:
    """``genropy_exec("gnr", "db", "checkdb", check=True)``: a command in the site container,
    with GenroPy's configuration; returns ``.returncode`` and ``.output``."""

    def run(*argv: str, check: bool = True) -> ExecResult:
        return genropy_site.exec_in_site(list(argv), check=check)

    return run


class SiteBrowser:
    """Chromium on the site: ``open(path)`` loads a page (a ``PageLoad``), ``evaluate`` and
    ``wait_for`` run JavaScript in it; ``base_url`` is the site's."""

    def __init__(self, chromium: Any, base_url: str) -> None:
        self.chromium, self.base_url = chromium, base_url

    def open(self, path: str = "/index") -> Any:
        return self.chromium.load(self.base_url + "/" + path.lstrip("/"))

    def evaluate(self, expression: str) -> Any:
        return self.chromium.evaluate(expression)

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        return self.chromium.wait_for(expression, timeout)


@pytest.fixture(scope="session")
def _genropy_chromium() -> Iterator[Any]:
    from genropy_asgi.testing.devtools import Chromium

    with Chromium() as chromium:
        yield chromium


@pytest.fixture
def genropy_browser(genropy_site: GenropyAsgiContainer, _genropy_chromium: Any) -> SiteBrowser:
    """Headless Chromium (``GENROPY_CHROMIUM``, default the system's) on the site; cookies
    and cache cleared before each test."""
    _genropy_chromium.clear_cache()
    return SiteBrowser(_genropy_chromium, genropy_site.get_url())
