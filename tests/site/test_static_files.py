"""Native static serving on a real GenroPy site (demo project, real gnrdaemon), against
GenroPy's own handler in the same environment (``GENROPY_STATIC=genropy``).

Every file a real page loads, as Chromium loads it, is the same bytes and media type in
both modes; 200/304/206/416 and HEAD; br/gzip/identity as the client asks; cache headers
per URL kind; a symlink out of a root is 404 natively (GenroPy's own handler follows it);
a query GenroPy reads (``download``) still reaches GenroPy.
"""

from __future__ import annotations

import gzip
import os
import re
from email.utils import parsedate_to_datetime as parsedate
from pathlib import Path

import brotli
import httpx
import pytest
from support import require, start_server

pytestmark = pytest.mark.site

DOJO = "/_dojo/11/dojo/dojo/dojo.js"


@pytest.fixture(scope="module")
def genropy_mode(demo_workspace, gnr_daemon):
    server = start_server(demo_workspace, "gnrasgiserve", "--nodebug", name="static-genropy",
                          env={"GENROPY_STATIC": "genropy"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page_urls(asgi_site) -> list[str]:
    """The same-origin URLs Chromium requests for /index (the shell's links without a browser)."""
    from genropy_asgi.testing.devtools import Chromium, chromium_path

    if chromium_path() is None:
        require(False, "no Chromium (apt-get install chromium)")
    with Chromium() as browser:
        load = browser.load(asgi_site.base_url + "/index")
    urls = sorted({r.url.removeprefix(asgi_site.base_url) for r in load.requests
                   if r.url.startswith(asgi_site.base_url + "/_")})
    assert len(urls) > 80, urls  # dojo, GenroPy's CSS and JS, resources
    assert not [r for r in load.requests if r.url.startswith(asgi_site.base_url) and r.status >= 400]
    return urls


def get(server, path: str, **headers: str) -> httpx.Response:
    return httpx.get(server.base_url + path, headers=headers, timeout=60)


def body_of(server, path: str, coding: str) -> tuple[int, str, str | None, bytes]:
    """Status, media type, content coding, and the body decoded by hand (not by httpx)."""
    with httpx.Client(timeout=60) as client:
        with client.stream("GET", server.base_url + path, headers={"Accept-Encoding": coding}) as response:
            raw = b"".join(response.iter_raw())
    sent = response.headers.get("content-encoding")
    body = {"br": brotli.decompress, "gzip": gzip.decompress}.get(sent, lambda b: b)(raw)
    return response.status_code, response.headers.get("content-type"), sent, body


def test_every_file_the_page_loads_is_the_same_in_both_modes(asgi_site, genropy_mode, page_urls):
    compressed = 0
    for path in page_urls:
        status, media, _, reference = body_of(genropy_mode, path, "identity")
        assert status == 200, path
        for coding in ("identity", "gzip", "br"):
            status, native_media, sent, body = body_of(asgi_site, path, coding)
            assert (status, native_media) == (200, media), (path, coding)
            assert body == reference, (path, coding)
            assert sent in (None, coding if coding != "identity" else None), (path, coding, sent)
            compressed += sent is not None
    assert compressed > len(page_urls)  # text files came compressed in both codings


def test_native_answers_are_genropys_caching_plus_immutable_for_versioned_urls(asgi_site, genropy_mode, page_urls):
    versioned = next(p for p in page_urls if "?mtime=" in p)
    plain = DOJO
    theirs = get(genropy_mode, plain)
    ours = get(asgi_site, plain, **{"Accept-Encoding": "identity"})
    assert ours.headers["etag"] == theirs.headers["etag"]  # GenroPy's "mtime-size": caches survive a switch
    assert parsedate(ours.headers["last-modified"]).replace(tzinfo=None) == \
        parsedate(theirs.headers["last-modified"]).replace(tzinfo=None)
    assert ours.headers["last-modified"].endswith(" GMT")  # RFC 9110 (paste's "-0000" is not)
    max_age = re.search(r"max-age=(\d+)", theirs.headers["cache-control"]).group(1)
    assert ours.headers["cache-control"] == f"public, max-age={max_age}"
    assert "immutable" in get(asgi_site, versioned).headers["cache-control"]
    jslib = next((p for p in page_urls if "/_jslib/" in p), None)
    if jslib:
        assert "immutable" in get(asgi_site, jslib).headers["cache-control"]


def test_conditional_range_and_head(asgi_site):
    first = get(asgi_site, DOJO, **{"Accept-Encoding": "br"})
    assert first.status_code == 200 and first.headers["content-encoding"] == "br"
    assert first.headers["vary"] == "Accept-Encoding"
    again = get(asgi_site, DOJO, **{"Accept-Encoding": "br", "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    since = get(asgi_site, DOJO, **{"If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 304
    whole = get(asgi_site, DOJO, **{"Accept-Encoding": "identity"}).content
    part = get(asgi_site, DOJO, Range="bytes=10-109")
    assert part.status_code == 206 and part.content == whole[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(whole)}"
    assert get(asgi_site, DOJO, Range="bytes=-20").content == whole[-20:]
    beyond = get(asgi_site, DOJO, Range=f"bytes={len(whole)}-")
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(whole)}"
    head = httpx.head(asgi_site.base_url + DOJO, headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0


def test_a_symlink_out_of_a_root_is_refused_natively(asgi_site, genropy_mode, page_urls, demo_workspace):
    jslib = next(p for p in page_urls if "/_jslib/" in p)
    bundle = next(Path(demo_workspace.root).rglob(jslib.rsplit("/", 1)[-1]))
    secret = Path(demo_workspace.config_dir) / "environment.xml"
    link = bundle.parent / "leak.xml"
    link.symlink_to(secret)
    try:
        url = jslib.rsplit("/", 1)[0] + "/leak.xml"
        theirs = get(genropy_mode, url)
        assert theirs.status_code == 200 and b"gnrdaemon" in theirs.content  # GenroPy follows it
        ours = get(asgi_site, url)
        assert ours.status_code == 404 and b"gnrdaemon" not in ours.content
    finally:
        link.unlink()


def test_a_file_inside_its_root_through_a_symlinked_folder_is_served(asgi_site, page_urls, demo_workspace):
    jslib = next(p for p in page_urls if "/_jslib/" in p)
    bundle = next(Path(demo_workspace.root).rglob(jslib.rsplit("/", 1)[-1]))
    alias = bundle.parent.parent / "jslib-alias"
    alias.symlink_to(bundle.parent)  # inside the same root: fine
    try:
        url = jslib.rsplit("/", 2)[0] + "/jslib-alias/" + bundle.name
        assert get(asgi_site, url).status_code == 200
    finally:
        alias.unlink()


def test_what_genropy_reads_in_the_query_still_reaches_genropy(asgi_site):
    response = get(asgi_site, DOJO + "?download=1")
    assert response.status_code == 200
    assert response.headers.get("content-disposition", "").startswith("attachment")
    assert "content-encoding" not in response.headers  # GenroPy's handler answered


def test_what_is_not_a_file_gets_genropys_own_answer(asgi_site, genropy_mode):
    assert get(asgi_site, "/_dojo/11/dojo/dojo/no-such-file.js").status_code == 404
    for path in ("/_dojo/11/dojo/dojo/no-such-file.js", "/_pkg/no_such_package/x.js", "/_dojo/99/x.js",
                 "/_rsrc/no_such_resource/x.css", "/_dojo/11/dojo/dojo"):
        assert get(asgi_site, path).status_code == get(genropy_mode, path).status_code, path


def test_a_file_changed_on_disk_is_served_new(asgi_site, page_urls, demo_workspace):
    jslib = next(p for p in page_urls if "/_jslib/" in p)
    bundle = next(Path(demo_workspace.root).rglob(jslib.rsplit("/", 1)[-1]))
    fresh = bundle.parent / "fresh.js"
    fresh.write_text("var a = 1;\n" * 200)
    try:
        url = jslib.rsplit("/", 1)[0] + "/fresh.js"
        first = get(asgi_site, url, **{"Accept-Encoding": "gzip"})
        assert first.headers["content-encoding"] == "gzip" and first.content == b"var a = 1;\n" * 200
        fresh.write_text("var b = 2;\n" * 300)
        os.utime(fresh, (first_mtime := fresh.stat().st_mtime + 5, first_mtime))
        second = get(asgi_site, url, **{"Accept-Encoding": "gzip"})
        assert second.content == b"var b = 2;\n" * 300
        assert second.headers["etag"] != first.headers["etag"]
    finally:
        fresh.unlink()
