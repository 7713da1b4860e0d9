"""The last successful backup, as a small JSON file in the instance's ``data/``.

The backup job writes it (``site_backup``); the site's metrics endpoint reads it at each
scrape (``metrics.BackupCollector``): the instance's ``data/`` is the one folder both see,
in compose (the project) and in the chart (the site-data claim). Stdlib only: the metrics
program imports it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

from genropy_asgi.container.backup_rules import STATUS_FILE


def write_status(data: str, name: str, size: int, destination: str) -> None:
    """The last success, in the instance's data/ (shared with the web pods): the metrics read it."""
    with contextlib.suppress(OSError):
        os.makedirs(data, exist_ok=True)
        staging = os.path.join(data, f"{STATUS_FILE}.{os.getpid()}.tmp")
        with open(staging, "w") as handle:
            json.dump({"time": time.time(), "size": size, "archive": name, "destination": destination}, handle)
        os.replace(staging, os.path.join(data, STATUS_FILE))


def read_status(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as handle:
            found = json.load(handle)
        return {"time": float(found["time"]), "size": int(found["size"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None
