"""What the launch plan reads: settings, secrets, the mounted siteconfig and projects.

Pure: a ``FileSource`` answers the content of a path (``None`` when absent,
``OSError`` when unreadable) and lists folders; ``DiskFiles`` is the real one.
Every bad input is a ``PlanError`` naming the variable or file and what was expected.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any, Protocol

from genropy_asgi import settings

PlanError = settings.SettingError  # bad input; ``str(exc)`` is the one line to show


def get(env: Mapping[str, str], name: str, default: object = None) -> object:
    """A setting of the table (``settings.TABLE``); ``default`` overrides the table's. The typed
    readers below are what the plan uses: each says what it returns, and checks it."""
    return settings.read(env, name) if default is None else settings.read(env, name, default)


def _typed(value: object, name: str, kind: type | tuple[type, ...], optional: bool = False) -> Any:
    if value is None and optional:
        return value
    # bool is an int to isinstance: a flag is never a number, nor a number a flag
    if isinstance(value, bool) == (kind is bool) and isinstance(value, kind):
        return value
    raise TypeError(f"{name}: the settings table reads {value!r}, not {kind}")  # a table/code mismatch


def text(env: Mapping[str, str], name: str) -> str | None:
    """A text setting with no default: ``None`` when unset."""
    value: str | None = _typed(get(env, name), name, str, optional=True)
    return value


def given(env: Mapping[str, str], name: str) -> str:
    """A text setting with a default: always a string."""
    value: str = _typed(get(env, name), name, str)
    return value


def whole(env: Mapping[str, str], name: str) -> int:
    value: int = _typed(get(env, name), name, int)
    return value


def seconds(env: Mapping[str, str], name: str, default: float | None = None) -> float:
    value: float = _typed(get(env, name, default), name, (int, float))
    return float(value)


def flag(env: Mapping[str, str], name: str) -> bool:
    value: bool = _typed(get(env, name), name, bool)
    return value


class FileSource(Protocol):
    def read(self, path: str) -> str | None: ...

    def list_dir(self, path: str) -> list[str] | None: ...


class Secrets:
    """Reads secret variables (``NAME`` or ``NAME_FILE``) and remembers every value, to mask it."""

    def __init__(self, env: Mapping[str, str], files: FileSource) -> None:
        self.env = env
        self.files = files
        self.values: list[str] = []

    def get(self, name: str) -> str | None:
        value = settings.read_secret(self.env, name, self.files.read)
        self.add(value)
        return value

    def add(self, value: str | None) -> None:
        if value:
            self.values.append(value)


def genropy_bool(value: str | None) -> bool | None:
    """GenroPy's typed values: 'True::B', 'false', '1'..."""
    if value is None:
        return None
    return value.split("::")[0].strip().lower() in settings.TRUE_WORDS


def mounted_siteconfig(env: Mapping[str, str], files: FileSource) -> ET.Element | None:
    path = given(env, "GENROPY_SITECONFIG")
    explicit = bool((env.get("GENROPY_SITECONFIG") or "").strip())
    try:
        text = files.read(path)
    except OSError as exc:
        raise PlanError(f"GENROPY_SITECONFIG={path}: cannot read ({exc.strerror or exc})") from exc
    if text is None:
        if explicit:
            raise PlanError(f"GENROPY_SITECONFIG={path}: no such file")
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise PlanError(f"GENROPY_SITECONFIG={path}: not valid XML ({exc})") from exc
    if root.tag != "GenRoBag":
        raise PlanError(f"GENROPY_SITECONFIG={path}: expected a <GenRoBag> document, found <{root.tag}>")
    return root


def site_extra_from(root: ET.Element | None) -> dict[str, dict[str, str]]:
    """The mounted siteconfig's top elements we pass through (not wsgi/gnrdaemon/jslib/resources)."""
    if root is None:
        return {}
    owned = {"wsgi", "gnrdaemon", "jslib", "resources"}
    return {child.tag: dict(child.attrib) for child in root if child.tag not in owned}


def project_root(path: str, files: FileSource) -> str:
    """A folder of GenroPy projects; a project folder itself (it has ``instances/``) stands
    for its parent, which is what GenroPy's ``<projects>`` lists."""
    trimmed = path.rstrip("/") or "/"
    if files.list_dir(os.path.join(trimmed, "instances")) is not None and \
            files.list_dir(os.path.join(trimmed, "packages")) is not None:
        return os.path.dirname(trimmed) or "/"
    return trimmed


def check_site(site: str, project_roots: list[str], files: FileSource) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", site):
        raise PlanError(f"GNR_CURRENT_SITE={site!r}: expected an instance name (letters, digits, _ . -)")
    found = []
    for root in project_roots:
        projects = files.list_dir(root)
        if projects is None:
            raise PlanError(f"GENROPY_PROJECTS: {root} is not a folder")
        for project in projects:
            instances = files.list_dir(os.path.join(root, project, "instances")) or []
            if site in instances:
                return
            found += instances
    listed = ", ".join(sorted(set(found))) or "none"
    raise PlanError(f"GNR_CURRENT_SITE={site!r}: no instance of that name in GENROPY_PROJECTS "
                    f"({':'.join(project_roots)}); instances found: {listed}")


def instance_path(site: str, project_roots: list[str], files: FileSource) -> str | None:
    """``<root>/<project>/instances/<site>``: the first, in the order GenroPy looks."""
    for root in project_roots:
        for project in files.list_dir(root) or []:
            if site in (files.list_dir(os.path.join(root, project, "instances")) or []):
                return os.path.join(root, project, "instances", site)
    return None


def instance_config(site: str, project_roots: list[str], files: FileSource) -> tuple[str, str | None]:
    """The instance's instanceconfig.xml (GenroPy's choice of the two places) and its text."""
    from genropy_asgi.container.admin_login import INSTANCECONFIG_PLACES

    instance = instance_path(site, project_roots, files)
    if instance is None:
        return "", None
    paths = [os.path.join(instance, place) for place in INSTANCECONFIG_PLACES]
    for path in paths:
        text = files.read(path)
        if text is not None:
            return path, text
    return paths[0], None


def missing_root_py(site: str, project_roots: list[str], files: FileSource) -> str | None:
    """Where GenroPy's standard ``root.py`` is to be supplied, ``None`` when the project has one.

    The site folder is the one GenroPy resolves, in its order (``gnr/app/pathresolver.py``): a
    project's ``sites/<site>``, else its ``instances/<site>/site``. GenroPy's server takes the
    script from that folder or its parent: when neither has one, it goes into the site folder
    (a runtime folder, never a file of the project's own; ``compat.instance_site`` lets
    GenroPy resolve an instance through it).
    """
    for root in project_roots:
        projects = files.list_dir(root) or []
        candidates = [(os.path.join(root, p, "sites"), os.path.join(root, p, "sites", site)) for p in projects
                      if site in (files.list_dir(os.path.join(root, p, "sites")) or [])]
        candidates += [(os.path.join(root, p, "instances", site), os.path.join(root, p, "instances", site, "site"))
                       for p in projects if site in (files.list_dir(os.path.join(root, p, "instances")) or [])]
        for parent, folder in candidates[:1]:
            if any(files.read(os.path.join(where, "root.py")) is not None for where in (folder, parent)):
                return None
            return os.path.join(folder, "root.py")
    return None


class DiskFiles:
    """The real ``FileSource``: the container's filesystem."""

    def read(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def list_dir(self, path: str) -> list[str] | None:
        try:
            return sorted(name for name in os.listdir(path) if os.path.isdir(os.path.join(path, name)))
        except (FileNotFoundError, NotADirectoryError):
            return None
