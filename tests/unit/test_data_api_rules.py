"""The data bridge's pure decisions: query strings, and what one identity sees of the facts."""

from __future__ import annotations

import pytest

from genropy_asgi.data_api.exposure import ColumnFact, ModelFacts, TableConfig, TableFact
from genropy_asgi.data_api.identity import CredentialsError, Identity, parse_authorization
from genropy_asgi.data_api.query_params import QueryError, parse_query

TYPES = {"id": "T", "name": "T", "price": "N", "qty": "L", "day": "D", "ok": "B"}


def spec(*pairs, max_rows=50):
    return parse_query(list(pairs), TYPES, max_rows=max_rows)


def test_conditions_become_bound_parameters_only():
    where, params = spec(("name__contains", "50%_off' OR 1=1"), ("qty__in", "1,2"), ("day__isnull", "true")).where()
    assert where == "$name ILIKE SUBSTR(:p0x, 2) ESCAPE '\\' AND $qty IN :p1x AND $day IS NULL"
    assert params == {"p0x": " %50\\%\\_off' OR 1=1%", "p1x": [1, 2]}


def test_order_ends_on_the_primary_key():
    assert spec(("_order", "-price,name")).order_by("id") == "$price DESC, $name ASC, $id ASC"
    assert spec().order_by("id") == "$id ASC"


@pytest.mark.parametrize("pairs, word", [
    ([("secret", "1")], "no readable column"), ([("@rel.name", "x")], "no readable column"),
    ([("name__regex", "x")], "unknown operator"), ([("qty", "1e3")], "qty"), ([("_limit", "51")], "_limit"),
    ([("_limit", "1"), ("_limit", "2")], "twice"), ([("price", "Infinity")], "price"),
    ([("ok", "maybe")], "ok"), ([("_order", "name;drop")], "_order"), ([("qty__contains", "1")], "text"),
])
def test_refusals_name_the_parameter(pairs, word):
    with pytest.raises(QueryError, match=word):
        spec(*pairs)


def test_authorization_headers():
    assert parse_authorization("Basic YWxpY2U6cHc6eA==") == ("basic", "alice", "pw:x")
    assert parse_authorization("bearer abc") == ("bearer", "", "abc")
    for bad in ("Basic !!", "Basic YWxpY2U=", "Digest x", "Bearer ", "Basic OnB3"):
        with pytest.raises(CredentialsError):
            parse_authorization(bad)


def column(name, **kwargs):
    return ColumnFact(name=name, dtype="T", openapi_type="string", openapi_format=None, nullable=True,
                      description=None, read_only=False, **kwargs)


FACTS = ModelFacts({
    "shop.product": TableFact("shop.product", "id", None, None, None, {
        "id": column("id"), "note": column("note", auth_tags="manager"),
        "supplier_id": column("supplier_id", references="shop.supplier"),
        "supplier_name": column("supplier_name", passes=("shop.supplier",), alias_of=("shop.supplier", "name")),
        "supplier_city": column("supplier_city", passes=("shop.supplier",), alias_of=("shop.supplier", "city")),
        "odd": column("odd", opaque=True)}),
    "shop.supplier": TableFact("shop.supplier", "id", None, None, "buyer", {
        "id": column("id"), "name": column("name"), "city": column("city", auth_tags="geo")}),
    "vault.box": TableFact("vault.box", "id", None, "admin", None, {"id": column("id")}),
})


def allowed(rule: str, tags: str) -> bool:  # enough of GenroPy's rule for these facts
    return any(tag in tags.split(",") for tag in rule.split(","))


def seen(tags: str, hidden: tuple[str, ...] = (), forbidden: frozenset[str] = frozenset()):
    views = FACTS.views(Identity("u", tags), allowed, lambda table, identity: TableConfig(
        table in hidden, forbidden if table == "shop.product" else frozenset()))
    return {name: sorted(view.columns) for name, view in views.items()}


def test_relations_never_open_a_closed_table():
    assert seen("user") == {"shop.product": ["id", "supplier_id"]}
    assert seen("buyer")["shop.product"] == ["id", "supplier_id", "supplier_name"]  # city needs geo
    assert seen("buyer,geo,manager")["shop.product"] == ["id", "note", "supplier_city", "supplier_id",
                                                         "supplier_name"]
    assert "vault.box" in seen("admin") and "vault.box" not in seen("buyer")


def test_user_configuration_hides_tables_and_columns():
    assert "shop.supplier" not in seen("buyer", hidden=("shop.supplier",))
    assert seen("buyer", hidden=("shop.supplier",))["shop.product"] == ["id", "supplier_id"]
    assert seen("user", forbidden=frozenset({"supplier_id"}))["shop.product"] == ["id"]


def test_vendored_bundles_are_the_recorded_ones_and_fetch_nothing_remote():
    """static/VENDORED.md's SHA-256 is each shipped file's (scripts/vendor-docs-assets writes both),
    and no bundle names a CDN it would fetch from at run time."""
    import hashlib
    import re
    from importlib.resources import files

    static = files("genropy_asgi.data_api").joinpath("static")
    recorded = dict(re.findall(r"\| `([^`]+)` \| `([0-9a-f]{64})` \|", static.joinpath("VENDORED.md").read_text()))
    assert set(recorded) == {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"}
    for name, digest in recorded.items():
        data = static.joinpath(name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
        assert not re.search(rb"(cdn\.|unpkg\.com|jsdelivr\.net|fonts\.googleapis)", data), name


def test_unknown_asset_names_are_never_cached():
    from genropy_asgi.data_api import docs_pages

    for n in range(200):
        assert docs_pages.asset(f"../nothing-{n}.js") is None
    assert docs_pages.shipped.cache_info().currsize <= len(docs_pages.ASSETS)


def test_values_are_bound_behind_a_space_genropy_never_embeds():
    where, params = spec(("name", "@rel.x) OR (1=1"), ("name__startswith", "$name")).where()
    assert where == "$name = SUBSTR(:p0x, 2) AND $name ILIKE SUBSTR(:p1x, 2) ESCAPE '\\'"
    assert params == {"p0x": " @rel.x) OR (1=1", "p1x": " $name%"}
    with pytest.raises(QueryError, match="qty"):
        spec(("qty", "9" * 30))


# -- the change stream --------------------------------------------------------------------

class Queued:  # what GenroPy's register queues for a page (ClientDataChange: path, value)
    def __init__(self, path, value):
        self.path, self.value = path, value


def test_genropy_queues_table_changes_where_the_feed_reads_them():
    """Fails the day GenroPy changes how a commit reaches a subscribed page: the path of the
    queued change, its events, and the register calls the feed makes."""
    import inspect

    from gnr.web import gnrwebapp
    from gnr.web.daemon import siteregister

    notify = inspect.getsource(siteregister.PageRegister.notifyDbEvents)
    assert "table_code = table.replace('.', '_')" in notify
    assert "'gnr.dbchanges.%s' % table_code" in notify
    assert "r=dict(dbevent=event,pkey=record.get(tblobj.pkey)" in inspect.getsource(
        gnrwebapp.GnrWsgiWebApp.notifyDbEvent).replace(" =", "=").replace("= ", "=")
    for name in ("new_connection", "connection", "new_page", "subscribeTable", "subscription_storechanges", "page",
                 "refresh", "drop_connection"):
        assert callable(getattr(siteregister.SiteRegister, name)), name
    assert {"connection_name", "user", "user_name", "user_tags", "user_ip", "user_agent"} <= set(
        inspect.signature(siteregister.SiteRegister.new_connection).parameters)
    # a feed page lives and dies as a browser's: refreshed with its connection, expired by GenroPy's cleanup
    assert "self.connection_register.refresh(page['connection_id']" in inspect.getsource(siteregister.SiteRegister.refresh)
    from gnr.web.gnrwsgisite import GnrWsgiSite

    cleanup = inspect.getsource(GnrWsgiSite._runCleanup)
    assert "os.listdir(self.allConnectionsFolder)" in cleanup and "self.register.expire_pages(entry)" in cleanup
    assert "get_datachanges(register_item_id=page_id, reset=True)" in inspect.getsource(
        siteregister.SiteRegister.subscription_storechanges)


def test_queued_changes_become_the_watched_tables_events():
    from genropy_asgi.data_api.change_feed import Change, changes_from, table_code

    watched = {table_code("a_b.c"): "a_b.c", table_code("shop.item"): "shop.item"}
    queued = [Queued("gnr.dbchanges.shop_item", [{"dbevent": "I", "pkey": 1}, {"dbevent": "U", "pkey": 2, "old_pkey": 3},
                                                 {"dbevent": "D", "pkey": 4}, {"dbevent": "X", "pkey": 5}, "junk"]),
              Queued("gnr.dbchanges.other_table", [{"dbevent": "I", "pkey": 9}]),
              Queued("gnr.something.else", [{"dbevent": "I", "pkey": 9}]),
              Queued("gnr.dbchanges.a_b_c", [{"dbevent": "U", "pkey": "k"}])]
    assert changes_from(queued, watched) == [
        Change("shop.item", "insert", 1), Change("shop.item", "update", 2, 3), Change("shop.item", "delete", 4),
        Change("a_b.c", "update", "k")]
    assert changes_from(None, watched) == []


def test_only_broadcasting_tables_have_a_stream():
    from genropy_asgi.data_api.change_feed import broadcasts

    assert broadcasts({}) and broadcasts({"broadcast": True}) and broadcasts({"broadcast": "name,code"})
    assert not broadcasts({"broadcast": False}) and not broadcasts({"broadcast": "*old*"})


def test_event_stream_messages_are_one_json_line_each():
    from genropy_asgi.data_api.change_stream import message

    text = message("update", {"note": "two\nlines\r\n", "x": "\u2028"}, 7).decode()
    assert text == 'id: 7\nevent: update\ndata: {"note":"two\\nlines\\r\\n","x":"\\u2028"}\n\n'
    assert message(comment="keep-alive") == b": keep-alive\n\n"


def test_failed_logins_are_counted_per_address_and_account_and_forgotten():
    from genropy_asgi.data_api.login_throttle import LoginThrottle

    throttle = LoginThrottle(window=60, per_account=3, per_address=5, max_keys=100)
    ann, bob = "Basic " + "YW5uOng=", "Basic " + "Ym9iOng="  # ann:x, bob:x
    for second in range(3):
        assert throttle.retry_after("10.0.0.1", ann, second) is None
        throttle.failed("10.0.0.1", ann, second)
    assert throttle.retry_after("10.0.0.1", ann, 10) == 50  # the first failure leaves the window at 60
    assert throttle.retry_after("10.0.0.2", ann, 10) is None  # another address: never locked out from elsewhere
    assert throttle.retry_after("10.0.0.1", bob, 10) is None  # another account from the same address
    throttle.failed("10.0.0.1", bob, 11)
    throttle.failed("10.0.0.1", "Bearer nope", 12)
    assert throttle.retry_after("10.0.0.1", "Bearer other", 13) == 47  # five from the address: all wait
    assert throttle.retry_after("10.0.0.1", ann, 61) is None  # the failures at 0 and 1 left the window
    assert throttle.retry_after("10.0.0.1", ann, 200) is None  # all forgotten


def test_the_throttles_memory_is_bounded():
    from genropy_asgi.data_api.login_throttle import LoginThrottle

    throttle = LoginThrottle(max_keys=50)
    for n in range(1000):
        throttle.failed(f"10.0.{n // 250}.{n % 250}", "Basic eDp5", n / 1000)
    assert len(throttle._failures) <= 50


def test_a_statement_cancelled_for_its_time_is_recognised_through_wrappers():
    from genropy_asgi.data_api.records import timed_out

    class Cancelled(Exception):
        pgcode = "57014"

    try:
        try:
            raise Cancelled("canceling statement due to statement timeout")
        except Cancelled as inner:
            raise RuntimeError("GenroPy's wrapper") from inner
    except RuntimeError as outer:
        assert timed_out(outer)
    assert not timed_out(ValueError("x"))
