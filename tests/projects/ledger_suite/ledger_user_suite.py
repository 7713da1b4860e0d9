"""A user's suite of the ledger site: only genropy_asgi.testing's public fixtures and client."""

import datetime
import decimal

import pytest

from genropy_asgi.testing.client import GenropyLoginFailed, GenropyRpcError
from genropy_asgi.testing.containers import GenropyExecFailed


def test_rpc_values_come_back_typed(genropy_page):
    page = genropy_page("/index")
    echoed = page.rpc("echo", n=3, x=2.5, day=datetime.date(2024, 1, 2), money=decimal.Decimal("1.50"),
                      yes=True, text="héllo", nested={"a": 1})
    assert echoed["n"] == 3 and echoed["x"] == 2.5 and echoed["yes"] is True
    assert echoed["day"] == datetime.date(2024, 1, 2) and echoed["money"] == decimal.Decimal("1.50")
    assert echoed["text"] == "héllo" and echoed["nested.a"] == 1


def test_rpc_round_trip_through_the_database(genropy_page):
    page = genropy_page("/index")
    page.rpc("add_entry", title="rent", amount=decimal.Decimal("700"))
    page.rpc("add_entry", title="coffee", amount=decimal.Decimal("2.5"))
    assert page.rpc("entry_titles") == ["coffee", "rent"]


def test_genropy_errors_raise_with_their_message(genropy_page):
    with pytest.raises(GenropyRpcError, match="the reason") as caught:
        genropy_page("/index").rpc("fail", message="the reason")
    assert caught.value.kind == "gnrexception"
    with pytest.raises(GenropyRpcError, match="missing handler"):
        genropy_page("/index").rpc("no_such_method")


def test_login_and_logout(genropy_client, genropy_admin):
    assert genropy_client.page("/index").rpc("whoami").startswith("guest_")
    genropy_client.login(genropy_admin.user, genropy_admin.password)
    assert genropy_client.page("/index").rpc("whoami") == genropy_admin.user
    genropy_client.logout()
    assert genropy_client.page("/index").rpc("whoami").startswith("guest_")


def test_a_wrong_password_is_refused(genropy_client, genropy_admin):
    with pytest.raises(GenropyLoginFailed, match="refused"):
        genropy_client.login(genropy_admin.user, "not-the-password")
    assert genropy_client.page("/index").rpc("whoami").startswith("guest_")


def test_a_page_opened_logged_in(genropy_page, genropy_admin):
    assert genropy_page("/index", login=True).rpc("whoami") == genropy_admin.user
    assert genropy_page("/index").rpc("whoami").startswith("guest_")


def test_a_live_update_reaches_an_open_page(genropy_page):
    watcher = genropy_page("/index")
    with watcher.channel() as channel:
        genropy_page("/index").rpc("announce", text="hello")
        assert channel.next_publish("ledger_announce")["text"] == "hello"


def test_commands_run_in_the_site_container(genropy_exec):
    assert genropy_exec("sh", "-c", "echo $GNR_CURRENT_SITE").output.strip() == "ledgersite"
    assert "ledger.ledger" in genropy_exec("gnr", "app", "insights", "ledgersite").output  # GenroPy finds the instance
    with pytest.raises(GenropyExecFailed, match="exit 3"):
        genropy_exec("sh", "-c", "exit 3")


def test_the_browser_renders_the_page(genropy_browser):
    load = genropy_browser.open("/index")
    assert not [r for r in load.failures if r.url.startswith(genropy_browser.base_url)]  # (web fonts: offline)
    title = "document.getElementById('ledger_title') && document.getElementById('ledger_title').textContent"
    assert genropy_browser.wait_for(title) == "Ledger"


@pytest.mark.parametrize("n", range(11))
def test_each_test_starts_from_the_database_after_start(genropy_page, n):
    page = genropy_page("/index")
    assert page.rpc("entry_count") == 0  # nothing from the tests before
    page.rpc("add_entry", title=f"entry {n}", amount=n)
    assert page.rpc("entry_count") == 1
