"""Surface: URLs that name files. Every storage GenroPy defines and every one the site's config
adds, under every URL form GenroPy routes to storages, with every method: nothing outside the
served roots is read, no canary or key line is in any answer; what is meant to be served is."""

from __future__ import annotations

import socket

import pytest

pytestmark = pytest.mark.site

ROUTES = ["/_storage/{name}/{path}", "/_storage//{name}/{path}", "/_storageX/{name}/{path}",
          "/_vol/{name}/{path}", "/{name}:{path}", "/_xvol/{name}/{path}"]
TARGETS = ["etc/passwd", "{tmp}/canary-{tag}.txt", "{config}/canary-{tag}.txt", "{config}/environment.xml"]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]


def raw(port: int, method: str, target: str, body: bytes = b"", headers: str = "",
        length: int | None = None) -> tuple[int, bytes]:
    """One request on its own connection; ``length``: the Content-Length declared (default: the body's)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}"
                     f"Content-Length: {len(body) if length is None else length}\r\n\r\n".encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


def storage_names(target) -> list[str]:
    from genropy_asgi.asgi.served_roots import BUILTIN_STORAGES

    return sorted({*BUILTIN_STORAGES, "everything", "configfolder", "uploads", "Temp", "TEMP", "_RAW_"})


def test_no_storage_url_reads_outside_the_served_roots(target):
    import tempfile

    workspace = target.workspace
    values = {"tmp": tempfile.gettempdir().strip("/"), "config": str(workspace.config_dir).strip("/"),
              "tag": workspace.root.name}
    statuses: dict[int, int] = {}
    count = 0
    for name in storage_names(target):
        for route in ROUTES:
            for path in TARGETS:
                url = route.format(name=name, path=path.format(**values))
                for method in METHODS if route == ROUTES[0] else ["GET"]:
                    status, answer = raw(target.port, method, url)
                    statuses[status] = statuses.get(status, 0) + 1
                    count += 1
                    assert status != 200 or method == "OPTIONS", (method, url, status)
                    assert not target.leaked(answer), (method, url, target.leaked(answer))
    print(f"\n{count} storage requests: {statuses}")


def test_refused_storages_never_reach_genropy_in_either_static_mode(target):
    """GenroPy's own symbolic ``temp`` storage serves the temporary folder: refused here for every method."""
    for method in METHODS:
        status, answer = raw(target.port, method, f"/_storage/temp/canary-{target.workspace.root.name}.txt")
        assert status == 404 and not target.leaked(answer), method


def test_what_is_meant_to_be_served_still_is(target):
    status, answer = raw(target.port, "GET", "/_storage/uploads/public.txt")
    assert status == 200 and answer.endswith(b"a file the site serves\n")  # a site's own storage: GenroPy's
    status, answer = raw(target.port, "GET", "/_gnr/11/js/gnrwebsocket.js")
    assert status == 200 and b"ReconnectingWebSocket" in answer  # GenroPy's code tree: native


@pytest.mark.parametrize("path", ["/metrics", "//metrics", "/metrics/", "///metrics//", "/_tools/prometheus",
                                  "/_tools/prometheus/", "/_toolsx/prometheus", "//_tools//prometheus"])
def test_genropy_metrics_under_any_spelling_are_not_public(target, path):
    status, answer = raw(target.port, "GET", path)
    assert status == 404 and b"genropy_site_counters" not in answer


def test_every_static_file_the_page_links_to_is_served(target):
    """The allow-list covers every root a real page uses (GenroPy's resources are a Bag, not a dict)."""
    import re

    html = target.page()[0].get("/index").text
    urls = sorted({url for url in re.findall(r"""["'](/_(?:rsrc|gnr|dojo|pkg|site|pages)/[^"'?]+)""", html)})
    urls = [url for url in urls if "." in url.rsplit("/", 1)[-1]]  # files, not folders
    assert len(urls) >= 5, urls
    for url in urls:
        assert raw(target.port, "GET", url)[0] == 200, url
