"""Log lines: ``GENROPY_LOG_FORMAT=text`` (default) or ``json``, one object per line.

In ``json`` every line of the container is one JSON object with ``time`` (ISO 8601, UTC),
``level``, ``program`` and ``message`` (plus ``request_id``, ``logger``, ``exception``
where they exist):

- our own processes (gnrasgiserve, gunicorn's workers, the entrypoint) format their
  records with ``JsonFormatter`` (a traceback stays inside its record);
- every other line (GenroPy's own logging, gnrdaemon, ``gnr web async``, the task
  programs, supervisord) is turned into one by ``prefix_output`` with ``parse_line``,
  which reads the level off the known formats (GenroPy's ``2026-12-03 10:00:00: ERROR:``,
  uvicorn's ``INFO:``, gunicorn's ``[INFO]``, supervisord's ``CRIT``, Python's warnings).

Stdlib only and cheap to import: every program of the venv may load it.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

FORMAT_VARIABLE = "GENROPY_LOG_FORMAT"
TEXT, JSON = "text", "json"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_SYNONYMS = {"WARN": "WARNING", "CRIT": "CRITICAL", "FATAL": "CRITICAL", "ERR": "ERROR", "TRACE": "DEBUG"}
_LEVEL_AT_START = [
    re.compile(r"^\d{4}-\d\d-\d\d[ T][\d:.,]+:?\s+(?P<level>[A-Z]{3,8})[: ]"),  # GenroPy, supervisord
    re.compile(r"^(?P<level>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|CRIT|FATAL):\s"),  # uvicorn, Python logging
    re.compile(r"^\[[^\]]+\] \[\d+\] \[(?P<level>[A-Z]+)\]"),  # gunicorn
    re.compile(r"^(?P<level>[A-Z]{3,8}) "),  # supervisord's own, without a date
]
_WARNING_CATEGORY = re.compile(r"\b\w*Warning: ")
_TRACEBACK = re.compile(r"^(Traceback \(most recent call last\)|\w+(\.\w+)*(Error|Exception): )")


def log_format(environ: Mapping[str, str] = os.environ) -> str:
    """``text`` or ``json`` (a malformed value is the settings' error at start; here: text)."""
    value = (environ.get(FORMAT_VARIABLE) or TEXT).strip().lower()
    return JSON if value == JSON else TEXT


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record(program: str, level: str, message: str, **fields: Any) -> dict[str, Any]:
    found = {"time": now_iso(), "level": level, "program": program, "message": message}
    found.update({key: value for key, value in fields.items() if value is not None})
    return found


def dumps(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, default=str, separators=(",", ":"))


def level_of(line: str) -> str:
    """The level a program's text line states (INFO when it states none)."""
    for pattern in _LEVEL_AT_START:
        match = pattern.match(line)
        if match:
            word = match.group("level")
            word = _SYNONYMS.get(word, word)
            if word in LEVELS:
                return word
    if _WARNING_CATEGORY.search(line):
        return "WARNING"
    if _TRACEBACK.match(line):
        return "ERROR"
    return "INFO"


def parse_line(program: str, line: str) -> dict[str, Any]:
    """One output line of ``program`` as a JSON record (a JSON object line keeps its fields)."""
    text = line.rstrip("\r\n")
    if text.startswith("{"):
        try:
            found = json.loads(text)
        except ValueError:
            found = None
        if isinstance(found, dict) and "message" in found:
            found.setdefault("program", program)
            found.setdefault("time", now_iso())
            found.setdefault("level", "INFO")
            return found
    return record(program, level_of(text), text)


class JsonFormatter(logging.Formatter):
    """A ``logging`` record as one JSON line (``program`` from the constructor or ``GENROPY_PROGRAM``)."""

    def __init__(self, program: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.program = program or os.environ.get("GENROPY_PROGRAM") or "genropy-asgi"

    def format(self, entry: logging.LogRecord) -> str:
        message = entry.getMessage()
        fields: dict[str, Any] = {"logger": entry.name, "request_id": getattr(entry, "request_id", None)}
        if entry.exc_info:
            fields["exception"] = self.formatException(entry.exc_info)
        fields.update(getattr(entry, "fields", None) or {})  # an access line's method, path, status...
        found = record(self.program, _SYNONYMS.get(entry.levelname, entry.levelname), message, **fields)
        found["time"] = datetime.datetime.fromtimestamp(entry.created, datetime.UTC) \
            .isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return dumps(found)


def text_formatter() -> logging.Formatter:
    return logging.Formatter("%(asctime)s: %(levelname)s: %(name)s - %(message)s")


def formatter(environ: Mapping[str, str] = os.environ) -> logging.Formatter:
    return JsonFormatter() if log_format(environ) == JSON else text_formatter()


def uvicorn_log_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any] | None:
    """uvicorn's ``log_config`` for the json format (``None``: uvicorn's own, text)."""
    if log_format(environ) != JSON:
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"json": {"()": "genropy_asgi.logs.JsonFormatter"}},
            "handlers": {"default": handler},
            "loggers": {"uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
                        "uvicorn.error": {"level": "INFO"},
                        "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False}}}


OWN_LOGGER = "genropy_asgi"


def configure_own_logger(environ: Mapping[str, str] = os.environ) -> logging.Logger:
    """``genropy_asgi`` (and its ``.access`` child) to stderr in the configured format, once.

    Our logger only: GenroPy's loggers have their own handlers (no duplicate lines).
    """
    own = logging.getLogger(OWN_LOGGER)
    if not any(getattr(h, "genropy_asgi", False) for h in own.handlers):
        handler = logging.StreamHandler()
        handler.genropy_asgi = True  # type: ignore[attr-defined]
        handler.setFormatter(formatter(environ))
        own.addHandler(handler)
        own.setLevel(logging.INFO)
        own.propagate = False
    return own
