"""GenroPy's whole process set in the image: real-time channel, scheduler, workers, supervision.

Everything through the container's one published port, as a browser and a CI job
would see it; processes inside are found by their command line (/proc), never by a
broad name from the host.
"""

from __future__ import annotations

import time

import httpx
import pytest

from genropy_asgi.testing import faults
from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.containers import GenropyAsgiContainer

LISTENERS = """
import socket
found = set()
for table, family in (('/proc/net/tcp', socket.AF_INET), ('/proc/net/tcp6', socket.AF_INET6)):
    for line in open(table).read().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == '0A':  # LISTEN
            address, port = local.split(':')
            raw = bytes.fromhex(address)
            if family == socket.AF_INET:
                raw = raw[::-1]
            else:
                raw = b''.join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
            found.add(f'{socket.inet_ntop(family, raw)} {int(port, 16)}')
print('\\n'.join(sorted(found)))
"""

PROBE = """
import socket, sys
host = sys.argv[1]
for port in sys.argv[2:]:
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        print(port, 'open')
    except OSError as exc:
        print(port, type(exc).__name__)
"""


def async_server_pids(site, kill: bool = False) -> list[int]:
    container = site.get_wrapped_container()
    pids = faults.program_pids(container, "async")
    for pid in pids if kill else ():
        faults.kill(container, pid)
    return pids


def assert_push_arrives(url: str, title: str) -> None:
    watcher = GenropyPage(url)
    with watcher.channel() as channel:
        GenropyPage(url).rpc("add_note", title=title)
        # the scheduled task of the demo saves notes too: wait for this one's
        message = channel.next_publish_text("demo_note_saved", containing=f"<title>{title}</title>")
    assert f"<title>{title}</title>" in message


@pytest.fixture(scope="module")
def tasks_site(image):
    with GenropyAsgiContainer(image, env={"GENROPY_TASKS": "true", "GENROPY_TASK_WORKERS": "2"}) as site:
        yield site


def test_websocket_through_the_published_port_gets_the_push_of_a_save(tasks_site):
    assert_push_arrives(tasks_site.get_url(), "saved in another connection")
    assert tasks_site.get_websocket_url().endswith("/websocket")


def test_the_scheduled_task_of_the_demo_package_leaves_a_record(tasks_site):
    page = GenropyPage(tasks_site.get_url())
    deadline = time.monotonic() + 120
    titles: list[str] = []
    while time.monotonic() < deadline:
        titles = page.rpc("note_titles") or []  # GenroPy sends an empty list as None
        if any(title.startswith("scheduled ") for title in titles):
            return
        time.sleep(2)
    pytest.fail(f"no note from the scheduled task; notes: {titles}\n{tasks_site.logs_tail(80)}")


def test_every_program_logs_with_its_name(tasks_site):
    logs = tasks_site.get_wrapped_container().logs().decode(errors="replace")
    for program in ("gnrdaemon", "async", "server", "taskscheduler", "taskworker_0", "taskworker_1"):
        assert f"\n{program} | " in logs, f"no line from {program}"


def test_only_the_web_and_metrics_ports_listen_beyond_loopback(tasks_site, docker):
    listeners = tasks_site.exec(["python", "-c", LISTENERS]).output.decode().strip().splitlines()
    public = [entry for entry in listeners if not entry.startswith(("127.", "::1 "))]
    assert sorted(public) == ["0.0.0.0 8080", "0.0.0.0 9090"], listeners  # 9090: GENROPY_METRICS_PORT
    assert any(entry.endswith(" 14951") for entry in listeners)  # the scheduler is there, on loopback
    tasks_site.get_wrapped_container().reload()
    address = tasks_site.get_wrapped_container().attrs["NetworkSettings"]["IPAddress"]
    probe = docker.containers.run(tasks_site.site_image, entrypoint=["python", "-c", PROBE, address,
                                                                     "8080", "9090", "40404", "14951"], remove=True)
    assert probe.decode().strip().splitlines() == ["8080 open", "9090 open", "40404 ConnectionRefusedError",
                                              "14951 ConnectionRefusedError"]


def test_a_killed_async_server_is_restarted_and_pages_get_pushes_again(image):
    with GenropyAsgiContainer(image) as site:
        url = site.get_url()
        assert_push_arrives(url, "before the kill")
        killed = async_server_pids(site, kill=True)
        assert len(killed) == 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            restarted = async_server_pids(site)
            if restarted and restarted != killed and httpx.get(url + "/_server/ready").status_code == 200:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"gnr web async not back after 60 s\n{site.logs_tail(40)}")
        assert_push_arrives(url, "after the restart")


def test_an_async_server_crashing_in_a_loop_stops_the_container(image):
    with GenropyAsgiContainer(image, env={"GENROPY_CRASH_RESTARTS": "3"}) as site:
        container = site.get_wrapped_container()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            container.reload()
            if container.status in ("exited", "dead"):
                break
            try:
                async_server_pids(site, kill=True)
            except Exception:  # the container stopped between reload and exec
                pass
            time.sleep(1)
        container.reload()
        assert container.status == "exited", site.logs_tail(40)
        assert container.attrs["State"]["ExitCode"] == 1
        last = container.logs().decode(errors="replace").strip().splitlines()[-1]
        assert last.startswith("genropy-asgi: error: async ") and last.endswith("stopping the container"), last
