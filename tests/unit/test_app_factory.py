"""create_app's inputs (uvicorn's reloader child, gunicorn workers): one-line errors."""

from __future__ import annotations

import pytest

from genropy_asgi.launch import LaunchError
from genropy_asgi.launch.app_factory import argv_from_environ, check_settings, setting


def test_argv_round_trip():
    assert argv_from_environ({"GENROPY_ASGI_ARGV": '["demo", "--nodebug"]'}) == ["demo", "--nodebug"]


@pytest.mark.parametrize("environ,message", [
    ({}, "GENROPY_ASGI_ARGV is not set"),
    ({"GENROPY_ASGI_ARGV": "demo"}, "GENROPY_ASGI_ARGV is not valid JSON"),
    ({"GENROPY_ASGI_ARGV": '{"site": "demo"}'}, "GENROPY_ASGI_ARGV must be a JSON list of strings"),
])
def test_bad_argv(environ, message):
    with pytest.raises(LaunchError, match=message):
        argv_from_environ(environ)


def test_settings_read_through_the_table():
    assert setting("GENROPY_WSGI_THREADS", {"GENROPY_WSGI_THREADS": "8"}) == 8
    assert setting("GENROPY_WSGI_THREADS", {}) is None  # unset: config.yaml or the server's default
    assert setting("GENROPY_SHUTDOWN_TIMEOUT", {"GENROPY_ASGI_SHUTDOWN_TIMEOUT": "2.5"}) == 2.5  # old name
    with pytest.raises(LaunchError, match=r"GENROPY_WSGI_THREADS='0': expected a whole number from 1 to 256"):
        setting("GENROPY_WSGI_THREADS", {"GENROPY_WSGI_THREADS": "0"})
    with pytest.raises(LaunchError, match=r"GENROPY_DAEMON_WAIT='soon': expected a number of seconds >= 0"):
        setting("GENROPY_DAEMON_WAIT", {"GENROPY_DAEMON_WAIT": "soon"})


def test_every_server_setting_checked_before_start():
    check_settings({})
    with pytest.raises(LaunchError, match=r"^GENROPY_ASYNC_SERVER='bogus': expected one of on, off, spawn, external$"):
        check_settings({"GENROPY_ASYNC_SERVER": "bogus"})
    with pytest.raises(LaunchError, match=r"^GENROPY_ASGI_GNR_API='nope'"):
        check_settings({"GENROPY_ASGI_GNR_API": "nope"})


def test_a_mount_never_hides_what_already_answers_there():
    from types import SimpleNamespace

    from genropy_asgi import GenropyAsgiServer
    from genropy_asgi.launch.app_factory import mount_taken

    server = GenropyAsgiServer()
    server.mount("api", lambda scope, receive, send: None)
    with pytest.raises(ValueError, match="/api/ is already served here"):
        server.mount("api", lambda scope, receive, send: None)
    with pytest.raises(ValueError, match="/_server/ is already served here"):
        server.mount("_server", lambda scope, receive, send: None)
    site = SimpleNamespace(gnrapp=SimpleNamespace(packages={"adm": object(), "shop": object()}))
    assert mount_taken("_server", server, site) == "one of the server's applications"
    assert mount_taken("_rsrc", server, site) == "one of GenroPy's own paths"
    assert mount_taken("_ping", server, site) == mount_taken("_tools_x", server, site) == "one of GenroPy's own paths"
    assert mount_taken("wsproxy", server, site) == "GenroPy's websocket channel"
    assert mount_taken("shop", server, site) == "the pages of the site's package 'shop'"
    assert mount_taken("_data", server, site) is None and mount_taken("_data", server, None) is None
