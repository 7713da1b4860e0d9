"""Surface: a backup archive handed to ``restore`` (it may come from anywhere: another install, a
bucket others write to, a tampered copy).

Before a byte is written, every member is checked (``backup_rules.member_ok``: a relative path
under ``database/`` or ``files/data|site/``, a regular file) and hashed against the manifest; then
the same read writes only into the staging folders. So a member climbing out (``..``, an absolute
path), a link, a device, a member the manifest does not list, a manifest too big or not JSON, and a
decompression bomb are each one ``BackupError`` line, with nothing written anywhere."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest

from genropy_asgi.container.backup_rules import BackupError
from genropy_asgi.container.site_backup import read_archive


def member(name: str, body: bytes = b"x", kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname, info.mode = (len(body) if kind == tarfile.REGTYPE else 0), kind, link, 0o644
    return info, body


def archive(path, members, manifest: dict | None | bytes = None) -> str:
    listed = {i.name: {"size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
              for i, b in members if i.type == tarfile.REGTYPE}
    if manifest is None:
        manifest = {"format": 1, "site": "shop", "created": "2026-12-05T12:00:00+00:00", "versions": {},
                    "database": {"implementation": "sqlite", "dbname": "shop"}, "model": "m", "members": listed}
    body = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    with tarfile.open(path, "w:gz") as tar:
        for info, data in [*members, member("manifest.json", body)]:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return str(path)


@pytest.fixture
def place(tmp_path):
    staging = {"files/data/": str(tmp_path / "stage" / "data"), "files/site/": str(tmp_path / "stage" / "site")}
    return tmp_path, staging


def written(root) -> list[str]:
    return sorted(os.path.relpath(os.path.join(f, n), root) for f, _, names in os.walk(root) for n in names
                  if not n.endswith(".tar.gz"))


@pytest.mark.parametrize("name", [
    "files/data/../../../../tmp/owned", "/etc/cron.d/owned", "files/site/../../owned", "database/../owned",
    "files/other/owned", "owned", "files/data/a\\..\\..\\owned",
])
def test_a_member_outside_what_we_write_is_refused_before_anything_is_written(place, name):
    root, staging = place
    path = archive(root / "a.tar.gz", [member("files/data/ok.db"), member(name)])
    for extract in (None, staging):
        with pytest.raises(BackupError, match="unexpected member|not an archive"):
            read_archive(path, "a.tar.gz", extract=extract)
    assert written(root) == [] or all(w.startswith("stage/data/ok.db") for w in written(root))
    assert not os.path.exists("/tmp/owned") and not os.path.exists(root / "owned")


@pytest.mark.parametrize("kind, link", [(tarfile.SYMTYPE, "/etc/passwd"), (tarfile.LNKTYPE, "files/data/ok.db"),
                                        (tarfile.CHRTYPE, ""), (tarfile.FIFOTYPE, ""), (tarfile.DIRTYPE, "")])
def test_links_devices_and_folders_are_not_members(place, kind, link):
    root, staging = place
    path = archive(root / "a.tar.gz", [member("files/data/ok.db"), member("files/site/evil", b"", kind, link)])
    with pytest.raises(BackupError):
        read_archive(path, "a.tar.gz", extract=staging)
    assert not os.path.lexists(os.path.join(staging["files/site/"], "evil"))


def test_a_member_the_manifest_does_not_list_or_a_changed_one_is_refused(place):
    root, _ = place
    listed = [member("files/data/ok.db", b"good")]
    manifest = {"format": 1, "site": "shop", "created": "c", "versions": {}, "database": {}, "model": "m",
                "members": {"files/data/ok.db": {"size": 4, "sha256": hashlib.sha256(b"good").hexdigest()}}}
    path = archive(root / "extra.tar.gz", [*listed, member("files/site/smuggled.py", b"import os")], manifest)
    with pytest.raises(BackupError, match="smuggled.py is not in its manifest"):
        read_archive(path, "extra.tar.gz")
    path = archive(root / "changed.tar.gz", [member("files/data/ok.db", b"evil")], manifest)
    with pytest.raises(BackupError, match="does not match its checksum"):
        read_archive(path, "changed.tar.gz")


@pytest.mark.parametrize("manifest", [b"not json", b"[]", b"{}", b'{"format": 1}', b"{" + b" " * (17 << 20) + b"}"])
def test_a_bad_or_oversized_manifest_is_one_line(place, manifest):
    root, _ = place
    path = archive(root / "m.tar.gz", [member("files/data/ok.db")], manifest)
    with pytest.raises(BackupError, match="manifest") as caught:
        read_archive(path, "m.tar.gz")
    assert "\n" not in str(caught.value)


def test_not_a_gzip_or_a_truncated_one_is_one_line(place):
    root, _ = place
    (root / "text.tar.gz").write_bytes(b"hello, not an archive")
    good = archive(root / "good.tar.gz", [member("files/data/ok.db", os.urandom(200_000))])
    (root / "cut.tar.gz").write_bytes(open(good, "rb").read()[:5000])
    for name in ("text.tar.gz", "cut.tar.gz"):
        with pytest.raises(BackupError, match="damaged"):
            read_archive(str(root / name), name)


def test_a_decompression_bomb_is_read_without_being_written(place):
    """A member of 64 MiB of zeros (64 KiB compressed) that the manifest does not vouch for: read and
    hashed in passing (pass 1 writes nothing), refused, no staging file left."""
    root, staging = place
    size = 64 << 20
    info = tarfile.TarInfo("files/data/bomb.db")
    info.size = size
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9) as compressed:
        with tarfile.open(fileobj=compressed, mode="w") as tar:
            tar.addfile(info, io.BytesIO(b"\0" * size))
            body = json.dumps({"format": 1, "site": "shop", "created": "c", "versions": {}, "database": {},
                               "model": "m", "members": {"files/data/bomb.db": {"size": 1, "sha256": "0" * 64}}}).encode()
            manifest = tarfile.TarInfo("manifest.json")
            manifest.size = len(body)
            tar.addfile(manifest, io.BytesIO(body))
    (root / "bomb.tar.gz").write_bytes(raw.getvalue())
    assert (root / "bomb.tar.gz").stat().st_size < 1 << 20
    with pytest.raises(BackupError, match="does not match its checksum"):
        read_archive(str(root / "bomb.tar.gz"), "bomb.tar.gz")
    assert not os.path.exists(staging["files/data/"])
