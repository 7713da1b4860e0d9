"""The path rule and the limits' settings (pure: no server)."""

from __future__ import annotations

import pytest
from traversal import corpus

from genropy_asgi.asgi.request_guard import DEFAULT_MAX_FORM_BYTES, RequestLimits, path_refusal, scope_raw_path
from genropy_asgi.settings import SettingError as VariableError


@pytest.mark.parametrize("path", [
    "/", "/index", "/_rsrc/common/app_images/square_logo.svg", "/_dojo/11/dojo/dojo/dojo.js",
    "/sys/thpage/adm/user", "/a%20b/c%C3%A9", "/_site/_static/_jslib/f81.js", "/file.name.txt",
    "/...", "/.well-known/x", "/a;b=c/d", "/100%25", "//double//slash",
])
def test_ordinary_paths_pass(path):
    assert path_refusal(path.encode()) is None


def test_every_corpus_form_is_refused():
    forms = list(corpus(["/_rsrc/common/app_images/", "/_dojo/11/dojo/dojo", "/api/x/"], "/etc/passwd"))
    assert len(forms) > 40
    for name, target in forms:
        refusal = path_refusal(target.encode())
        assert refusal is not None and refusal.status in (400, 404), (name, target)


@pytest.mark.parametrize("path, status", [
    ("/a/../b", 404), ("/a/%2e%2e/b", 404), ("/a/%2E./b", 404), ("/a/./b", 404), ("/a/..;x=1/b", 404),
    ("/a..%2fb", 404), ("/a%5cb", 404), ("/a\\b", 404), ("/%252e%252e/x", 404),
    ("/a%zz", 400), ("/a%4", 400), ("/a%c0%ae", 400), ("/a%ff", 400), ("/a%00b", 400), ("/a%0a", 400),
])
def test_refusals_and_their_status(path, status):
    assert path_refusal(path.encode()).status == status


def test_raw_path_is_preferred_to_the_decoded_one():
    assert scope_raw_path({"raw_path": b"/a/%2e%2e/b", "path": "/a/../b"}) == b"/a/%2e%2e/b"
    assert scope_raw_path({"raw_path": b"/x?q=1", "path": "/x"}) == b"/x"
    assert scope_raw_path({"path": "/a/b"}) == b"/a/b"


def test_limits_from_the_environment():
    assert RequestLimits.from_environ({}) == RequestLimits()
    assert RequestLimits().max_form_bytes == DEFAULT_MAX_FORM_BYTES
    limits = RequestLimits.from_environ({"GENROPY_MAX_FORM_BYTES": "2048", "GENROPY_MAX_UPLOAD_BYTES": "0",
                                         "GENROPY_HEADER_TIMEOUT": "2.5", "GENROPY_MAX_HEADER_BYTES": "8192"})
    assert (limits.max_form_bytes, limits.max_upload_bytes, limits.header_timeout,
            limits.max_header_bytes) == (2048, 0, 2.5, 8192)
    form = {b"content-type": b"application/x-www-form-urlencoded; charset=UTF-8"}
    assert limits.body_limit(form) == (2048, "GENROPY_MAX_FORM_BYTES")
    assert limits.body_limit({b"content-type": b"multipart/form-data; boundary=x"}) is None  # 0: no limit
    assert limits.body_limit({b"content-type": b"application/json"}) is None


@pytest.mark.parametrize("name, value", [
    ("GENROPY_MAX_FORM_BYTES", "1MB"), ("GENROPY_MAX_FORM_BYTES", "-1"), ("GENROPY_MAX_UPLOAD_BYTES", "²"),
    ("GENROPY_MAX_HEADER_BYTES", "100"), ("GENROPY_HEADER_TIMEOUT", "0"), ("GENROPY_HEADER_TIMEOUT", "nan"),
    ("GENROPY_HEADER_TIMEOUT", "inf"), ("GENROPY_HEADER_TIMEOUT", "soon"),
])
def test_malformed_limits_name_the_variable(name, value):
    with pytest.raises(VariableError) as caught:
        RequestLimits.from_environ({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}={value!r}: expected") and "\n" not in message
