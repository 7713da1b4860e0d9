"""A user's own tests: the shop site, served in a container by genropy-asgi."""

import re


def rpc(client, page, method, **kwargs):
    """Call a page's RPC the way the browser does: page_id from the page, then a POST."""
    shell = client.get(f"/{page}")
    page_id = re.search(r"page_id:'([^']+)'", shell.text).group(1)
    response = client.post(f"/{page}", data={"method": method, "page_id": page_id, **kwargs})
    assert response.status_code == 200
    return re.search(r"<result[^>]*>(.*?)</result>", response.text, re.S).group(1)


def test_home_page(genropy_client):
    assert genropy_client.get("/index").status_code == 200


def test_the_site_is_ready(genropy_client):
    assert genropy_client.get("/_server/ready").json()["ready"] is True


def test_products_are_stored(genropy_client):
    rpc(genropy_client, "index", "add_product", name="teapot", price="12.5")
    rpc(genropy_client, "index", "add_product", name="kettle", price="30")
    assert rpc(genropy_client, "index", "product_names").split(",")[:2] == ["kettle", "teapot"]
