"""`docker compose up`, as a developer runs it from a fresh clone."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
from gnrclient import GenroPage
from support import REPO


def test_compose_file_is_valid_and_lint_clean(compose_env):
    result = subprocess.run(["docker", "compose", "-f", "docker-compose.yml", "config", "-q"], cwd=REPO,
                            env=compose_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lint = subprocess.run([sys.executable, "-m", "yamllint", "-s", "docker-compose.yml", ".yamllint.yaml"], cwd=REPO,
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_up_serves_keeps_data_across_restart_and_down_v_removes_it(project):
    project.run("up", "-d", "--wait")
    assert httpx.get(project.url + "/index").status_code == 200
    assert httpx.get(project.url + "/_server/ready").json()["ready"] is True
    GenroPage(project.url).rpc("add_note", title="kept across restarts")

    project.run("restart")
    wait_ready(project.url)
    assert "kept across restarts" in GenroPage(project.url).rpc("note_titles")

    project.run("down", "-v")
    volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project.name}"],
                             capture_output=True, text=True).stdout.split()
    assert volumes == []
    project.run("up", "-d", "--wait")
    assert "kept across restarts" not in GenroPage(project.url).rpc("note_titles")


def test_an_edited_page_shows_on_the_next_request(project):
    project.run("up", "-d", "--wait")
    page_file = project.folder / "demo" / "packages" / "demo" / "webpages" / "index.py"
    page_file.write_text(page_file.read_text().replace("GenroPy demo on genropy-asgi", "Edited by the developer"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if "Edited by the developer" in GenroPage(project.url).rpc_raw("main").text:
                return
        except (httpx.HTTPError, AssertionError):
            pass
        time.sleep(0.5)
    pytest.fail("the edited page never showed up")


def test_ports_are_published_on_loopback_only(project):
    published = project.run("config", "--format", "json").stdout
    assert '"host_ip": "127.0.0.1"' in published


def wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/_server/ready", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} not ready after {timeout}s")
