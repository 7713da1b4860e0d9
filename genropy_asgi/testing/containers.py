"""testcontainers for GenroPy sites served by the genropy-asgi image.

    from genropy_asgi.testing.containers import GenropyAsgiContainer

    with GenropyAsgiContainer(project_dir="path/to/myproject", site_name="mysite").with_postgres() as site:
        page = site.client().page("/index")

``GenropyAsgiContainer`` is a testcontainers ``DockerContainer``: it copies your GenroPy
project into a volume of its own (your folder is never written to), serves the site named
``site_name``, optionally next to a PostgreSQL container on a private network
(``with_postgres()``, password handed over as a file), and waits with the ``GenropyReady``
wait strategy until ``/_server/ready`` answers 200; if the site does not come up, the
exception carries the container's last log lines. Ports are published on 127.0.0.1 when
the Docker engine is local; names and labels can be set (``name=``, ``with_labels``).
Containers, network and volume are removed on exit, even when a test fails; with
``reuse=True`` they are kept and found again by the next run with the same inputs.

Around the site: ``with_admin()`` (a GenroPy admin login with a generated password,
``.admin``), ``exec_in_site()`` (a command with the programs' GenroPy configuration),
``snapshot_database()`` / ``restore_database()`` (the per-test isolation of the pytest
plugin: PostgreSQL's tables copied aside and back, or a copy of the SQLite files),
``with_valkey()`` (the site's register in a Valkey container of its own,
``GENROPY_REGISTER=redis``: what several workers or pods share; ``.valkey``).

Images: ``GENROPY_ASGI_IMAGE`` (default ``genropy-asgi:latest``) and
``GENROPY_ASGI_POSTGRES_IMAGE`` (default ``postgres:17``, or ``genropy-asgi/postgres:17-trixie`` that
``scripts/bootstrap-images`` makes when only that one is here). An image that is neither
local nor pullable is a clear error saying what to build or set; so is testcontainers'
reaper (Ryuk) when its image can't be had.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import secrets
import shlex
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from genropy_asgi import settings
from genropy_asgi.testing.wait import GenropyReady, GenropySiteDidNotStart, last_log_lines

__all__ = ["GenropyAsgiContainer", "GenropyAdmin", "GenropyImageMissing", "GenropySiteDidNotStart",
           "GenropyExecFailed", "ReaperUnavailable"]

DEFAULT_IMAGE = settings.setting("GENROPY_ASGI_IMAGE").default
DEFAULT_POSTGRES_IMAGE = settings.setting("GENROPY_ASGI_POSTGRES_IMAGE").default
BOOTSTRAPPED_POSTGRES_IMAGE = "genropy-asgi/postgres:17-trixie"  # scripts/bootstrap-images (no registry)
VALKEY_CONFIG = ('printf "requirepass %s\\nappendonly yes\\ndir /data\\nprotected-mode no\\n" "$VALKEY_PASSWORD" '
                 '> /tmp/valkey.conf && exec valkey-server /tmp/valkey.conf')  # the password never an argument
CONTAINER_PORT = settings.WEB_PORT
METRICS_PORT = settings.setting("GENROPY_METRICS_PORT").default
GENROPY_HOME = settings.setting("GENROPY_HOME").default
PROJECTS_IN_CONTAINER = "/srv/projects"
SECRETS_IN_CONTAINER = "/srv/secrets"
SNAPSHOT_IN_CONTAINER = "/tmp/genropy-test-snapshot"
SNAPSHOT_SCHEMA = "genropy_test_snapshot"  # in the site's PostgreSQL database: copies of its tables
# A copy of every table (and the sequences' positions) in SNAPSHOT_SCHEMA; restoring empties
# the tables and copies the rows back in one transaction, foreign keys and triggers off
# (session_replication_role: the testcontainers user is a superuser). Measured faster than a
# template database (bench section "testing"): a small database's DELETEs beat a file copy.
PG_SNAPSHOT = rf"""
DROP SCHEMA IF EXISTS {SNAPSHOT_SCHEMA} CASCADE;
CREATE SCHEMA {SNAPSHOT_SCHEMA};
CREATE TABLE {SNAPSHOT_SCHEMA}._tables (nspname name, relname name, copy name, nonempty boolean);
CREATE TABLE {SNAPSHOT_SCHEMA}._sequences (nspname name, relname name, last_value bigint, is_called boolean);
DO $$
DECLARE r record; n integer := 0; nonempty boolean;
BEGIN
  FOR r IN SELECT ns.nspname, c.relname FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND ns.nspname <> '{SNAPSHOT_SCHEMA}'
             AND ns.nspname <> 'information_schema' AND ns.nspname NOT LIKE 'pg\_%' LOOP
    n := n + 1;
    EXECUTE format('CREATE TABLE {SNAPSHOT_SCHEMA}.%I AS SELECT * FROM %I.%I', 't' || n, r.nspname, r.relname);
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM {SNAPSHOT_SCHEMA}.%I)', 't' || n) INTO nonempty;
    INSERT INTO {SNAPSHOT_SCHEMA}._tables VALUES (r.nspname, r.relname, 't' || n, nonempty);
  END LOOP;
  INSERT INTO {SNAPSHOT_SCHEMA}._sequences
    SELECT schemaname, sequencename, last_value, last_value IS NOT NULL FROM pg_sequences
    WHERE schemaname <> '{SNAPSHOT_SCHEMA}';
END $$;
"""
PG_RESTORE = f"""
SET LOCAL session_replication_role = replica;
SET LOCAL lock_timeout = '20s';
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM {SNAPSHOT_SCHEMA}._tables LOOP
    EXECUTE format('DELETE FROM %I.%I', r.nspname, r.relname);
    IF r.nonempty THEN
      EXECUTE format('INSERT INTO %I.%I OVERRIDING SYSTEM VALUE SELECT * FROM {SNAPSHOT_SCHEMA}.%I',
                     r.nspname, r.relname, r.copy);
    END IF;
  END LOOP;
  FOR r IN SELECT * FROM {SNAPSHOT_SCHEMA}._sequences LOOP
    IF r.is_called THEN
      PERFORM setval(format('%I.%I', r.nspname, r.relname), r.last_value, true);
    ELSE
      EXECUTE format('ALTER SEQUENCE %I.%I RESTART', r.nspname, r.relname);
    END IF;
  END LOOP;
END $$;
"""
IMAGE_UID, IMAGE_GID = 10001, 0
SKIPPED_IN_PROJECTS = {"__pycache__", ".git", ".venv", "node_modules", ".pytest_cache"}
SKIPPED_IN_INSTANCES = {"data", "site"}
LABEL = "org.genropy-asgi.testing"  # every container, network and volume this module makes
REUSE_LABEL = f"{LABEL}.reuse"  # the inputs' hash of a container kept for the next run
PROJECT_LABEL = f"{LABEL}.project"  # the project folder's absolute path: whose containers these are
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class GenropyImageMissing(RuntimeError):
    """The image is not local and cannot be pulled."""


class ReaperUnavailable(RuntimeError):
    """testcontainers' reaper (Ryuk) is on and its image can't be had."""


class GenropyExecFailed(AssertionError):
    """A command run in the site container exited non-zero (its output in the message)."""


@dataclass(frozen=True)
class GenropyAdmin:
    """The admin login the container defines (``GNR_ADMIN_USER`` / ``GNR_ADMIN_PASSWORD``)."""

    user: str
    password: str


@dataclass(frozen=True)
class ExecResult:
    """What a command run in the site container gave back."""

    returncode: int
    output: str


def local_image(client: Any, official: str, bootstrapped: str) -> str:
    """``official`` when this engine has it; else ``bootstrapped`` (``scripts/bootstrap-images``, machines
    with no registry) when that one is here; else ``official`` (pulled at start)."""
    import docker.errors

    for name in (official, bootstrapped):
        try:
            client.images.get(name)
            return name
        except docker.errors.ImageNotFound:
            continue
    return official


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


def reaper_or_explain(client: Any) -> None:
    """With Ryuk on (testcontainers' default), its image must be there: else say what to do
    instead of docker's raw pull error."""
    if testcontainers_config.ryuk_disabled:
        return
    try:
        image_or_explain(client, testcontainers_config.ryuk_image, "RYUK_CONTAINER_IMAGE", "")
    except GenropyImageMissing as exc:
        raise ReaperUnavailable(
            f"testcontainers' reaper (Ryuk) is on but its image {testcontainers_config.ryuk_image!r} can't be "
            f"pulled here: set TESTCONTAINERS_RYUK_DISABLED=true (genropy_asgi.testing removes its containers, "
            f"network and volume itself, even when a test fails), or make that image available "
            f"(RYUK_CONTAINER_IMAGE names another)") from exc.__cause__


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


def project_tree(source: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    """``(folder relative to source, its sub-folders, its files)`` of what is copied of a
    project: no VCS, venvs, caches, compiled files or an instance's previous data/site."""
    for folder, dirs, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_IN_PROJECTS
                         and not (relative.parent.name == "instances" and d in SKIPPED_IN_INSTANCES))
        yield relative, dirs, sorted(name for name in files if not name.endswith(".pyc"))


def project_archive(source: Path, destination: str) -> bytes:
    """The project as one tar for ``destination``, owned by the image's user (GenroPy writes
    the instance's data/ and site/)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        def add_dir(path: str) -> None:
            info = tarfile.TarInfo(path.lstrip("/"))
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o775, IMAGE_UID, IMAGE_GID
            tar.addfile(info)

        add_dir(destination)
        for relative, dirs, files in project_tree(source):
            for name in dirs:
                add_dir(f"{destination}/{relative / name}")
            for name in files:
                data = (source / relative / name).read_bytes()
                info = tarfile.TarInfo(f"{destination}/{relative / name}".lstrip("/"))
                info.size, info.mode, info.uid, info.gid = len(data), 0o664, IMAGE_UID, IMAGE_GID
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tree_digest(source: Path) -> str:
    """A hash of the project's files as ``project_archive`` copies them (the reuse key)."""
    digest = hashlib.sha256()
    for relative, _dirs, files in project_tree(source):
        for name in files:
            digest.update(f"{relative / name}\0".encode())
            digest.update(hashlib.sha256((source / relative / name).read_bytes()).digest())
    return digest.hexdigest()


def adopt_container(container: DockerContainer, running: Any) -> None:
    """Make a testcontainers ``DockerContainer`` drive an existing docker-py container (a
    reused one): testcontainers keeps it in ``_container`` and has no public setter; this is
    the one place that relies on it (tests/compat/test_testcontainers_upstream.py)."""
    container._container = running


def wrapped_or_none(container: DockerContainer) -> Any:
    """The docker-py container of a testcontainers one, ``None`` before start/after stop."""
    from testcontainers.core.exceptions import ContainerStartException

    try:
        return container.get_wrapped_container()
    except ContainerStartException:
        return None


class GenropyAsgiContainer(DockerContainer):
    """A GenroPy site on genropy-asgi, in a container; see the module docstring."""

    def __init__(self, image: str | None = None, project_dir: str | os.PathLike[str] | None = None,
                 site_name: str = "demo", env: dict[str, str] | None = None, ready_timeout: float = 180,
                 port: int = CONTAINER_PORT, requirements: str = "install", bind_address: str | None = None,
                 labels: dict[str, str] | None = None, reuse: bool = False, **kwargs: Any) -> None:
        self.site_image = image or os.environ.get("GENROPY_ASGI_IMAGE") or DEFAULT_IMAGE
        super().__init__(self.site_image, **kwargs)
        named = inspect.signature(DockerContainer.__init__).parameters
        self.create_options = {k: v for k, v in kwargs.items() if k not in named}  # docker-py's create(...)
        self.project_dir = Path(project_dir).resolve() if project_dir else None
        self.site_name = site_name
        self.ready_timeout = ready_timeout
        self.postgres: Any = None
        self.valkey: Any = None
        self.network: Network | None = None
        self.admin: GenropyAdmin | None = None
        self.reuse = reuse
        self.reused = False  # True when start() found a running container of a previous run
        self.port = port
        self.metrics_port = METRICS_PORT
        self.bind_address = bind_address
        self.labels = {LABEL: "site", **(labels or {})}
        if self.project_dir is not None:  # a user's kept containers are found by their project, not everyone's
            self.labels[PROJECT_LABEL] = str(self.project_dir)
        self.secret_values: dict[str, str] = {}
        self.projects_volume: Any = None
        self.with_exposed_ports(port, self.metrics_port)
        self.with_env("GNR_CURRENT_SITE", site_name)
        if requirements not in ("install", "check"):
            raise ValueError(f"requirements={requirements!r}: expected install or check")
        # the packages' requirements.txt: installed at start (cached in the container), or only checked
        self.with_env("GENROPY_PROJECT_REQUIREMENTS", requirements)
        if self.project_dir is not None:
            if not (self.project_dir / "instances" / site_name).is_dir():
                raise ValueError(f"project_dir {self.project_dir}: no instances/{site_name} in it")
            self.with_env("GENROPY_PROJECTS", PROJECTS_IN_CONTAINER)
        for key, value in (env or {}).items():
            self.with_env(key, value)
        self.waiting_for(GenropyReady(port, f"GenroPy site {site_name!r} in {self.site_image}")
                         .with_startup_timeout(ready_timeout))

    # -- configuration ------------------------------------------------------------
    def with_labels(self, **labels: str) -> GenropyAsgiContainer:
        """Docker labels on the site's container (and its PostgreSQL, network and volume)."""
        self.labels.update(labels)
        return self

    def with_kwargs(self, **kwargs: Any) -> GenropyAsgiContainer:
        """docker-py ``create`` options (``mem_limit``…); the labels are merged in at start."""
        self.create_options = dict(kwargs)
        return super().with_kwargs(**kwargs)

    def with_secret(self, variable: str, value: str) -> GenropyAsgiContainer:
        """Hand a secret over as a file (``VARIABLE_FILE``): never in env, argv or logs.
        The file is readable by the image's group (GID 0), as a Kubernetes secret would be."""
        path = f"{SECRETS_IN_CONTAINER}/{variable.lower()}"
        self.secret_values[variable] = value
        self.with_copy_into_container(value.encode(), path, 0o440)
        return self.with_env(f"{variable}_FILE", path)

    def with_file(self, path: str, content: str | bytes, mode: int = 0o444) -> GenropyAsgiContainer:
        """Put a file into the container before it starts (e.g. ``/etc/genropy/siteconfig.xml``)."""
        return self.with_copy_into_container(content.encode() if isinstance(content, str) else content, path, mode)

    def with_admin(self, user: str = "admin", password: str | None = None) -> GenropyAsgiContainer:
        """Define GenroPy's admin login (``GNR_ADMIN_USER``, a generated ``GNR_ADMIN_PASSWORD``
        handed over as a file); ``self.admin`` has ``.user`` and ``.password``. Beside a project's own
        ``xml_auth`` user of that name the login is the free name the image gives it (``admin2``)."""
        password = password or "Admin-" + secrets.token_urlsafe(12)
        user = self.free_admin_name(user)
        self.admin = GenropyAdmin(user, password)
        self.with_env("GNR_ADMIN_USER", user)
        return self.with_secret("GNR_ADMIN_PASSWORD", password)

    def free_admin_name(self, user: str) -> str:
        """``user``, or the free name the image would give it beside the project's own ``xml_auth``
        user of that name (``genropy_asgi.container.admin_login``)."""
        from genropy_asgi.container.admin_login import INSTANCECONFIG_PLACES, admin_login, instance_xml_users

        if self.project_dir is None:
            return user
        for place in INSTANCECONFIG_PLACES:
            config = self.project_dir / "instances" / self.site_name / place
            if config.is_file():
                return admin_login(user, instance_xml_users(config.read_text(encoding="utf-8")))
        return user

    def with_postgres(self, image: str | None = None, user: str = "genropy") -> GenropyAsgiContainer:
        """Serve the site from a PostgreSQL container of its own, on a private network.

        The database is the one the instance names (``<db dbname=...>``): the image's
        ``gnr db setup`` creates it. ``self.postgres`` is the PostgreSQL container.
        """
        from testcontainers.community.postgres import PostgresContainer

        password = secrets.token_urlsafe(16)
        pg_image = image or os.environ.get("GENROPY_ASGI_POSTGRES_IMAGE") or local_image(
            self.get_docker_client().client, DEFAULT_POSTGRES_IMAGE, BOOTSTRAPPED_POSTGRES_IMAGE)
        if self.network is None:
            self.network = Network(docker_network_kw={"labels": self.labels})
        self.postgres = PostgresContainer(pg_image, username=user, password=password, dbname="postgres", driver=None)
        self.postgres.with_network(self.network).with_network_aliases("postgres")
        self.with_network(self.network)
        self.with_env("GNR_DB_IMPLEMENTATION", "postgres")
        self.with_env("GNR_DB_HOST", "postgres")
        self.with_env("GNR_DB_USER", user)
        return self.with_secret("GNR_DB_PASSWORD", password)

    def with_valkey(self, image: str | None = None) -> GenropyAsgiContainer:
        """Keep the site's register in a Valkey container of its own (``GENROPY_REGISTER=redis``),
        on the site's private network: what several workers (``GENROPY_WORKERS``) or pods share.
        Its password and the register's signing key are handed over as files. ``self.valkey``."""
        from genropy_asgi.testing.topology import local_valkey_image

        password = secrets.token_urlsafe(16)
        client = self.get_docker_client().client
        valkey_image = image or os.environ.get("GENROPY_ASGI_VALKEY_IMAGE") or local_valkey_image(client)
        if self.network is None:
            self.network = Network(docker_network_kw={"labels": self.labels})
        self.valkey = (DockerContainer(valkey_image).with_env("VALKEY_PASSWORD", password)
                       .with_kwargs(entrypoint=["sh", "-c"]).with_command([VALKEY_CONFIG])
                       .with_network(self.network).with_network_aliases("valkey"))
        self.with_network(self.network)
        self.with_env("GENROPY_REGISTER", "redis")
        self.with_env("GENROPY_REDIS_URL", "redis://valkey:6379/0")
        self.with_secret("GNR_DAEMON_HMAC_KEY", secrets.token_hex(24))
        return self.with_secret("GENROPY_REDIS_PASSWORD", password)

    # -- lifecycle ----------------------------------------------------------------
    def reuse_key(self) -> str:
        """What identifies a reusable container: the image's id, the project's files, the site,
        the environment (secrets by name only), PostgreSQL's image."""
        client = self.get_docker_client().client
        parts = {"image": client.images.get(self.site_image).id, "site": self.site_name,
                 "project": tree_digest(self.project_dir) if self.project_dir else None,
                 "env": {k: ("<secret>" if k.removesuffix("_FILE") in self.secret_values else v)
                         for k, v in sorted(self.env.items())},
                 "postgres": self.postgres.image if self.postgres is not None else None,
                 "valkey": self.valkey.image if self.valkey is not None else None,
                 "admin": self.admin.user if self.admin else None}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]

    def start(self) -> GenropyAsgiContainer:
        client = self.get_docker_client().client
        image_or_explain(client, self.site_image, "GENROPY_ASGI_IMAGE",
                         f"build it with 'docker build -t {self.site_image} .' in the genropy-asgi repository")
        if self.reuse and self._adopt_previous(client):
            return self
        reaper_or_explain(client)
        if self.bind_address is None:
            self.bind_address = "127.0.0.1" if self.engine_is_local() else ""
        if self.bind_address:
            for port in (self.port, self.metrics_port):
                self.ports[str(port)] = (self.bind_address,)  # docker-py: this address, a free port
        labels = dict(self.labels)
        if self.reuse:
            labels[REUSE_LABEL] = self.reuse_key()
        super().with_kwargs(**{**self.create_options, "labels": {**self.create_options.get("labels", {}), **labels}})
        try:
            if self.network is not None:
                self.network.create()
            if self.postgres is not None:
                image_or_explain(client, self.postgres.image, "GENROPY_ASGI_POSTGRES_IMAGE",
                                 "build an air-gapped one with scripts/bootstrap-images")
                self.postgres.with_kwargs(labels={**labels, LABEL: "postgres"})
                self.postgres.start()
            if self.valkey is not None:
                image_or_explain(client, self.valkey.image, "GENROPY_ASGI_VALKEY_IMAGE",
                                 "build an air-gapped one with scripts/bootstrap-images")
                self.valkey.with_kwargs(entrypoint=["sh", "-c"], labels={**labels, LABEL: "valkey"})
                self.valkey.start()
            if self.project_dir is not None:
                self._seed_projects_volume(client, labels)
            super().start()
        except BaseException:
            self.remove()  # even with reuse: a container that did not start is not kept
            raise
        return self

    def engine_is_local(self) -> bool:
        """Published ports on loopback only when the tests reach the engine's host there."""
        docker_client = self.get_docker_client()
        return docker_client.get_connection_mode().name == "docker_host" and docker_client.host() in LOOPBACK_HOSTS

    def _seed_projects_volume(self, client: Any, labels: dict[str, str]) -> None:
        """The project into a volume of its own, owned by the image's user: written through a
        helper container that never starts (docker-py's public ``put_archive``)."""
        self.projects_volume = client.volumes.create(labels={**labels, LABEL: "projects"})
        helper = client.containers.create(self.site_image, command=["true"], labels={**labels, LABEL: "seed"},
                                          volumes={self.projects_volume.name: {"bind": PROJECTS_IN_CONTAINER,
                                                                               "mode": "rw"}})
        try:
            archive = project_archive(self.project_dir, f"{PROJECTS_IN_CONTAINER}/{self.project_dir.name}")
            if not helper.put_archive("/", archive):
                raise OSError(f"could not copy {self.project_dir} into the projects volume")
        finally:
            helper.remove(force=True)
        self.with_volume_mapping(self.projects_volume.name, PROJECTS_IN_CONTAINER, "rw")

    def _adopt_previous(self, client: Any) -> bool:
        """``reuse``: take over the running site (and its PostgreSQL) a previous run left
        with the same inputs; remove those left with other inputs. True if one was taken."""
        key = self.reuse_key()
        found = None
        for container in client.containers.list(all=True, filters={"label": REUSE_LABEL}):
            wanted = container.labels.get(REUSE_LABEL) == key and container.status == "running"
            if wanted and found is None and container.labels.get(LABEL) == "site":
                found = container
            elif not wanted:
                self.remove_kept(client, container)
        if found is None:
            return False
        adopt_container(self, found)
        try:
            self._wait_strategy.wait_until_ready(self)
        except GenropySiteDidNotStart:
            self.remove()
            return False
        if self.postgres is not None:
            twins = client.containers.list(filters={"label": [f"{REUSE_LABEL}={key}", f"{LABEL}=postgres"]})
            if not twins:
                self.remove()
                return False
            adopt_container(self.postgres, twins[0])
        if self.valkey is not None:
            twins = client.containers.list(filters={"label": [f"{REUSE_LABEL}={key}", f"{LABEL}=valkey"]})
            if not twins:
                self.remove()
                return False
            adopt_container(self.valkey, twins[0])
        for variable in self.secret_values:  # the kept container's, not this run's fresh ones
            value = self.exec_in_site(["cat", f"{SECRETS_IN_CONTAINER}/{variable.lower()}"]).output
            self.secret_values[variable] = value
            if variable == "GNR_ADMIN_PASSWORD" and self.admin is not None:
                self.admin = GenropyAdmin(self.admin.user, value)
        self.reused = True
        return True

    @staticmethod
    def remove_kept(client: Any, container: Any) -> None:
        """A kept container (``reuse``), with its network and volumes."""
        networks = list(container.attrs.get("NetworkSettings", {}).get("Networks", {}))
        mounts = [m["Name"] for m in container.attrs.get("Mounts", []) if m.get("Type") == "volume"]
        container.remove(force=True, v=True)
        for name in networks:
            for network in client.networks.list(names=[name], filters={"label": LABEL}):
                try:
                    network.remove()
                except Exception:  # still used by its other container: removed with it
                    pass
        for name in mounts:
            try:
                client.volumes.get(name).remove(force=True)
            except Exception:
                pass

    def stop(self, force: bool = True, delete_volume: bool = True) -> None:
        """Remove the site container, then PostgreSQL, the network and the projects volume;
        idempotent, each step runs even if an earlier one failed. With ``reuse`` everything
        is kept for the next run (``remove()`` removes it)."""
        if self.reuse:
            return
        self.remove()

    def remove(self) -> None:
        errors = []
        for step in (self._stop_site, self._stop_postgres, self._stop_valkey, self._remove_network,
                     self._remove_volume):
            try:
                step()
            except Exception as exc:  # keep cleaning up
                errors.append(exc)
        if errors:
            raise errors[0]

    def _stop_site(self) -> None:
        if wrapped_or_none(self) is not None:
            super().stop()
            adopt_container(self, None)

    def _stop_postgres(self) -> None:
        if self.postgres is not None and wrapped_or_none(self.postgres) is not None:
            self.postgres.stop()
            adopt_container(self.postgres, None)

    def _stop_valkey(self) -> None:
        if self.valkey is not None and wrapped_or_none(self.valkey) is not None:
            self.valkey.stop()
            adopt_container(self.valkey, None)

    def _remove_network(self) -> None:
        if self.network is not None:
            client = self.get_docker_client().client
            for network in client.networks.list(names=[self.network.name]):
                network.remove()

    def _remove_volume(self) -> None:
        if self.projects_volume is not None:
            self.projects_volume.remove(force=True)
            self.projects_volume = None

    # -- in the container -----------------------------------------------------------
    def exec_in_site(self, command: list[str] | str, check: bool = True, user: str | None = None) -> ExecResult:
        """Run ``command`` (argv, or a shell line) in the site container with the GenroPy
        configuration its programs use (``gnr db …``, ``gnr app …`` work as in the image);
        ``GenropyExecFailed`` with its output if it exits non-zero and ``check``."""
        argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        home = self.env.get("GENROPY_HOME", GENROPY_HOME)
        environment = {"HOME": home, "GENRO_GNRFOLDER": f"{home}/gnr", "GNR_CURRENT_SITE": self.site_name,
                       "TMPDIR": f"{home}/tmp"}
        code, output = self.get_wrapped_container().exec_run(argv, environment=environment, user=user or "")
        result = ExecResult(code, output.decode(errors="replace"))
        if check and code != 0:
            shown = command if isinstance(command, str) else shlex.join(argv)
            raise GenropyExecFailed(f"{shown}: exit {code}\n{result.output[-3000:]}")
        return result

    def site_database(self) -> dict[str, Any]:
        """The site's database as ``/_server/info`` names it (implementation, host, dbname): asked
        from inside the container, since the server shows host and name to loopback clients only."""
        script = ("import json, urllib.request; print(json.dumps(json.load(urllib.request.urlopen("
                  f"'http://127.0.0.1:{self.port}/_server/info', timeout=30))['site_database']))")
        output = self.exec(["python", "-c", script]).output
        return json.loads(output.strip().splitlines()[-1])

    def snapshot_database(self) -> None:
        """Keep the database as it is now, for ``restore_database()``: PostgreSQL a copy of
        every table in the schema ``genropy_test_snapshot`` of the site's database, SQLite a
        copy of the instance's files."""
        database = self.site_database()
        if database["implementation"] == "postgres":
            self._psql(database["dbname"], PG_SNAPSHOT)
        elif database["implementation"] == "sqlite":
            folder = os.path.dirname(database["dbname"])
            self.exec_in_site(f"rm -rf {SNAPSHOT_IN_CONTAINER} && mkdir -p {SNAPSHOT_IN_CONTAINER} && "
                              f"cp -p {shlex.quote(folder)}/*.db {SNAPSHOT_IN_CONTAINER}/")
        else:
            raise NotImplementedError(f"database isolation for {database['implementation']!r}")

    def restore_database(self) -> None:
        """Put the database back as ``snapshot_database()`` kept it (GenroPy closes its
        connections after each request: nothing holds the rows or the files)."""
        database = self.site_database()
        if database["implementation"] == "postgres":
            self._psql(database["dbname"], PG_RESTORE)
        else:
            folder = shlex.quote(os.path.dirname(database["dbname"]))
            self.exec_in_site(f"for f in {SNAPSHOT_IN_CONTAINER}/*.db; do cp -p \"$f\" {folder}/.restore.tmp && "
                              f"mv -f {folder}/.restore.tmp {folder}/$(basename \"$f\"); done; "
                              f"rm -f {folder}/*.db-journal {folder}/*.db-wal {folder}/*.db-shm")

    def _psql(self, database: str, script: str) -> None:
        """``script`` in one transaction on ``database`` in the PostgreSQL container."""
        argv = ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-1", "-U", self.postgres.username, "-d", database,
                "-c", script]
        code, output = self.postgres.get_wrapped_container().exec_run(argv)
        if code != 0:
            raise GenropyExecFailed(f"psql in the PostgreSQL container: exit {code}\n{output.decode(errors='replace')}")

    def logs_tail(self, lines: int = 60) -> str:
        container = wrapped_or_none(self)
        return last_log_lines(container, lines) if container is not None else ""

    # -- accessors ----------------------------------------------------------------
    def get_container_host_ip(self) -> str:
        host = super().get_container_host_ip()
        # published on 127.0.0.1 only: "localhost" may resolve to ::1 first
        return "127.0.0.1" if self.bind_address == "127.0.0.1" and host == "localhost" else host

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

    def client(self, **kwargs: Any):
        """A ``GenropyClient`` on the site (a new cookie jar): ``site.client().page("/index")``."""
        from genropy_asgi.testing.client import GenropyClient

        return GenropyClient(self.get_url(), **kwargs)
