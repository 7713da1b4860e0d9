"""The deployment's database wins over the instance's own <db> (db_override_compat)."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

from support import DEMO_PROJECT

from genropy_asgi.testing.local import GnrWorkspace


def test_genropy_still_lets_the_instance_win():
    """Fails the day GenroPy merges differently: then drop or revisit db_override_compat."""
    from gnr.app.gnrapp import GnrApp

    source = inspect.getsource(inspect.unwrap(GnrApp.load_instance_config))
    assert "instance_config = normalizePackages(self.gnr_config['gnr.instanceconfig.default_xml'])" in source
    assert "instance_config.update(base_instance_config" in source
    assert GnrApp.load_instance_config is not inspect.unwrap(GnrApp.load_instance_config)  # patched


def sqlite_files(workspace: GnrWorkspace) -> set[str]:
    data = workspace.instance_dir / "data"
    return {path.name for path in data.rglob("*") if path.is_file()} if data.exists() else set()


def test_the_override_replaces_the_instance_db_in_every_process(tmp_path):
    """The demo instance says dbname="demo"; the override names another database: gnr db setup
    (a separate process) and GnrApp both use the override's."""
    workspace = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path / "ws",
                                    db_override={"implementation": "sqlite", "dbname": "from_deployment"})
    workspace.db_setup()
    created = sqlite_files(workspace)
    # SQLite: the main file is named after the database, one more per schema (sys.db, adm.db...)
    assert "from_deployment" in created and "demo" not in created, created
    probe = textwrap.dedent("""
        from gnr.app.gnrapp import GnrApp
        app = GnrApp("demo")
        print(app.db.implementation, app.db.dbname.rsplit("/", 1)[-1])
    """)
    result = subprocess.run([sys.executable, "-c", probe], env=workspace.env(), capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split()[-2:] == ["sqlite", "from_deployment"], result.stdout[-2000:] + result.stderr[-2000:]
