"""Faults in the image, under a steady load: a program killed with SIGKILL, PostgreSQL
restarted, a cold start, 16 clients at once. The container recovers by itself and our own
plumbing never answers a 5xx other than the ready gate's 503 with Retry-After.

Figures are printed (failed requests, seconds until pages answer again), never asserted as
timings: the assertions are that the container keeps running, serves again, and what kind
of answers the clients got.
"""

from __future__ import annotations

import time

import docker as docker_sdk
import pytest
from support import assert_daemon_on_loopback_with_own_key

from genropy_asgi.testing import faults
from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.containers import GenropyAsgiContainer
from genropy_asgi.testing.load import SteadyLoad

pytestmark = pytest.mark.docker

RPC = "note_count"  # the demo page's cheapest RPC


def plumbing_errors(answers) -> list:
    """Answers no client should ever get from us: a 5xx that is not the gate's 503 + Retry-After."""
    return [a for a in answers if a.status is not None and a.status >= 500 and not a.gate]


@pytest.mark.parametrize("workers, program", [
    ("1", "gnrdaemon"), ("1-pyro", "gnrdaemon"), ("1", "web server"), ("2", "gunicorn master"),
    ("2", "gunicorn worker"), ("1", "task scheduler"),
])
def test_a_killed_program_comes_back_and_the_site_serves(image, workers, program):
    """``1``: the register in the web server (GENROPY_REGISTER=local, the default); ``1-pyro``
    and ``2``: gnrdaemon's."""
    env = {"GENROPY_WORKERS": workers.split("-")[0], **({"GENROPY_REGISTER": "pyro"} if "pyro" in workers else {}),
           **({"GENROPY_TASKS": "true"} if program == "task scheduler" else {})}
    with GenropyAsgiContainer(image, env=env) as site:
        container = site.get_wrapped_container()
        server = faults.program_pid(container, "web server") if program == "gnrdaemon" else None
        outcome = faults.kill_under_load(site, program, RPC)
        print(f"\nkill -9 {program}: serving again after {outcome.seconds:.1f} s, container running; "
              f"{len(outcome.failed)} of {outcome.total} requests failed ({outcome.summary})")
        assert outcome.extra["pid"] not in faults.program_pids(container, program)
        logs = container.logs().decode(errors="replace")
        assert "Address already in use" not in logs  # the dead program's children freed its port
        assert not plumbing_errors(outcome.failed), outcome.summary
        if program == "gnrdaemon" and "pyro" in workers:  # the server found the new register by itself
            assert "site register found again" in logs
            assert faults.program_pid(container, "web server") == server
        if program == "gnrdaemon" and "pyro" not in workers:  # its register is not gnrdaemon's: nothing failed
            assert not outcome.failed, outcome.summary
            assert faults.program_pid(container, "web server") == server
        if program == "task scheduler":
            assert not outcome.failed, outcome.summary  # pages never needed it
        if program == "gunicorn worker":  # the other worker serves; lost at most what the killed one held
            assert len(outcome.failed) <= 2 and all(a.status is None for a in outcome.failed), outcome.summary
        page = GenropyPage(site.get_url())
        page.rpc("add_note", title=f"after killing {program}")
        assert f"after killing {program}" in page.rpc("note_titles")


def test_a_gnrdaemon_restart_keeps_the_logged_in_users(image):
    """supervisord restarts gnrdaemon (SIGTERM: registers saved, then restored): nobody is logged out."""
    site = GenropyAsgiContainer(image, env={"GENROPY_REGISTER": "pyro"}).with_secret("GNR_ADMIN_PASSWORD", "restart-Admin-1")
    with site:
        page = GenropyPage(site.get_url())
        page.rpc("login_doLogin", login="<GenRoBag><user>admin</user><password>restart-Admin-1</password></GenRoBag>::BAG",
                 rootenv="<GenRoBag></GenRoBag>::BAG")
        assert page.rpc("whoami") == "admin"
        started = time.monotonic()
        restart = site.exec(["python", "-m", "genropy_asgi.container.supervisorctl", "restart", "gnrdaemon"])
        assert restart.exit_code == 0, restart.output.decode()
        assert page.rpc("whoami") == "admin"  # the same page and login, through the restarted daemon
        print(f"\ngnrdaemon restarted: the logged-in page answered again after {time.monotonic() - started:.1f} s")
        logs = site.get_wrapped_container().logs().decode(errors="replace")
        assert "registers of demo saved" in logs and "restored" in logs
        assert_daemon_on_loopback_with_own_key(site)


def test_a_killed_web_server_keeps_the_logged_in_users(image):
    """GENROPY_REGISTER=local (the default): the register lives in the web server, saved within a
    second of a change: a ``kill -9`` of the server (supervisord restarts it) logs nobody out."""
    with GenropyAsgiContainer(image).with_secret("GNR_ADMIN_PASSWORD", "kill-Admin-1") as site:
        page = GenropyPage(site.get_url())
        page.rpc("login_doLogin", login="<GenRoBag><user>admin</user><password>kill-Admin-1</password></GenRoBag>::BAG",
                 rootenv="<GenRoBag></GenRoBag>::BAG")
        assert page.rpc("whoami") == "admin"
        time.sleep(2)  # the save after the login
        container = site.get_wrapped_container()
        server = faults.program_pid(container, "web server")
        started = time.monotonic()
        faults.kill(container, server)

        def still_admin() -> bool:
            try:
                return page.rpc("whoami") == "admin"
            except Exception:
                return False

        seconds = faults.serving_again(site, still_admin, started)
        print(f"\nkill -9 of the web server: the logged-in page answered again after {seconds:.1f} s")
        assert faults.program_pid(container, "web server") != server
        logs = container.logs().decode(errors="replace")
        assert "register: demo's register runs in this process" in logs and "restored" in logs


def test_sixteen_clients_for_thirty_seconds_get_no_error(image):
    """The thread race on GenroPy's shared connection to `gnr web async` answered 500 under this load."""
    with GenropyAsgiContainer(image, env={"GENROPY_WORKERS": "2"}) as site:
        with SteadyLoad(site.get_url(), clients=16, rpc=RPC) as load:
            time.sleep(30)
        answers = load.snapshot()
        print(f"\n16 clients x 30 s, 2 workers: {len(answers)} requests ({len(answers) / 30:.0f}/s), "
              f"{load.summary()}")
        assert len(answers) > 100
        assert not load.failures(), load.summary(load.failures())


def test_a_cold_start_under_load_answers_only_the_gate_before_ready(image):
    """Clients hammer the port from the moment the container starts: before the process set is
    ready they get a refused connection or 503 + Retry-After, never a GenroPy 500."""
    client = docker_sdk.from_env()
    container = client.containers.run(image, detach=True, environment={"GENROPY_WORKERS": "2"},
                                      ports={"8080/tcp": ("127.0.0.1", None)})
    try:
        container.reload()
        url = f"http://127.0.0.1:{container.attrs['NetworkSettings']['Ports']['8080/tcp'][0]['HostPort']}"
        started = time.monotonic()
        with SteadyLoad(url, clients=8, rpc=RPC, timeout=30) as load:
            deadline = started + 180
            while time.monotonic() < deadline and load.first_success_after(started) is None:
                time.sleep(0.2)
            time.sleep(3)
        answers = load.snapshot()
        first = load.first_success_after(started)
        assert first is not None, container.logs().decode(errors="replace")[-3000:]
        gate = [a for a in answers if a.gate]
        print(f"\ncold start under 8 clients: first page after {first - started:.1f} s; "
              f"{len(answers)} requests: {load.summary()}")
        assert not plumbing_errors(answers), [(a.status, a.sent - started, a.body) for a in plumbing_errors(answers)]
        assert not [a for a in answers if a.status is not None and a.status != 200 and not a.gate]
        assert not [a for a in answers if a.sent > first and not a.ok], "errors after the first page"
        assert gate or all(a.status is None for a in answers if not a.ok)
    finally:
        container.remove(force=True, v=True)


def test_a_postgresql_restart_is_survived(image, postgres_image):
    """PostgreSQL restarts under load: pages answer again soon after it accepts connections,
    and every request after the first success is answered."""
    with GenropyAsgiContainer(image).with_postgres(image=postgres_image) as site:
        outcome = faults.restart_postgres_under_load(site, RPC)
        print(f"\nPostgreSQL restarted ({outcome.extra['database_down']:.1f} s until it accepted connections): "
              f"pages answered {outcome.seconds:.2f} s later; {len(outcome.failed)} failed ({outcome.summary})")
        site.get_wrapped_container().reload()
        assert site.get_wrapped_container().status == "running"
        assert not outcome.extra["failed_after_first"], outcome.extra["failed_after_first"]
        page = GenropyPage(site.get_url())
        page.rpc("add_note", title="after the database restart")
        assert "after the database restart" in page.rpc("note_titles")


def test_two_workers_on_valkey_survive_a_killed_worker_and_a_valkey_restart(image):
    """GENROPY_WORKERS=2, GENROPY_REGISTER=redis (``with_valkey()``): a login holds on both
    workers; a worker killed, then Valkey restarted (its append-only file kept), under load:
    nobody is logged out, and the errors last as long as Valkey is away."""
    with GenropyAsgiContainer(image, env={"GENROPY_WORKERS": "2"}).with_valkey() \
            .with_secret("GNR_ADMIN_PASSWORD", "valkey-Admin-1") as site:
        page = GenropyPage(site.get_url())
        page.rpc("login_doLogin", login="<GenRoBag><user>admin</user><password>valkey-Admin-1</password></GenRoBag>::BAG",
                 rootenv="<GenRoBag></GenRoBag>::BAG")
        for _ in range(10):
            page.client.headers["Connection"] = "close"  # a new connection each time: either worker
            assert page.rpc("whoami") == "admin"
        outcome = faults.kill_under_load(site, "gunicorn worker", RPC)
        assert len(outcome.failed) <= 2 and not plumbing_errors(outcome.failed), outcome.summary
        assert page.rpc("whoami") == "admin"
        with SteadyLoad(site.get_url(), clients=2, rpc=RPC, pause=0.05) as steady:
            time.sleep(1)
            started = time.monotonic()
            site.valkey.get_wrapped_container().restart(timeout=10)
            seconds = faults.serving_again(site, lambda: page.rpc("whoami") == "admin", started)
            time.sleep(1)
        failed = steady.failures(since=started)
        print(f"\nValkey restarted: the logged-in page answered again after {seconds:.1f} s; "
              f"{len(failed)} of {len(steady.snapshot())} requests failed ({steady.summary(failed)})")
        assert page.rpc("whoami") == "admin"  # nobody logged out
        logs = site.get_wrapped_container().logs().decode(errors="replace")
        assert "register is kept in Redis" in logs
