"""The data bridge (GENROPY_DATA_API=read) on a throwaway project (``depot_site``), served by
gnrasgiserve on SQLite and PostgreSQL: users of different tags and GenroPy table configurations
read it through REST and MCP, with real clients (the official MCP SDK, Schemathesis, Chromium).
Its attacks are in ``tests/security/test_attack_data_api.py``."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import httpx
from depot_site import SQLITE_ONLY, ChangeStream, auth, call, get, mcp
from support import BIN, REPO, redis_server, require, start_server

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.local import free_port


def test_an_api_token_made_by_genropy_reads(depot):
    response = get(depot, "/tables", None, headers={"Authorization": f"Bearer {depot.token}"})
    assert response.status_code == 200, response.text
    assert [t["name"] for t in response.json()] == ["depot.memo", "depot.product"]  # no tags: no buyer


def test_tables_follow_flags_and_tags(depot):
    assert [t["name"] for t in get(depot, "/tables").json()] == ["depot.memo", "depot.product"]
    assert [t["name"] for t in get(depot, "/tables", "bob").json()] == ["depot.memo", "depot.product", "depot.supplier"]
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
    assert [t["name"] for t in get(depot, "/tables", "dave").json()] == ["depot.memo"]  # adm.user_config: hidden
    row = get(depot, "/tables/depot.product/records", params={"code": "P1"}).json()["rows"][0]
    assert "cost" not in row and "margin_note" not in row
    assert get(depot, "/tables/depot.product/records", "bob", params={"code": "P1"}).json()["rows"][0][
        "supplier_name"] == "Acme"


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


def test_records_that_are_not_there_or_not_yours(depot):
    assert get(depot, "/tables/depot.product/records/nope").status_code == 404
    supplier = get(depot, "/tables/depot.supplier/records", "bob").json()["rows"][0]["id"]
    assert get(depot, f"/tables/depot.supplier/records/{supplier}").status_code == 404
    assert get(depot, f"/tables/depot.supplier/records/{supplier}", "bob").status_code == 200


def test_foreign_keys_lead_to_their_record_where_the_user_may_follow(depot):
    p1 = get(depot, "/tables/depot.product/records", "bob", params={"code": "P1"}).json()["rows"][0]
    p3 = get(depot, "/tables/depot.product/records", "bob", params={"code": "P3"}).json()["rows"][0]
    supplier = get(depot, f"/tables/depot.product/records/{p1['id']}/supplier_id", "bob")
    assert supplier.status_code == 200, supplier.text
    assert supplier.json()["name"] == "Acme" and supplier.json()["id"] == p1["supplier_id"]
    assert get(depot, f"/tables/depot.product/records/{p3['id']}/supplier_id", "bob").status_code == 404  # no key
    refused = get(depot, f"/tables/depot.product/records/{p1['id']}/supplier_id")  # alice: supplier not hers
    unknown = get(depot, f"/tables/depot.product/records/{p1['id']}/no_such_column")
    assert refused.status_code == unknown.status_code == 404
    assert "Acme" not in refused.text
    assert get(depot, f"/tables/depot.product/records/{p1['id']}/code", "bob").status_code == 404  # not a key
    assert get(depot, "/tables/depot.product/records/nope/supplier_id", "bob").status_code == 404
    bob = call(depot, "get_related_record", {"table": "depot.product", "pkey": p1["id"], "column": "supplier_id"},
               "bob")
    assert bob["structuredContent"]["record"]["name"] == "Acme"
    alice = call(depot, "get_related_record", {"table": "depot.product", "pkey": p1["id"], "column": "supplier_id"})
    assert alice["isError"] and "Acme" not in json.dumps(alice)
    paths = get(depot, "/openapi.json", "bob").json()["paths"]
    assert paths["/tables/depot.product/records/{pkey}/supplier_id"]["get"]["responses"]["200"]
    assert "/tables/depot.product/records/{pkey}/supplier_id" not in get(depot, "/openapi.json").json()["paths"]


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


def test_mcp_initialize_list_and_call(depot):
    init = mcp(depot, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
    assert init.status_code == 200 and init.json()["result"]["protocolVersion"] == "2025-11-25"
    assert mcp(depot, {"jsonrpc": "2.0", "method": "notifications/initialized"}).status_code == 202
    tools = mcp(depot, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).json()["result"]["tools"]
    query = next(tool for tool in tools if tool["name"] == "query_table")
    assert query["inputSchema"]["properties"]["table"]["enum"] == ["depot.memo", "depot.product"]
    assert not {"insert_record", "update_record", "delete_record"} & {tool["name"] for tool in tools}  # no editor
    bob_tools = mcp(depot, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, "bob").json()["result"]["tools"]
    assert "depot.supplier" in json.dumps(bob_tools)
    result = call(depot, "query_table", {"table": "depot.product", "filters": {"price__gt": 10},
                                          "order": "-price"})
    assert [row["code"] for row in result["structuredContent"]["rows"]] == ["P2", "P1"]
    record = call(depot, "get_record", {"table": "depot.product",
                                        "pkey": result["structuredContent"]["rows"][0]["id"]})
    assert record["structuredContent"]["record"]["code"] == "P2"


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
    assert found["tools"] == ["describe_table", "get_record", "get_related_record", "list_tables", "query_table"]
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


# -- writes (GENROPY_DATA_API=write, where a table opens them) ------------------------------------
def send(site, method: str, path: str, user: str | None, body=None, **headers) -> httpx.Response:
    sent = {**(auth(user) if user else {}), **headers}
    if body is not None:
        sent.setdefault("Content-Type", "application/json")
    return httpx.request(method, f"{site.base_url}/_data{path}", headers=sent,
                         content=None if body is None else json.dumps(body), timeout=30)


def test_an_editor_inserts_updates_and_deletes_through_genropy(depot):
    made = send(depot, "POST", "/tables/depot.memo/records", "bob",
                {"title": "call Acme", "amount": "12.30", "done": False, "due": "2026-12-24"})
    assert made.status_code == 201, made.text
    memo = made.json()
    assert memo["stamp"] == "by bob"  # GenroPy's trigger ran, in bob's environment
    assert Decimal(memo["amount"]) == Decimal("12.30") and memo["due"] == "2026-12-24"
    assert memo["__ins_ts"]  # GenroPy's system fields
    changed = send(depot, "PATCH", f"/tables/depot.memo/records/{memo['id']}", "bob", {"done": True, "amount": 5})
    assert changed.status_code == 200 and changed.json()["done"] is True and Decimal(changed.json()["amount"]) == 5
    assert get(depot, f"/tables/depot.memo/records/{memo['id']}", "alice").json()["done"] is True
    gone = send(depot, "DELETE", f"/tables/depot.memo/records/{memo['id']}", "erin")
    assert gone.status_code == 200 and gone.json() == {"deleted": memo["id"]}
    assert get(depot, f"/tables/depot.memo/records/{memo['id']}").status_code == 404


def test_writes_follow_genropy_rules(depot):
    for user, table in (("alice", "depot.memo"), ("bob", "depot.product")):  # not an editor; a table not opened
        refused = send(depot, "POST", f"/tables/{table}/records", user, {"title": "x"})
        assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD", refused.text
    assert send(depot, "OPTIONS", "/tables/depot.memo/records", "bob").headers["allow"] == "GET, HEAD, POST"
    stamped = send(depot, "POST", "/tables/depot.memo/records", "bob", {"title": "x", "stamp": "forged"})
    assert stamped.status_code == 400 and "stamp" in stamped.json()["error"]  # openapi='R'
    amount = send(depot, "POST", "/tables/depot.memo/records", "erin", {"title": "x", "amount": "3"})
    assert amount.status_code == 400 and "amount" in amount.json()["error"]  # erin's user_config: read-only
    keep = get(depot, "/tables/depot.memo/records", params={"title": "keep me"}).json()["rows"][0]
    refused = send(depot, "DELETE", f"/tables/depot.memo/records/{keep['id']}", "erin")
    assert refused.status_code == 409 and "keep" in refused.json()["error"]  # GenroPy's protect_delete
    assert get(depot, f"/tables/depot.memo/records/{keep['id']}").status_code == 200
    for body, word in (({"title": 3}, "title"), ({"done": "yes"}, "done"), ({"due": "tomorrow"}, "due"),
                       ({"amount": "NaN"}, "amount"), ([1, 2], "JSON object"), ({"id": "chosen"}, "id")):
        answer = send(depot, "POST", "/tables/depot.memo/records", "bob", body)
        assert answer.status_code == 400 and word in answer.json()["error"], (body, answer.text)


def test_mcp_write_tools_for_editors_only(depot):
    tools = {t["name"]: t for t in mcp(depot, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, "erin")
             .json()["result"]["tools"]}
    assert tools["insert_record"]["inputSchema"]["properties"]["table"]["enum"] == ["depot.memo"]
    made = call(depot, "insert_record", {"table": "depot.memo", "values": {"title": "from an agent"}}, "erin")
    assert not made["isError"], made
    key = made["structuredContent"]["record"]["id"]
    assert call(depot, "delete_record", {"table": "depot.memo", "pkey": key}, "erin")["structuredContent"] == \
        {"deleted": key}
    refused = mcp(depot, {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
        "name": "insert_record", "arguments": {"table": "depot.memo", "values": {"title": "x"}}}}, "alice")
    assert refused.json()["error"]["code"] == -32602  # not offered to alice: an unknown tool
    keep = get(depot, "/tables/depot.memo/records", params={"title": "keep me"}).json()["rows"][0]
    protected = call(depot, "delete_record", {"table": "depot.memo", "pkey": keep["id"]}, "erin")
    assert protected["isError"] and "keep" in protected["content"][0]["text"]


def test_the_change_stream_delivers_a_page_commit_and_the_bridge_writes(depot):
    """Through GenroPy's own database events: a change committed by a GenroPy page RPC, then an
    insert and a delete through the bridge, arrive in order, each record as the subscriber may
    read it (no hidden column)."""
    stream = ChangeStream(depot.base_url, "depot.product", "alice")
    memos = ChangeStream(depot.base_url, "depot.memo", "bob")
    try:
        assert stream.next()["event"] == "ready" and memos.next()["event"] == "ready"
        p2 = get(depot, "/tables/depot.product/records", params={"code": "P2"}).json()["rows"][0]
        GenropyPage(depot.base_url, "/index").rpc("set_quantity", code="P2", quantity=5)
        change = stream.next(timeout=5)
        assert change["event"] == "update" and change["id"] == "1", change
        assert change["data"]["table"] == "depot.product" and change["data"]["pkey"] == p2["id"]
        record = change["data"]["record"]
        assert record["quantity"] == 5 and record["code"] == "P2"
        assert "cost" not in record and "margin_note" not in record  # alice's view
        created = httpx.post(f"{depot.base_url}/_data/tables/depot.memo/records", json={"title": "streamed"},
                             headers=auth("bob"), timeout=30).json()
        inserted = memos.next(timeout=5)
        assert inserted["event"] == "insert" and inserted["data"]["record"]["title"] == "streamed"
        assert httpx.delete(f"{depot.base_url}/_data/tables/depot.memo/records/{created['id']}",
                            headers=auth("bob"), timeout=30).status_code == 200
        deleted = memos.next(timeout=5)
        assert deleted["event"] == "delete" and deleted["data"] == {"table": "depot.memo", "pkey": created["id"],
                                                                    "record": None}
    finally:
        stream.close()
        memos.close()
        GenropyPage(depot.base_url, "/index").rpc("set_quantity", code="P2", quantity=0)


@SQLITE_ONLY
def test_the_change_stream_carries_commits_of_another_process(depot):
    """A second server of the same site (another process, as another worker or pod would be)
    commits; the first one's subscriber receives it, through the shared site register."""
    other = start_server(depot.workspace, "gnrasgiserve", "--nodebug", name="data-api-2",
                         env={"GENROPY_DATA_API": "write"})
    try:
        assert_a_memo_inserted_there_arrives_here(other.base_url, depot.base_url)
    finally:
        other.stop()


def assert_a_memo_inserted_there_arrives_here(there: str, here: str) -> None:
    """A subscriber of depot.memo on ``here`` receives a memo inserted through ``there``."""
    stream = ChangeStream(here, "depot.memo", "bob")
    try:
        assert stream.next()["event"] == "ready"
        created = httpx.post(f"{there}/_data/tables/depot.memo/records", json={"title": f"from {there}"},
                             headers=auth("bob"), timeout=30)
        assert created.status_code == 201, created.text
        change = stream.next(timeout=5)
        assert change["event"] == "insert" and change["data"]["record"]["title"] == f"from {there}"
        httpx.delete(f"{there}/_data/tables/depot.memo/records/{created.json()['id']}", headers=auth("bob"), timeout=30)
    finally:
        stream.close()


@SQLITE_ONLY
def test_the_change_stream_crosses_pods_on_a_redis_register(depot, tmp_path):
    """GENROPY_REGISTER=redis (the scaled topology): two servers sharing only Redis and the
    database, as two pods do; a commit on one reaches a subscriber of the other."""
    redis = redis_server(tmp_path / "redis")
    env = {"GENROPY_DATA_API": "write", **redis.env(), "GENROPY_REDIS_PREFIX": "changes-test"}
    servers = []
    try:
        servers = [start_server(depot.workspace, "gnrasgiserve", "--nodebug", name=f"pod-{n}", env=env)
                   for n in (1, 2)]
        assert_a_memo_inserted_there_arrives_here(servers[1].base_url, servers[0].base_url)
        assert any(key.startswith(b"changes-test") for key in redis.client().keys("*"))  # really through Redis
    finally:
        for server in servers:
            server.stop()
        redis.stop()


@SQLITE_ONLY
def test_a_mount_that_would_hide_something_stops_the_start(depot):
    """GENROPY_DATA_API_MOUNT on the server's own prefix, on GenroPy's files or on a package's
    pages: one line naming the variable, a non-zero exit (nothing is shadowed)."""
    for mount, word in (("_server", "server's applications"), ("_rsrc", "GenroPy's own paths"),
                        ("adm", "package 'adm'"), ("index", "a page of the site"), ("_ping", "GenroPy's own paths"),
                        ("websocket", "websocket channel")):
        result = subprocess.run([str(BIN / "gnrasgiserve"), depot.workspace.site_name, "-p", str(free_port()),
                                 "-H", "127.0.0.1", "--nodebug"],
                                env=depot.workspace.env({"GENROPY_DATA_API": "read", "GENROPY_DATA_API_MOUNT": mount}),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode != 0, mount
        line = [text for text in result.stderr.splitlines() if "GENROPY_DATA_API_MOUNT" in text]
        assert len(line) == 1 and word in line[0] and "Traceback" not in result.stderr, result.stderr[-2000:]


@SQLITE_ONLY
def test_a_stopping_server_ends_its_change_streams(depot):
    """SIGTERM with a stream open: the stream gets its last event and the server exits 0 long
    before its drain timeout (30 s here), instead of waiting for a response that never ends."""
    server = start_server(depot.workspace, "gnrasgiserve", "--nodebug", name="data-api-stop",
                          env={"GENROPY_DATA_API": "read", "GENROPY_SHUTDOWN_TIMEOUT": "30"})
    stream = ChangeStream(server.base_url, "depot.product", "alice")
    try:
        assert stream.next()["event"] == "ready"
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        last = stream.next(timeout=20)
        assert last["event"] == "error" and "stopping" in last["data"]["error"], last
        assert server.process.wait(25) == 0
        assert time.monotonic() - started < 20  # not the 30 s drain
    finally:
        stream.close()
        server.stop()


@SQLITE_ONLY
def test_the_feed_lives_as_a_genropy_connection_and_leaves_with_its_last_stream(depot):
    """The process's feed page has a connection of its own, with its folder where GenroPy's cleanup
    looks (so a process that dies leaves nothing that collects forever); the last stream closing
    takes both away."""
    def feed_folders():
        return sorted(path.name for path in Path(depot.workspace.project_dir).glob("**/_connections/dataapi-*"))

    assert feed_folders() == []
    stream = ChangeStream(depot.base_url, "depot.product", "alice")
    try:
        assert stream.next()["event"] == "ready"
        assert len(feed_folders()) == 1
    finally:
        stream.close()
    for _ in range(50):
        if not feed_folders():
            break
        time.sleep(0.2)
    assert feed_folders() == []
