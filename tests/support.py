"""Helpers shared by the test folders."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO_PROJECT = REPO / "demo"
BIN = Path(sys.executable).parent


def require(condition: bool, why: str) -> None:
    """Skip locally when a service is missing; in CI (CI=true) that is a failure."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{why} (CI=true: this must not be skipped)")
    pytest.skip(why)


def start_server(workspace, command: str, *args: str, name: str | None = None, env=None,
                 ready_path: str = "/index", scheme: str = "http"):
    from genropy_asgi.testing.local import ServerProcess, free_port

    port = free_port()
    argv = [str(BIN / command), workspace.site_name, "-p", str(port), "-H", "127.0.0.1", *args]
    return ServerProcess(argv, workspace, port, name or command, env=env, ready_path=ready_path,
                         scheme=scheme)


@pytest.fixture(autouse=True)
def no_leftovers(docker):
    """Every test leaves no container, network or volume behind."""
    before = snapshot(docker)
    yield
    left_behind = snapshot(docker) - before
    assert not left_behind, f"left behind: {sorted(left_behind)}"


def snapshot(client) -> set[str]:
    return ({f"container {c.name}" for c in client.containers.list(all=True)}
            | {f"network {n.name}" for n in client.networks.list()}
            | {f"volume {v.name}" for v in client.volumes.list()})


def assert_daemon_on_loopback_with_own_key(site) -> None:
    """In a running image: gnrdaemon listens on 127.0.0.1 only, and the siteconfig's known
    sample key was replaced."""
    table = site.exec(["sh", "-c", "cat /proc/net/tcp /proc/net/tcp6"]).output.decode().upper()
    listening = {line.split()[1] for line in table.splitlines()[1:] if len(line.split()) > 3 and line.split()[3] == "0A"}
    daemon = {address for address in listening if address.endswith(f":{40404:04X}")}
    assert daemon == {f"0100007F:{40404:04X}"}, listening  # 127.0.0.1 only
    config = site.exec(["cat", "/var/lib/genropy/gnr/siteconfig/default.xml"]).output.decode()
    assert 'hmac_key="known"' not in config



def redis_server(folder: Path):
    """A local redis-server for GENROPY_REGISTER=redis (``testing.local.RedisServerProcess``)."""
    import shutil

    from genropy_asgi.testing.local import RedisServerProcess

    require(bool(shutil.which("redis-server") or shutil.which("valkey-server")),
            "redis-server is not installed (apt-get install redis-server)")
    return RedisServerProcess(folder)


def pg_sql(dsn: str, dbname: str, statement: str) -> list[tuple]:
    """One statement on database ``dbname`` of the test PostgreSQL, autocommit; its rows."""
    import psycopg2

    conn = psycopg2.connect(dsn, dbname=dbname)
    conn.autocommit = True  # DROP DATABASE refuses a transaction block
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def wait_ready(url: str, timeout: float = 120, alive: Callable[[], bool] | None = None) -> None:
    """Until ``url/_server/ready`` answers 200: ``AssertionError`` after ``timeout`` seconds, or
    as soon as ``alive()`` says the server is gone."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/_server/ready", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if alive is not None and not alive():
            raise AssertionError(f"{url}: the server stopped before it was ready")
        time.sleep(1)
    raise AssertionError(f"{url} not ready after {timeout}s")
