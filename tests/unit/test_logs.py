"""Log lines as JSON records (genropy_asgi.logs): the level read off each program's own format."""

from __future__ import annotations

import json
import logging

import pytest

from genropy_asgi import logs


@pytest.mark.parametrize("line, level", [
    ("2026-12-03 06:47:03: ERROR: gnr.app/gnrapp - ERROR: missing dependencies: pdf2image", "ERROR"),
    ("2026-12-03 06:47:03,006: INFO: genropy_asgi - Started server on 127.0.0.1:8090", "INFO"),
    ("2026-12-03 06:47:03,006 CRIT Supervisor is running as root.", "CRITICAL"),
    ("2026-12-03 06:47:03,006 INFO spawned: 'server' with pid 12", "INFO"),
    ("2026-12-03 06:47:03,006 WARN exited: server (exit status 1; not expected)", "WARNING"),
    ("INFO:     Application startup complete.", "INFO"),
    ("WARNING:  Invalid HTTP request received.", "WARNING"),
    ("[2026-12-03 06:47:03 +0000] [7] [INFO] Booting worker with pid: 7", "INFO"),
    ("/x/Pyro4/core.py:12: DeprecationWarning: isSet() is deprecated", "WARNING"),
    ("Traceback (most recent call last):", "ERROR"),
    ("ValueError: bad value", "ERROR"),
    ("just some output", "INFO"),
])
def test_the_level_of_each_programs_lines(line, level):
    found = logs.parse_line("server", line + "\n")
    assert found["level"] == level and found["program"] == "server" and found["message"] == line
    assert found["time"].endswith("Z")


def test_a_json_line_keeps_its_fields_and_gets_the_program():
    line = json.dumps({"time": "t", "level": "WARNING", "message": "m", "request_id": "r1"})
    assert logs.parse_line("server", line) == {"time": "t", "level": "WARNING", "message": "m",
                                               "request_id": "r1", "program": "server"}
    assert logs.parse_line("server", "{not json")["message"] == "{not json"


def test_records_of_our_loggers_are_json_with_request_id_and_exception():
    record = logging.LogRecord("genropy_asgi.access", logging.INFO, __file__, 1, "GET %s", ("/index",), None)
    record.request_id = "abc"
    record.fields = {"status": 200}
    found = json.loads(logs.JsonFormatter("server").format(record))
    assert found["message"] == "GET /index" and found["program"] == "server" and found["level"] == "INFO"
    assert found["request_id"] == "abc" and found["status"] == 200 and found["logger"] == "genropy_asgi.access"
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        failing = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    found = json.loads(logs.JsonFormatter("server").format(failing))
    assert "RuntimeError: boom" in found["exception"] and "\n" not in logs.JsonFormatter("s").format(failing)


def test_the_format_setting():
    assert logs.log_format({}) == "text" and logs.log_format({"GENROPY_LOG_FORMAT": "json"}) == "json"
    assert logs.uvicorn_log_config({}) is None
    assert logs.uvicorn_log_config({"GENROPY_LOG_FORMAT": "json"})["formatters"]["json"]["()"].endswith("JsonFormatter")
