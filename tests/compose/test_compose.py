"""`docker compose up`, as a developer runs it from a fresh clone."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest
from support import REPO, wait_ready

from genropy_asgi.testing.client import GenropyPage


def test_compose_file_is_valid(compose_env):
    """`docker compose config` accepts it (yamllint: tests/unit/test_lint.py)."""
    for files in (["docker-compose.yml"], ["docker-compose.yml", "tests/compose/remotedb.yml"]):
        profiles = ["--profile", "remotedb", "--profile", "backup", "--profile", "redis"]
        command = ["docker", "compose"] + [arg for f in files for arg in ("-f", f)] + profiles + ["config", "-q"]
        result = subprocess.run(command, cwd=REPO, env=compose_env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_up_serves_keeps_data_across_restart_and_down_v_removes_it(project):
    project.run("up", "-d", "--wait")
    assert httpx.get(project.url + "/index").status_code == 200
    assert httpx.get(project.url + "/_server/ready").json()["ready"] is True
    GenropyPage(project.url).rpc("add_note", title="kept across restarts")
    # generated secrets: 0440 root:0, each only where it is used
    modes = project.run("exec", "-T", "site", "stat", "-c", "%a %u:%g %n", "/run/genropy-secrets/db_password",
                        "/run/genropy-admin/admin_password").stdout.split("\n")
    assert [line.split()[:2] for line in modes if line] == [["440", "0:0"], ["440", "0:0"]]
    in_postgres = project.run("exec", "-T", "postgres", "sh", "-c",
                              "ls /run/genropy-secrets /run/genropy-admin 2>&1; true").stdout
    assert "db_password" in in_postgres and "admin_password" not in in_postgres

    project.run("restart")
    wait_ready(project.url)
    assert "kept across restarts" in GenropyPage(project.url).rpc("note_titles")

    project.run("down", "-v")
    volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project.name}"],
                             capture_output=True, text=True).stdout.split()
    assert volumes == []
    project.run("up", "-d", "--wait")
    assert "kept across restarts" not in (GenropyPage(project.url).rpc("note_titles") or [])  # none: None


PIDS = """
import json, urllib.request
pids = set()
for _ in range(40):
    with urllib.request.urlopen("http://127.0.0.1:8080/_server/info") as answer:  # a new connection each time
        pids.add(json.load(answer)["pid"])
print(json.dumps(sorted(pids)))
"""


def test_two_workers_share_one_register_in_valkey(project):
    """GENROPY_WORKERS=2 with the register in Valkey: a login made through one worker holds on
    every request, whichever worker serves it, and across a restart of the site and of Valkey."""
    import json

    project.env.update({"GENROPY_WORKERS": "2", "GENROPY_REGISTER": "redis"})
    project.run("--profile", "redis", "up", "-d", "--wait")
    info = httpx.get(project.url + "/_server/info").json()
    assert info["register"] == "redis" and "site register" in info["ready_checks"]
    pids = json.loads(project.run("exec", "-T", "site", "/opt/venv/bin/python", "-c", PIDS).stdout)
    assert len(pids) == 2, pids  # both workers answer
    password = project.run("exec", "-T", "site", "cat", "/run/genropy-admin/admin_password").stdout.strip()
    from genropy_asgi.testing.client import GenropyClient

    page = GenropyClient(project.url).login("admin", password)
    for _ in range(20):  # new connections: gunicorn hands them to either worker
        page.client.headers["Connection"] = "close"
        assert page.rpc("whoami") == "admin"
    project.run("--profile", "redis", "restart", "site")
    wait_ready(project.url)
    assert page.rpc("whoami") == "admin"  # the session outlived the site's processes
    project.run("--profile", "redis", "restart", "valkey")
    deadline = time.monotonic() + 30
    while page.rpc_raw("whoami").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert page.rpc("whoami") == "admin"  # and Valkey's restart (append-only file)
    secrets = project.run("exec", "-T", "valkey", "ls", "-l", "/run/genropy-secrets").stdout
    assert "valkey.conf" in secrets
    arguments = project.run("exec", "-T", "valkey", "sh", "-c", "cat /proc/[0-9]*/cmdline").stdout
    assert "valkey-server" in arguments and "requirepass" not in arguments  # in the file, never an argument


def test_an_edited_page_shows_on_the_next_request(project):
    project.run("up", "-d", "--wait")
    page_file = project.folder / "demo" / "packages" / "demo" / "webpages" / "index.py"
    page_file.write_text(page_file.read_text().replace("GenroPy demo on genropy-asgi", "Edited by the developer"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if "Edited by the developer" in GenropyPage(project.url).rpc_raw("main").text:
                return
        except (httpx.HTTPError, AssertionError):
            pass
        time.sleep(0.5)
    pytest.fail("the edited page never showed up")


def test_live_updates_reach_a_page_on_the_site_port(project):
    """docker compose up runs gnr web async by default: /websocket on the site's own port."""
    project.run("up", "-d", "--wait")
    wait_ready(project.url)
    watcher = GenropyPage(project.url)
    with watcher.channel() as channel:
        GenropyPage(project.url).rpc("add_note", title="pushed in compose")
        assert "<title>pushed in compose</title>" in channel.next_publish_text("demo_note_saved")


SERVER_UID = ("python3 -c \"import glob; print(*sorted({open(p + '/status').read().split('Uid:')[1].split()[0] "
              "for p in glob.glob('/proc/[0-9]*') if b'gnrasgi' b'serve' in open(p + '/cmdline', 'rb').read()}))\"")
# (the name split in two: this probe's own cmdline does not match)


def server_uids(project) -> str:
    """The UIDs the web server runs as (``exec`` itself runs as the container's root user)."""
    return project.run("exec", "-T", "site", "sh", "-c", SERVER_UID).stdout.strip()


def test_a_project_owned_by_another_user_is_served_as_that_user(project):
    """A developer's clone (uid 1234 here): GenroPy runs as its owner, what it writes stays theirs."""
    subprocess.run(["chown", "-R", "1234:1234", str(project.folder / "demo")], check=True)
    project.run("up", "-d", "--wait")
    assert httpx.get(project.url + "/_server/ready").json()["ready"] is True
    assert server_uids(project) == "1234"
    data = project.folder / "demo" / "instances" / "demo" / "data"
    assert data.is_dir() and data.stat().st_uid == 1234


def test_a_root_owned_clone_is_served_without_running_as_root(project):
    project.run("up", "-d", "--wait")
    assert httpx.get(project.url + "/_server/ready").json()["ready"] is True
    assert server_uids(project) == "10001"
    logs = project.run("logs", "--no-color", "site").stdout
    assert "started as root: running as uid 10001" in logs and "warn" not in logs.lower().split("genropy-asgi:")[0]


@pytest.mark.parametrize("setting, expected", [
    ({"GENROPY_UID": "4321"}, "not writable by uid 4321"),
    ({"GENROPY_ASYNC_SERVER": "maybe"}, "GENROPY_ASYNC_SERVER='maybe'"),
], ids=["project not writable by GENROPY_UID", "malformed variable"])
def test_a_configuration_error_stops_once_with_its_line(project, setting, expected):
    project.env.update(setting)
    assert_stops_once_in_site_check(project, expected)
    if "GENROPY_UID" in setting:
        assert "GENROPY_UID=" in site_check_error(project)


def test_a_project_genropy_cannot_load_stops_once_with_its_line(project):
    """What only loading the instance finds (a package no project has) stops site-check, not the site."""
    import shutil

    broken = project.folder / "broken"
    shutil.copytree(REPO / "demo", broken, ignore=shutil.ignore_patterns("data", "site", "__pycache__"))
    config = broken / "instances" / "demo" / "config" / "instanceconfig.xml"
    config.write_text(config.read_text().replace('<demo pkgcode="demo"/>', '<demo pkgcode="demo"/><ghost/>'))
    project.env.update({"GENROPY_PROJECT_DIR": "./broken", "GENROPY_PROJECT_NAME": "demo"})
    assert_stops_once_in_site_check(project, "GenroPy cannot load instance demo: Exception: Error: package ghost")


def site_check_error(project) -> str:
    logs = project.run("logs", "--no-color", "site-check").stdout
    errors = [line for line in logs.splitlines() if "genropy-asgi: error:" in line]
    assert len(errors) == 1, logs
    return errors[0]


def assert_stops_once_in_site_check(project, expected: str) -> None:
    result = project.run("up", "-d", "--wait", check=False, timeout=300)
    assert result.returncode != 0
    check = project.run("ps", "-a", "--format", "{{.Service}} {{.State}} {{.ExitCode}}").stdout
    states = dict((line.split()[0], line.split()[1:]) for line in check.splitlines() if line.strip())
    assert states["site-check"] == ["exited", "2"], states
    assert states.get("site", ["created"])[0] in ("created", "exited") and "running" not in states.get("site", [])
    assert expected in site_check_error(project)
    time.sleep(3)
    again = project.run("ps", "-a", "--format", "{{.Service}} {{.State}}").stdout
    assert "restarting" not in again
    for service in ("site-check", "site"):  # Docker's own count: no restart, ever
        for container in project.run("ps", "-a", "-q", service).stdout.split():
            count = subprocess.run(["docker", "inspect", "-f", "{{.RestartCount}}", container], capture_output=True,
                                   text=True, check=True).stdout.strip()
            assert count == "0", f"{service} restarted {count} times"


def test_a_project_with_requirements_that_says_sqlite_runs_on_postgresql(project, tmp_path):
    """tests/projects/shelf: its package wants humanize, its instance says SQLite, it uses gnrcore:email."""
    import shutil
    import sys

    shutil.copytree(REPO / "tests" / "projects" / "shelf", project.folder / "shelf")
    subprocess.run(["chown", "-R", "1234:1234", str(project.folder / "shelf")], check=True)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps",
                    "--python-version", "3.13", "--platform", "any", "-d", str(wheels), "humanize"],
                   check=True, capture_output=True, timeout=300)
    project.files = ["docker-compose.yml", "tests/compose/wheels.yml"]
    project.env.update({"GENROPY_PROJECT_DIR": "./shelf", "GENROPY_PROJECT_NAME": "shelf",
                        "GNR_CURRENT_SITE": "shelfsite", "TEST_WHEELS_DIR": str(wheels)})
    project.run("up", "-d", "--wait")
    page = GenropyPage(project.url)
    page.rpc("add_book", title="Composed", pages="1001")
    assert page.rpc("pages_in_words") == "1,001"
    assert page.rpc("database_in_use") == "postgres shelf"
    assert not (project.folder / "shelf" / "instances" / "shelfsite" / "data" / "shelf").exists()  # no SQLite
    project.run("restart", "site")
    wait_ready(project.url)
    logs = project.run("logs", "--no-color", "site-check", "site").stdout
    assert logs.count("installing the packages' requirements: humanize") == 1  # cached in the volume
    assert "1,001" == GenropyPage(project.url).rpc("pages_in_words")


def test_a_public_project_says_postgresql_on_localhost_and_runs_on_composes_database(project, image):
    """GenroPy's own test_invoice (tests/public_project.py), as the docs say: its folder beside the
    checkout's compose file, three variables, ``up``; its own data and users, the compose admin."""
    from public_project import NAME, SITE, copy_out_of, import_command, served_as_its_users_expect

    public = copy_out_of(image, project.folder)
    project.env.update({"GENROPY_PROJECT_DIR": f"./{NAME}", "GENROPY_PROJECT_NAME": NAME, "GNR_CURRENT_SITE": SITE,
                        "GENROPY_DATA_API": "read"})
    project.run("up", "-d", "--wait")
    inside = {name: project.run("exec", "-T", "site", "sh", "-c", command).stdout.strip() for name, command in (
        ("host", "printenv GNR_DB_HOST"), ("user", "printenv GNR_DB_USER"),
        ("password", 'cat "$GNR_DB_PASSWORD_FILE"'), ("admin", "cat /run/genropy-admin/admin_password"))}
    project.run("exec", "-T", "-e", f"PGPASSWORD={inside['password']}", "site",
                *import_command(f"/srv/projects/{NAME}", inside["host"], inside["user"]))
    served_as_its_users_expect(project.url, ("admin", inside["admin"]), public)
    logs = project.run("logs", "--no-color", "site-check", "site").stdout
    assert f"no root.py for site {SITE}" in logs and "Traceback" not in logs


def test_ports_are_published_on_loopback_only(project):
    published = project.run("config", "--format", "json").stdout
    assert '"host_ip": "127.0.0.1"' in published


def test_remotedb_through_an_ssh_tunnel(project, tmp_path):
    from genropy_asgi.testing.local import free_port

    secrets_dir = tmp_path / "remotedb-secrets"
    secrets_dir.mkdir()
    for name, value in (("ssh_password", "tunnel-pass-1"), ("ssh_server_password", "tunnel-pass-1"),
                        ("db_password", "remote-db-pass-1")):
        (secrets_dir / name).write_text(value + "\n")
        (secrets_dir / name).chmod(0o644)
    port = free_port()
    project.env.update({"REMOTEDB_SECRETS_DIR": str(secrets_dir), "REMOTEDB_SSH_HOST": "sshd",
                        "REMOTEDB_SSH_USER": "remote", "REMOTEDB_DB_NAME": "demo", "REMOTEDB_DB_USER": "remote",
                        "REMOTEDB_SITE_PORT": str(port)})
    project.files = ["docker-compose.yml", "tests/compose/remotedb.yml"]
    url = f"http://127.0.0.1:{port}"

    project.run("--profile", "remotedb", "up", "-d", "--wait", "sshd", "remote-postgres")
    project.run("--profile", "remotedb", "--profile", "remotedb-setup", "run", "--rm", "remote-dbsetup")
    project.run("exec", "-T", "remote-postgres", "psql", "-U", "remote", "-d", "demo", "-c",
                "INSERT INTO demo.demo_note (id, title) VALUES ('remote-only', 'only in the remote database')")
    project.run("--profile", "remotedb", "up", "-d", "--wait", "site-remotedb")
    try:
        titles = GenropyPage(url).rpc("note_titles") or []  # GenroPy sends an empty list as None
    except httpx.HTTPError as exc:
        logs = project.run("--profile", "remotedb", "logs", "--no-color", "--tail", "120", "site-remotedb").stdout
        raise AssertionError(f"{exc}\n--- site-remotedb logs ---\n{logs}") from exc
    assert "only in the remote database" in titles
    logs = project.run("logs", "--no-color", "site-remotedb").stdout
    assert "serving with --remotedb remote" in logs
    assert "tunnel-pass-1" not in logs and "remote-db-pass-1" not in logs

    # a wrong SSH password: a clear error, never another database
    (secrets_dir / "ssh_password").write_text("wrong-password\n")
    project.run("--profile", "remotedb", "up", "-d", "--force-recreate", "--no-deps", "site-remotedb", check=False)
    deadline = time.monotonic() + 120
    logs = ""
    while time.monotonic() < deadline:
        logs = project.run("logs", "--no-color", "site-remotedb").stdout
        if "cannot reach the remote database" in logs:
            break
        time.sleep(2)
    assert "gnrasgiserve: error: --remotedb remote: cannot reach the remote database" in logs
    assert "Authentication" in logs
    with pytest.raises(httpx.HTTPError):
        response = httpx.get(url + "/index", timeout=5)
        response.raise_for_status()


def test_a_backup_under_load_restores_rows_and_files_after_down_v(project):
    """The README's two lines: `docker compose run --rm site backup` while the site serves, then, after
    every volume and the instance's files are gone, `... restore latest --replace` brings them back."""
    import base64
    import shutil

    from genropy_asgi.testing.load import SteadyLoad

    project.run("up", "-d", "--wait")
    page = GenropyPage(project.url)
    for n in range(10):
        page.rpc("add_note", title=f"compose note {n}")
    content = bytes(range(256)) * 400
    url = page.rpc("rpc.upload_file", dataUrl="data:application/octet-stream;base64," + base64.b64encode(content).decode(),
                   uploadPath="site:uploads/compose", filename="kept.bin")
    with SteadyLoad(project.url, clients=2, rpc="note_count") as load:
        backup = project.run("run", "--rm", "-T", "site", "backup")
    print(f"\ncompose backup under load: {load.summary()}\n{backup.stderr[-400:]}")
    assert not load.failures(), load.summary(load.failures())
    archives = sorted((project.folder / "backups").glob("demo-*.tar.gz"))
    assert len(archives) == 1, backup.stderr

    project.run("down", "-v")  # the database, its password, the packages: gone
    for name in ("data", "site"):
        shutil.rmtree(project.folder / "demo" / "instances" / "demo" / name)
    project.run("up", "-d", "--wait")
    assert not GenropyPage(project.url).rpc("note_titles")
    restore = project.run("run", "--rm", "-T", "site", "restore", "latest", "--replace")
    print(restore.stderr[-600:])
    titles = GenropyPage(project.url).rpc("note_titles")
    assert sorted(titles) == sorted(f"compose note {n}" for n in range(10))
    assert httpx.get(project.url + httpx.URL(url).path).content == content
