"""GenroPy's real-time channel and task scheduler with real processes, no Docker.

One workspace with ``wsgi websockets`` on and ``tasks async_impl="true"``: gnrdaemon,
``gnrasgiserve`` (which spawns ``gnr web async`` on the site's Unix socket), and
``gnr web taskscheduler`` + ``gnr web taskworker`` on a private scheduler port.
"""

from __future__ import annotations

import subprocess
import time

import pytest
from support import DEMO_PROJECT, start_server

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.local import BIN, GnrDaemonProcess, GnrWorkspace, ManagedProcess, free_port

WEBSOCKETS_ON = {"debug": "False::B", "reload": "False::B", "websockets": "True::B"}


@pytest.fixture(scope="module")
def realtime(tmp_path_factory):
    workspace = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path_factory.mktemp("realtime"),
                                    wsgi=WEBSOCKETS_ON, tasks_async=True)
    workspace.db_setup()
    scheduler_env = {"GNR_SCHEDULER_PORT": str(free_port())}
    daemon = GnrDaemonProcess(workspace)
    started = []
    try:
        # ready: site, daemon, database AND gnr web async (spawned by gnrasgiserve) accepting
        server = start_server(workspace, "gnrasgiserve", "--nodebug", ready_path="/_server/ready")
        started.append(server)
        for name, argv in (("scheduler", ["taskscheduler", "demo", "--host", "127.0.0.1"]),
                           ("worker", ["taskworker", "demo"])):
            started.append(ManagedProcess([str(BIN / "gnr"), "web", *argv], workspace.env(scheduler_env),
                                          workspace.root / f"{name}.log",
                                          cwd=str(workspace.root)))  # its queue dump lands in its cwd
        server.workspace = workspace
        yield server
    finally:
        for process in reversed(started):
            process.stop()
        daemon.stop()


def test_pages_are_told_the_same_origin(realtime):
    """No host, port or scheme baked in: the page's browser uses its own origin (ws or wss)."""
    for headers in ({}, {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "gnr.example.com"}):
        shell = realtime_shell(realtime, headers)
        assert '"websockets_url": "/websocket"' in shell
        assert '"websockets_endpoint": "::NN"' in shell  # None: window.location decides
    assert not (realtime.workspace.instance_dir / "site" / "sockets" / "async_port").exists()


def realtime_shell(server, headers) -> str:
    import httpx

    response = httpx.get(server.base_url + "/index", headers=headers, timeout=30)
    assert response.status_code == 200
    return response.text


def test_a_save_in_another_connection_is_pushed_to_the_page(realtime):
    watcher = GenropyPage(realtime.base_url)
    with watcher.channel() as channel:
        writer = GenropyPage(realtime.base_url)
        writer.rpc("add_note", title="pushed over the relay")
        message = channel.next_publish_text("demo_note_saved")
    assert "<command>publish</command>" in message
    assert "<title>pushed over the relay</title>" in message


def test_the_async_servers_push_entry_is_not_published(realtime):
    """POST /wsproxy (gnr web async's unauthenticated push entry) from outside reaches no page."""
    import httpx

    watcher = GenropyPage(realtime.base_url)
    envelope = ("<GenRoBag><command>publish</command><data><topic>intruder</topic></data></GenRoBag>")
    with watcher.channel() as channel:
        response = httpx.post(realtime.base_url + "/wsproxy", data={"page_id": "*", "envelope": envelope},
                              timeout=30)
        assert response.status_code != 200 or "intruder" not in response.text
        with pytest.raises(TimeoutError):
            channel.next_publish_text("intruder", timeout=3)
        GenropyPage(realtime.base_url).rpc("add_note", title="after the intruder")  # the channel still works
        assert "<title>after the intruder</title>" in channel.next_publish_text("demo_note_saved")


def test_the_scheduled_task_writes_its_note(realtime):
    page = GenropyPage(realtime.base_url)
    deadline = time.monotonic() + 90
    titles: list[str] = []
    while time.monotonic() < deadline:
        titles = page.rpc("note_titles") or []  # GenroPy sends an empty list as None
        if any(title.startswith("scheduled ") for title in titles):
            return
        time.sleep(1)
    pytest.fail(f"no note from the scheduled task after 90 s; notes: {titles}")


@pytest.mark.parametrize("mode", ["bogus"])
def test_bad_async_server_mode_is_one_line(demo_workspace, mode):
    result = subprocess.run([str(BIN / "gnrasgiserve"), "demo", "--nodebug", "-p", str(free_port())],
                            env=demo_workspace.env({"GENROPY_ASYNC_SERVER": mode,
                                                    "GENROPY_DAEMON_WAIT": "0"}),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "gnrasgiserve: error: GENROPY_ASYNC_SERVER='bogus': expected one of on, off, spawn, external")


def test_first_use_creates_the_main_preference_once(tmp_path):
    """What several processes building a fresh site at once would race to INSERT."""
    import sqlite3

    workspace = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path / "ws")
    workspace.db_setup()
    database = workspace.instance_dir / "data" / "adm.db"
    query = "SELECT count(*) FROM adm_preference WHERE code LIKE '_mainpref_%'"
    assert sqlite3.connect(database).execute(query).fetchone()[0] == 0  # gnr db setup leaves it to first use
    for _ in range(2):
        result = subprocess.run([str(BIN / "python"), "-m", "genropy_asgi.container.first_use", "demo"], env=workspace.env(),
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
    assert sqlite3.connect(database).execute(query).fetchone()[0] == 1
