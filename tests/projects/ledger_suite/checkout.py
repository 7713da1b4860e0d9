"""A user's checkout of the ledger project, and pytest run on it as the user runs it
(used by tests/container/test_testing_fixtures.py and bench/run.py's ``testing`` section)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
LEDGER = HERE.parent / "ledger"
SUITE = HERE / "ledger_user_suite.py"


def user_project(folder: Path, database: str, suite: str | None = None, isolation: str = "test") -> Path:
    """Their GenroPy project, a pytest.ini naming it, their tests (the 20-test suite unless
    ``suite`` is given)."""
    shutil.copytree(LEDGER, folder / "ledger")
    (folder / "pytest.ini").write_text(textwrap.dedent(f"""\
        [pytest]
        genropy_project = ledger
        genropy_site = ledgersite
        genropy_database = {database}
        genropy_isolation = {isolation}
        """))
    (folder / "tests").mkdir()
    (folder / "tests" / "test_ledger.py").write_text(suite or SUITE.read_text())
    return folder


def run_pytest(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """pytest in the checkout, in a subprocess; assert-rewrite warnings are errors."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W",
                           "error::pytest.PytestAssertRewriteWarning", *args], cwd=folder,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=600)
