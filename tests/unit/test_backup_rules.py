"""Backups' pure decisions: names, retention, which archive, what may be extracted, what may be restored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from genropy_asgi.container import backup_rules as rules
from genropy_asgi.container.backup_rules import BackupError, Manifest, RestoreOptions

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


def names(site: str, days: int) -> list[str]:
    return [rules.archive_name(site, NOW - timedelta(days=d)) for d in range(days)]


def test_names_sort_by_time_and_two_in_one_second_get_a_number():
    first = rules.archive_name("shop", NOW)
    assert first == "shop-20261205T120000Z.tar.gz"
    second = rules.archive_name("shop", NOW, taken=[first])
    assert second == "shop-20261205T120000Z-2.tar.gz"
    assert rules.archives_of("shop", [second, first, "other-20261205T120000Z.tar.gz", "notes.txt"]) == [first, second]
    assert rules.archive_time(first) == NOW


def test_retention_keeps_the_newest_by_count_and_age_and_never_touches_other_files():
    mine = names("shop", 10)
    theirs = names("blog", 3) + ["shop-manual-copy.tar.gz", "readme.txt"]
    removed = rules.to_remove("shop", mine + theirs, keep=7, max_age_days=0, now=NOW)
    assert removed == sorted(mine)[:3]
    assert set(removed) <= set(mine)
    by_age = rules.to_remove("shop", mine, keep=100, max_age_days=5, now=NOW)
    assert len(by_age) == 4 and all(rules.archive_time(n) < NOW - timedelta(days=5) for n in by_age)
    old_only = [rules.archive_name("shop", NOW - timedelta(days=400))]
    assert rules.to_remove("shop", old_only, keep=1, max_age_days=30, now=NOW) == []  # the newest stays


def test_restore_latest_or_a_name_from_the_destination():
    mine = names("shop", 3)
    assert rules.chosen_archive("shop", mine, "latest") == mine[0]
    assert rules.chosen_archive("shop", mine, mine[2]) == mine[2]
    for wanted, words in (("nothing.tar.gz", "no such archive"), ("../etc/passwd", "expected an archive's name")):
        with pytest.raises(BackupError, match=words):
            rules.chosen_archive("shop", mine, wanted)
    with pytest.raises(BackupError, match="no backup of blog"):
        rules.chosen_archive("blog", mine, "latest")


@pytest.mark.parametrize("name, ok", [
    ("manifest.json", True), ("database/postgres.pgd", True), ("database/sqlite/main.db", True),
    ("files/data/shop.db", True), ("files/site/uploads/a b.pdf", True),
    ("files/data/../../etc/passwd", False), ("/etc/passwd", False), ("files/other/x", False),
    ("database/sqlite/x.txt", False), ("database/other.sql", False), ("files/data", False),
    ("files//data/x", False), ("files/data/./x", False), ("files/data\\x", False), ("", False),
])
def test_only_members_we_write_may_be_extracted(name, ok):
    assert rules.member_ok(name) is ok


def test_our_records_and_sqlite_side_files_are_not_copied_as_files():
    assert rules.skipped_in_files(rules.STATUS_FILE, [])
    assert rules.skipped_in_files("sub/" + rules.SETUP_RECORD, [])
    assert rules.skipped_in_files("shop.db-wal", ["shop.db"]) and rules.skipped_in_files("shop.db", ["shop.db"])
    assert not rules.skipped_in_files("uploads/shop.db.pdf", ["shop.db"])


def manifest(**changes) -> Manifest:
    fields = dict(site="shop", created="2026-12-05T12:00:00+00:00", versions={"genropy": "26.10.26"},
                  database={"implementation": "postgres", "dbname": "shop"}, model="abc",
                  members={"database/postgres.pgd": {"size": 3, "sha256": "00"}})
    fields.update(changes)
    return Manifest(**fields)


def test_a_manifest_round_trips_and_garbage_is_one_line():
    text = manifest().to_json()
    assert Manifest.from_json(text) == manifest()
    with pytest.raises(BackupError, match="not a genropy-asgi manifest"):
        Manifest.from_json(b'{"site": 1}')


def test_what_may_be_restored_here():
    here = {"genropy": "26.10.26"}
    assert rules.check_restorable(manifest(), "a", "shop", "postgres", here, RestoreOptions()) == []
    with pytest.raises(BackupError, match="backup of 'shop', this is 'blog'.*--other-instance"):
        rules.check_restorable(manifest(), "a", "blog", "postgres", here, RestoreOptions())
    assert rules.check_restorable(manifest(), "a", "blog", "postgres", here, RestoreOptions(other_instance=True))
    with pytest.raises(BackupError, match="holds a postgres database, this site uses sqlite"):
        rules.check_restorable(manifest(), "a", "shop", "sqlite", here, RestoreOptions())
    newer = manifest(versions={"genropy": "27.1.0"})
    with pytest.raises(BackupError, match="GenroPy 27.1.0.*--allow-newer"):
        rules.check_restorable(newer, "a", "shop", "postgres", here, RestoreOptions())
    assert rules.check_restorable(newer, "a", "shop", "postgres", here, RestoreOptions(allow_newer=True))
    with pytest.raises(BackupError, match="archive format 99"):
        rules.check_restorable(manifest(format=99), "a", "shop", "postgres", here, RestoreOptions())


@pytest.mark.parametrize("raw, expected", [
    ("/backups", rules.Destination(folder="/backups")),
    ("/backups/", rules.Destination(folder="/backups")),
    ("s3://site-backups", rules.Destination(bucket="site-backups")),
    ("s3://site-backups/shop/daily/", rules.Destination(bucket="site-backups", prefix="shop/daily")),
])
def test_destinations(raw, expected):
    assert rules.parse_destination(raw) == expected


@pytest.mark.parametrize("raw", ["backups", "s3://", "s3://UPPER", "s3://a", "ftp://x"])
def test_bad_destinations_are_one_line(raw):
    with pytest.raises(BackupError, match="GENROPY_BACKUP_DESTINATION"):
        rules.parse_destination(raw)
