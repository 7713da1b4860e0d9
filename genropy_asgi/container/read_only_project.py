"""A read-only project (a ConfigMap, a git-sync volume, ``:ro``) served with ``GENROPY_SITE_DATA``.

GenroPy writes into the served instance's folder (``data/``, ``site/``) and finds projects,
packages and instances through the project roots of ``environment.xml``. A project that cannot
be written, and whose instance has no ``data``/``site`` symlinks (a derived image makes them),
is served through a *shadow* of its project roots: folders of symlinks to the project's own
files, in the container's ``GENROPY_HOME`` (each container its own: replicas sharing the site
data never rebuild one another's), except the served instance's ``data`` and ``site``, which
point into the site data (``$GENROPY_SITE_DATA/instances/<instance>/``, where a writable
project's symlinks point too). GenroPy is given the shadow roots; no file of the project changes.

``shadow_roots`` and ``shadow_path`` are the plan's (pure); ``build_shadow`` the entrypoint's.
"""

from __future__ import annotations

import os
import shutil

WRITABLE = ("data", "site")  # what GenroPy writes into an instance folder


def shadow_roots(home: str, project_roots: list[str]) -> dict[str, str]:
    """Each project root -> its shadow in ``GENROPY_HOME``."""
    return {root: os.path.join(home, "shadow-projects", str(index)) for index, root in enumerate(project_roots)}


def shadow_path(path: str, shadows: dict[str, str]) -> str:
    """``path`` under a project root, as seen through that root's shadow (unchanged elsewhere)."""
    for root, shadow in shadows.items():
        if path == root or path.startswith(root.rstrip("/") + "/"):
            return shadow + path[len(root.rstrip("/")):]
    return path


def _mirror(source: str, target: str, real: str | None) -> None:
    """``target``: a folder of symlinks to ``source``'s entries, but ``real`` (made by the caller)."""
    os.makedirs(target)
    for name in sorted(os.listdir(source)):
        if name != real:
            os.symlink(os.path.join(source, name), os.path.join(target, name))


def _mirror_tree(source: str, target: str) -> None:
    """The instance's own folders as real folders (files linked): GenroPy resolves paths from
    them with ``realpath`` (``config/../data``), which must stay in the shadow."""
    if os.path.isdir(source) and not os.path.islink(source):
        os.makedirs(target)
        for name in sorted(os.listdir(source)):
            _mirror_tree(os.path.join(source, name), os.path.join(target, name))
    else:
        os.symlink(source, target)


def build_shadow(shadows: dict[str, str], instance: str, site_data: str) -> str:
    """Build every shadow afresh (a previous start's removed first); returns the shadow instance."""
    project = os.path.dirname(os.path.dirname(instance))
    root = os.path.dirname(project)
    site = os.path.basename(instance)
    for source, shadow in shadows.items():
        shutil.rmtree(shadow, ignore_errors=True)  # symlinks and folders of ours: never the data
        _mirror(source, shadow, os.path.basename(project) if source == root else None)
    served = shadows[root]
    steps = [(project, "instances"), (os.path.join(project, "instances"), site)]
    for folder, real in steps:
        _mirror(folder, shadow_path(folder, {root: served}), real)
    shadow_instance = shadow_path(instance, {root: served})
    os.makedirs(shadow_instance)
    for name in sorted(os.listdir(instance)):
        if name not in WRITABLE:
            _mirror_tree(os.path.join(instance, name), os.path.join(shadow_instance, name))
    for name in WRITABLE:
        shared = os.path.join(site_data, "instances", site, name)
        os.makedirs(shared, exist_ok=True)
        os.symlink(shared, os.path.join(shadow_instance, name))
    return shadow_instance


def needs_shadow(instance: str) -> bool:
    """The entrypoint's probe: this process cannot write the instance folder, and GenroPy's
    writable folders in it are not already symlinks (into site data)."""
    if any(os.path.islink(os.path.join(instance, name)) for name in WRITABLE):
        return False
    return not os.access(instance, os.W_OK)
