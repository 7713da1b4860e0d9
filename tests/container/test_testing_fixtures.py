"""genropy_asgi.testing as a user meets it: a suite of their own (the throwaway ledger
project, not the demo) run by pytest in a subprocess with only the public fixtures and
client, on SQLite and on PostgreSQL; the reuse of the containers across runs; the
testcontainers conventions (wait strategy, loopback ports, names, labels, Ryuk)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
from projects.ledger_suite.checkout import run_pytest, user_project

from genropy_asgi.testing.containers import LABEL, PROJECT_LABEL, REUSE_LABEL, GenropyAsgiContainer, ReaperUnavailable


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_user_suite_with_per_test_isolation(tmp_path, image, postgres_image, database):
    folder = user_project(tmp_path, database)
    result = run_pytest(folder, env={"GENROPY_ASGI_IMAGE": image, "GENROPY_ASGI_POSTGRES_IMAGE": postgres_image})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert re.search(r"\b20 passed\b", result.stdout), result.stdout[-2000:]
    assert "genropy_asgi: site 'ledgersite' started in" in result.stdout
    assert "PytestAssertRewriteWarning" not in result.stdout + result.stderr


def test_reuse_keeps_the_site_for_the_next_run(tmp_path, image, docker):
    suite = textwrap.dedent("""\
        def test_writes(genropy_page):
            page = genropy_page("/index")
            assert page.rpc("entry_count") == 0
            page.rpc("add_entry", title="kept?", amount=1)

        def test_logged_in(genropy_page, genropy_admin):
            assert genropy_page("/index", login=True).rpc("whoami") == genropy_admin.user
        """)
    folder = user_project(tmp_path, "sqlite", suite)
    env = {"GENROPY_ASGI_IMAGE": image}
    try:
        first = run_pytest(folder, "--genropy-reuse", env=env)
        assert first.returncode == 0 and "started in" in first.stdout, first.stdout[-4000:]
        kept = docker.containers.list(filters={"label": REUSE_LABEL})
        assert len(kept) == 1 and kept[0].status == "running"
        # the README's clean-up command finds this project's kept containers, nobody else's
        project = (folder / "ledger").resolve()
        assert docker.containers.list(filters={"label": f"{PROJECT_LABEL}={project}"}) == kept
        assert docker.containers.list(filters={"label": f"{PROJECT_LABEL}={tmp_path / 'elsewhere'}"}) == []
        second = run_pytest(folder, "--genropy-reuse", env=env)  # the row of run 1 is gone, the admin logs in
        assert second.returncode == 0, second.stdout[-4000:]
        seconds = float(re.search(r"site 'ledgersite' reused in ([\d.]+) s", second.stdout).group(1))
        print(f"reused start: {seconds:.1f} s")
        assert docker.containers.list(filters={"label": REUSE_LABEL}) == kept
        (folder / "ledger" / "packages" / "ledger" / "webpages" / "other.py").write_text("# changed project\n")
        third = run_pytest(folder, "--genropy-reuse", env=env)  # other inputs: a new site, the old one removed
        assert third.returncode == 0 and "started in" in third.stdout, third.stdout[-4000:]
        now = docker.containers.list(all=True, filters={"label": REUSE_LABEL})
        assert len(now) == 1 and now[0].id != kept[0].id
    finally:
        for container in docker.containers.list(all=True, filters={"label": LABEL}):
            GenropyAsgiContainer.remove_kept(docker, container)


def test_testcontainers_conventions(image, docker):
    site = GenropyAsgiContainer(image, name="genropy-conventions", labels={"team": "billing"})
    with site.with_labels(purpose="conventions"):
        container = site.get_wrapped_container()
        assert container.name == "genropy-conventions"
        assert {"team": "billing", "purpose": "conventions", LABEL: "site"}.items() <= container.labels.items()
        bindings = container.attrs["HostConfig"]["PortBindings"]
        assert {binding["HostIp"] for port in bindings.values() for binding in port} == {"127.0.0.1"}
        assert site.get_url().startswith("http://127.0.0.1:")
        assert site.client().page("/index").rpc("whoami").startswith("guest_")


def test_ryuk_unavailable_is_a_clear_message():
    code = textwrap.dedent("""\
        from genropy_asgi.testing.containers import GenropyAsgiContainer
        GenropyAsgiContainer().start()
        """)
    env = {**os.environ, "TESTCONTAINERS_RYUK_DISABLED": "false", "RYUK_CONTAINER_IMAGE": "genropy-asgi/no-ryuk:none"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("genropy_asgi.testing.containers.ReaperUnavailable: testcontainers' reaper (Ryuk) is on")
    assert "TESTCONTAINERS_RYUK_DISABLED=true" in last and ReaperUnavailable.__name__ in last
