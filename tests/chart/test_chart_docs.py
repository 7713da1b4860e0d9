"""The chart's values are documented once (``# --`` comments); README table and schema follow."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "chart-docs"


def test_readme_table_and_schema_descriptions_are_current():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_an_undocumented_key_is_named():
    docs = runpy.run_path(str(SCRIPT))
    text = "site:\n  # -- documented\n  name: demo\n  port: 8080\nresources:\n  requests: {cpu: 1}\n"
    table, undocumented = docs["rows"](text)
    assert undocumented == ["site.port", "resources.requests"]
    assert [row[0] for row in table] == ["site.name"]
    listed = "# -- hosts\nhosts:\n  - host: a\n    paths:\n      - path: /\n"
    assert docs["rows"](listed) == ([("hosts", "hosts", True)], [])
