"""The seam into uvicorn's httptools protocol (genropy_asgi.http_protocol) still fits.

The behaviour is tested end to end in test_http_hardening.py; this fails first, with
a clear message, the day uvicorn renames what the guarded protocol overrides.
"""

from __future__ import annotations

import inspect

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from genropy_asgi.http_protocol import GuardedHttpToolsProtocol, protocol_class, uvicorn_options
from genropy_asgi.request_guard import RequestLimits

OVERRIDDEN = ("connection_made", "connection_lost", "data_received", "on_message_begin", "on_url",
              "on_header", "on_headers_complete", "send_400_response")


def test_uvicorn_still_has_what_we_override():
    for name in OVERRIDDEN:
        assert callable(getattr(HttpToolsProtocol, name, None)), f"uvicorn's HttpToolsProtocol lost {name}"
    source = inspect.getsource(HttpToolsProtocol)
    assert "self.loop = " in source and "self.transport = transport" in source
    assert "except httptools.HttpParserError" in source and "self.send_400_response(" in source


def test_protocol_class_binds_the_limits():
    limits = RequestLimits(header_timeout=3.0, max_header_bytes=4096)
    bound = protocol_class(limits)
    assert issubclass(bound, GuardedHttpToolsProtocol) and bound.limits is limits
    assert uvicorn_options(limits)["http"].limits is limits
