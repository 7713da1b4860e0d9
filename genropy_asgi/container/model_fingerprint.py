"""Skip ``gnr db setup`` when nothing it reads changed since the last setup of this database.

What ``gnr db setup`` and the first-use records depend on: the site's packages (their
``main.py`` and ``model/`` folders, in every project root), the instance's configuration,
GenroPy's and genropy-asgi's versions (GenroPy's own packages, ``sys`` and ``adm``, come
with its version) and which database it is. ``fingerprint()`` hashes them (pure);
the record of the last setup lives with the database itself, so a database that was
dropped, replaced or restored from elsewhere is set up again:

- PostgreSQL: the database's comment (``COMMENT ON DATABASE``);
- SQLite: ``.genropy-asgi-setup.json`` in the instance's ``data/`` folder, naming the
  database files it saw; a missing file means "set up again".

``GENROPY_DB_SETUP=auto`` skips when the record matches, ``always`` never skips,
``never`` never sets up.
"""

from __future__ import annotations

import hashlib
import json
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

COMMENT_PREFIX = "genropy-asgi setup "
SQLITE_RECORD = ".genropy-asgi-setup.json"


def fingerprint(files: Mapping[str, bytes], versions: Mapping[str, str], database: Mapping[str, object]) -> str:
    """A short hash of the setup's inputs (pure)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"versions": dict(versions), "database": dict(database)}, sort_keys=True).encode())
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return digest.hexdigest()[:32]


def model_files(project_roots: Iterable[str], instance_folder: str | None) -> dict[str, bytes]:
    """The files the setup reads, keyed by their path (relative to their root)."""
    found: dict[str, bytes] = {}
    for index, root in enumerate(dict.fromkeys(project_roots)):
        for project in sorted(os.listdir(root)) if os.path.isdir(root) else ():
            packages = os.path.join(root, project, "packages")
            for package in sorted(os.listdir(packages)) if os.path.isdir(packages) else ():
                base = os.path.join(packages, package)
                candidates = [os.path.join(base, "main.py")]
                for folder, dirs, names in os.walk(os.path.join(base, "model")):
                    dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                    candidates += [os.path.join(folder, n) for n in sorted(names) if not n.endswith(".pyc")]
                for path in candidates:
                    if os.path.isfile(path):
                        with open(path, "rb") as handle:
                            found[f"{index}:{os.path.relpath(path, root)}"] = handle.read()
    if instance_folder:
        config = os.path.join(instance_folder, "config", "instanceconfig.xml")
        if os.path.isfile(config):
            with open(config, "rb") as handle:
                found["instance:config/instanceconfig.xml"] = handle.read()
    return found


def versions() -> dict[str, str]:
    result = {}
    for name in ("genropy", "genropy-asgi-gateway"):
        try:
            result[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            result[name] = "?"
    return result


def instance_db(instance_folder: str | None) -> dict[str, str] | None:
    """The attributes of the instance's own ``<db>`` (its ``config/instanceconfig.xml``), if it has one."""
    if not instance_folder:
        return None
    try:
        root = ElementTree.parse(os.path.join(instance_folder, "config", "instanceconfig.xml")).getroot()
    except (OSError, ElementTree.ParseError):
        return None
    db = root.find("db")
    return dict(db.attrib) if db is not None else None


def instance_dbname(instance_folder: str | None) -> str | None:
    """``<db dbname=...>`` of the instance's configuration, if it says."""
    return (instance_db(instance_folder) or {}).get("dbname")


# -- SQLite: a record next to the database files --------------------------------------

def sqlite_record_matches(data_folder: str, wanted: str) -> bool:
    try:
        with open(os.path.join(data_folder, SQLITE_RECORD)) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return False
    files = record.get("files") or []
    return (record.get("fingerprint") == wanted and bool(files)
            and all(os.path.isfile(os.path.join(data_folder, name)) for name in files))


def write_sqlite_record(data_folder: str, value: str) -> None:
    files = sorted(name for name in os.listdir(data_folder) if name.endswith(".db"))
    temporary = os.path.join(data_folder, SQLITE_RECORD + ".tmp")
    with open(temporary, "w") as handle:
        json.dump({"fingerprint": value, "files": files}, handle)
    os.replace(temporary, os.path.join(data_folder, SQLITE_RECORD))


# -- PostgreSQL: the database's comment ---------------------------------------------------

def postgres_record_matches(connection: Any, dbname: str, wanted: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                       (dbname,))
        row = cursor.fetchone()
    return bool(row) and row[0] == COMMENT_PREFIX + wanted


def write_postgres_record(connection: Any, dbname: str, value: str) -> None:
    from psycopg2 import sql

    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(dbname),
                                                                      sql.Literal(COMMENT_PREFIX + value)))
