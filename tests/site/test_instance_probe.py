"""The check's probe (genropy_asgi.container.instance_probe): GenroPy loads the instance, or one line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import DEMO_PROJECT

from genropy_asgi.testing.local import GnrWorkspace

pytestmark = pytest.mark.site


def broken(workspace: GnrWorkspace, case: str) -> None:
    config = workspace.instance_dir / "config" / "instanceconfig.xml"
    model = sorted((workspace.project_dir / "packages" / "demo" / "model").glob("*.py"))[0]
    if case == "package":
        config.write_text(config.read_text().replace('<demo pkgcode="demo"/>', '<demo pkgcode="demo"/><ghost/>'))
    elif case == "module":
        model.write_text("import not_installed_anywhere\n" + model.read_text())
    elif case == "syntax":
        model.write_text("def broken(:\n" + model.read_text())


@pytest.mark.parametrize("case, expected", [
    ("loads", None),
    ("package", "Exception: Error: package ghost not found"),
    ("module", "ModuleNotFoundError: No module named 'not_installed_anywhere' ({model}:1)"),
    ("syntax", "SyntaxError: invalid syntax ({model}:1)"),
])
def test_the_probe_loads_the_instance_or_says_why_in_one_line(tmp_path, case, expected):
    workspace = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path / "ws",
                                    db_override={"implementation": "postgres", "host": "nowhere.invalid",
                                                 "user": "u", "password": "p"})  # never connected to
    broken(workspace, case)
    result = subprocess.run([sys.executable, "-m", "genropy_asgi.container.instance_probe", "demo",
                             str(workspace.projects_dir)], env=workspace.env(), capture_output=True, text=True,
                            timeout=120)
    if expected is None:
        assert result.returncode == 0, result.stderr[-2000:]
        return
    model = sorted((workspace.project_dir / "packages" / "demo" / "model").glob("*.py"))[0]
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last == expected.format(model=model) or (case == "package" and last.startswith(expected)), result.stderr
    assert "Traceback" not in result.stderr
