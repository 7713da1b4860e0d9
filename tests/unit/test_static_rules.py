"""The HTTP decisions of native static serving (genropy_asgi.asgi.static_rules), one by one."""

from __future__ import annotations

import pytest

from genropy_asgi.asgi import static_rules as rules


@pytest.mark.parametrize("query, native", [
    (b"", True), (b"mtime=1796280010", True), (b"nocache=1&mtime=3", True), (b"_no_cache_=x", True),
    (b"download=1", False), (b"_lazydoc=adm.user,1", False), (b"aux_instance=x", False),
    (b"mtime=1&download_name=a.pdf", False), (b"1796280010", False), (b"&", False),
])
def test_only_queries_genropy_ignores_leave_the_file_to_us(query, native):
    assert rules.query_allows_native(query) is native


@pytest.mark.parametrize("path, query, versioned", [
    ("/_gnr/11/css/gnrprint.css", b"mtime=1796280010", True),
    ("/_gnr/11/css/gnrprint.css", b"mtime=", False),
    ("/_gnr/11/css/gnrprint.css", b"", False),
    ("/_site/_static/_jslib/9ab2b7c09bad8452f204b942ebd8c065.js", b"", True),
    ("/_dojo/11/dojo/dojo/dojo.js", b"", False),
    ("/_rsrc/common/deadbeef.js", b"", False),
])
def test_versioned_urls_are_the_ones_with_mtime_or_a_hashed_name(path, query, versioned):
    assert rules.is_versioned(path, query) is versioned


def test_cache_control_follows_the_site_max_age():
    assert rules.cache_control(5356800, False) == "public, max-age=5356800"
    assert rules.cache_control(5356800, True) == "public, max-age=5356800, immutable"
    assert rules.cache_control(0, True) == "no-cache"


def test_the_etag_is_genropys_and_one_per_coding():
    etag = rules.genropy_etag(1796280008.2195463, 76759)
    assert etag == '"1796280008.2195463-76759"'  # paste's FileApp: str(mtime)-size
    assert rules.coded_etag(etag, "br") == '"1796280008.2195463-76759-br"'
    assert rules.coded_etag(etag, None) == etag


def test_if_none_match_decides_before_if_modified_since():
    etags = {'"1.5-10"', '"1.5-10-br"'}
    assert rules.not_modified('"1.5-10-br"', None, etags, 1.5)
    assert rules.not_modified('W/"1.5-10", "x"', None, etags, 1.5)
    assert rules.not_modified("*", None, etags, 1.5)
    assert not rules.not_modified('"other"', rules.http_date(100), etags, 1.5)  # a mismatching tag wins
    assert rules.not_modified(None, rules.http_date(100), etags, 99.7)
    assert not rules.not_modified(None, rules.http_date(100), etags, 101)
    assert not rules.not_modified(None, "yesterday", etags, 1.5)


@pytest.mark.parametrize("header, expected", [
    (None, None), ("bytes=0-99", rules.ByteRange(0, 99)), ("bytes=100-", rules.ByteRange(100, 999)),
    ("bytes=-10", rules.ByteRange(990, 999)), ("bytes=-5000", rules.ByteRange(0, 999)),
    ("bytes=990-5000", rules.ByteRange(990, 999)), ("bytes=1000-", rules.UNSATISFIABLE),
    ("bytes=5-4", rules.UNSATISFIABLE), ("bytes=-0", rules.UNSATISFIABLE),
    ("bytes=0-1,5-6", None), ("items=0-1", None), ("bytes=a-b", None), ("bytes=-", None),
])
def test_one_byte_range_of_a_1000_byte_file(header, expected):
    assert rules.parse_range(header, 1000) == expected


@pytest.mark.parametrize("header, codings", [
    (None, []), ("", []), ("identity", []), ("gzip, deflate", ["gzip"]),
    ("gzip, deflate, br, zstd", ["br", "gzip"]), ("br;q=0.5, gzip", ["gzip", "br"]),
    ("br;q=0, gzip", ["gzip"]), ("*", ["br", "gzip"]), ("*;q=0.1, gzip;q=0", ["br"]), ("x-gzip", ["gzip"]),
])
def test_codings_the_client_accepts_best_first(header, codings):
    assert rules.accepted_codings(header) == codings


def test_text_and_scripts_compress_images_do_not():
    for name in ("a.js", "a.css", "a.svg", "a.html", "a.json", "a.xml", "a.txt"):
        assert rules.is_compressible(rules.content_type(name)[0]), name
    for name in ("a.png", "a.jpg", "a.woff2", "a.gz", "a.zip", "a.pdf"):
        assert not rules.is_compressible(rules.content_type(name)[0]), name
    assert rules.content_type("bundle.js.gz") == ("text/javascript", "gzip")  # what GenroPy's handler sends
