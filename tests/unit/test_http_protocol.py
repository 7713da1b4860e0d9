"""The seam into uvicorn's httptools protocol (genropy_asgi.asgi.http_protocol) still fits.

The behaviour is tested end to end in test_http_hardening.py; this fails first, with
a clear message, the day uvicorn renames what the guarded protocol overrides.
"""

from __future__ import annotations

import inspect
import pickle

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from genropy_asgi.asgi.http_protocol import LIMITS_ATTRIBUTE, UVICORN_OPTIONS, GuardedHttpToolsProtocol, configure
from genropy_asgi.asgi.request_guard import RequestLimits

OVERRIDDEN = ("__init__", "connection_made", "connection_lost", "data_received", "on_message_begin", "on_url",
              "on_header", "on_headers_complete", "send_400_response", "shutdown")


def test_uvicorn_still_has_what_we_override():
    for name in OVERRIDDEN:
        assert callable(getattr(HttpToolsProtocol, name, None)), f"uvicorn's HttpToolsProtocol lost {name}"
    source = inspect.getsource(HttpToolsProtocol)
    assert "self.loop = " in source and "self.transport = transport" in source
    assert list(inspect.signature(HttpToolsProtocol.__init__).parameters)[:2] == ["self", "config"]
    assert "except httptools.HttpParserError" in source and "self.send_400_response(" in source
    import uvicorn.server

    assert "connection.shutdown()" in inspect.getsource(uvicorn.server.Server.shutdown)  # the stop signal's source


def test_the_limits_ride_on_a_config_that_pickles():
    """uvicorn's reloader pickles the config for its child process."""
    limits = RequestLimits(header_timeout=3.0, max_header_bytes=4096)
    config = configure(uvicorn.Config("x:app", **UVICORN_OPTIONS), limits)
    copy = pickle.loads(pickle.dumps(config))
    assert copy.http is GuardedHttpToolsProtocol and getattr(copy, LIMITS_ATTRIBUTE) == limits
