"""An instance without its own root.py (compat.instance_site): one line from gnrasgiserve, and
served when GenroPy's standard root.py is in its site folder, the project unchanged."""

from __future__ import annotations

import inspect
import subprocess

import pytest
from support import BIN, DEMO_PROJECT, start_server

from genropy_asgi.compat.instance_site import STANDARD_ROOT_PY
from genropy_asgi.testing.local import GnrDaemonProcess, GnrWorkspace, http_status

pytestmark = pytest.mark.site


def test_genropy_still_needs_root_py_beside_the_instance():
    """Fails the day GenroPy resolves an instance without ``<instance>/root.py``: drop the compat then."""
    from gnr.app.pathresolver import PathResolver

    original = inspect.unwrap(PathResolver.entity_name_to_path)
    assert PathResolver.entity_name_to_path is not original  # patched in this interpreter too
    source = inspect.getsource(original)
    assert "root_py_path = expandpath(os.path.join(folders[0],'root.py'))" in source
    assert "raise EntityNotFoundException" in source


@pytest.fixture(scope="module")
def rootless(tmp_path_factory):
    """The demo, its instance's root.py removed (as in repositories that never commit it)."""
    workspace = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path_factory.mktemp("rootless"))
    (workspace.instance_dir / "root.py").unlink()
    workspace.db_setup()
    daemon = GnrDaemonProcess(workspace)
    yield workspace
    daemon.stop()
    workspace.remove()


def test_gnrasgiserve_names_the_missing_root_py_in_one_line(rootless):
    result = subprocess.run([str(BIN / "gnrasgiserve"), rootless.site_name, "-p", "1"], env=rootless.env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "root.py" in line]
    assert lines and f"the instance {rootless.instance_dir} has no root.py" in lines[-1], result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_the_standard_root_py_in_the_site_folder_serves_the_instance(rootless):
    site = rootless.instance_dir / "site"
    site.mkdir(exist_ok=True)
    (site / "root.py").write_text(STANDARD_ROOT_PY)
    before = sorted(str(p.relative_to(rootless.project_dir)) for p in rootless.project_dir.rglob("*")
                    if "site" not in p.relative_to(rootless.project_dir).parts and "data" not in
                    p.relative_to(rootless.project_dir).parts and "__pycache__" not in p.parts)
    server = start_server(rootless, "gnrasgiserve", "--nodebug", name="rootless")
    try:
        assert http_status(server.base_url + "/index") == 200
        # another GenroPy process (the path every gnr command takes) resolves it the same way
        probe = ("from gnr.app.pathresolver import PathResolver; "
                 f"print(PathResolver().site_name_to_path({rootless.site_name!r}))")
        resolved = subprocess.run([str(BIN / "python"), "-c", probe], env=rootless.env(), capture_output=True,
                                  text=True, timeout=60)
        assert resolved.stdout.strip().splitlines()[-1] == str(site), resolved.stderr[-2000:]
        # the file itself is a WSGI script of that site, as GenroPy's own root.py is
        # (root.py sends stdout to stderr, as GenroPy's own does: the name goes to the real stdout)
        script = f"import runpy, sys; sys.__stdout__.write(runpy.run_path({str(site / 'root.py')!r})['site'].site_name)"
        named = subprocess.run([str(BIN / "python"), "-c", script], env=rootless.env(), capture_output=True,
                               text=True, timeout=120)
        assert named.stdout.strip().splitlines()[-1:] == [rootless.site_name], named.stderr[-2000:]
    finally:
        assert server.stop() == 0
    after = sorted(str(p.relative_to(rootless.project_dir)) for p in rootless.project_dir.rglob("*")
                   if "site" not in p.relative_to(rootless.project_dir).parts and "data" not in
                   p.relative_to(rootless.project_dir).parts and "__pycache__" not in p.parts)
    assert after == before  # no file of the project's own was added
    assert not (rootless.instance_dir / "root.py").exists()
