"""Precompressed siblings at image build (genropy_asgi.container.precompress)."""

from __future__ import annotations

import gzip
import os

import brotli

from genropy_asgi.container import precompress


def test_text_files_get_fresh_br_and_gz_siblings_and_others_none(tmp_path):
    script = tmp_path / "a" / "app.js"
    script.parent.mkdir()
    script.write_text("function f(x) { return x + 1; }\n" * 200)
    os.utime(script, (1_700_000_000, 1_700_000_000))
    (tmp_path / "a" / "tiny.css").write_text("a{}")  # under MIN_BYTES
    (tmp_path / "a" / "image.png").write_bytes(os.urandom(4096))
    (tmp_path / "a" / "noise.txt").write_bytes(os.urandom(4096).hex().encode()[:4096])
    assert precompress.main([str(tmp_path)]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["app.js", "app.js.br", "app.js.gz", "image.png", "noise.txt", "noise.txt.br",
                     "noise.txt.gz", "tiny.css"]
    data = script.read_bytes()
    assert brotli.decompress((tmp_path / "a" / "app.js.br").read_bytes()) == data
    assert gzip.decompress((tmp_path / "a" / "app.js.gz").read_bytes()) == data
    assert (tmp_path / "a" / "app.js.br").stat().st_mtime == script.stat().st_mtime  # fresh for the server
    before = (tmp_path / "a" / "app.js.gz").stat().st_mtime_ns
    assert precompress.main([str(tmp_path)]) == 0  # idempotent: nothing rewritten
    assert (tmp_path / "a" / "app.js.gz").stat().st_mtime_ns == before


def test_genropy_trees_are_the_served_ones():
    trees = precompress.genropy_trees()
    names = {"/".join(p.parts[-2:]) for p in trees}
    assert {"dojo_11/dojo", "gnr/gnrjs", "gnr/resources"} <= names
    assert not any("dojo_src" in str(p) or "dojo_release" in str(p) for p in trees)
