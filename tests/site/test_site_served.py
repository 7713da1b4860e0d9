"""A real GenroPy site (demo project, SQLite, real gnrdaemon) served by gnrasgiserve,
compared with the same site served by gnrwsgiserve in the same environment."""

from __future__ import annotations

import re

import httpx
import pytest

from genropy_asgi.testing.client import GenropyLoginFailed, GenropyPage

pytestmark = pytest.mark.site

VOLATILE = re.compile(r"page_id:'[^']+'|[?&]mtime=\d+|_jslib/[0-9a-f]+\.js|\"servertime\": \"[^\"]+\"")


def normalized(html: str) -> str:
    return VOLATILE.sub("<volatile>", html)


def test_index_is_the_page_gnrwsgiserve_serves(asgi_site, wsgi_site):
    asgi = httpx.get(asgi_site.base_url + "/index", timeout=60)
    wsgi = httpx.get(wsgi_site.base_url + "/index", timeout=60)
    assert asgi.status_code == wsgi.status_code == 200
    assert asgi.headers["content-type"] == wsgi.headers["content-type"]
    assert "GenroPy demo on genropy-asgi" not in asgi.text  # the shell: the structure comes by RPC
    assert normalized(asgi.text).splitlines() == normalized(wsgi.text).splitlines()


def test_page_structure_rpc(asgi_site):
    page = GenropyPage(asgi_site.base_url)
    response = page.rpc_raw("main")
    assert response.status_code == 200
    assert "GenroPy demo on genropy-asgi" in response.text


def test_rpc_writes_and_reads_the_database(asgi_site):
    page = GenropyPage(asgi_site.base_url)
    before = int(page.rpc("note_count"))
    page.rpc("add_note", title="written through ASGI")
    assert int(page.rpc("note_count")) == before + 1
    assert "written through ASGI" in page.rpc("note_titles")


def test_both_servers_share_one_database(asgi_site, wsgi_site):
    GenropyPage(asgi_site.base_url).rpc("add_note", title="seen by werkzeug too")
    assert "seen by werkzeug too" in GenropyPage(wsgi_site.base_url).rpc("note_titles")


def test_login_through_the_sites_own_rpc_and_cookies_survive(asgi_site, tester_password):
    page = GenropyPage(asgi_site.base_url)
    assert page.rpc("whoami").startswith("guest_")
    assert "demo" in page.client.cookies  # GenroPy's connection cookie came back
    page.rpc("login_doLogin",
             login=f"<GenRoBag><user>tester</user><password>{tester_password}</password></GenRoBag>::BAG",
             rootenv="<GenRoBag></GenRoBag>::BAG")
    assert page.rpc("whoami") == "tester"
    again = GenropyPage(asgi_site.base_url, client=page.client)  # a new page, same browser
    assert again.rpc("whoami") == "tester"


def test_wrong_password_is_refused(asgi_site):
    page = GenropyPage(asgi_site.base_url)
    with pytest.raises(GenropyLoginFailed, match="login of 'tester' refused"):
        page.client.login("tester", "nope")
    assert page.rpc("whoami").startswith("guest_")


def test_server_meta_endpoints(asgi_site):
    info = httpx.get(asgi_site.base_url + "/_server/info").json()
    assert info["site"] == "demo"
    assert info["versions"]["genro-asgi"].startswith("0.46")
    assert "/_server" in info["asgi_prefixes"]
    assert httpx.get(asgi_site.base_url + "/_server/health").status_code == 200
    ready = httpx.get(asgi_site.base_url + "/_server/ready")
    assert ready.status_code == 200, ready.text
    # the register in the server's process (GENROPY_REGISTER=local, the default): no gnrdaemon check
    assert set(ready.json()["checks"]) == {"site built", "site register", "database answers"}


def test_info_carries_no_secret(asgi_site, demo_workspace, tester_password):
    text = httpx.get(asgi_site.base_url + "/_server/info").text
    assert demo_workspace.hmac_key not in text
    assert tester_password not in text
