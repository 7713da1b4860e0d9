"""The security front on a real GenroPy site (demo project, real gnrdaemon).

Every static folder the page links to, and GenroPy's other static prefixes, climbed
to /etc/passwd and to the generated GenroPy config (its gnrdaemon HMAC key, the
password of the login it defines): every answer 400/404, no line of either file in
any answer. GenroPy's own gnrwsgiserve, in the same environment, still leaks: that
is why the rule lives in our front. Forms and uploads under the limits work as real
GenroPy RPCs; over them they are 413 at once, and the site keeps answering.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest
from support import start_server
from traversal import corpus, refused, static_prefixes

from genropy_asgi.testing.client import GenropyPage

pytestmark = pytest.mark.site

OTHER_PREFIXES = ["/_site/", "/_site/_static/", "/_vol/", "/_storage/site/", "/_pkg/sys/", "/_pages/",
                  "/_conn/x/", "/_user/x/", "/_temp/"]


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


def secret_lines(path: Path) -> list[bytes]:
    return [line.strip().encode() for line in path.read_text().splitlines() if len(line.strip()) > 12]


@pytest.fixture(scope="module")
def prefixes(asgi_site) -> list[str]:
    found = static_prefixes(httpx.get(asgi_site.base_url + "/index", timeout=60).text)
    assert len(found) >= 5, found
    return found + OTHER_PREFIXES


def test_no_url_reads_a_file_outside_the_static_roots(asgi_site, demo_workspace, prefixes):
    config = Path(demo_workspace.config_dir) / "environment.xml"
    assert "hmac_key" in config.read_text()
    leaks = secret_lines(Path("/etc/passwd"))[:3] + [line for line in secret_lines(config) if b"hmac" in line]
    statuses: dict[int, int] = {}
    forms = list(corpus(prefixes, "/etc/passwd")) + list(corpus(prefixes[:3], str(config)))
    for name, target in forms:
        status, answer = raw_get(asgi_site.port, target)
        statuses[status] = statuses.get(status, 0) + 1
        assert refused(status), (name, target, status)
        assert not any(line in answer for line in leaks), (name, target)
    print(f"\n{len(forms)} traversal requests over {len(prefixes)} prefixes: {statuses}")


def test_genropy_own_server_still_has_the_hole(wsgi_site, prefixes):
    """Fails the day GenroPy closes it: then say so in the README's Security section."""
    status, answer = raw_get(wsgi_site.port, prefixes[0] + "../" * 16 + "etc/passwd")
    assert status == 200 and b"root:" in answer


def test_real_files_are_still_served(asgi_site, prefixes):
    html = httpx.get(asgi_site.base_url + "/index", timeout=60).text
    for prefix in prefixes[:5]:
        start = html.index(prefix)
        url = html[start:].split('"')[0].split("'")[0].split(")")[0]
        assert httpx.get(asgi_site.base_url + url, timeout=60).status_code == 200, url


def test_form_under_the_limit_is_a_working_rpc(asgi_site):
    page = GenropyPage(asgi_site.base_url)
    count = page.rpc("note_count", padding="p" * 500_000)
    assert isinstance(count, int)


def test_form_over_the_limit_is_413_at_once_while_the_site_answers(asgi_site):
    page = GenropyPage(asgi_site.base_url)
    started = time.monotonic()
    response = page.client.post("/index", data={"method": "note_count", "page_id": page.page_id,
                                                "padding": "p" * 2_000_000})
    elapsed = time.monotonic() - started
    assert response.status_code == 413 and "GENROPY_MAX_FORM_BYTES" in response.text
    assert elapsed < 1, elapsed
    assert httpx.get(asgi_site.base_url + "/_server/health", timeout=5).status_code == 200
    assert isinstance(page.rpc("note_count"), int)


def upload(page: GenropyPage, content: bytes, name: str) -> httpx.Response:
    return page.client.post("/index", data={"rpc": "rpc.upload_file", "page_id": page.page_id, "filename": name,
                                            "uploadPath": "site:uploads"},
                            files={"file_handle": (name, content)})


@pytest.fixture(scope="module")
def small_upload_site(demo_workspace, gnr_daemon):
    server = start_server(demo_workspace, "gnrasgiserve", "--nodebug", name="upload-limit",
                          env={"GENROPY_MAX_UPLOAD_BYTES": str(1024 * 1024)})
    yield server
    server.stop()


def test_upload_under_the_limit_is_stored_and_served(small_upload_site):
    page = GenropyPage(small_upload_site.base_url)
    content = bytes(range(256)) * 2000
    response = upload(page, content, "limit-ok.bin")
    assert response.status_code == 200 and response.text.endswith("/_storage/site/uploads/limit-ok.bin")
    assert httpx.get(response.text, timeout=30).content == content


def test_upload_over_the_limit_is_413(small_upload_site):
    page = GenropyPage(small_upload_site.base_url)
    response = upload(page, b"z" * (3 * 1024 * 1024), "too-big.bin")
    assert response.status_code == 413 and "GENROPY_MAX_UPLOAD_BYTES" in response.text
    assert httpx.get(small_upload_site.base_url + "/_server/health", timeout=5).status_code == 200
