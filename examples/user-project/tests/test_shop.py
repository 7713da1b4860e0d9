"""A user's own tests: the shop site, served in a container by genropy-asgi, through the
fixtures of genropy_asgi.testing (each test starts from the database as it was after start)."""

import decimal

import pytest

from genropy_asgi.testing.client import GenropyRpcError


def test_the_home_page_answers(genropy_client):
    assert genropy_client.get("/index").status_code == 200


def test_products_are_stored(genropy_page):
    page = genropy_page("/index")
    page.rpc("add_product", name="teapot", price=decimal.Decimal("12.5"))
    assert page.rpc("add_product", name="kettle", price=decimal.Decimal("30")) == 2  # the count, an int
    assert page.rpc("product_names") == ["kettle", "teapot"]


def test_each_test_starts_with_the_shop_as_it_was(genropy_page):
    # nothing left by the test above (GenroPy sends an empty list as no value: None)
    assert genropy_page("/index").rpc("product_names") is None


def test_the_admin_logs_in(genropy_page, genropy_admin):
    assert genropy_page("/index", login=True).rpc("whoami") == genropy_admin.user
    assert genropy_page("/index").rpc("whoami").startswith("guest_")


def test_a_missing_method_is_an_error(genropy_page):
    with pytest.raises(GenropyRpcError, match="missing handler"):
        genropy_page("/index").rpc("no_such_method")


def test_gnr_commands_run_in_the_site(genropy_exec):
    assert "All good" in genropy_exec("gnr", "app", "checkdep", "shop").output


def test_the_page_renders_in_a_browser(genropy_browser):
    genropy_browser.open("/index")
    assert genropy_browser.wait_for("document.getElementById('shop_title')?.textContent") == "The shop"
