"""Surface: the data bridge (``GENROPY_DATA_API=read``: ``/_data/`` REST, OpenAPI, docs, MCP).

Nobody reads without a GenroPy identity; nobody reads a table, column or relation GenroPy's rules
close to them, nor filters or orders by one; what cannot be parsed is a one-line 400, never SQL
and never a trace; nothing but GET (and MCP's POST) is served; no path reaches a file; MCP refuses
other origins, unknown protocol versions, oversized, nested or batched messages and smuggled
arguments; requests leave no database connection behind. The change stream: the same identity
and table rules, other origins refused, a bounded number of streams whose slots come back when
clients hang up, and streams never stall the other requests."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from depot_site import ChangeStream, auth, call, database_connections, get, mcp

from genropy_asgi.data_api.change_stream import MAX_STREAMS_PER_USER


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


def test_hidden_columns_cannot_be_filtered_or_ordered(depot):
    for params in ({"cost": "4"}, {"cost__gt": "1"}, {"_order": "cost"}, {"margin_note": "thin"},
                   {"supplier_name": "Acme"}, {"@supplier_id.name": "Acme"}):
        response = get(depot, "/tables/depot.product/records", params=params)
        assert response.status_code == 400, (params, response.text)
        assert "no readable column" in response.json()["error"]
    assert get(depot, "/tables/depot.product/records", "carol", params={"code": "P1"}).status_code == 400


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


def test_foreign_keys_cannot_be_followed_past_the_rules(depot):
    """A hop to a table the user may not read, through a column that is not a visible foreign key,
    or through a GenroPy path instead of a column name, answers like a relation that is not there."""
    p1 = get(depot, "/tables/depot.product/records", "bob", params={"code": "P1"}).json()["rows"][0]["id"]
    for user, column in (("alice", "supplier_id"), ("bob", "@supplier_id.name"), ("bob", "$cost"),
                         ("bob", "cost"), ("bob", "supplier_name"), ("bob", "supplier_id.name"),
                         ("bob", "supplier_id%2F..%2F..%2Fadm.user"), ("carol", "code"), ("dave", "supplier_id")):
        response = get(depot, f"/tables/depot.product/records/{p1}/{column}", user)
        assert response.status_code in (400, 404), (user, column, response.status_code)
        assert "Acme" not in response.text and "Traceback" not in response.text, (user, column)
    for method in ("POST", "PATCH", "DELETE", "PUT"):  # a relation is read-only, even for an editor
        response = httpx.request(method, f"{depot.base_url}/_data/tables/depot.product/records/{p1}/supplier_id",
                                 headers={**auth("bob"), "Content-Type": "application/json"}, content=b"{}")
        assert response.status_code in (404, 405), (method, response.text)


def test_read_only_and_paths(depot):
    url = f"{depot.base_url}/_data/tables/depot.product/records"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = httpx.request(method, url, headers=auth("bob"), content=b"{}")
        assert response.status_code == 405, (method, response.text)
    for path in ("/tables/depot.product/x", "/tables/depot.product/records/a/b/c",
                 "/tables/depot.product/records/a/supplier_id/c", "/nothing",
                 "/tables/..%2f..%2fsettings", "/tables/depot.product;drop"):
        assert get(depot, path).status_code == 404, path


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


def test_costly_requests_are_bounded(depot):
    """Thousands of filters, a repeated one, a nesting bomb, a huge offset: each a quick short answer."""
    many = "&".join(f"quantity__ne={n}" for n in range(3000))  # each filter once: the document's count bounds it
    answer = get(depot, f"/tables/depot.product/records?{many}")
    assert answer.status_code in (400, 414, 431), answer.status_code
    twice = get(depot, "/tables/depot.product/records?quantity__ne=1&quantity__ne=2")
    assert twice.status_code == 400 and "given twice" in twice.json()["error"]
    bomb = mcp(depot, b"[" * 200_000 + b"]" * 200_000)
    assert bomb.status_code in (400, 413) and "Traceback" not in bomb.text
    deep = mcp(depot, b'{"a":' * 50_000 + b"1" + b"}" * 50_000)
    assert deep.status_code == 400 and deep.json()["error"]["code"] == -32700
    far = get(depot, "/tables/depot.product/records", params={"_offset": str(10**9)})
    assert far.status_code == 200 and far.json()["rows"] == []


def test_a_rebinding_page_holds_no_credentials(depot):
    """DNS rebinding: a hostile name resolved to the site sends matching Host and Origin, so the
    origin rule lets it through -- and every MCP and REST request still needs a GenroPy identity,
    which that page (another origin to the browser) cannot send."""
    port = depot.base_url.rsplit(":", 1)[1]
    shaped = {"Host": f"rebound.example:{port}", "Origin": f"http://rebound.example:{port}"}
    answer = mcp(depot, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, None, headers=shaped)
    assert answer.status_code == 401 and "tools" not in answer.text
    assert get(depot, "/tables/depot.product/records", None, headers=shaped).status_code == 401


def test_writes_cannot_be_ridden_or_smuggled(depot):
    """A page elsewhere cannot write with a browser's remembered login (JSON only, origin checked);
    a body cannot set what GenroPy keeps (key, system fields, read-only columns) nor be huge."""
    url = f"{depot.base_url}/_data/tables/depot.memo/records"
    form = httpx.post(url, headers={**auth("bob"), "Content-Type": "text/plain"}, content=b'{"title": "csrf"}')
    assert form.status_code == 415
    foreign = httpx.post(url, headers={**auth("bob"), "Content-Type": "application/json", "Origin": "https://evil.example"},
                         content=b'{"title": "csrf"}')
    assert foreign.status_code == 403
    for body in ({"title": "x", "__ins_user": "someone"}, {"title": "x", "id": "mine"}, {"title": "x", "stamp": "y"},
                 {"title": "x", "__del_ts": "2026-01-01T00:00:00"}):
        answer = httpx.post(url, headers=auth("bob"), json=body)
        assert answer.status_code == 400, (body, answer.text)
    huge = httpx.post(url, headers={**auth("bob"), "Content-Type": "application/json"},
                      content=b'{"title": "' + b"x" * (1024 * 1024) + b'"}')
    assert huge.status_code == 413
    assert "csrf" not in httpx.get(url, headers=auth("bob"), params={"title": "csrf"}).text


@pytest.mark.parametrize("value", ["@supplier_id.name) OR (1=1", "$margin_note", "$cost",
                                   "@supplier_id.name) OR ($cost > 5",
                                   "@supplier_id.name) OR (EXISTS(SELECT 1 FROM adm_user)",
                                   "x:key", ":env_user", "%(key)s", "a%sb"])
def test_genropy_field_references_in_values_stay_values(depot, value):
    """GenroPy pastes a parameter whose text starts with ``$column`` or ``@relation`` into the SQL
    (``embedFieldPars``): a client's value never reaches it that way -- filters, keys, MCP."""
    for params in ({"code": value}, {"code__ne": value}, {"code__startswith": value}, {"code__lt": value}):
        answer = get(depot, "/tables/depot.product/records", params=params)
        assert answer.status_code == 200, (params, answer.text)
        codes = {row["code"] for row in answer.json()["rows"]}
        everything = {row["code"] for row in get(depot, "/tables/depot.product/records",
                                                 params={"_limit": "20"}).json()["rows"]}
        if "__ne" in next(iter(params)) or "__lt" in next(iter(params)):
            continue  # literal comparisons: any answer is a comparison with the literal text
        assert codes == set(), (params, codes)  # no product's code is that text
        assert everything  # (the table is not empty)
    assert get(depot, f"/tables/depot.product/records/{value}").status_code in (400, 404)
    tool = call(depot, "query_table", {"table": "depot.product", "filters": {"code": value}})
    assert tool["structuredContent"]["rows"] == []


def test_many_filters_keep_their_own_values(depot):
    """GenroPy expands a list parameter p1 into p10, p11...: ours never collide with p10."""
    params = {"quantity__ne": "-1", "code__in": "P1,P2", "code": "P9", "price__isnull": "false",
              "available__isnull": "false", "added__isnull": "false", "description__isnull": "false",
              "quantity__gte": "-5", "quantity__lte": "1000", "code__ne": "Z", "code__startswith": "P"}
    assert get(depot, "/tables/depot.product/records", params=params).json()["rows"] == []


def test_genropy_accounts_are_checked_like_its_login_page(depot):
    """adm accounts: a banned one and one with a second factor are refused; a user named like a
    tag never gains that tag however many times it logs in (GenroPy caches logins in a thread's
    environment, which every request starts fresh)."""
    for user in ("gina", "hugo"):
        assert get(depot, "/tables", user).status_code == 401, user
    raw = base64.b64encode(b"buyer:Buyer-pw-7").decode()
    for spaces in range(1, 13):  # distinct headers: each a login, spread over the bridge's threads
        answer = get(depot, "/tables", None, headers={"Authorization": "Basic" + " " * spaces + raw})
        assert answer.status_code == 200, answer.text
        assert "depot.supplier" not in [t["name"] for t in answer.json()], spaces


def test_formulas_show_only_what_their_row_shows(depot):
    columns = get(depot, "/tables/depot.product", "bob").json()["columns"]
    assert "double_quantity" in columns  # reads a visible column of its row
    assert "margin" not in columns  # reads cost (openapi=False)
    assert "note_count" not in columns  # a sub-select: beyond its row
    assert "x-references" not in json.dumps(get(depot, "/tables/depot.product", "alice").json())  # supplier closed


def test_bad_numbers_and_unknown_static_names(depot):
    assert get(depot, "/tables/depot.product/records", params={"quantity": "9" * 30}).status_code == 400
    assert get(depot, "/tables/depot.product/records/" + "9" * 30).status_code == 404
    for n in range(50):
        assert get(depot, f"/static/nothing-{n}.js", None).status_code == 404


def test_change_streams_follow_the_rules(depot):
    refusals = [("depot.product", None, {}, 401), ("depot.product", "alice", {"Authorization": "Basic eDp5"}, 401),
                ("depot.supplier", "alice", {}, 404), ("depot.stock_note", "bob", {}, 404),
                ("adm.user", "bob", {}, 404), ("depot.product", "dave", {}, 404),
                ("depot.product", "bob", {"Origin": "http://evil.example"}, 403)]
    for table, user, headers, status in refusals:
        stream = ChangeStream(depot.base_url, table, user, headers=headers)
        try:
            first = stream.next()
            assert stream.status == status and first["event"] == "refused", (table, user, stream.status, first)
            assert "error" in first["data"]
        finally:
            stream.close()
    for method in ("POST", "PUT", "DELETE", "HEAD"):
        response = httpx.request(method, f"{depot.base_url}/_data/tables/depot.product/changes", headers=auth("bob"),
                                 timeout=30)
        assert response.status_code == 405, (method, response.status_code)


def test_change_streams_are_bounded_and_stall_nothing(depot):
    """MAX_STREAMS_PER_USER streams of one user open: one more is a 429 while REST still answers
    (streams have threads of their own); once clients hang up, their slots come back."""
    streams = [ChangeStream(depot.base_url, "depot.product", "alice") for _ in range(MAX_STREAMS_PER_USER)]
    try:
        for stream in streams:
            assert stream.next()["event"] == "ready"
        extra = ChangeStream(depot.base_url, "depot.product", "alice")
        assert extra.next()["event"] == "refused" and extra.status == 429
        extra.close()
        other = ChangeStream(depot.base_url, "depot.product", "bob")  # another user is not refused
        assert other.next()["event"] == "ready"
        other.close()
        assert get(depot, "/tables/depot.product/records", params={"code": "P1"}).status_code == 200
    finally:
        for stream in streams:
            stream.close()
    for _ in range(50):
        again = ChangeStream(depot.base_url, "depot.product", "alice")
        first = again.next()
        again.close()
        if first["event"] == "ready":
            break
        time.sleep(0.2)
    assert first["event"] == "ready", first


def test_change_streams_never_show_a_key_the_user_cannot_see(depot):
    """carol's configuration forbids memo's key column: her stream says what changed, with the
    columns she sees, and never the key (nor the old one)."""
    stream = ChangeStream(depot.base_url, "depot.memo", "carol")
    try:
        assert stream.next()["event"] == "ready"
        created = httpx.post(f"{depot.base_url}/_data/tables/depot.memo/records", json={"title": "keyless"},
                             headers=auth("bob"), timeout=30).json()
        inserted = stream.next(timeout=5)
        assert inserted["event"] == "insert" and inserted["data"]["record"]["title"] == "keyless"
        assert "pkey" not in inserted["data"] and "id" not in inserted["data"]["record"]
        assert created["id"] not in json.dumps(inserted)
        httpx.delete(f"{depot.base_url}/_data/tables/depot.memo/records/{created['id']}", headers=auth("bob"),
                     timeout=30)
        deleted = stream.next(timeout=5)
        assert deleted == {"id": deleted["id"], "event": "delete", "data": {"table": "depot.memo", "record": None}}
    finally:
        stream.close()


def test_password_guessing_is_slowed_down(depot):
    """LoginThrottle: past PER_ACCOUNT failures in a minute for one account from one address, that
    address gets 429 with Retry-After for the account, even with the right password; other
    accounts from the same address are not locked out by it."""
    from genropy_asgi.data_api.login_throttle import PER_ACCOUNT

    guesses = [get(depot, "/tables", None, headers=basic("frank", f"guess-{n}")) for n in range(PER_ACCOUNT)]
    assert {answer.status_code for answer in guesses} == {401}
    locked = get(depot, "/tables", "frank")  # the right password, too late
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) in range(1, 61), locked.text
    assert "Traceback" not in locked.text
    assert get(depot, "/tables", "alice").status_code == 200
    assert get(depot, "/tables", None, headers=basic("frank", "x")).status_code == 429  # no guess counted or tried


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
