"""config.yaml for ``GenropyAsgiServer(server_dir=...)``: read and validate, nothing else.

A pure step: text in, a ``ServerConfig`` value out, or ``ConfigFileError`` with one
line naming the file, the key and the problem. Imports of ``apps.*.module`` are
checked later, by the server (``resolve_object``), with the same kind of message.

    server:      {host: 0.0.0.0, port: 8082, wsgi_threads: 16, max_threads: 8,
                  shutdown_timeout: 30}
    databases:   {NAME: {genropy_app: INSTANCE}}        # -> GnrApp(INSTANCE).db
    middleware:  {cors: on, errors: on, logging: off}   # on/off, or a dict of options
    apps:        {NAME: {module: "pkg.mod:Class", db_name: NAME, docs: swagger|redoc|off}}
                 {NAME: {kind: genropy-data, db_name: NAME, writes: false}}  # the data bridge
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

CONFIG_FILENAME = "config.yaml"
DOCS_STYLES = ("swagger", "redoc", "off")

SECTIONS = ("server", "databases", "middleware", "apps")
SERVER_KEYS = {"host": str, "port": int, "wsgi_threads": int, "max_threads": int,
               "shutdown_timeout": (int, float)}
DATABASE_KEYS = {"genropy_app": str}
APP_KEYS = {"module": str, "kind": str, "db_name": str, "docs": (str, bool), "writes": bool}  # docs: off is YAML's False
APP_KINDS = ("genropy-data",)
"""Applications the package provides, named instead of imported (``kind:``)."""


class ConfigFileError(ValueError):
    """A config.yaml problem; ``str(exc)`` is the one line to show."""


@dataclass(frozen=True)
class AppSpec:
    name: str
    module: str | None
    db_name: str | None = None
    docs: str = "swagger"
    kind: str | None = None
    writes: bool = False


@dataclass(frozen=True)
class ServerConfig:
    path: str | None = None
    server: dict[str, Any] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)  # name -> genropy_app
    middleware: dict[str, Any] = field(default_factory=dict)
    apps: tuple[AppSpec, ...] = ()


def config_path(server_dir: str | os.PathLike[str]) -> str:
    return os.path.join(os.fspath(server_dir), CONFIG_FILENAME)


def load_config(server_dir: str | os.PathLike[str]) -> ServerConfig:
    """Read ``<server_dir>/config.yaml`` (missing file -> empty config)."""
    path = config_path(server_dir)
    if not os.path.exists(path):
        return ServerConfig(path=None)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return parse_config(text, path)


def parse_config(text: str, path: str = CONFIG_FILENAME) -> ServerConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigFileError(f"{path}:{where}: not valid YAML: {problem}") from exc
    if data is None:
        return ServerConfig(path=path)
    _expect_mapping(data, path, "(top level)")
    _reject_unknown(data, SECTIONS, path, "")
    server = _section(data, "server", path)
    _check_keys(server, SERVER_KEYS, path, "server")
    databases = {}
    for name, spec in _section(data, "databases", path).items():
        _expect_mapping(spec, path, f"databases.{name}")
        _check_keys(spec, DATABASE_KEYS, path, f"databases.{name}")
        if "genropy_app" not in spec:
            raise ConfigFileError(f"{path}: databases.{name}: missing genropy_app (a GenroPy instance name)")
        databases[str(name)] = spec["genropy_app"]
    middleware = {}
    for name, value in _section(data, "middleware", path).items():
        if not isinstance(value, (bool, dict)):
            raise ConfigFileError(f"{path}: middleware.{name}: expected on/off or a mapping of options, "
                                  f"got {value!r}")
        middleware[str(name)] = value
    apps = []
    for name, spec in _section(data, "apps", path).items():
        _expect_mapping(spec, path, f"apps.{name}")
        _check_keys(spec, APP_KEYS, path, f"apps.{name}")
        module, kind = spec.get("module"), spec.get("kind")
        if kind is not None:
            if kind not in APP_KINDS:
                raise ConfigFileError(f"{path}: apps.{name}.kind: expected one of {', '.join(APP_KINDS)}, got {kind!r}")
            if module is not None:
                raise ConfigFileError(f"{path}: apps.{name}: kind and module exclude each other")
            if spec.get("db_name") is None:
                raise ConfigFileError(f"{path}: apps.{name}.db_name: kind {kind} reads a database: name one "
                                      "declared under databases")
        elif not module or ":" not in module:
            raise ConfigFileError(f"{path}: apps.{name}.module: expected \"package.module:ClassName\", "
                                  f"got {module!r}")
        docs = spec.get("docs", "swagger")
        if docs is False:
            docs = "off"
        if docs not in DOCS_STYLES:
            raise ConfigFileError(f"{path}: apps.{name}.docs: expected one of {', '.join(DOCS_STYLES)}, "
                                  f"got {docs!r}")
        db_name = spec.get("db_name")
        if db_name is not None and db_name not in databases:
            known = ", ".join(sorted(databases)) or "none declared"
            raise ConfigFileError(f"{path}: apps.{name}.db_name: {db_name!r} is not declared under "
                                  f"databases ({known})")
        if spec.get("writes") and kind is None:
            raise ConfigFileError(f"{path}: apps.{name}.writes: only for kind genropy-data")
        apps.append(AppSpec(name=str(name), module=module, db_name=db_name, docs=docs, kind=kind,
                            writes=bool(spec.get("writes"))))
    return ServerConfig(path=path, server=dict(server), databases=databases,
                        middleware=middleware, apps=tuple(apps))


def resolve_object(spec: str, where: str) -> Any:
    """Import ``"pkg.mod:Name"``; ``ConfigFileError`` naming ``where`` if it fails."""
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigFileError(f"{where}: cannot import module {module_name!r}: "
                              f"{type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise ConfigFileError(f"{where}: module {module_name!r} has no {attribute!r}") from exc


def _section(data: dict[str, Any], name: str, path: str) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    _expect_mapping(value, path, name)
    return value


def _expect_mapping(value: Any, path: str, key: str) -> None:
    if not isinstance(value, dict):
        raise ConfigFileError(f"{path}: {key}: expected a mapping, got {type(value).__name__}")


def _reject_unknown(data: dict[str, Any], allowed: Any, path: str, prefix: str) -> None:
    for key in data:
        if key not in allowed:
            where = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigFileError(f"{path}: {where}: unknown key (expected one of "
                                  f"{', '.join(allowed)})")


def _check_keys(data: dict[str, Any], types: dict[str, Any], path: str, prefix: str) -> None:
    _reject_unknown(data, types, path, prefix)
    for key, value in data.items():
        expected = types[key]
        accepts_bool = expected is bool or (isinstance(expected, tuple) and bool in expected)
        if (isinstance(value, bool) and not accepts_bool) or not isinstance(value, expected):
            names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
            raise ConfigFileError(f"{path}: {prefix}.{key}: expected {names}, got {value!r}")
