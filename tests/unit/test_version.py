"""The version is written once (genropy_asgi/__init__.py); everything that must repeat it agrees."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import genropy_asgi

ROOT = Path(__file__).resolve().parents[2]


def test_the_chart_the_image_and_the_changelog_say_the_package_version():
    version = genropy_asgi.__version__
    chart = (ROOT / "helm" / "genropy-asgi" / "Chart.yaml").read_text()
    assert re.search(rf'^appVersion: "{re.escape(version)}"$', chart, re.M), "Chart.yaml appVersion"
    assert re.search(r"^ARG VERSION=(.+)$", (ROOT / "Dockerfile").read_text(), re.M).group(1) == version
    assert f"## [{version}]" in (ROOT / "CHANGELOG.md").read_text()
    assert 'dynamic = ["version"]' in (ROOT / "pyproject.toml").read_text()
    label = subprocess.run(["bash", "-c", "sed -n 's/^__version__ = \"\\(.*\\)\"$/\\1/p' genropy_asgi/__init__.py"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert label == version  # what scripts/build-image passes as the image label
