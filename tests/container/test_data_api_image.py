"""The data bridge from the image (GENROPY_DATA_API=write) on a project of one's own, on
PostgreSQL: the package's docs bundles are in the image (no CDN, nothing fetched), REST and MCP
answer the image's admin under GenroPy's rules, and the change stream carries what a page of the
site commits (through the image's gnrdaemon register)."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest
from depot_site import DEPOT, ChangeStream, auth

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.containers import GenropyAsgiContainer

pytestmark = pytest.mark.docker


def test_the_image_serves_the_data_bridge(image, postgres_image, tmp_path):
    project = tmp_path / "depot"
    shutil.copytree(DEPOT, project, ignore=shutil.ignore_patterns("data", "site", "__pycache__"))
    site = GenropyAsgiContainer(image, project_dir=project, site_name="depotsite").with_admin(password="Data-Admin-1")
    site.with_env("GENROPY_DATA_API", "write")
    with site.with_postgres(image=postgres_image) as running:
        base = running.get_url() + "/_data"
        login = (running.admin.user, running.admin.password)
        logs = running.get_wrapped_container().logs().decode(errors="replace")
        assert "data API: write, on /_data/" in logs
        assert httpx.get(base + "/tables").status_code == 401
        tables = [t["name"] for t in httpx.get(base + "/tables", auth=login).json()]
        assert tables == ["depot.memo", "depot.product"]  # no buyer tag: no supplier; never stock_note
        assert httpx.get(base + "/tables/depot.product/records", auth=login).json()["rows"] == []
        refused = httpx.post(base + "/tables/depot.memo/records", auth=login, json={"title": "x"})
        assert refused.status_code == 405  # memo's writes need the editor tag
        page = httpx.get(base + "/docs")
        assert page.status_code == 200 and "https://" not in page.text
        for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
            asset = httpx.get(f"{base}/static/{name}")
            assert asset.status_code == 200 and len(asset.content) > 100_000, name  # packaged in the wheel
        tools = httpx.post(base + "/mcp", auth=login, headers={"Content-Type": "application/json"},
                           content=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})).json()
        assert {t["name"] for t in tools["result"]["tools"]} == {"list_tables", "describe_table", "query_table",
                                                                 "get_record", "get_related_record"}
        stream = ChangeStream(running.get_url(), "depot.memo", None, headers=auth(*login))
        try:
            assert stream.next()["event"] == "ready"
            key = GenropyPage(running.get_url(), "/index").rpc("add_memo", title="from a page")
            change = stream.next(timeout=10)
            assert change["event"] == "insert" and change["data"]["pkey"] == key, change
            assert change["data"]["record"]["title"] == "from a page"
        finally:
            stream.close()
