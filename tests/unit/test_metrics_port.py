"""The in-process metrics endpoint of a lone gnrasgiserve: a taken port is a warning when the port
is the default (a second server on the machine), a one-line error when it was asked for."""

from __future__ import annotations

import logging
import socket

import pytest

from genropy_asgi.asgi.metrics import MetricsPortTaken, serve_in_process


@pytest.fixture
def taken_port():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    yield holder.getsockname()[1]
    holder.close()


def test_the_default_port_taken_is_a_warning(taken_port, caplog):
    with caplog.at_level(logging.WARNING, logger="genropy_asgi.asgi.metrics"):
        assert serve_in_process("127.0.0.1", taken_port, environ={}) is None
    assert f"GENROPY_METRICS_PORT={taken_port}: cannot listen" in caplog.text


def test_a_port_asked_for_and_taken_is_an_error(taken_port):
    with pytest.raises(MetricsPortTaken, match=f"GENROPY_METRICS_PORT={taken_port}: cannot listen .*or 0 for no"):
        serve_in_process("127.0.0.1", taken_port, environ={"GENROPY_METRICS_PORT": str(taken_port)})


def test_no_endpoint_when_off_or_served_by_the_container(taken_port):
    assert serve_in_process("127.0.0.1", 0, environ={}) is None
    assert serve_in_process("127.0.0.1", taken_port, environ={"PROMETHEUS_MULTIPROC_DIR": "/x"}) is None
