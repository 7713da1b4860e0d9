"""The docs site builds strictly (no broken link or anchor) with no network, and the README stays a
short front page whose links all lead somewhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from support import REPO

BIN = Path(sys.executable).parent


def test_the_docs_site_builds_strict(tmp_path):
    result = subprocess.run([str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "site" / "image" / "index.html").is_file()


def test_the_readme_is_short_and_its_links_exist():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme):
        if target.startswith(("http://", "https://")):
            continue
        assert (REPO / target).exists(), f"README links to {target}, which is not in the repository"


def test_every_docs_page_is_in_the_navigation():
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(page.name for page in (REPO / "docs").glob("*.md"))
    assert [page for page in pages if f": {page}" not in nav] == []
