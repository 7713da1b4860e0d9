"""The image's ``backup`` and ``restore`` modes: a site's database and files in one archive, and back.

``backup`` (``[--every SECONDS]``): the database (PostgreSQL: ``pg_dump -Fc``, GenroPy's own
dump format, one consistent snapshot; SQLite: SQLite's backup API, a consistent copy while
the site writes) and the instance's ``data/`` and ``site/`` (each file read until it is
stable: a file being written is read again, so no upload is half in the archive) into
``<site>-<UTC time>.tar.gz``, written under a temporary name and renamed (or uploaded)
whole; then retention (``GENROPY_BACKUP_KEEP``, ``GENROPY_BACKUP_MAX_AGE_DAYS``) and the
status file the metrics read. The site keeps serving: nothing is locked.

``restore NAME|latest [--replace] [--database NAME] [--other-instance] [--allow-newer]``,
``restore --list``, ``restore --verify NAME|latest``: every member's checksum and the
manifest are verified before anything is written; the database goes into a new database
(PostgreSQL) or new files (SQLite) and the files into new folders, and only when all of it
succeeded are they swapped in (the previous ones kept aside with ``--replace``); then the
usual ``gnr db setup`` brings the database to this code's model. A failure leaves the site
as it was, says why in one line, and exits 2.

The layout and every decision are ``backup_rules``' (pure); destinations are
``backup_destinations``'.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from genropy_asgi.container import backup_rules as rules
from genropy_asgi.container.backup_destinations import opened
from genropy_asgi.container.backup_rules import BackupError, BackupSettings
from genropy_asgi.container.backup_status import write_status
from genropy_asgi.container.plan import LaunchPlan
from genropy_asgi.container.report import log

CHUNK = 1 << 20
SETTLE_SECONDS = 2.0  # a file modified this recently is looked at again before it is taken
STABLE_TRIES = 5


@dataclass
class SiteDatabase:
    """The site's database as GenroPy opens it (its own configuration rules)."""

    implementation: str
    dbname: str
    host: str | None = None
    port: str | None = None
    user: str | None = None
    password: str | None = None
    sqlite_files: list[str] = field(default_factory=list)  # main file and attached schemas

    def identity(self) -> dict[str, Any]:
        if self.implementation == "sqlite":
            return {"implementation": "sqlite", "dbname": os.path.basename(self.dbname)}
        return {"implementation": self.implementation, "dbname": self.dbname}

    def pg_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update({"PGHOST": self.host or "localhost", "PGPORT": str(self.port or 5432),
                    "PGUSER": self.user or "", "PGCONNECT_TIMEOUT": "10"})
        if self.password:
            env["PGPASSWORD"] = self.password  # the environment, never argv
        return env


def backup_of(plan: LaunchPlan) -> BackupSettings:
    """The plan's backup settings: modes backup and restore always have them."""
    if plan.backup is None:
        raise BackupError(f"mode {plan.mode}: no backup settings in the plan")
    return plan.backup


def site_database(site: str) -> SiteDatabase:
    """GenroPy's own answer (``GnrApp``): the instance's ``<db>`` under the deployment's override."""
    from gnr.app.gnrapp import GnrApp

    try:
        app = GnrApp(site)
    except Exception as exc:  # GenroPy's errors are of every kind
        raise BackupError(f"GenroPy could not open the site {site!r}: {type(exc).__name__}: {exc}") from None
    params = dict(app.db.get_connection_params())
    implementation = app.db.implementation
    if implementation == "sqlite":
        main = params.get("database") or app.db.dbname
        folder = os.path.dirname(main)
        attached = sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".db")) \
            if os.path.isdir(folder) else []
        files = list(dict.fromkeys([main, *attached]))
        return SiteDatabase("sqlite", main, sqlite_files=files)
    if implementation not in ("postgres", "postgres3"):
        raise BackupError(f"the site's database is {implementation}: backups support PostgreSQL and SQLite")
    return SiteDatabase("postgres", params.get("database") or app.db.dbname, host=params.get("host"),
                        port=params.get("port"), user=params.get("user"), password=params.get("password"))


def file_roots(instance: str) -> dict[str, str]:
    """``data`` and ``site`` of the instance, where they really are (``GENROPY_SITE_DATA``'s symlinks)."""
    return {name: os.path.realpath(os.path.join(instance, name)) for name in rules.FILE_ROOTS}


# -- backup ---------------------------------------------------------------------------------

class Writer:
    """Members into the tar, each hashed as it goes in; the manifest last."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.members: dict[str, dict[str, Any]] = {}

    def add(self, name: str, source: IO[bytes], size: int, digest: str, mtime: float, mode: int = 0o640) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, int(mtime), mode & 0o777
        source.seek(0)
        self.tar.addfile(info, source)
        self.members[name] = {"size": size, "sha256": digest}

    def add_file(self, name: str, path: str) -> None:
        with open(path, "rb") as handle:
            digest, size = hash_stream(handle)
            self.add(name, handle, size, digest, os.path.getmtime(path))


def hash_stream(handle: IO[bytes], copy_to: IO[bytes] | None = None) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
    return digest.hexdigest(), size


def stable_copy(path: str, scratch: str) -> tuple[IO[bytes], int, str, os.stat_result] | None:
    """The file's bytes as they were while nobody wrote it (``None``: it kept changing)."""
    for _ in range(STABLE_TRIES):
        before = os.stat(path)
        if time.time() - before.st_mtime < SETTLE_SECONDS:
            time.sleep(0.5)
            if os.stat(path).st_mtime_ns != before.st_mtime_ns:
                continue
            before = os.stat(path)
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20, dir=scratch)
        with open(path, "rb") as handle:
            digest, size = hash_stream(handle, spool)
            after = os.fstat(handle.fileno())
        unchanged = (before.st_size, before.st_mtime_ns, before.st_ino) == (after.st_size, after.st_mtime_ns,
                                                                             after.st_ino)
        if unchanged and size == after.st_size:
            return spool, size, digest, after
        spool.close()
        time.sleep(0.2)
    return None


def sqlite_copy(path: str, scratch: str) -> str:
    """A consistent copy of a live SQLite database (its backup API), as a file in ``scratch``."""
    handle, copy = tempfile.mkstemp(suffix=".db", dir=scratch)
    os.close(handle)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return copy


def dump_postgres(db: SiteDatabase, scratch: str) -> str:
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump is not in this image (the slim flavour): back up with the full image "
                          "(GENROPY_IMAGE_FLAVOUR=full, the default)")
    path = os.path.join(scratch, f"dump-{os.getpid()}.pgd")
    result = subprocess.run(["pg_dump", "-Fc", "--no-password", "-f", path, "--", db.dbname], env=db.pg_env(),
                            capture_output=True, text=True)
    if result.returncode != 0:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        last = " ".join(result.stderr.split())[-400:] or f"exit {result.returncode}"
        raise BackupError(f"pg_dump of {db.dbname} on {db.host}:{db.port or 5432} failed: {last}")
    return path


def add_files(writer: Writer, roots: dict[str, str], db: SiteDatabase, scratch: str) -> tuple[int, list[str]]:
    """The instance's data/ and site/ into the archive; SQLite files among them as consistent copies."""
    sqlite_paths = {os.path.realpath(p): p for p in db.sqlite_files}
    sqlite_names = [os.path.basename(p) for p in db.sqlite_files]
    count, skipped = 0, []
    for root_name, root in roots.items():
        if not os.path.isdir(root):
            continue
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not (folder == root and rules.restore_folder(d)))
            for name in sorted(names):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, root).replace(os.sep, "/")
                member = f"files/{root_name}/{relative}"
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                if os.path.realpath(path) in sqlite_paths:
                    copy = sqlite_copy(path, scratch)
                    try:
                        writer.add_file(member, copy)
                    finally:
                        os.unlink(copy)
                    count += 1
                    continue
                if root_name == "data" and rules.skipped_in_files(relative, sqlite_names):
                    continue
                captured = stable_copy(path, scratch)
                if captured is None:
                    skipped.append(member)
                    continue
                spool, size, digest, stat = captured
                with spool:
                    writer.add(member, spool, size, digest, stat.st_mtime, stat.st_mode)
                count += 1
    return count, skipped


def external_sqlite(writer: Writer, roots: dict[str, str], db: SiteDatabase, scratch: str) -> None:
    """SQLite files outside the instance's data/ (an absolute ``filename``): ``database/sqlite/``."""
    inside = os.path.realpath(roots["data"]) + os.sep
    for path in db.sqlite_files:
        if os.path.isfile(path) and not os.path.realpath(path).startswith(inside):
            copy = sqlite_copy(path, scratch)
            try:
                writer.add_file(rules.sqlite_member(None, os.path.basename(path)), copy)
            finally:
                os.unlink(copy)


def model_value(plan: LaunchPlan, instance: str) -> str:
    from genropy_asgi.container import model_fingerprint as mf

    return mf.fingerprint(mf.model_files(plan.project_roots, instance), mf.versions(), {})


def versions() -> dict[str, str]:
    from genropy_asgi.container import model_fingerprint as mf

    found = mf.versions()
    return {"genropy": found.get("genropy", "?"), "genropy-asgi": found.get("genropy-asgi-gateway", "?")}


def backup_once(plan: LaunchPlan, instance: str) -> int:
    started = time.monotonic()
    settings = backup_of(plan)
    db = site_database(plan.site)
    roots = file_roots(instance)
    scratch = plan.env["TMPDIR"]
    os.makedirs(scratch, exist_ok=True)
    target = opened(settings.destination, settings.credentials, scratch)
    with target.locked():
        name = rules.archive_name(plan.site, datetime.now(UTC), target.names())
        staging = target.staging(name)
        try:
            with tarfile.open(staging, "w:gz", compresslevel=settings.compression) as tar:
                writer = Writer(tar)
                if db.implementation == "postgres":
                    dump = dump_postgres(db, scratch)
                    try:
                        writer.add_file(rules.POSTGRES_DUMP, dump)
                    finally:
                        os.unlink(dump)
                else:
                    external_sqlite(writer, roots, db, scratch)
                count, skipped = add_files(writer, roots, db, scratch)
                manifest = rules.Manifest(
                    site=plan.site, created=datetime.now(UTC).isoformat(timespec="seconds"),
                    versions=versions(), database=db.identity(), model=model_value(plan, instance),
                    members=writer.members,
                    notes=[f"still being written, left for the next backup: {m}" for m in skipped])
                body = manifest.to_json().encode()
                writer.tar.addfile(_info(rules.MANIFEST, len(body)), io.BytesIO(body))
            target.commit(staging, name)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staging)
            if isinstance(exc, OSError):  # a full disk, a folder gone: said in one line
                raise BackupError(f"writing {name} to {settings.destination.shown}: {exc.strerror or exc}: "
                                  "no archive was kept") from None
            raise
        size = target.size(name)
        removed = []
        for old in rules.to_remove(plan.site, target.names(), settings.keep, settings.max_age_days,
                                   datetime.now(UTC)):
            target.delete(old)
            removed.append(old)
    write_status(roots["data"], name, size, settings.destination.shown)
    for member in skipped:
        log(plan, f"backup: {member} kept changing while it was read: left for the next backup")
    log(plan, f"backup of {plan.site}: {name} ({size / 1e6:.1f} MB, {db.implementation} database, {count} files) "
              f"in {time.monotonic() - started:.1f}s to {settings.destination.shown}"
              + (f"; removed {len(removed)} older: {', '.join(removed)}" if removed else ""))
    return 0


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o640
    return info


def backup(plan: LaunchPlan, instance: str, args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="backup", add_help=True)
    parser.add_argument("--every", type=float, default=0.0, help="seconds between backups (0: one, then exit)")
    options = parser.parse_args(args)
    if options.every <= 0:
        return backup_once(plan, instance)
    while True:  # compose's "backup" profile; the chart uses a CronJob instead
        try:
            backup_once(plan, instance)
        except BackupError as exc:
            log(plan, f"backup failed: {exc}; next attempt in {options.every:g}s")
        time.sleep(options.every)


# -- restore --------------------------------------------------------------------------------

def read_archive(path: str, name: str, extract: dict[str, str] | None = None) -> rules.Manifest:
    """Every member hashed; the manifest read and compared. With ``extract`` (member prefix ->
    local folder), members are written there too (nothing else is)."""
    seen: dict[str, dict[str, Any]] = {}
    manifest_text: bytes | None = None
    try:
        with tarfile.open(path, "r:gz") as tar:
            for info in tar:
                if not rules.member_ok(info.name) or not info.isfile():
                    raise BackupError(f"{name}: unexpected member {info.name!r}: not an archive of genropy-asgi")
                source = tar.extractfile(info)
                assert source is not None
                if info.name == rules.MANIFEST:
                    manifest_text = source.read(16 << 20)
                    continue
                output = None
                local = local_path(info.name, extract) if extract is not None else None
                if local is not None:
                    os.makedirs(os.path.dirname(local), exist_ok=True)
                    output = open(local, "wb")  # closed below, after the hash
                try:
                    digest, size = hash_stream(source, output)
                finally:
                    if output is not None and local is not None:
                        output.close()
                        os.chmod(local, (info.mode & 0o777) | 0o600)
                        os.utime(local, (info.mtime, info.mtime))
                seen[info.name] = {"size": size, "sha256": digest}
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise BackupError(f"{name} is damaged ({type(exc).__name__}: {exc}): nothing was restored") from None
    if manifest_text is None:
        raise BackupError(f"{name} has no {rules.MANIFEST}: damaged or not an archive of genropy-asgi")
    manifest = rules.Manifest.from_json(manifest_text)
    for member, expected in manifest.members.items():
        got = seen.get(member)
        if got is None:
            raise BackupError(f"{name} is damaged: {member} is missing: nothing was restored")
        if got != {"size": int(expected["size"]), "sha256": expected["sha256"]}:
            raise BackupError(f"{name} is damaged: {member} does not match its checksum: nothing was restored")
    extra = sorted(set(seen) - set(manifest.members))
    if extra:
        raise BackupError(f"{name}: {extra[0]} is not in its manifest: nothing was restored")
    return manifest


def local_path(member: str, extract: dict[str, str]) -> str | None:
    """Where a member is written (``None``: nowhere, it is only verified)."""
    for prefix, folder in extract.items():
        if member == prefix:  # a single file (the PostgreSQL dump)
            return folder
        if prefix.endswith("/") and member.startswith(prefix):
            return os.path.join(folder, *member[len(prefix):].split("/"))
    return None


def folder_has_data(path: str) -> bool:
    """Anything worth keeping in an instance folder (our own records do not count)."""
    for folder, dirs, names in os.walk(path):
        if folder == path:
            dirs[:] = [d for d in dirs if not rules.restore_folder(d)]
        if any(n not in (rules.STATUS_FILE, rules.SETUP_RECORD) for n in names):
            return True
    return False


def staging_place(live: str) -> tuple[str, bool]:
    """Where a folder's restored files are written first: beside it (swapped by one rename), or inside
    it when its parent is not ours to write (a root-owned project) or it is a mount point."""
    parent = os.path.dirname(live)
    if os.access(parent, os.W_OK | os.X_OK) and not os.path.ismount(live):
        return f"{live}.restoring-{os.getpid()}", False
    return os.path.join(live, f"{rules.RESTORING_PREFIX}{os.getpid()}"), True


def swap_folder(live: str, new: str, inside: bool, when: str) -> str | None:
    """``new`` becomes ``live``; the previous files, if any, are kept aside (returned)."""
    keep = folder_has_data(live) if os.path.isdir(live) else False
    if not inside:
        aside = f"{live}.before-restore-{when}"
        if keep:
            os.replace(live, aside)
        elif os.path.isdir(live):
            shutil.rmtree(live)
        os.replace(new, live)
        return aside if keep else None
    aside = os.path.join(live, f"{rules.ASIDE_PREFIX}{when}")
    if keep:
        os.mkdir(aside)
    for child in os.listdir(live):
        path = os.path.join(live, child)
        if path == new or rules.restore_folder(child):
            continue
        if keep:
            os.replace(path, os.path.join(aside, child))
        elif os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    for child in os.listdir(new):
        os.replace(os.path.join(new, child), os.path.join(live, child))
    os.rmdir(new)
    return aside if keep else None


def psql(db: SiteDatabase, database: str, sql: str, *values: str) -> list[tuple[Any, ...]]:
    import psycopg2

    try:
        connection = psycopg2.connect(host=db.host or "localhost", port=db.port or 5432, user=db.user,
                                      password=db.password, dbname=database, connect_timeout=10)
    except psycopg2.OperationalError as exc:
        if "does not exist" in str(exc):
            return []
        raise BackupError(f"PostgreSQL at {db.host}:{db.port or 5432}: {' '.join(str(exc).split())}") from None
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            return cursor.fetchall() if cursor.description else []
    except psycopg2.Error as exc:
        raise BackupError(f"PostgreSQL: {' '.join(str(exc).split())}") from None
    finally:
        connection.close()


def pg_exists(db: SiteDatabase, name: str) -> bool:
    return bool(psql(db, "postgres", "SELECT 1 FROM pg_database WHERE datname = %s", name))


def pg_has_tables(db: SiteDatabase, name: str) -> bool:
    return bool(psql(db, name, "SELECT 1 FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
                               "'information_schema') LIMIT 1"))


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def pg_restore_into(db: SiteDatabase, dump: str, name: str) -> None:
    if shutil.which("pg_restore") is None:
        raise BackupError("pg_restore is not in this image (the slim flavour): restore with the full image")
    result = subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--no-password",
                             "-d", name, dump], env=db.pg_env(), capture_output=True,
                            text=True)
    if result.returncode != 0:
        last = " ".join(result.stderr.split())[-400:] or f"exit {result.returncode}"
        raise BackupError(f"pg_restore into {name} failed: {last}")


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def restore(plan: LaunchPlan, instance: str, args: list[str], after_restore: Callable[[], None]) -> int:
    parser = argparse.ArgumentParser(prog="restore", add_help=True)
    parser.add_argument("archive", nargs="?", help="an archive's name in the destination, or latest")
    parser.add_argument("--list", action="store_true", help="list the archives and exit")
    parser.add_argument("--verify", action="store_true", help="check the archive's checksums, restore nothing")
    parser.add_argument("--replace", action="store_true", help="the site has data: keep it aside and replace it")
    parser.add_argument("--database", help="PostgreSQL: restore into this database (new or empty) instead")
    parser.add_argument("--other-instance", action="store_true", help="accept an archive of another site")
    parser.add_argument("--allow-newer", action="store_true", help="accept an archive of a newer GenroPy")
    options = parser.parse_args(args)
    settings = backup_of(plan)
    scratch = plan.env["TMPDIR"]
    os.makedirs(scratch, exist_ok=True)
    target = opened(settings.destination, settings.credentials, scratch)
    names = target.names()
    if options.list:
        for name in rules.archives_of(plan.site, names) or names:
            print(f"{name}\t{target.size(name)}")
        return 0
    if not options.archive:
        raise BackupError(f"restore: name an archive (restore --list shows those in {settings.destination.shown}) "
                          "or say latest")
    name = rules.chosen_archive(plan.site, names, options.archive)
    choices = rules.RestoreOptions(other_instance=options.other_instance, allow_newer=options.allow_newer,
                                   replace=options.replace, database=options.database)
    with target.fetch(name) as path:
        if options.verify:
            manifest = read_archive(path, name)
            log(plan, f"{name}: verified, {len(manifest.members)} members, {manifest.size / 1e6:.1f} MB, "
                      f"site {manifest.site}, written {manifest.created}")
            return 0
        restore_archive(plan, instance, path, name, choices)
    after_restore()
    return 0


def restore_archive(plan: LaunchPlan, instance: str, path: str, name: str, options: rules.RestoreOptions) -> None:
    started = time.monotonic()
    manifest = read_archive(path, name)  # pass 1: verified before anything is written
    db = site_database(plan.site)
    for note in rules.check_restorable(manifest, name, plan.site, db.implementation, versions(), options):
        log(plan, note)
    if options.database:
        restore_database_only(plan, db, path, name, options.database, started)
        return
    roots = file_roots(instance)
    database = db.dbname
    busy = [f"the instance's {n}/ ({roots[n]})" for n in rules.FILE_ROOTS if folder_has_data(roots[n])]
    if db.implementation == "postgres" and pg_exists(db, database) and pg_has_tables(db, database):
        busy.insert(0, f"the database {database}")
    if busy and not options.replace:
        raise BackupError(f"{' and '.join(busy)} already hold data: add --replace to keep them aside and restore "
                          "in their place" + (", or --database NEW to restore only the database into another one"
                                              if db.implementation == "postgres" else ""))
    needed = sum(int(m["size"]) for k, m in manifest.members.items() if k.startswith("files/"))
    parent = os.path.dirname(roots["data"])
    free = shutil.disk_usage(parent if os.path.isdir(parent) else instance).free
    if needed > free:
        raise BackupError(f"not enough space to restore {name}: its files need {needed / 1e6:.1f} MB next to "
                          f"{roots['data']}, {free / 1e6:.1f} MB are free: nothing was restored")
    suffix = f".restoring-{os.getpid()}"
    places = {n: staging_place(roots[n]) for n in rules.FILE_ROOTS}
    staged = {f"files/{n}/": places[n][0] for n in rules.FILE_ROOTS}
    staged[rules.POSTGRES_DUMP] = os.path.join(plan.env["TMPDIR"], f"dump-to-restore-{os.getpid()}.pgd")
    sqlite_folder = os.path.dirname(db.sqlite_files[0]) if db.sqlite_files else None
    if sqlite_folder:
        staged[rules.SQLITE_FOLDER] = sqlite_folder + "/.sqlite" + suffix
    created: list[str] = [*staged.values()]
    temporary_db = None
    try:
        for root_name in rules.FILE_ROOTS:
            os.makedirs(staged[f"files/{root_name}/"])
        read_archive(path, name, extract=staged)  # pass 2: the same checks, into the staging places
        if db.implementation == "postgres":
            temporary_db = f"{database}__restoring"[:63]
            psql(db, "postgres", f"DROP DATABASE IF EXISTS {ident(temporary_db)}")
            psql(db, "postgres", f"CREATE DATABASE {ident(temporary_db)}")
            pg_restore_into(db, staged[rules.POSTGRES_DUMP], temporary_db)
        kept = swap_in(db, database, temporary_db, roots, places, staged, bool(options.replace), sqlite_folder)
        temporary_db = None
    except OSError as exc:
        raise BackupError(f"restoring {name}: {exc.strerror or exc} ({getattr(exc, 'filename', '') or ''}): "
                          "nothing was restored") from None
    finally:
        for leftover in created:
            if os.path.isdir(leftover):
                shutil.rmtree(leftover, ignore_errors=True)
            elif os.path.exists(leftover):
                os.unlink(leftover)
        if temporary_db:
            with contextlib.suppress(BackupError):
                psql(db, "postgres", f"DROP DATABASE IF EXISTS {ident(temporary_db)}")
    log(plan, f"restored {name} into {plan.site} ({db.implementation} {os.path.basename(database)}, "
              f"{sum(1 for m in manifest.members if m.startswith('files/'))} files) in "
              f"{time.monotonic() - started:.1f}s" + (f"; the previous data kept as: {', '.join(kept)}" if kept else ""))


def restore_database_only(plan: LaunchPlan, db: SiteDatabase, path: str, name: str, database: str,
                          started: float) -> None:
    """``--database NAME``: the archive's PostgreSQL database into NAME (new or empty), to look at;
    the site's own database and files are not touched."""
    if db.implementation != "postgres":
        raise BackupError("--database names a PostgreSQL database; this site uses SQLite")
    if pg_exists(db, database) and pg_has_tables(db, database):
        raise BackupError(f"--database {database}: it already holds tables; name a new or empty database")
    dump = os.path.join(plan.env["TMPDIR"], f"dump-to-restore-{os.getpid()}.pgd")
    try:
        read_archive(path, name, extract={rules.POSTGRES_DUMP: dump})  # the files are only verified
        if not pg_exists(db, database):
            psql(db, "postgres", f"CREATE DATABASE {ident(database)}")
        pg_restore_into(db, dump, database)
    except OSError as exc:
        raise BackupError(f"restoring {name}: {exc.strerror or exc}: nothing was restored") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(dump)
    log(plan, f"restored the database of {name} into {database} in {time.monotonic() - started:.1f}s; "
              "the site's own database and files are untouched")


def swap_in(db: SiteDatabase, database: str, temporary_db: str | None, roots: dict[str, str],
            places: dict[str, tuple[str, bool]], staged: dict[str, str], replace: bool,
            sqlite_folder: str | None) -> list[str]:
    """Everything is restored beside the site: now put it in place (the old kept aside)."""
    kept: list[str] = []
    when = stamp()
    if temporary_db:
        if pg_exists(db, database):
            psql(db, "postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                                 "AND pid <> pg_backend_pid()", database)
            if replace and pg_has_tables(db, database):
                aside = f"{database}__before_restore_{when}"[:63]
                psql(db, "postgres", f"ALTER DATABASE {ident(database)} RENAME TO {ident(aside)}")
                kept.append(f"database {aside}")
            else:
                psql(db, "postgres", f"DROP DATABASE {ident(database)}")
        psql(db, "postgres", f"ALTER DATABASE {ident(temporary_db)} RENAME TO {ident(database)}")
    for root_name in rules.FILE_ROOTS:
        new, inside = places[root_name]
        folder_aside = swap_folder(roots[root_name], new, inside, when)
        if folder_aside:
            kept.append(folder_aside)
    external = staged.get(rules.SQLITE_FOLDER)
    if external and os.path.isdir(external) and sqlite_folder:
        for name in os.listdir(external):
            live = os.path.join(sqlite_folder, name)
            if os.path.exists(live):
                os.replace(live, f"{live}.before-restore-{when}")
                kept.append(f"{live}.before-restore-{when}")
            os.replace(os.path.join(external, name), live)
    return kept


def run(plan: LaunchPlan, instance: str | None, args: list[str], after_restore: Callable[[], None]) -> int:
    """The entrypoint's call for modes ``backup`` and ``restore`` (after the database answers)."""
    if instance is None:
        raise BackupError(f"no instance folder for {plan.site} in GENROPY_PROJECTS: nothing to back up or restore")
    os.environ.clear()
    os.environ.update(plan.env)  # GenroPy's config folder, TMPDIR: as its programs see them
    if plan.mode == "backup":
        return backup(plan, instance, args)
    return restore(plan, instance, args, after_restore)
