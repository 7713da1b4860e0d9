"""The data bridge (GENROPY_DATA_API=read) on a throwaway project, served by gnrasgiserve.

Users of different tags and GenroPy table configurations read `tests/projects/depot` through
REST and MCP; every rule of ``genropy_asgi.data_api.exposure`` is proven from outside, and every
refusal is a short JSON answer. The attacks on this new way in are here too.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psycopg2
import pytest
from support import BIN, REPO, require, start_server

from genropy_asgi.testing.local import GnrWorkspace

DEPOT = REPO / "tests" / "projects" / "depot"
PASSWORDS = {"alice": "Alice-pw-1", "bob": "Bob-pw-2", "carol": "Carol-pw-3", "dave": "Dave-pw-4"}
USERS = {"alice": "user", "bob": "user,buyer,manager", "carol": "user", "dave": "user"}

SEED = DEPOT / "seed.py"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def depot(request, tmp_path_factory):
    database = {}
    if request.param == "postgres":
        dsn = request.getfixturevalue("pg_dsn")
        parsed = urlparse(dsn)
        pg_sql(dsn, "postgres", "DROP DATABASE IF EXISTS depot")
        database = {"implementation": "postgres", "host": parsed.hostname, "port": str(parsed.port),
                    "user": parsed.username, "password": parsed.password}
    workspace = GnrWorkspace.create(
        DEPOT, root=tmp_path_factory.mktemp("depot-ws"), site_name="depotsite", db=database,
        xml_users={name: {"pwd": PASSWORDS[name], "tags": tags} for name, tags in USERS.items()})
    workspace.db_setup()
    seeded = subprocess.run([str(BIN / "python"), str(SEED), workspace.site_name, "40"], env=workspace.env(),
                            capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    token = json.loads(seeded.stdout.strip().splitlines()[-1])["token"]
    server = start_server(workspace, "gnrasgiserve", "--nodebug", name="data-api",
                          env={"GENROPY_DATA_API": "read", "GENROPY_DATA_API_MAX_ROWS": "20"})
    server.token = token
    server.database = request.param
    server.workspace_instance = workspace.instance_dir
    server.dsn = dsn if request.param == "postgres" else None
    yield server
    server.stop()


def pg_sql(dsn: str, dbname: str, statement: str) -> list[tuple]:
    connection = psycopg2.connect(dsn, dbname=dbname)
    connection.autocommit = True  # DROP DATABASE refuses a transaction block
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def auth(user: str) -> dict[str, str]:
    raw = f"{user}:{PASSWORDS[user]}".encode()
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


# -- who may come in ---------------------------------------------------------------------------
def test_anonymous_and_wrong_credentials_are_refused(depot):
    for response in (get(depot, "/tables", None),
                     get(depot, "/tables", None, headers={"Authorization": "Basic " + base64.b64encode(
                         b"alice:wrong").decode()}),
                     get(depot, "/tables", None, headers={"Authorization": "Basic !!!"}),
                     get(depot, "/tables", None, headers={"Authorization": "Bearer not-a-token"}),
                     get(depot, "/tables", None, headers={"Authorization": "Basic " + base64.b64encode(
                         b"gnrtoken:whatever").decode()})):
        assert response.status_code == 401, response.text
        assert "Basic" in response.headers["www-authenticate"]
        assert set(response.json()) == {"error"} and "Traceback" not in response.text


def test_an_api_token_made_by_genropy_reads(depot):
    response = get(depot, "/tables", None, headers={"Authorization": f"Bearer {depot.token}"})
    assert response.status_code == 200, response.text
    assert [t["name"] for t in response.json()] == ["depot.product"]  # a token without tags: no buyer


# -- what each one sees --------------------------------------------------------------------------
def test_tables_follow_flags_and_tags(depot):
    assert [t["name"] for t in get(depot, "/tables").json()] == ["depot.product"]
    assert [t["name"] for t in get(depot, "/tables", "bob").json()] == ["depot.product", "depot.supplier"]
    for hidden in ("depot.stock_note", "adm.user", "depot.supplier", "sys.task"):
        response = get(depot, f"/tables/{hidden}/records")
        assert response.status_code == 404, (hidden, response.text)
    assert get(depot, "/tables/depot.supplier/records", "bob").json()["rows"][0]["name"] == "Acme"


def test_columns_follow_flags_tags_relations_and_user_configuration(depot):
    alice = get(depot, "/tables/depot.product").json()["columns"]
    bob = get(depot, "/tables/depot.product", "bob").json()["columns"]
    carol = get(depot, "/tables/depot.product", "carol").json()["columns"]
    assert "cost" not in alice and "cost" not in bob  # openapi=False
    assert "margin_note" not in alice and "margin_note" in bob  # auth_tags=manager
    assert "supplier_name" not in alice and "supplier_name" in bob  # alias through a table alice cannot read
    assert "supplier_id" in alice and "code" in alice
    assert "code" not in carol and "description" in carol  # adm.user_config: forbidden column
    assert [t["name"] for t in get(depot, "/tables", "dave").json()] == []  # adm.user_config: hidden table
    row = get(depot, "/tables/depot.product/records", params={"code": "P1"}).json()["rows"][0]
    assert "cost" not in row and "margin_note" not in row
    assert get(depot, "/tables/depot.product/records", "bob", params={"code": "P1"}).json()["rows"][0][
        "supplier_name"] == "Acme"


def test_hidden_columns_cannot_be_filtered_or_ordered(depot):
    for params in ({"cost": "4"}, {"cost__gt": "1"}, {"_order": "cost"}, {"margin_note": "thin"},
                   {"supplier_name": "Acme"}, {"@supplier_id.name": "Acme"}):
        response = get(depot, "/tables/depot.product/records", params=params)
        assert response.status_code == 400, (params, response.text)
        assert "no readable column" in response.json()["error"]
    assert get(depot, "/tables/depot.product/records", "carol", params={"code": "P1"}).status_code == 400


# -- the reads -------------------------------------------------------------------------------------
def test_typed_filters_order_and_pages(depot):
    def codes(**params):
        response = get(depot, "/tables/depot.product/records", params=params)
        assert response.status_code == 200, response.text
        return [row["code"] for row in response.json()["rows"]]

    assert codes(price__gt="10", _order="-price") == ["P2", "P1"]
    assert codes(description__contains="100%") == ["P1"]  # % is a character, not a wildcard
    assert codes(description__contains="d_w") == ["P2"]
    assert codes(description__contains="_") == ["P2"]
    assert codes(code__in="P3,P1", _order="code") == ["P1", "P3"]
    assert codes(price__isnull="true") == ["P3"]
    assert codes(available="false", code__startswith="P") == ["P2"]
    assert codes(added__gte="2026-02-01") == ["P2"]
    assert codes(description="' OR 1=1 --") == []
    first = get(depot, "/tables/depot.product/records", params={"_limit": "5", "_count": "true",
                                                                  "_order": "code"}).json()
    assert first["total"] == 43 and first["next_offset"] == 5 and len(first["rows"]) == 5
    second = get(depot, "/tables/depot.product/records", params={"_limit": "5", "_offset": "5",
                                                                   "_order": "code"}).json()
    assert not {r["code"] for r in first["rows"]} & {r["code"] for r in second["rows"]}
    default = get(depot, "/tables/depot.product/records").json()
    assert len(default["rows"]) == 20 and default["next_offset"] == 20  # GENROPY_DATA_API_MAX_ROWS


def test_values_keep_their_types(depot):
    row = get(depot, "/tables/depot.product/records", params={"code": "P1"}).json()["rows"][0]
    assert isinstance(row["price"], str) and Decimal(row["price"]) == Decimal("10.50")  # exact, as text
    assert row["quantity"] == 3 and row["available"] is True
    assert row["added"] == "2026-01-02"
    record = get(depot, f"/tables/depot.product/records/{row['id']}").json()
    assert record == row


@pytest.mark.parametrize("params, word", [
    ({"price__gt": "ten"}, "price__gt"), ({"quantity": "1.5"}, "quantity"), ({"added": "yesterday"}, "added"),
    ({"_limit": "21"}, "_limit"), ({"_limit": "0"}, "_limit"), ({"_offset": "-1"}, "_offset"),
    ({"price__bogus": "1"}, "unknown operator"), ({"quantity__contains": "1"}, "text columns"),
    ({"price": "NaN"}, "price"), ({"code__in": ",".join(["x"] * 101)}, "at most"),
])
def test_bad_queries_are_one_line_400s(depot, params, word):
    response = get(depot, "/tables/depot.product/records", params=params)
    assert response.status_code == 400, response.text
    assert word in response.json()["error"] and "\n" not in response.json()["error"]


def test_records_that_are_not_there_or_not_yours(depot):
    assert get(depot, "/tables/depot.product/records/nope").status_code == 404
    supplier = get(depot, "/tables/depot.supplier/records", "bob").json()["rows"][0]["id"]
    assert get(depot, f"/tables/depot.supplier/records/{supplier}").status_code == 404
    assert get(depot, f"/tables/depot.supplier/records/{supplier}", "bob").status_code == 200


def test_read_only_and_paths(depot):
    url = f"{depot.base_url}/_data/tables/depot.product/records"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = httpx.request(method, url, headers=auth("bob"), content=b"{}")
        assert response.status_code == 405, (method, response.text)
    for path in ("/tables/depot.product/x", "/tables/depot.product/records/a/b/c", "/nothing",
                 "/tables/..%2f..%2fsettings", "/tables/depot.product;drop"):
        assert get(depot, path).status_code == 404, path


# -- the documents -----------------------------------------------------------------------------------
def test_openapi_document_is_valid_and_per_user(depot):
    from openapi_spec_validator import validate

    alice = get(depot, "/openapi.json").json()
    bob = get(depot, "/openapi.json", "bob").json()
    validate(alice)
    validate(bob)
    assert alice["openapi"] == "3.1.0"
    assert "depot.supplier" not in alice["components"]["schemas"] and "depot.supplier" in bob["components"]["schemas"]
    assert "cost" not in json.dumps(bob["components"]["schemas"]["depot.product"])
    assert "/tables/depot.product/records/{pkey}" in alice["paths"]
    assert get(depot, "/openapi.json", None).status_code == 401


def test_docs_pages_come_from_the_package(depot):
    for page, bundle in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        response = get(depot, page, None)
        assert response.status_code == 200 and bundle in response.text
        assert "https://" not in response.text  # no CDN
        assert "script-src 'self'" in response.headers["content-security-policy"]
        asset = get(depot, f"/static/{bundle}", None)
        assert asset.status_code == 200 and len(asset.content) > 100_000
    for name in ("../application.py", "VENDORED.md", "..%2F__init__.py", "swagger-ui-bundle.js/x",
                 "%2e%2e/records.py"):
        connection = http.client.HTTPConnection("127.0.0.1", depot.port, timeout=30)
        connection.request("GET", f"/_data/static/{name}")  # sent as written (no client normalisation)
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        assert answer.status in (400, 404), (name, answer.status)
        assert b"import" not in body, name


# -- MCP ------------------------------------------------------------------------------------------------
def test_mcp_initialize_list_and_call(depot):
    init = mcp(depot, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
    assert init.status_code == 200 and init.json()["result"]["protocolVersion"] == "2025-11-25"
    assert mcp(depot, {"jsonrpc": "2.0", "method": "notifications/initialized"}).status_code == 202
    tools = mcp(depot, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).json()["result"]["tools"]
    query = next(tool for tool in tools if tool["name"] == "query_table")
    assert query["inputSchema"]["properties"]["table"]["enum"] == ["depot.product"]
    bob_tools = mcp(depot, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, "bob").json()["result"]["tools"]
    assert "depot.supplier" in json.dumps(bob_tools)
    result = call(depot, "query_table", {"table": "depot.product", "filters": {"price__gt": 10},
                                          "order": "-price"})
    assert [row["code"] for row in result["structuredContent"]["rows"]] == ["P2", "P1"]
    record = call(depot, "get_record", {"table": "depot.product",
                                        "pkey": result["structuredContent"]["rows"][0]["id"]})
    assert record["structuredContent"]["record"]["code"] == "P2"


def test_mcp_refuses_what_it_must(depot):
    hidden = call(depot, "query_table", {"table": "depot.supplier"})
    assert hidden["isError"] and "depot.supplier" in hidden["content"][0]["text"]
    bad = call(depot, "query_table", {"table": "depot.product", "filters": {"cost__gt": 0}})
    assert bad["isError"] and "no readable column" in bad["content"][0]["text"]
    sneaky = mcp(depot, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "list_tables", "arguments": {"_request": {"user": "bob"}}}}).json()
    assert sneaky["error"]["code"] == -32602
    assert mcp(depot, {"jsonrpc": "2.0", "id": 4, "method": "tools/list"}, None).status_code == 401
    cross = mcp(depot, {"jsonrpc": "2.0", "id": 5, "method": "tools/list"}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    own = mcp(depot, {"jsonrpc": "2.0", "id": 5, "method": "tools/list"},
              headers={"Origin": depot.base_url})
    assert own.status_code == 200
    assert mcp(depot, {"jsonrpc": "2.0", "id": 6, "method": "ping"},
               headers={"MCP-Protocol-Version": "1999-01-01"}).status_code == 400
    assert mcp(depot, b"{not json").json()["error"]["code"] == -32700
    assert mcp(depot, json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "ping"}])).json()["error"]["code"] == -32600
    assert mcp(depot, b"x" * (1024 * 1024 + 10)).status_code == 413
    assert httpx.get(f"{depot.base_url}/_data/mcp", headers=auth("alice")).status_code == 405


# -- database sessions ------------------------------------------------------------------------------
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


def test_no_connection_is_kept_after_requests(depot):
    with httpx.Client(base_url=f"{depot.base_url}/_data", headers=auth("bob"), timeout=30) as client:
        client.get("/tables/depot.product/records")
        before = database_connections(depot)
        for n in range(300):
            path = ("/tables/depot.product/records", "/tables/depot.product/records/nope", "/tables/nope/records",
                    "/tables/depot.product/records?price__gt=x")[n % 4]
            client.get(path)
        mcp(depot, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": "query_table", "arguments": {"table": "depot.product"}}})
        after = database_connections(depot)
    assert after <= max(before, 2), f"{before} database connections before 300 requests, {after} after"


# -- real clients --------------------------------------------------------------------------------------
def test_the_official_mcp_sdk_lists_and_calls(depot):
    sdk_python = REPO / ".venv-clients" / "bin" / "python"
    require(sdk_python.exists(), ".venv-clients missing: scripts/venv makes it")
    result = subprocess.run([str(sdk_python), str(REPO / "tests" / "clients" / "mcp_sdk_client.py"),
                             f"{depot.base_url}/_data/mcp", auth("alice")["Authorization"],
                             "depot.product", "depot.supplier"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["protocol"] in ("2025-11-25", "2025-06-18", "2025-03-26")
    assert found["tools"] == ["describe_table", "get_record", "list_tables", "query_table"]
    assert found["rows"] == 3 and not found["found_is_error"]
    assert found["hidden_is_error"]


def test_schemathesis_finds_nothing_outside_the_document(depot, tmp_path):
    """Property-based: every operation of bob's document (every table he reads), valid and invalid
    inputs, every check -- no 5xx, no answer outside the document, auth never ignored."""
    st = REPO / ".venv-clients" / "bin" / "st"
    require(st.exists(), ".venv-clients missing: scripts/venv makes it")
    result = subprocess.run(
        [str(st), "run", f"{depot.base_url}/_data/openapi.json", "-H", f"Authorization: {auth('bob')['Authorization']}",
         "--checks", "all", "--max-examples", "40", "--seed", "1", "--workers", "1", "--no-color",
         "--request-timeout", "30"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    (tmp_path.parent / "schemathesis.out").write_text(result.stdout)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_swagger_ui_and_redoc_render_and_try_it_out_answers(depot):
    """In Chromium: both pages render from the site alone (every request same-origin, none fails,
    the strict CSP holds), and Swagger UI's "Try it out" on GET /tables answers 200."""
    from genropy_asgi.testing.devtools import Chromium, chromium_path

    require(chromium_path() is not None, "no Chromium (apt-get install chromium)")
    with Chromium() as browser:
        browser.call("Network.setExtraHTTPHeaders", headers=auth("alice"))
        load = browser.load(f"{depot.base_url}/_data/docs")
        assert {r.url.split("/")[2] for r in load.requests if not r.url.startswith("data:")} == \
            {depot.base_url.split("/")[2]}, load.requests
        assert not load.failures, load.failures
        browser.wait_for("document.querySelectorAll('.opblock').length >= 3")
        browser.evaluate("document.querySelector('#operations-default-list_tables .opblock-summary-control').click()")
        browser.wait_for("!!document.querySelector('#operations-default-list_tables .try-out__btn')")
        browser.evaluate("document.querySelector('#operations-default-list_tables .try-out__btn').click()")
        browser.wait_for("!!document.querySelector('#operations-default-list_tables .execute')")
        browser.evaluate("document.querySelector('#operations-default-list_tables .execute').click()")
        status = browser.wait_for("""(document.querySelector(
            '#operations-default-list_tables .live-responses-table tr.response .response-col_status') || {}).textContent""")
        assert status.strip().startswith("200"), status
        body = browser.evaluate("document.querySelector('#operations-default-list_tables .live-responses-table')"
                                ".textContent")
        assert "depot.product" in body
        browser.call("Page.navigate", url=f"{depot.base_url}/_data/redoc")  # ReDoc keeps a worker busy: no idle
        browser.wait_for("document.querySelectorAll('[data-section-id]').length >= 3")
        fetched = browser.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
        assert fetched and all(name.startswith(depot.base_url) for name in fetched), fetched
