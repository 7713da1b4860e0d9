"""create_app's inputs (uvicorn's reloader child, gunicorn workers): one-line errors."""

from __future__ import annotations

import pytest

from genropy_asgi.app_factory import argv_from_environ, positive_float, positive_int
from genropy_asgi.site import LaunchError


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


def test_numbers():
    assert positive_int({"X": "8"}, "X") == 8 and positive_int({}, "X") is None
    assert positive_float({"Y": "2.5"}, "Y") == 2.5
    with pytest.raises(LaunchError, match=r"X='0': expected a whole number from 1 to 1024"):
        positive_int({"X": "0"}, "X")
    with pytest.raises(LaunchError, match=r"Y='soon': expected a number of seconds >= 0"):
        positive_float({"Y": "soon"}, "Y")
