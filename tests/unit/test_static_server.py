"""NativeStaticFiles on its own (a folder, a resolver standing for GenroPy's): what the site
tests do not reach — large files streamed in chunks, the memory budget, compression done
once for concurrent requests, a file swapped for a symlink after it was resolved."""

from __future__ import annotations

import asyncio
import gzip
import os
from types import SimpleNamespace

from genropy_asgi.asgi.served_roots import NATIVE, REFUSED
from genropy_asgi.asgi.static_files import BodyCache, NativeStaticFiles, StaticTarget, contained_in


class FolderResolver:
    """``/_x/<name>`` -> ``root/<name>``, as GenroPy's resolution would hand it over."""

    def __init__(self, root) -> None:
        self.root = str(root)
        self.calls = 0

    def is_storage_url(self, path: str) -> bool:
        return path.startswith(("/_x/", "/_raw_/"))

    def resolve(self, path: str) -> StaticTarget:
        self.calls += 1
        if path.startswith("/_raw_/"):
            return StaticTarget(REFUSED)
        name = path.removeprefix("/_x/")
        full = os.path.join(self.root, name)
        return StaticTarget(NATIVE, full, self.root, contained_in(full, self.root), None)


def serve(static: NativeStaticFiles, path: str, headers: dict[str, str] | None = None, method: str = "GET"):
    sent: list[dict] = []
    scope = {"type": "http", "method": method, "path": path, "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}

    async def send(message):
        sent.append(message)

    async def run():
        return await static.serve(scope, None, send)

    served = asyncio.run(run())
    if not served:
        return None, {}, b"", []
    start = sent[0]
    head = {k.decode(): v.decode() for k, v in start["headers"]}
    bodies = [m for m in sent[1:] if m["type"] == "http.response.body"]
    return start["status"], head, b"".join(m.get("body", b"") for m in bodies), bodies


def static_over(tmp_path, **options) -> tuple[NativeStaticFiles, FolderResolver]:
    resolver = FolderResolver(tmp_path)
    site = SimpleNamespace(cache_max_age=100)
    return NativeStaticFiles(site, options.get("compress", 1 << 20), options.get("cache", 1 << 20), resolver), resolver


def test_a_large_file_streams_in_chunks_whole_and_in_range(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "big.bin").write_bytes(data)
    static, _ = static_over(tmp_path)
    status, head, body, chunks = serve(static, "/_x/big.bin")
    assert status == 200 and body == data and int(head["content-length"]) == len(data)
    assert len(chunks) > 5 and not chunks[-1].get("more_body")
    status, head, body, _ = serve(static, "/_x/big.bin", {"Range": "bytes=1000000-1000099"})
    assert status == 206 and body == data[1000000:1000100]
    assert static.cache.size == 0  # over an eighth of the budget: never kept in memory


def test_compression_is_done_once_and_kept_within_budget(tmp_path):
    text = b"function f(x) { return x * 2; }\n" * 3000
    (tmp_path / "a.js").write_bytes(text)
    static, resolver = static_over(tmp_path)
    for _ in range(3):
        status, head, body, _ = serve(static, "/_x/a.js", {"Accept-Encoding": "gzip"})
        assert status == 200 and head["content-encoding"] == "gzip" and gzip.decompress(body) == text
    assert resolver.calls == 1  # resolved once, then from the resolution cache
    assert 0 < static.cache.size <= static.cache.max_bytes
    status, head, body, _ = serve(static, "/_x/a.js", method="HEAD")
    assert status == 200 and body == b"" and int(head["content-length"]) == len(text)


def test_the_cache_drops_the_least_recently_used_first():
    cache = BodyCache(800)
    for n in range(10):
        cache.put(("k", n), bytes(100))
    assert cache.size <= 800 and cache.get(("k", 0)) is None and cache.get(("k", 9)) is not None
    cache.put(("big",), bytes(101))  # over max_bytes // 8
    assert cache.get(("big",)) is None


def test_a_file_swapped_for_a_symlink_out_of_the_root_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("the database password")
    (root / "page.css").write_text("body {}")
    static, _ = static_over(root)
    assert serve(static, "/_x/page.css")[0] == 200
    (root / "page.css").unlink()
    (root / "page.css").symlink_to(outside)  # after the resolution was cached
    status, _, body, _ = serve(static, "/_x/page.css")
    assert status == 404 and b"password" not in body


def test_what_is_not_a_regular_file_goes_on_to_genropy(tmp_path):
    (tmp_path / "folder").mkdir()
    static, _ = static_over(tmp_path)
    assert serve(static, "/_x/folder")[0] is None
    assert serve(static, "/_x/missing.js")[0] is None
    assert serve(static, "/_x/missing.js", method="POST")[0] is None


def test_an_old_resolution_is_served_and_refreshed_in_the_background(tmp_path, monkeypatch):
    from genropy_asgi.asgi import static_files

    (tmp_path / "a.css").write_text("a { color: red }")
    static, resolver = static_over(tmp_path)
    assert serve(static, "/_x/a.css")[0] == 200 and resolver.calls == 1
    monkeypatch.setattr(static_files, "RESOLUTION_TTL", 0.0)  # every resolution is now old

    async def twice():
        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/_x/a.css", "query_string": b"", "root_path": "",
                 "headers": []}
        assert await static.serve(scope, None, send)  # served at once with the old resolution
        calls_when_served = resolver.calls
        await asyncio.sleep(0.2)  # the refresh ran meanwhile
        return calls_when_served

    assert asyncio.run(twice()) == 1 and resolver.calls == 2


def test_a_refused_storage_is_404_for_every_method_in_every_mode(tmp_path):
    (tmp_path / "a.css").write_text("body {}")
    for native in (True, False):
        static, _ = static_over(tmp_path)
        static.native = native
        for method in ("GET", "HEAD", "POST", "PUT", "DELETE"):
            assert serve(static, "/_raw_/etc/passwd", method=method)[0] == 404
        assert (serve(static, "/_x/a.css")[0] == 200) is native  # genropy mode: GenroPy serves it
