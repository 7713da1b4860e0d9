"""The deployment's databases: the main ``<db>`` (``GNR_DB_*``) and the remote ones
(``GNR_REMOTEDB_<NAME>_*``, optionally through an SSH tunnel), and what to wait for."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from genropy_asgi import settings
from genropy_asgi.container.sources import PlanError, Secrets, text, whole

IMPLEMENTATIONS = ("sqlite", "postgres")
REMOTEDB_VARIABLE = re.compile(r"^GNR_REMOTEDB_([A-Za-z0-9]+)_(SSH_HOST|SSH_USER|SSH_PASSWORD|SSH_PORT|"
                               r"DB_IMPLEMENTATION|DB_HOST|DB_PORT|DB_NAME|DB_USER|DB_PASSWORD)(_FILE)?$")


@dataclass(frozen=True)
class DbTarget:
    """What to wait for before serving (PostgreSQL only: SQLite is a file)."""

    host: str
    port: int
    name: str | None
    user: str | None
    password: str | None
    timeout: float


def database_attributes(env: Mapping[str, str], secrets: Secrets) -> dict[str, str]:
    """The deployment's ``<db>`` attributes (``GNR_DB_*``); with an implementation they replace the instance's."""
    implementation = text(env, "GNR_DB_IMPLEMENTATION")
    attrs: dict[str, str] = {}
    if implementation:
        attrs["implementation"] = implementation
    for variable, attribute in (("GNR_DB_HOST", "host"), ("GNR_DB_NAME", "dbname"), ("GNR_DB_USER", "user")):
        if env.get(variable):
            attrs[attribute] = env[variable]
    if (env.get("GNR_DB_PORT") or "").strip():
        attrs["port"] = str(whole(env, "GNR_DB_PORT"))
    password = secrets.get("GNR_DB_PASSWORD")
    if password:
        attrs["password"] = password
    if implementation == "postgres":
        for variable in ("GNR_DB_HOST", "GNR_DB_USER"):
            if not env.get(variable):
                raise PlanError(f"{variable} is required when GNR_DB_IMPLEMENTATION=postgres")
    elif implementation is None and any(env.get(v) for v in ("GNR_DB_HOST", "GNR_DB_USER")):
        raise PlanError("GNR_DB_HOST/GNR_DB_USER are set but GNR_DB_IMPLEMENTATION is not: set it to postgres")
    return attrs


def remote_databases(env: Mapping[str, str], secrets: Secrets) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """``<remote_db>`` entries from ``GNR_REMOTEDB_<NAME>_*`` (for ``--remotedb NAME``), and
    the database port each SSH entry forwards.

    GenroPy facts (26.10): the daemon reads ``ssh_host`` as ``user@host`` and takes
    ``ssh_password``, ``ssh_port`` and ``forwarded_host`` (the database host as seen from
    the SSH server) as attributes; the forwarded port is the MAIN ``<db>`` port, and a
    ``port`` on the entry would replace the tunnel's port (tunnel bypassed). So an SSH
    entry carries no ``host``/``port``; without SSH the entry is a plain connection.
    """
    names = sorted({m.group(1) for key in env if (m := REMOTEDB_VARIABLE.match(key))})
    entries: dict[str, dict[str, str]] = {}
    forwarded: dict[str, str] = {}
    for name in names:
        prefix = f"GNR_REMOTEDB_{name}_"

        def value(suffix: str, prefix: str = prefix) -> str:
            return env.get(prefix + suffix, "").strip()

        for required in ("DB_NAME", "DB_USER"):
            if not value(required):
                raise PlanError(f"{prefix}{required} is required for the remote database {name}")
        attrs: dict[str, str] = {
            "implementation": settings.read_as(env, prefix + "DB_IMPLEMENTATION", settings.Choice(*IMPLEMENTATIONS), "postgres"),
            "dbname": value("DB_NAME"), "user": value("DB_USER"),
        }
        db_password = secrets.get(prefix + "DB_PASSWORD")
        if db_password:
            attrs["password"] = db_password
        db_port = str(settings.read_as(env, prefix + "DB_PORT", settings.Port(), 5432))
        if value("SSH_HOST"):
            if not value("SSH_USER"):
                raise PlanError(f"{prefix}SSH_USER is required with {prefix}SSH_HOST")
            attrs["ssh_host"] = f"{value('SSH_USER')}@{value('SSH_HOST')}"
            attrs["ssh_port"] = str(settings.read_as(env, prefix + "SSH_PORT", settings.Port(), 22))
            ssh_password = secrets.get(prefix + "SSH_PASSWORD")
            if ssh_password:
                attrs["ssh_password"] = ssh_password
            attrs["forwarded_host"] = value("DB_HOST") or "127.0.0.1"
            forwarded[name] = db_port
        else:
            if not value("DB_HOST"):
                raise PlanError(f"{prefix}DB_HOST is required for the remote database {name} (or {prefix}SSH_HOST)")
            attrs["host"] = value("DB_HOST")
            attrs["port"] = db_port
        entries[name] = attrs
    return entries, forwarded


def instance_database_problem(instance_db: Mapping[str, str] | None, env: Mapping[str, str]) -> str | None:
    """The one line for an instance whose own ``<db>`` wants PostgreSQL and names no host, when
    ``GNR_DB_IMPLEMENTATION`` replaces nothing: GenroPy would try a local socket the container
    has not got, and fail with a psycopg2 traceback."""
    if (env.get("GNR_DB_IMPLEMENTATION") or "").strip() or not instance_db:
        return None
    implementation = instance_db.get("implementation") or ""
    if not implementation.startswith("postgres") or (instance_db.get("host") or "").strip():
        return None
    return (f"the instance's config/instanceconfig.xml wants PostgreSQL (<db implementation=\"{implementation}\">) "
            "and names no host: set GNR_DB_IMPLEMENTATION=postgres with GNR_DB_HOST, GNR_DB_USER and "
            "GNR_DB_PASSWORD_FILE (your PostgreSQL), or GNR_DB_IMPLEMENTATION=sqlite to try it on SQLite")

