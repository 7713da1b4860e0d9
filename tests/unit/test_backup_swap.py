"""A restore's last step on the files: the restored folder takes the live one's place, the previous
files kept aside — by one rename beside it, or, when its parent is not ours to write (a root-owned
project) or it is a mount point, file by file inside it."""

from __future__ import annotations

import os

from genropy_asgi.container import site_backup
from genropy_asgi.container.backup_rules import ASIDE_PREFIX


def tree(root) -> dict[str, str]:
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = open(path).read()
    return found


def prepared(tmp_path):
    live = tmp_path / "instance" / "site"
    (live / "uploads").mkdir(parents=True)
    (live / "uploads" / "old.txt").write_text("old")
    return live


def test_the_restored_folder_replaces_the_live_one_by_one_rename_and_the_old_stays_beside(tmp_path):
    live = prepared(tmp_path)
    new, inside = site_backup.staging_place(str(live))
    assert not inside and new.startswith(str(live) + ".restoring-")
    os.makedirs(os.path.join(new, "uploads"))
    with open(os.path.join(new, "uploads", "new.txt"), "w") as handle:
        handle.write("new")
    aside = site_backup.swap_folder(str(live), new, inside, "20261205T120000Z")
    assert aside == f"{live}.before-restore-20261205T120000Z"
    assert tree(live) == {"uploads/new.txt": "new"} and tree(aside) == {"uploads/old.txt": "old"}


def test_inside_staging_is_used_as_root_would_need_it(tmp_path):
    """The inside variant forced (root writes every parent): same result, old files aside inside."""
    live = prepared(tmp_path)
    new = os.path.join(live, ".genropy-restoring-1")
    os.makedirs(os.path.join(new, "uploads"))
    with open(os.path.join(new, "uploads", "new.txt"), "w") as handle:
        handle.write("new")
    aside = site_backup.swap_folder(str(live), new, True, "20261205T120000Z")
    assert aside == os.path.join(live, ASIDE_PREFIX + "20261205T120000Z")
    assert tree(aside) == {"uploads/old.txt": "old"}
    assert open(os.path.join(live, "uploads", "new.txt")).read() == "new"
    assert site_backup.folder_has_data(str(live))  # new.txt is data
    os.unlink(os.path.join(live, "uploads", "new.txt"))
    assert site_backup.folder_has_data(str(live)) is False  # only the aside folder left: not data


def test_an_empty_live_folder_is_simply_replaced(tmp_path):
    live = tmp_path / "data"
    live.mkdir()
    new, inside = site_backup.staging_place(str(live))
    os.makedirs(new)
    open(os.path.join(new, "x.db"), "w").close()
    assert site_backup.swap_folder(str(live), new, inside, "t") is None
    assert os.listdir(live) == ["x.db"]
