"""Property-based fuzzing (hypothesis) of the rules every URL and message meets, and the storage
list checked against what GenroPy defines: a new storage or prefix fails here until classified."""

from __future__ import annotations

import os
import posixpath
import urllib.parse

from hypothesis import given, settings
from hypothesis import strategies as st

from genropy_asgi.asgi import served_roots
from genropy_asgi.asgi.request_guard import path_refusal
from genropy_asgi.asgi.websocket_policy import message_refusal, parse_message, safe_shared_id

PIECES = [".", "..", "%2e", "%2E", "%2e%2e", ".%2e", "%252e", "%c0%ae", "%c0%af", "%2f", "%5c", "\\", "/", "//",
          "\u2024", "\u2025", "\uff0e", "\uff0f", "\u2215", "%00", "\x00", ";", "..;", "a", "etc", "passwd", "~",
          "%", "%%", "%u002e", "\t", " ", "_raw_", "temp"]
segments = st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join)
paths = st.lists(segments, min_size=1, max_size=8).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=3000, deadline=None)
@given(paths)
def test_no_path_the_rule_lets_through_climbs_out_of_a_root(raw):
    """Whatever passes the path rule, joined to a root as GenroPy joins it, stays inside the root."""
    if path_refusal(raw.encode("utf-8", "surrogatepass")) is not None:
        return
    decoded = urllib.parse.unquote(raw)
    joined = posixpath.normpath(posixpath.join("/srv/root", *[part for part in decoded.split("/") if part]))
    assert served_roots.inside(joined, "/srv/root"), (raw, joined)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(list("./\\:\x00aZ9_-@%~ ") + ["..", "\u2025", "\uff0e"]), max_size=20).map("".join))
def test_an_accepted_shared_id_stays_a_file_name_in_its_folder(shared_id):
    if not safe_shared_id(shared_id):
        return
    folder = "/site/async/sharedobjects"
    assert os.path.dirname(os.path.normpath(os.path.join(folder, f"{shared_id}.xml"))) == folder, shared_id


@settings(max_examples=2000, deadline=None)
@given(st.dictionaries(st.sampled_from(["command", " command", "shared_id", "shared_id ", "page_id", "so_method"]),
                       st.one_of(st.text(max_size=12), st.integers(), st.none(),
                                 st.sampled_from(["som.loadSharedObject", "som.dispatch", "connected", "../x",
                                                  "__class__", "call"]))))
def test_no_message_passes_with_an_unsafe_shared_id(fields):
    import json

    message = parse_message(json.dumps(fields))
    if isinstance(message, str) or message_refusal(message, bound=True) is not None:
        return
    shared = message.fields.get("shared_id")
    assert shared is None or safe_shared_id(shared)
    assert message.command in {"connected", "register_service", "echo", "ping", "user_event", "route", "call",
                               "service", "som.subscribe", "som.unsubscribe"} or safe_shared_id(shared)


def test_every_storage_genropy_defines_is_classified():
    """Fails when GenroPy defines a storage or a static prefix this distribution has not classified."""
    from gnr.web import gnrwsgisite
    from gnr.web.gnrwsgisite_proxy.gnrstoragehandler import BaseStorageHandler

    defined = set(BaseStorageHandler.DEFAULT_STORAGE_CONFIGS) | {"site", "home", "mail"}  # + the site's own
    defined |= {prefix[1:] for prefix in gnrwsgisite.STATIC_HANDLER_TYPES}
    assert gnrwsgisite.STORAGE_TYPES == ["_storage"]
    unclassified = defined - set(served_roots.BUILTIN_STORAGES)
    assert not unclassified, f"classify in genropy_asgi/asgi/served_roots.py: {sorted(unclassified)}"
    for name in ("_raw_", "_http_", "temp"):
        assert served_roots.storage_policy(name, None) == served_roots.REFUSED


def test_the_sites_own_storages_are_classified_by_where_they_point(tmp_path):
    config = tmp_path / "gnr"
    config.mkdir()
    assert served_roots.storage_policy("everything", "/") == served_roots.REFUSED
    assert served_roots.storage_policy("etc", "/etc/ssl") == served_roots.REFUSED
    assert served_roots.storage_policy("above_config", str(tmp_path), [str(config)]) == served_roots.REFUSED
    assert served_roots.storage_policy("_secret_", str(tmp_path / "x")) == served_roots.REFUSED
    assert served_roots.storage_policy("uploads", str(tmp_path / "site" / "uploads"), [str(config)]) \
        == served_roots.GENROPY
