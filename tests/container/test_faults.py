"""Faults in the image: a program killed with SIGKILL; the container recovers by itself.

Figures are printed (seconds until /_server/ready and a page answer again), never asserted
as timings: the assertions are that the container keeps running and serves again.
"""

from __future__ import annotations

import time

import httpx
import pytest
from genropy_asgi.testing.client import GenroPage

from genropy_asgi.testing.containers import GenropyAsgiContainer

pytestmark = pytest.mark.docker

FIND = """
import glob, sys
for proc in glob.glob("/proc/[0-9]*"):
    try:
        command = open(proc + "/cmdline", "rb").read().replace(b"\\0", b" ")
        stat = open(proc + "/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    pid = proc.rsplit("/", 1)[1]
    if sys.argv[1].encode() in command and b"prefix_output" not in command and stat[2] == pid:
        print(pid)
"""


def group_leader(site, needle: str) -> int:
    """The PID of the supervised program whose command line has ``needle`` (its group leader)."""
    found = site.exec(["python3", "-c", FIND, needle]).output.decode().split()
    assert len(found) == 1, found
    return int(found[0])


def recovered(site, started: float) -> float:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        site.get_wrapped_container().reload()
        assert site.get_wrapped_container().status == "running", site.logs_tail()
        try:
            if httpx.get(site.get_url() + "/_server/ready", timeout=5).status_code == 200 and \
                    GenroPage(site.get_url()).rpc("note_count").isdigit():
                return time.monotonic() - started
        except (httpx.HTTPError, AssertionError):
            pass
        time.sleep(0.25)
    raise AssertionError("not serving again after 90 s:\n" + site.logs_tail())


@pytest.mark.parametrize("workers, program, needle", [
    ("1", "gnrdaemon", "genropy_asgi.container.gnrdaemon"),
    ("1", "web server", "gnrasgiserve"),
    ("2", "gunicorn master", "gunicorn -c"),
    ("1", "task scheduler", "taskscheduler"),
], ids=["gnrdaemon", "web server", "gunicorn master", "task scheduler"])
def test_a_killed_program_comes_back_and_the_site_serves(image, workers, program, needle):
    env = {"GENROPY_WORKERS": workers, **({"GENROPY_TASKS": "true"} if program == "task scheduler" else {})}
    with GenropyAsgiContainer(image, env=env) as site:
        assert GenroPage(site.get_url()).rpc("note_count").isdigit()
        pid = group_leader(site, needle)
        server = group_leader(site, "gnrasgiserve") if program == "gnrdaemon" else None
        started = time.monotonic()
        site.exec(["python3", "-c", f"import os, signal; os.kill({pid}, signal.SIGKILL)"])
        seconds = recovered(site, started)
        print(f"\nkill -9 {program}: serving pages again after {seconds:.1f} s, container still running")
        assert group_leader(site, needle) != pid
        logs = site.get_wrapped_container().logs().decode(errors="replace")
        assert "Address already in use" not in logs  # the dead program's children freed its port
        if program == "gnrdaemon":  # the server found the new register by itself: not restarted
            assert "site register found again" in logs
            assert group_leader(site, "gnrasgiserve") == server
        page = GenroPage(site.get_url())
        page.rpc("add_note", title=f"after killing {program}")
        assert f"after killing {program}" in page.rpc("note_titles")


def test_a_gnrdaemon_restart_keeps_the_logged_in_users(image):
    """supervisord restarts gnrdaemon (SIGTERM: registers saved, then restored): nobody is logged out."""
    with GenropyAsgiContainer(image).with_secret("GNR_ADMIN_PASSWORD", "restart-Admin-1") as site:
        page = GenroPage(site.get_url())
        page.rpc("login_doLogin", login="<GenRoBag><user>admin</user><password>restart-Admin-1</password></GenRoBag>::BAG",
                 rootenv="<GenRoBag></GenRoBag>::BAG")
        assert page.rpc("whoami") == "admin"
        started = time.monotonic()
        restart = site.exec(["sh", "-c", "GENROPY_RUN=/var/lib/genropy/run /opt/venv/bin/supervisorctl "
                                         "-c /opt/genropy-asgi/config/supervisord.conf restart gnrdaemon"])
        assert restart.exit_code == 0, restart.output.decode()
        assert page.rpc("whoami") == "admin"  # the same page and login, through the restarted daemon
        print(f"\ngnrdaemon restarted: the logged-in page answered again after {time.monotonic() - started:.1f} s")
        logs = site.get_wrapped_container().logs().decode(errors="replace")
        assert "registers of demo saved" in logs and "restored" in logs
