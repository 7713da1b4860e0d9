"""The demo instance on PostgreSQL, by configuration only: the config folder's
instanceconfig/default.xml adds the connection, the instance keeps dbname="demo"."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx
import pytest
from support import DEMO_PROJECT, start_server
from support import pg_sql as sql

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.local import GnrDaemonProcess, GnrWorkspace

pytestmark = [pytest.mark.site, pytest.mark.postgres]


@pytest.fixture(scope="module")
def pg_site(pg_dsn, tmp_path_factory):
    parsed = urlparse(pg_dsn)
    sql(pg_dsn, "postgres", "DROP DATABASE IF EXISTS demo")
    workspace = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path_factory.mktemp("pg-ws"), db={
        "implementation": "postgres", "host": parsed.hostname, "port": str(parsed.port),
        "user": parsed.username, "password": parsed.password})
    workspace.db_setup()
    daemon = GnrDaemonProcess(workspace)
    server = start_server(workspace, "gnrasgiserve", "--nodebug")
    yield server
    server.stop()
    daemon.stop()


def test_rpc_writes_into_postgresql(pg_site, pg_dsn):
    page = GenropyPage(pg_site.base_url)
    page.rpc("add_note", title="stored in postgres")
    titles = [row[0] for row in sql(pg_dsn, "demo", "SELECT title FROM demo.demo_note")]
    assert "stored in postgres" in titles
    assert int(page.rpc("note_count")) == len(titles)


def test_ready_on_postgresql(pg_site):
    response = httpx.get(pg_site.base_url + "/_server/ready")
    assert response.status_code == 200, response.text


def test_index_on_postgresql(pg_site):
    assert httpx.get(pg_site.base_url + "/index").status_code == 200
