"""GenropyAsgiServer(server_dir=".").run(): config.yaml with two GenroPy databases and
two apps, each app's request.db resolving its own db_name."""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from support import DEMO_PROJECT

from genropy_asgi.testing.local import GnrWorkspace, ManagedProcess, free_port, wait_for_port

pytestmark = pytest.mark.site
TESTS = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def config_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("config-mode")
    workspace = GnrWorkspace.create(DEMO_PROJECT, root=root / "ws",
                                    xml_users={"reader": {"pwd": "Reader-pw-1", "tags": "user"}})
    # a second instance of the same project, with its own database: "reports"
    reports = workspace.project_dir / "instances" / "reports"
    shutil.copytree(workspace.instance_dir, reports, ignore=shutil.ignore_patterns("data", "site"))
    config_xml = reports / "config" / "instanceconfig.xml"
    config_xml.write_text(config_xml.read_text().replace('dbname="demo"', 'dbname="reports"'))
    workspace.gnr("db", "setup", "demo")
    workspace.gnr("db", "setup", "reports")
    port = free_port()
    server_dir = root / "server"
    server_dir.mkdir()
    (server_dir / "config.yaml").write_text(textwrap.dedent(f"""
        server: {{host: 127.0.0.1, port: {port}}}
        databases:
          main: {{genropy_app: demo}}
          reporting: {{genropy_app: reports}}
        middleware: {{cors: on}}
        apps:
          notes: {{module: "config_mode_api:NotesApi", db_name: main, docs: swagger}}
          reports: {{module: "config_mode_api:NotesApi", db_name: reporting, docs: redoc}}
          data: {{kind: genropy-data, db_name: main}}
    """))
    run = "from genropy_asgi import GenropyAsgiServer; GenropyAsgiServer(server_dir='.').run()"
    process = ManagedProcess([sys.executable, "-c", run],
                             workspace.env({"PYTHONPATH": str(TESTS / "apps")}), root / "server.log", cwd=str(server_dir))
    wait_for_port("127.0.0.1", port, 120, process.process)
    process.base_url = f"http://127.0.0.1:{port}"
    yield process
    process.stop()


def test_each_app_reads_its_own_database(config_server):
    url = config_server.base_url
    assert httpx.get(url + "/notes/api/dbname").json()["dbname"].endswith("/demo")
    assert httpx.get(url + "/reports/api/dbname").json()["dbname"].endswith("/reports")
    before = httpx.get(url + "/reports/api/count").json()["count"]
    httpx.get(url + "/notes/api/add", params={"title": "only in main"}).raise_for_status()
    httpx.get(url + "/notes/api/add", params={"title": "again in main"}).raise_for_status()
    assert httpx.get(url + "/notes/api/count").json()["count"] >= 2
    assert httpx.get(url + "/reports/api/count").json()["count"] == before


def test_info_lists_databases_and_apps(config_server):
    info = httpx.get(config_server.base_url + "/_server/info").json()
    assert info["databases"] == ["main", "reporting"]
    assert info["asgi_prefixes"] == ["/_server", "/data", "/notes", "/reports"]
    assert info["wsgi"]["site"] is False


def test_ready_checks_the_databases(config_server):
    ready = httpx.get(config_server.base_url + "/_server/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database main": "ok", "database reporting": "ok"}


def test_docs_styles_served_from_the_package(config_server):
    swagger = httpx.get(config_server.base_url + "/notes/_meta/docs").text
    redoc = httpx.get(config_server.base_url + "/reports/_meta/docs").text
    assert 'src="/notes/_meta/static/swagger-ui-bundle.js"' in swagger
    assert 'data-spec-url="/notes/_meta/schema_json"' in swagger
    assert 'src="/reports/_meta/static/redoc.standalone.js"' in redoc
    assert 'data-spec-url="/reports/_meta/schema_json"' in redoc
    assert "https://" not in swagger + redoc  # no CDN: an air-gapped site shows its docs
    for path in ("/notes/_meta/static/swagger-ui-bundle.js", "/notes/_meta/static/swagger-init.js",
                 "/reports/_meta/static/redoc.standalone.js"):
        answer = httpx.get(config_server.base_url + path)
        assert answer.status_code == 200 and "javascript" in answer.headers["content-type"], path
    assert httpx.get(config_server.base_url + "/notes/_meta/static/..%2Fapplications.py").status_code == 404
    assert httpx.get(config_server.base_url + "/notes/_meta/schema_json").status_code == 200


def test_cors_middleware_from_config(config_server):
    response = httpx.options(config_server.base_url + "/notes/api/count",
                             headers={"Origin": "http://example.test", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" in response.headers


def test_the_data_bridge_from_config_yaml(config_server):
    """``kind: genropy-data``: the bridge over a declared database, its users authenticated by the
    instance's own methods (xml_auth here) without a site; the demo opens no table to it."""
    url = config_server.base_url + "/data"
    assert httpx.get(url + "/tables").status_code == 401
    assert httpx.get(url + "/tables", auth=("reader", "wrong")).status_code == 401
    answer = httpx.get(url + "/tables", auth=("reader", "Reader-pw-1"))
    assert answer.status_code == 200 and answer.json() == []
    document = httpx.get(url + "/openapi.json", auth=("reader", "Reader-pw-1")).json()
    assert document["openapi"] == "3.1.0" and document["servers"] == [{"url": "/data"}]
