"""The image's configuration surface, proven by behaviour: env vars, a mounted
siteconfig, bad input, SIGTERM, and secrets kept out of inspect, logs and print-config."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
from support import assert_daemon_on_loopback_with_own_key

from genropy_asgi import settings
from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.containers import GenropyAsgiContainer
from genropy_asgi.testing.load import SteadyLoad

REPO = Path(__file__).resolve().parents[2]


def run_to_exit(docker, image, environment=None, command=None, files=None, timeout=120):
    """Run the image to completion; returns (exit code, logs). Files go in before start."""
    import io
    import tarfile

    container = docker.containers.create(image, command=command, environment=environment or {})
    try:
        if files:
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                folders = {str(parent) for path in files if path.startswith("/srv/projects/")
                           for parent in Path(path).parents if str(parent).startswith("/srv/projects")}
                for folder in sorted(folders):  # a project's folders are its owner's, as a mounted one's
                    info = tarfile.TarInfo(folder.lstrip("/"))
                    info.type, info.uid, info.gid, info.mode = tarfile.DIRTYPE, 10001, 0, 0o755
                    tar.addfile(info)
                for path, content in files.items():
                    info = tarfile.TarInfo(path.lstrip("/"))
                    info.size, info.uid, info.gid, info.mode = len(content), 10001, 0, 0o444
                    tar.addfile(info, io.BytesIO(content.encode()))
            container.put_archive("/", buffer.getvalue())
        container.start()
        status = container.wait(timeout=timeout)["StatusCode"]
        return status, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True, v=True)


def test_env_and_mounted_siteconfig_change_what_the_server_does(image):
    siteconfig = ('<?xml version="1.0" encoding="UTF-8"?><GenRoBag><wsgi port="9000" debug="True::B"/>'
                  '<gnrdaemon host="0.0.0.0" port="1" hmac_key="known"/></GenRoBag>')
    container = GenropyAsgiContainer(image, port=9100, env={"GNR_WSGI_OPT_port": "9100",
                                                            "GNR_WSGI_OPT_debug": "false"})
    container.with_file("/etc/genropy/siteconfig.xml", siteconfig)
    with container as site:
        url = site.get_url()  # served on 9100: the variable beats the siteconfig's 9000
        assert httpx.get(url + "/index").status_code == 200
        # debug off: werkzeug's debugger resources are not served
        debugger = httpx.get(url + "/index?__debugger__=yes&cmd=resource&f=debugger.js")
        assert "CONSOLE_MODE" not in debugger.text
        # the daemon of the mounted siteconfig was replaced: loopback and a random key
        assert_daemon_on_loopback_with_own_key(site)


def test_docker_stop_lets_a_15_s_rpc_finish_and_exits_zero(image, tmp_path):
    """`docker stop -t` with the budget settings.stop_grace_seconds gives (45 s for the default
    drain), under a steady load: the 15 s RPC in flight completes, the exit is 0."""
    project = tmp_path / "demo"
    shutil.copytree(REPO / "demo", project, ignore=shutil.ignore_patterns("data", "site", "__pycache__"))
    (project / "packages" / "demo" / "webpages" / "slow.py").write_text(
        "import time\n"
        "from gnr.core.gnrdecorator import public_method\n\n\n"
        "class GnrCustomWebPage(object):\n"
        "    def main(self, root, **kwargs):\n"
        "        root.div('slow page')\n\n"
        "    @public_method\n"
        "    def take_your_time(self, seconds=None, **kwargs):\n"
        "        time.sleep(float(seconds))\n"
        "        return 'finished'\n")
    with GenropyAsgiContainer(image, project_dir=project) as site:
        page = GenropyPage(site.get_url(), "slow")
        outcome = {}

        def slow_call():
            outcome["result"] = page.rpc("take_your_time", seconds="15")

        worker = threading.Thread(target=slow_call)
        with SteadyLoad(site.get_url(), clients=2, rpc="note_count", pause=0.1) as load:
            worker.start()
            time.sleep(1.5)
            container = site.get_wrapped_container()
            stopping = time.monotonic()
            container.stop(timeout=settings.stop_grace_seconds(settings.setting("GENROPY_SHUTDOWN_TIMEOUT").default))
            stopped = time.monotonic()
        worker.join(60)
        assert outcome.get("result") == "finished"
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0, site.logs_tail()
        # every request sent before SIGTERM was answered; after it, connections are refused
        cut = [a for a in load.failures(until=stopping) if not a.error.startswith("ConnectError")]
        print(f"\ndocker stop during a 15 s RPC: it finished, exit 0 after {stopped - stopping:.1f} s; "
              f"load meanwhile: {load.summary()}")
        assert not cut, load.summary(cut)


def test_no_secret_in_inspect_logs_or_print_config(image, postgres_image, docker):
    admin_password = "admin-" + "x7Qp2LmZ"
    with GenropyAsgiContainer(image).with_postgres(image=postgres_image) \
            .with_secret("GNR_ADMIN_PASSWORD", admin_password) as site:
        container = site.get_wrapped_container()
        container.reload()
        db_password = site.postgres.password
        hmac_key = site.exec(["sh", "-c", "grep -o 'hmac_key=\"[^\"]*' /var/lib/genropy/gnr/environment.xml"]) \
            .output.decode().split('"')[-1].strip()
        assert len(hmac_key) >= 32
        secrets = [db_password, admin_password, hmac_key]
        inspected = str(container.attrs["Args"]) + str(container.attrs["Config"]["Cmd"]) + \
            str(container.attrs["Config"]["Env"]) + str(container.attrs["Config"]["Entrypoint"])
        processes = site.exec(["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]).output.decode()
        printed = site.exec(["python", "-m", "genropy_asgi.container.entrypoint",
                             "print-config"]).output.decode()
        logs = container.logs().decode(errors="replace")
        for secret in secrets:
            assert secret not in inspected
            assert secret not in processes
            assert secret not in logs
        assert "********" in printed
        assert db_password not in printed and admin_password not in printed


@pytest.mark.parametrize("environment,command,files,expected", [
    ({}, ["frobnicate"], None, "unknown mode or command 'frobnicate'"),
    ({"GENROPY_WORKERS": "lots"}, None, None, "GENROPY_WORKERS='lots': expected auto or a whole number"),
    ({"GNR_DB_IMPLEMENTATION": "postgres", "GNR_DB_USER": "u"}, None, None,
     "GNR_DB_HOST is required when GNR_DB_IMPLEMENTATION=postgres"),
    ({"GNR_DB_PASSWORD_FILE": "/run/secrets/missing"}, None, None, "GNR_DB_PASSWORD_FILE=/run/secrets/missing: no such file"),
    ({}, None, {"/etc/genropy/siteconfig.xml": "<GenRoBag><wsgi></GenRoBag>"},
     "GENROPY_SITECONFIG=/etc/genropy/siteconfig.xml: not valid XML"),
    ({"GNR_CURRENT_SITE": "nosuchsite"}, None, None, "GNR_CURRENT_SITE='nosuchsite': no instance of that name"),
    ({"GNR_WSGI_OPT_debug": "true"}, None, None, "set GENROPY_ALLOW_DEBUG=true to accept that"),
    ({"GNR_DB_IMPLEMENTATION": "postgres", "GNR_DB_HOST": "nowhere.invalid", "GNR_DB_USER": "u",
      "GENROPY_DB_WAIT": "2"}, None, None, "database nowhere.invalid:5432 not reachable after 2s (GENROPY_DB_WAIT)"),
    ({"GNR_DAEMON_HOST": "gnrdaemon.invalid", "GNR_DAEMON_HMAC_KEY": "k" * 32, "GENROPY_DAEMON_WAIT": "2"}, None, None,
     "gnrdaemon at gnrdaemon.invalid:40404 (GNR_DAEMON_HOST, GNR_DAEMON_PORT) not reachable after 2s"),
    ({"GNR_DAEMON_HOST": "gnrdaemon"}, None, None, "GNR_DAEMON_HOST='gnrdaemon': a shared gnrdaemon needs GNR_DAEMON_HMAC_KEY"),
    ({"GNR_DAEMON_BIND": "0.0.0.0"}, ["daemon"], None, "GNR_DAEMON_BIND='0.0.0.0': gnrdaemon off loopback needs"),
    # your project's instance wants PostgreSQL and names no host (docker run without GNR_DB_*)
    ({"GENROPY_PROJECTS": "/srv/projects", "GNR_CURRENT_SITE": "pgsite"}, None,
     {"/srv/projects/shop/instances/pgsite/config/instanceconfig.xml":
      '<?xml version="1.0" encoding="UTF-8"?><GenRoBag><db implementation="postgres" dbname="shop"/></GenRoBag>'},
     "wants PostgreSQL (<db implementation=\"postgres\">) and names no host: set GNR_DB_IMPLEMENTATION=postgres"),
    # an instance naming a package no project has: the check (compose's site-check) and a plain start
    *[({"GENROPY_PROJECTS": "/srv/projects", "GNR_CURRENT_SITE": "ghostsite"}, command,
       {"/srv/projects/shop/instances/ghostsite/config/instanceconfig.xml":
        '<?xml version="1.0" encoding="UTF-8"?><GenRoBag><db implementation="sqlite"/><packages>'
        '<gnrcore_sys pkgcode="gnrcore:sys"/><ghost/></packages></GenRoBag>',
        "/srv/projects/shop/instances/ghostsite/root.py": "# the project's own"},
      "GenroPy cannot load instance ghostsite: Exception: Error: package ghost not found") for command in (["check"], None)],
])
def test_bad_input_exits_non_zero_with_one_clear_line(docker, image, environment, command, files, expected):
    status, logs = run_to_exit(docker, image, environment, command, files)
    assert status != 0
    errors = [line for line in logs.splitlines() if line.startswith("genropy-asgi: error:")]
    assert len(errors) == 1 and expected in errors[0], logs[-2000:]
    assert "Traceback" not in logs


def test_print_config_writes_nothing_and_masks(docker, image):
    status, logs = run_to_exit(docker, image, {"GNR_DAEMON_HMAC_KEY": "given-hmac-key-1234567890"}, ["print-config"])
    assert status == 0
    assert "given-hmac-key-1234567890" not in logs and "********" in logs
    assert '"mode": "print-config"' in logs


def test_dbsetup_mode_runs_and_exits(docker, image):
    status, logs = run_to_exit(docker, image, {}, ["dbsetup"])
    assert status == 0, logs[-2000:]
    assert "database setup: db setup demo" in logs


def read_only_demo(tmp_path):
    project = tmp_path / "demo"
    shutil.copytree(REPO / "demo", project, ignore=shutil.ignore_patterns("data", "site", "__pycache__"))
    return project, {str(project): {"bind": "/srv/projects/demo", "mode": "ro"}}


def test_a_read_only_project_without_site_data_stops_with_one_line(docker, image, tmp_path):
    """A project mounted :ro with nowhere for GenroPy's writes: one line, exit 2, no traceback."""
    _project, volumes = read_only_demo(tmp_path)
    container = docker.containers.create(image, environment={"GENROPY_PROJECTS": "/srv/projects"}, volumes=volumes)
    try:
        container.start()
        status = container.wait(timeout=120)["StatusCode"]
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True, v=True)
    assert status == 2, logs[-2000:]
    errors = [line for line in logs.splitlines() if line.startswith("genropy-asgi: error:")]
    assert len(errors) == 1 and "the project is mounted read-only" in errors[0], logs[-2000:]
    assert "Traceback" not in logs


def test_a_read_only_project_with_site_data_is_served_untouched(docker, image, tmp_path):
    """A ConfigMap / git-sync / :ro project, GENROPY_SITE_DATA set: served, GenroPy's writes in site data."""
    project, volumes = read_only_demo(tmp_path)
    (project / "instances" / "demo" / "root.py").unlink()  # and no root.py either
    before = sorted(str(p) for p in project.rglob("*"))
    container = docker.containers.run(image, detach=True, volumes=volumes,
                                      environment={"GENROPY_PROJECTS": "/srv/projects",
                                                   "GENROPY_SITE_DATA": "/tmp/site-data"})
    try:
        probe = ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/index', "
                                 "timeout=5).read()"]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            container.reload()
            assert container.status == "running", container.logs().decode(errors="replace")[-3000:]
            if container.exec_run(probe).exit_code == 0:
                break
            time.sleep(2)
        else:
            raise AssertionError("not serving after 180 s:\n" + container.logs().decode(errors="replace")[-3000:])
        logs = container.logs().decode(errors="replace")
        assert "cannot be written: served through a shadow" in logs and "Traceback" not in logs, logs[-3000:]
        written = container.exec_run(["ls", "/tmp/site-data/instances/demo/site", "/tmp/site-data/instances/demo/data"])
        assert b"root.py" in written.output, written.output  # GenroPy's standard one, in site data
    finally:
        container.remove(force=True, v=True)
    assert sorted(str(p) for p in project.rglob("*")) == before  # the project: untouched
