"""Let the deployment's database settings win over the instance's own ``<db>``.

Why this exists: GenroPy 26.10's ``GnrApp.load_instance_config`` merges the config
folder's ``instanceconfig/default.xml`` UNDER the instance's ``config/instanceconfig.xml``,
so an instance that says ``<db implementation="sqlite"/>`` keeps SQLite whatever the
deployment asks: the image's ``GNR_DB_IMPLEMENTATION=postgres`` was silently ignored and
the data went to SQLite files. GenroPy's own runtime override, ``GNR_DB_DSN``, carries
the password in the environment of every process and also overrides ``--remotedb``.

What it does: when the merged config has a ``genropy_asgi.launch.gnrconfig.DB_OVERRIDE_ELEMENT``
element (written by the image's launch plan into ``instanceconfig/default.xml``, 0600),
its attributes replace those of ``<db>`` (the instance's ``dbname`` is kept when the
override names none, else the instance's name), and the element is removed. Without
that element nothing changes. Registered for every interpreter by ``genropy_asgi.compat``, so
``gnr db setup``, gnrdaemon, the async server and the workers see the same database.

When to drop it: ``tests/compat/test_db_override_compat.py`` fails the day GenroPy stops
merging the instance's file over the default one.
"""

from __future__ import annotations

import functools
from typing import Any

TARGET_MODULE = "gnr.app.gnrapp"


def apply_db_override(config: Any, instance_name: str | None) -> Any:
    """Replace ``config``'s ``<db>`` attributes by the override element's (a GenroPy Bag)."""
    from genropy_asgi.launch.gnrconfig import DB_OVERRIDE_ELEMENT

    override = config.getNode(DB_OVERRIDE_ELEMENT) if config is not None else None
    if override is None:
        return config
    config.popNode(DB_OVERRIDE_ELEMENT)
    current = config.getNode("db")
    attrs = {key: value for key, value in override.attr.items() if value not in (None, "")}
    if "dbname" not in attrs:
        declared = (current.attr.get("dbname") if current is not None else None) or instance_name
        if declared:
            attrs["dbname"] = declared
    value = current.value if current is not None else None
    if current is not None:
        config.popNode("db")
    config.setItem("db", value, **attrs)
    return config


def patch_gnrapp_module(module: Any) -> None:
    original = module.GnrApp.load_instance_config

    @functools.wraps(original)
    def load_instance_config(self: Any) -> Any:
        return apply_db_override(original(self), getattr(self, "instanceName", None))

    module.GnrApp.load_instance_config = load_instance_config
    module.GENROPY_ASGI_DB_OVERRIDE_COMPAT = "deployment <db> wins"
