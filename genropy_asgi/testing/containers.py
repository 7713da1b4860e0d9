"""testcontainers for GenroPy sites served by the genropy-asgi image.

    from genropy_asgi.testing.containers import GenropyAsgiContainer

    with GenropyAsgiContainer(project_dir="path/to/myproject", site_name="mysite").with_postgres() as site:
        response = httpx.get(site.get_url() + "/index")

``GenropyAsgiContainer`` is a testcontainers ``DockerContainer``: it copies your
GenroPy project into the container (your folder is never written to), serves the
site named ``site_name``, optionally next to a PostgreSQL container on a private
network (``with_postgres()``, password handed over as a file), and waits until
``/_server/ready`` answers 200. If the site does not come up, the exception carries
the container's last log lines; networks and containers are removed on exit, even
when a test fails.

Images: ``GENROPY_ASGI_IMAGE`` (default ``genropy-asgi:latest``) and
``GENROPY_ASGI_POSTGRES_IMAGE`` (default ``postgres:17``). An image that is neither
local nor pullable is a clear error saying what to build or set. Set
``TESTCONTAINERS_RYUK_DISABLED=true`` where the reaper image cannot be pulled.
"""

from __future__ import annotations

import io
import os
import secrets
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from genropy_asgi import settings

DEFAULT_IMAGE = settings.setting("GENROPY_ASGI_IMAGE").default
DEFAULT_POSTGRES_IMAGE = settings.setting("GENROPY_ASGI_POSTGRES_IMAGE").default
CONTAINER_PORT = settings.WEB_PORT
METRICS_PORT = settings.setting("GENROPY_METRICS_PORT").default
PROJECTS_IN_CONTAINER = "/srv/projects"
SECRETS_IN_CONTAINER = "/srv/secrets"
IMAGE_UID, IMAGE_GID = 10001, 0
SKIPPED_IN_PROJECTS = {"__pycache__", ".git", ".venv", "node_modules"}
SKIPPED_IN_INSTANCES = {"data", "site"}


class GenropyImageMissing(RuntimeError):
    """The image is not local and cannot be pulled."""


class GenropySiteDidNotStart(RuntimeError):
    """The site never became ready; the message ends with the container's last log lines."""


def image_or_explain(client: Any, image: str, variable: str, how_to_build: str) -> None:
    """Make sure ``image`` is local (pulling it if needed) or raise a clear error."""
    import docker.errors

    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.pull(image)
    except docker.errors.APIError as exc:
        reason = " ".join(str(exc).split())[:200]
        raise GenropyImageMissing(f"image {image!r} is not available locally and could not be pulled "
                                  f"({reason}): {how_to_build}, or set {variable} to an image you have") from exc


def remove_all(containers: list, network: Any = None, volumes: tuple = ()) -> None:
    """Remove docker-py containers (newest first, with their anonymous volumes), then the
    network and the named volumes; what is already gone is skipped."""
    for container in reversed(containers):
        try:
            container.remove(force=True, v=True)
        except Exception:  # already gone
            pass
    if network is not None:
        network.remove()
    for volume in volumes:
        volume.remove(force=True)


class _Archive:
    """Files to put into the container as one tar, owned by the image's user."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buffer, mode="w")

    def add_dir(self, path: str) -> None:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o775, IMAGE_UID, IMAGE_GID
        self.tar.addfile(info)

    def add_bytes(self, path: str, data: bytes, mode: int = 0o664) -> None:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size, info.mode, info.uid, info.gid = len(data), mode, IMAGE_UID, IMAGE_GID
        self.tar.addfile(info, io.BytesIO(data))

    def add_tree(self, source: Path, destination: str) -> None:
        self.add_dir(destination)
        for folder, dirs, files in os.walk(source):
            relative = Path(folder).relative_to(source)
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_IN_PROJECTS
                             and not (relative.parent.name == "instances" and d in SKIPPED_IN_INSTANCES))
            for name in dirs:
                self.add_dir(f"{destination}/{relative / name}")
            for name in sorted(files):
                if not name.endswith(".pyc"):
                    self.add_bytes(f"{destination}/{relative / name}", (Path(folder) / name).read_bytes())

    def data(self) -> bytes:
        self.tar.close()
        return self.buffer.getvalue()


class GenropyAsgiContainer(DockerContainer):
    """A GenroPy site on genropy-asgi, in a container; see the module docstring."""

    def __init__(self, image: str | None = None, project_dir: str | os.PathLike[str] | None = None,
                 site_name: str = "demo", env: dict[str, str] | None = None, ready_timeout: float = 180,
                 port: int = CONTAINER_PORT, requirements: str = "install", **kwargs: Any) -> None:
        self.site_image = image or os.environ.get("GENROPY_ASGI_IMAGE") or DEFAULT_IMAGE
        super().__init__(self.site_image, **kwargs)
        self.project_dir = Path(project_dir).resolve() if project_dir else None
        self.site_name = site_name
        self.ready_timeout = ready_timeout
        self.postgres: Any = None
        self.network: Network | None = None
        self._archive = _Archive()
        self._archive_used = False
        self._secrets_dir_added = False
        self.port = port
        self.metrics_port = METRICS_PORT
        self.with_exposed_ports(port, self.metrics_port)
        self.with_env("GNR_CURRENT_SITE", site_name)
        if requirements not in ("install", "check"):
            raise ValueError(f"requirements={requirements!r}: expected install or check")
        # the packages' requirements.txt: installed at start (cached in the container), or only checked
        self.with_env("GENROPY_PROJECT_REQUIREMENTS", requirements)
        if self.project_dir is not None:
            if not (self.project_dir / "instances" / site_name).is_dir():
                raise ValueError(f"project_dir {self.project_dir}: no instances/{site_name} in it")
            self._archive.add_dir(PROJECTS_IN_CONTAINER)
            self._archive.add_tree(self.project_dir, f"{PROJECTS_IN_CONTAINER}/{self.project_dir.name}")
            self._archive_used = True
            self.with_env("GENROPY_PROJECTS", PROJECTS_IN_CONTAINER)
        for key, value in (env or {}).items():
            self.with_env(key, value)

    # -- configuration ------------------------------------------------------------
    def with_secret(self, variable: str, value: str) -> "GenropyAsgiContainer":
        """Hand a secret over as a file (``VARIABLE_FILE``): never in env, argv or logs."""
        self._archive_used = True
        if not self._secrets_dir_added:
            self._archive.add_dir(SECRETS_IN_CONTAINER)
            self._secrets_dir_added = True
        path = f"{SECRETS_IN_CONTAINER}/{variable.lower()}"
        self._archive.add_bytes(path, value.encode(), mode=0o440)
        return self.with_env(f"{variable}_FILE", path)

    def with_file(self, path: str, content: str | bytes, mode: int = 0o444) -> "GenropyAsgiContainer":
        """Put a file into the container before it starts (e.g. ``/etc/genropy/siteconfig.xml``).

        Its folder must exist in the image: no directory entry is added, since extracting
        one over an existing folder (``/etc``) would change that folder's owner.
        """
        self._archive_used = True
        self._archive.add_bytes(path, content.encode() if isinstance(content, str) else content, mode=mode)
        return self

    def with_postgres(self, image: str | None = None, user: str = "genropy") -> "GenropyAsgiContainer":
        """Serve the site from a PostgreSQL container of its own, on a private network.

        The database is the one the instance names (``<db dbname=...>``): the image's
        ``gnr db setup`` creates it. ``self.postgres`` is the PostgreSQL container.
        """
        from testcontainers.community.postgres import PostgresContainer

        password = secrets.token_urlsafe(16)
        pg_image = image or os.environ.get("GENROPY_ASGI_POSTGRES_IMAGE") or DEFAULT_POSTGRES_IMAGE
        self.network = Network()
        self.postgres = PostgresContainer(pg_image, username=user, password=password, dbname="postgres", driver=None)
        self.postgres.with_network(self.network).with_network_aliases("postgres")
        self.with_network(self.network)
        self.with_env("GNR_DB_IMPLEMENTATION", "postgres")
        self.with_env("GNR_DB_HOST", "postgres")
        self.with_env("GNR_DB_USER", user)
        return self.with_secret("GNR_DB_PASSWORD", password)

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> "GenropyAsgiContainer":
        client = self.get_docker_client().client
        image_or_explain(client, self.site_image, "GENROPY_ASGI_IMAGE",
                         f"build it with 'docker build -t {self.site_image} .' in the genropy-asgi repository")
        try:
            if self.postgres is not None:
                image_or_explain(client, self.postgres.image, "GENROPY_ASGI_POSTGRES_IMAGE",
                                 "build an air-gapped one with scripts/bootstrap-images")
                self.network.create()
                self.postgres.start()
            if self._archive_used:
                self.with_copy_into_container(b"", "/.genropy-archive")  # placeholder, see below
            super().start()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _transfer_into_container(self, transferable: Any, destination: str, mode: int) -> None:
        if destination == "/.genropy-archive":  # our own tar: ownership and modes preserved
            self._container.put_archive(path="/", data=self._archive.data())
            return
        super()._transfer_into_container(transferable, destination, mode)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            self._container.reload()
            if self._container.status in ("exited", "dead"):
                raise GenropySiteDidNotStart(self._failure(f"the container exited "
                                                           f"({self._container.attrs['State']['ExitCode']})"))
            try:
                with urllib.request.urlopen(self.get_url() + "/_server/ready", timeout=10) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last = f"/_server/ready answered {exc.code}: {exc.read()[:300].decode(errors='replace')}"
            except OSError as exc:
                last = str(exc)
            time.sleep(1)
        raise GenropySiteDidNotStart(self._failure(f"not ready after {self.ready_timeout:g}s ({last})"))

    def _failure(self, what: str) -> str:
        return f"GenroPy site {self.site_name!r} in {self.site_image}: {what}\n--- last log lines ---\n{self.logs_tail()}"

    def logs_tail(self, lines: int = 60) -> str:
        if self._container is None:
            return ""
        return "\n".join(self._container.logs().decode(errors="replace").splitlines()[-lines:])

    def stop(self, force: bool = True, delete_volume: bool = True) -> None:
        """Remove the site container, then PostgreSQL, then the network; idempotent,
        and each step runs even if an earlier one failed."""
        errors = []
        for step in (self._stop_site, self._stop_postgres, self._remove_network):
            try:
                step()
            except Exception as exc:  # keep cleaning up
                errors.append(exc)
        if errors:
            raise errors[0]

    def _stop_site(self) -> None:
        if self._container is not None:
            super().stop()
            self._container = None

    def _stop_postgres(self) -> None:
        if self.postgres is not None and self.postgres._container is not None:
            self.postgres.stop()
            self.postgres._container = None

    def _remove_network(self) -> None:
        if self.network is not None and self.network._network is not None:
            self.network.remove()
            self.network._network = None

    # -- accessors ----------------------------------------------------------------
    def get_url(self) -> str:
        """Base URL of the site from the host, e.g. ``http://127.0.0.1:49153``."""
        return f"http://{self.get_container_host_ip()}:{self.get_exposed_port(self.port)}"

    def get_metrics_url(self) -> str:
        """The container's Prometheus metrics from the host (``GENROPY_METRICS_PORT``, default 9090)."""
        return f"http://{self.get_container_host_ip()}:{self.get_exposed_port(self.metrics_port)}/metrics"

    def get_websocket_url(self) -> str:
        """GenroPy's real-time channel from the host (``ws://.../websocket``), as pages open it."""
        return self.get_url().replace("http://", "ws://", 1) + "/websocket"

    def get_connection_url(self) -> str:
        return self.get_url()
