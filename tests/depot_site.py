"""The data bridge's test site: ``tests/projects/depot`` served by gnrasgiserve with
GENROPY_DATA_API=write, on SQLite and on PostgreSQL (session-scoped ``depot`` fixture, one server
per database), its users, and the helpers the functional tests (``tests/site/test_data_api.py``)
and the attack suite (``tests/security/test_attack_data_api.py``) share."""

from __future__ import annotations

import base64
import json
import os
import queue
import socket
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from support import BIN, REPO, pg_sql, start_server

from genropy_asgi.testing.local import GnrWorkspace

DEPOT = REPO / "tests" / "projects" / "depot"
PASSWORDS = {"alice": "Alice-pw-1", "bob": "Bob-pw-2", "carol": "Carol-pw-3", "dave": "Dave-pw-4",
             "erin": "Erin-pw-5", "frank": "Frank-pw-6", "buyer": "Buyer-pw-7", "gina": "Gina-pw-8", "hugo": "Hugo-pw-9"}
"""xml_auth users (USERS) and GenroPy accounts of adm (seed.py: buyer, gina, hugo). frank is the
login-throttle test's alone (it ends locked out for a minute)."""
USERS = {"alice": "user", "bob": "user,buyer,manager,editor", "carol": "user", "dave": "user",
         "erin": "user,editor", "frank": "user"}

SEED = DEPOT / "seed.py"

SQLITE_ONLY = pytest.mark.parametrize("depot", ["sqlite"], indirect=True)
"""For a test that does not depend on the database: the SQLite site runs it (both run the rest)."""



@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def depot(request, tmp_path_factory):
    database = {}
    if request.param == "postgres":
        dsn = request.getfixturevalue("pg_dsn")
        parsed = urlparse(dsn)
        pg_sql(dsn, "postgres", "DROP DATABASE IF EXISTS depot")
        database = {"implementation": "postgres", "host": parsed.hostname, "port": str(parsed.port),
                    "user": parsed.username, "password": parsed.password}
    workspace = GnrWorkspace.create(
        DEPOT, root=tmp_path_factory.mktemp("depot-ws"), site_name="depotsite", db_override=database,
        xml_users={name: {"pwd": PASSWORDS[name], "tags": tags} for name, tags in USERS.items()})
    workspace.db_setup()
    seeded = subprocess.run([str(BIN / "python"), str(SEED), workspace.site_name, "40"], env=workspace.env(),
                            capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    token = json.loads(seeded.stdout.strip().splitlines()[-1])["token"]
    server = start_server(workspace, "gnrasgiserve", "--nodebug", name="data-api",
                          env={"GENROPY_DATA_API": "write", "GENROPY_DATA_API_MAX_ROWS": "20"})
    server.token = token
    server.database = request.param
    server.workspace_instance = workspace.instance_dir
    server.workspace = workspace
    server.dsn = dsn if request.param == "postgres" else None
    yield server
    server.stop()


def auth(user: str, password: str | None = None) -> dict[str, str]:
    """Basic credentials of ``user`` (a depot user's password unless given)."""
    raw = f"{user}:{password or PASSWORDS[user]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def get(site, path: str, user: str | None = "alice", **kwargs) -> httpx.Response:
    headers = auth(user) if user else {}
    headers.update(kwargs.pop("headers", {}))
    return httpx.get(f"{site.base_url}/_data{path}", headers=headers, timeout=30, **kwargs)


def mcp(site, message, user: str | None = "alice", headers=None) -> httpx.Response:
    sent = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
            "MCP-Protocol-Version": "2025-11-25", **(auth(user) if user else {}), **(headers or {})}
    body = message if isinstance(message, (bytes, str)) else json.dumps(message)
    return httpx.post(f"{site.base_url}/_data/mcp", content=body, headers=sent, timeout=30)


def call(site, tool: str, arguments: dict, user: str = "alice") -> dict:
    answer = mcp(site, {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                        "params": {"name": tool, "arguments": arguments}}, user)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def open_database_files(pid: int, name: str) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += name in os.readlink(fd)
        except OSError:
            pass
    return count


def database_connections(site) -> int:
    """The server's hold on its database: PostgreSQL backends of ``depot``, or SQLite file handles."""
    if site.database == "postgres":
        return pg_sql(site.dsn, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = 'depot'")[0][0]
    return open_database_files(site.pid, str(site.workspace_instance))


class ChangeStream:
    """A client of ``GET /_data/tables/TABLE/changes`` read on a thread: ``next()`` gives its events
    in order (``{"event": ..., "data": ...}``), ``None`` once the stream ended. A plain socket, so
    ``close()`` really hangs up (the server must notice)."""

    def __init__(self, base_url: str, table: str, user: str | None = "alice",
                 headers: dict[str, str] | None = None) -> None:
        address = urlparse(base_url)
        sent = {"Host": address.netloc, "Accept": "text/event-stream", **(auth(user) if user else {}),
                **(headers or {})}
        self.sock = socket.create_connection((address.hostname, address.port), timeout=120)
        request = f"GET /_data/tables/{table}/changes HTTP/1.1\r\n" + "".join(
            f"{key}: {value}\r\n" for key, value in sent.items()) + "\r\n"
        self.sock.sendall(request.encode())
        self.events: queue.Queue = queue.Queue()
        self.status: int | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            stream = self.sock.makefile("rb")
            self.status = int(stream.readline().split()[1])
            headers = {}
            while (line := stream.readline().strip()):
                key, _, value = line.decode("latin-1").partition(":")
                headers[key.strip().lower()] = value.strip()
            if "chunked" not in headers.get("transfer-encoding", ""):
                body = stream.read(int(headers.get("content-length", "0")))
                self.events.put({"event": "refused", "data": json.loads(body or b"null")})
                return
            text = ""
            while (size := int(stream.readline().strip() or b"0", 16)):
                text += stream.read(size).decode()
                stream.readline()
                while "\n\n" in text:
                    block, text = text.split("\n\n", 1)
                    event = {}
                    for line in block.split("\n"):
                        if line and not line.startswith(":"):
                            key, _, value = line.partition(":")
                            value = value.removeprefix(" ")
                            event[key] = json.loads(value) if key == "data" else value
                    if event:
                        self.events.put(event)
        except (OSError, ValueError, IndexError):
            pass
        finally:
            self.events.put(None)

    def next(self, timeout: float = 10) -> dict | None:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(10)
