"""Where archives go: a folder, or an S3-compatible bucket (the effects of ``backup_rules.Destination``).

Both give the same five operations to ``site_backup``: ``names()``, ``staging(name)`` (a local
path to write the archive to), ``commit(staging, name)`` (the archive appears under its final
name only now, whole: a rename in the folder, a finished upload in the bucket),
``fetch(name)`` (a local path to read it from) and ``delete(name)``. A half-written archive
never carries an archive's name; a folder's leftovers of a killed run (``.NAME.partial-PID``)
are removed by the next backup, under the folder's lock.

S3 goes through boto3 (in the image): the standard ``AWS_*`` variables and
``GENROPY_BACKUP_S3_ENDPOINT`` for MinIO, Ceph, Garage... Credentials reach it from the plan,
never from the children's environment.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from genropy_asgi.container.backup_rules import SUFFIX, BackupError, Destination

PARTIAL = ".partial-"
LOCK = ".genropy-asgi-backup.lock"


class Folder:
    def __init__(self, path: str) -> None:
        self.path = path

    def prepare(self) -> None:
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as exc:
            raise BackupError(f"GENROPY_BACKUP_DESTINATION={self.path}: cannot create it ({exc.strerror})") from None
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise BackupError(f"GENROPY_BACKUP_DESTINATION={self.path}: not writable by uid {os.getuid()}")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One backup at a time per folder; then a killed run's partial archives are leftovers."""
        with open(os.path.join(self.path, LOCK), "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BackupError(f"another backup is writing to {self.path} right now: try again when it "
                                  "ends") from None
            for name in os.listdir(self.path):
                if name.startswith(".") and PARTIAL in name:
                    os.unlink(os.path.join(self.path, name))
            yield

    def names(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.path) if n.endswith(SUFFIX) and not n.startswith("."))
        except FileNotFoundError:
            return []

    def staging(self, name: str) -> str:
        return os.path.join(self.path, f".{name}{PARTIAL}{os.getpid()}")

    def commit(self, staging: str, name: str) -> None:
        with open(staging, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staging, os.path.join(self.path, name))
        directory = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    @contextlib.contextmanager
    def fetch(self, name: str) -> Iterator[str]:
        yield os.path.join(self.path, name)

    def delete(self, name: str) -> None:
        os.unlink(os.path.join(self.path, name))

    def size(self, name: str) -> int:
        return os.path.getsize(os.path.join(self.path, name))


class Bucket:
    def __init__(self, destination: Destination, credentials: dict[str, str | None], scratch: str) -> None:
        self.bucket, self.prefix, self.scratch = destination.bucket, destination.prefix, scratch
        self.shown = destination.shown
        self.credentials = credentials
        self._client: Any = None

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return function(*args, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "?")
            if code in ("NoSuchBucket", "404") and what == "open":
                raise BackupError(f"GENROPY_BACKUP_DESTINATION={self.shown}: no bucket {self.bucket!r} "
                                  "there (create it first)") from None
            raise BackupError(f"S3 {what} at {self.shown}: {code} {error.get('Message', '')}".rstrip()) from None
        except BotoCoreError as exc:
            raise BackupError(f"S3 {what} at {self.shown}: {exc} (GENROPY_BACKUP_S3_ENDPOINT, AWS_* "
                              "credentials)") from None

    def prepare(self) -> None:
        import boto3

        self._client = boto3.client("s3", **{k: v for k, v in self.credentials.items() if v})
        self._call("open", self._client.head_bucket, Bucket=self.bucket)
        os.makedirs(self.scratch, exist_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        yield  # S3 has no lock; an object appears whole or not at all

    def names(self) -> list[str]:
        found: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        prefix = f"{self.prefix}/" if self.prefix else ""
        pages = self._call("list", lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=prefix)))
        for page in pages:
            for item in page.get("Contents", []):
                rest = item["Key"][len(prefix):]
                if "/" not in rest and rest.endswith(SUFFIX):
                    found.append(rest)
        return sorted(found)

    def staging(self, name: str) -> str:
        return os.path.join(self.scratch, f".{name}{PARTIAL}{os.getpid()}")

    def commit(self, staging: str, name: str) -> None:
        try:
            self._call("upload", self._client.upload_file, staging, self.bucket, self._key(name))
        finally:
            os.unlink(staging)

    @contextlib.contextmanager
    def fetch(self, name: str) -> Iterator[str]:
        handle, path = tempfile.mkstemp(prefix=f".{name}.", dir=self.scratch)
        os.close(handle)
        try:
            self._call("download", self._client.download_file, self.bucket, self._key(name), path)
            yield path
        finally:
            os.unlink(path)

    def delete(self, name: str) -> None:
        self._call("delete", self._client.delete_object, Bucket=self.bucket, Key=self._key(name))

    def size(self, name: str) -> int:
        head = self._call("stat", self._client.head_object, Bucket=self.bucket, Key=self._key(name))
        return int(head["ContentLength"])


def opened(destination: Destination, credentials: dict[str, str | None], scratch: str) -> Folder | Bucket:
    target: Folder | Bucket = Folder(destination.folder) if destination.folder else \
        Bucket(destination, credentials, scratch)
    target.prepare()
    return target
