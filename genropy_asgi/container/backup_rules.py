"""A site's backup archive: its layout, its manifest and the decisions around it (pure).

An archive is one gzip-compressed tar named ``<site>-<UTC time>.tar.gz``::

    database/postgres.pgd          PostgreSQL: pg_dump's custom format (GenroPy's own dump format)
    database/sqlite/<name>.db      SQLite kept outside the instance's data/: a consistent copy
    files/data/...                 the instance's data/ (SQLite inside it: consistent copies)
    files/site/...                 the instance's site/ (uploads, attachments)
    manifest.json                  last: versions, site, database identity, model, every member's sha256

Nothing here touches a disk or a database: ``site_backup`` (the effects) asks these
functions what a name means, which archives retention removes, whether a manifest may be
restored here and whether a member's name is safe to extract. Each refusal is a
``BackupError`` whose message is the one line to print.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

FORMAT = 1  # the manifest's "format": bumped when a reader of an older one could misread a newer one
SUFFIX = ".tar.gz"
MANIFEST = "manifest.json"
POSTGRES_DUMP = "database/postgres.pgd"
SQLITE_FOLDER = "database/sqlite/"
FILE_ROOTS = ("data", "site")  # the instance's folders GenroPy writes and must keep
STATUS_FILE = ".genropy-asgi-backup.json"  # in the instance's data/: the last success, for the metrics
SETUP_RECORD = ".genropy-asgi-setup.json"  # model_fingerprint's SQLite record: a restore sets up again
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
# a restore into a folder whose parent it cannot write (a root-owned project, a mount point) stages
# and keeps the previous files inside it, in folders of these names: never backed up, never data
RESTORING_PREFIX, ASIDE_PREFIX = ".genropy-restoring-", ".genropy-before-restore-"
_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"(?P<site>[A-Za-z0-9_][A-Za-z0-9_.-]*)-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?"
                   + re.escape(SUFFIX))


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is the one line to print (exit 2)."""


def archive_name(site: str, when: datetime, taken: Iterable[str] = ()) -> str:
    """``<site>-<UTC time>.tar.gz``, with ``-N`` when two backups share a second."""
    base = f"{site}-{when.astimezone(UTC).strftime(_STAMP)}"
    taken = set(taken)
    name, n = base + SUFFIX, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}{SUFFIX}"
    return name


def archive_time(name: str) -> datetime | None:
    match = _NAME.fullmatch(name)
    if not match:
        return None
    return datetime.strptime(match["stamp"], _STAMP).replace(tzinfo=UTC)


def archives_of(site: str, names: Iterable[str]) -> list[str]:
    """The site's archives among ``names``, oldest first (name order is time order)."""
    found = [(archive_time(n), int(m["n"] or 1), n) for n in names
             if (m := _NAME.fullmatch(n)) and m["site"] == site]
    return [n for _, _, n in sorted(found)]


def to_remove(site: str, names: Iterable[str], keep: int, max_age_days: int, now: datetime) -> list[str]:
    """Retention: beyond the newest ``keep``, or older than ``max_age_days`` (0: no age limit);
    the newest archive always stays. Other files (other sites', a user's) are never touched."""
    ordered = archives_of(site, names)
    if not ordered:
        return []
    newest = ordered[-1]
    doomed = set(ordered[:-keep] if keep > 0 else ordered)
    if max_age_days > 0:
        limit = now - timedelta(days=max_age_days)
        doomed |= {n for n in ordered if (archive_time(n) or now) < limit}
    doomed.discard(newest)
    return [n for n in ordered if n in doomed]


def chosen_archive(site: str, names: Iterable[str], wanted: str) -> str:
    """What ``restore WANTED`` means: ``latest`` (this site's newest), or an archive's name."""
    names = list(names)
    if wanted == "latest":
        mine = archives_of(site, names)
        if not mine:
            raise BackupError(f"no backup of {site} in the destination (GENROPY_BACKUP_DESTINATION): "
                              "nothing to restore")
        return mine[-1]
    if "/" in wanted.strip("/") or wanted in (".", ".."):
        raise BackupError(f"restore {wanted!r}: expected an archive's name in the destination (see "
                          "'restore --list') or latest")
    if wanted not in names:
        raise BackupError(f"restore {wanted}: no such archive in the destination (GENROPY_BACKUP_DESTINATION); "
                          "'restore --list' shows them")
    return wanted


def member_ok(name: str) -> bool:
    """An archive member we wrote and may extract: a relative path under ``database/`` or
    ``files/data|site/``, or the manifest; nothing absolute, no ``..``."""
    if name == MANIFEST:
        return True
    if not name or name.startswith("/") or "\\" in name or "\0" in name:
        return False
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return False
    if name == POSTGRES_DUMP:
        return True
    if name.startswith(SQLITE_FOLDER):
        return len(parts) == 3 and parts[2].endswith(".db")
    return len(parts) >= 3 and parts[0] == "files" and parts[1] in FILE_ROOTS


def sqlite_member(path_in_data: str | None, basename: str) -> str:
    """Where a SQLite file goes in the archive: its place in data/, else ``database/sqlite/``."""
    return posixpath.join("files", "data", path_in_data) if path_in_data is not None \
        else SQLITE_FOLDER + basename


def restore_folder(name: str) -> bool:
    """A folder a restore made inside data/ or site/ (its staging, the files it kept aside)."""
    return name.startswith((RESTORING_PREFIX, ASIDE_PREFIX))


def skipped_in_files(relative: str, sqlite_names: Iterable[str]) -> bool:
    """Files of data/ never copied byte for byte: our own records, and SQLite's live side files
    (the database files themselves are copied through SQLite's backup API)."""
    base = posixpath.basename(relative)
    if base in (STATUS_FILE, SETUP_RECORD):
        return True
    return any(base == n + side for n in sqlite_names for side in ("", *SQLITE_SIDE_FILES))


@dataclass
class Manifest:
    site: str
    created: str  # ISO 8601, UTC
    versions: dict[str, str]  # genropy, genropy-asgi
    database: dict[str, Any]  # implementation, dbname (no host, no password)
    model: str  # model_fingerprint of the code that wrote it
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"size", "sha256"}
    notes: list[str] = field(default_factory=list)
    format: int = FORMAT

    def to_json(self) -> str:
        return json.dumps({"format": self.format, "site": self.site, "created": self.created,
                           "versions": self.versions, "database": self.database, "model": self.model,
                           "members": self.members, "notes": self.notes}, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            data = json.loads(text)
            return cls(site=str(data["site"]), created=str(data["created"]), versions=dict(data["versions"]),
                       database=dict(data["database"]), model=str(data["model"]),
                       members={str(k): dict(v) for k, v in data["members"].items()},
                       notes=list(data.get("notes") or []), format=int(data["format"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"{MANIFEST}: not a genropy-asgi manifest ({exc})") from None

    @property
    def size(self) -> int:
        return sum(int(m["size"]) for m in self.members.values())


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:4])


@dataclass(frozen=True)
class RestoreOptions:
    other_instance: bool = False  # --other-instance: an archive of another site
    allow_newer: bool = False  # --allow-newer: written by a newer GenroPy than this image's
    replace: bool = False  # --replace: the site has data: keep it aside, restore in its place
    database: str | None = None  # --database NAME: into that (empty or new) database instead


def check_restorable(manifest: Manifest, archive: str, site: str, implementation: str,
                     versions: Mapping[str, str], options: RestoreOptions) -> list[str]:
    """May this archive be restored here? Refusals raise; what is allowed but worth saying is returned."""
    notes: list[str] = []
    if manifest.format > FORMAT:
        raise BackupError(f"{archive}: archive format {manifest.format}, this image reads up to {FORMAT}: "
                          "restore it with a newer genropy-asgi image")
    if manifest.site != site:
        if not options.other_instance:
            raise BackupError(f"{archive} is a backup of {manifest.site!r}, this is {site!r}: add "
                              "--other-instance to restore it here")
        notes.append(f"restoring a backup of {manifest.site!r} into {site!r} (--other-instance)")
    theirs = manifest.database.get("implementation")
    if theirs != implementation:
        raise BackupError(f"{archive} holds a {theirs} database, this site uses {implementation}: GNR_DB_IMPLEMENTATION "
                          "(or the instance's <db>) must match the archive's")
    written, installed = manifest.versions.get("genropy", "?"), versions.get("genropy", "?")
    if "?" not in (written, installed) and version_tuple(written) > version_tuple(installed):
        if not options.allow_newer:
            raise BackupError(f"{archive} was written by GenroPy {written}, this image has {installed}: its model "
                              "may be newer than this code's; use a newer image, or add --allow-newer")
        notes.append(f"GenroPy {written} wrote it, this image has {installed} (--allow-newer)")
    return notes


@dataclass(frozen=True)
class BackupSettings:
    destination: Destination
    keep: int
    max_age_days: int
    credentials: dict[str, str | None]  # boto3's client arguments (S3 only)
    compression: int = 1  # gzip level: dumps and uploads are mostly compressed already


@dataclass(frozen=True)
class Destination:
    """``GENROPY_BACKUP_DESTINATION``: a folder, or ``s3://BUCKET[/PREFIX]``."""

    folder: str | None = None
    bucket: str | None = None
    prefix: str = ""

    @property
    def shown(self) -> str:
        return self.folder if self.folder else f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def parse_destination(raw: str) -> Destination:
    if raw.startswith("s3://"):
        bucket, _, prefix = raw[5:].partition("/")
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise BackupError(f"GENROPY_BACKUP_DESTINATION={raw!r}: expected s3://BUCKET[/PREFIX] with a valid "
                              "bucket name, or an absolute folder")
        return Destination(bucket=bucket, prefix=prefix.strip("/"))
    if not raw.startswith("/"):
        raise BackupError(f"GENROPY_BACKUP_DESTINATION={raw!r}: expected an absolute folder or s3://BUCKET[/PREFIX]")
    return Destination(folder=raw.rstrip("/") or "/")
