"""Which GenroPy storages a URL may read, decided before any file is opened (pure rules).

GenroPy answers every URL whose first segment names a storage (``/_dojo``, ``/_site``,
``/_storage/<name>``, ``/_vol/<name>``, ``/<name>:...``) with a file of that storage, for
any method. Its storages include ``_raw_`` (rooted at ``/``), ``_http_`` and ``temp`` (the
process' temporary folder, which GenroPy's own handler does serve), and whatever a site
configures (siteconfig ``services``/``volumes``, the ``sys.service`` table). Serving starts
from "refused" and names what it serves:

- ``NATIVE``: GenroPy's code trees and the site's static folder (``dojo``, ``gnr``,
  ``rsrc``, ``pkg``, ``pages``, ``site``, ``home``): answered from the event loop when the
  file's real path lies inside one of the served roots (``inside_any``);
- ``GENROPY``: per-connection and per-user data, volumes and the storages a site
  configures itself: left to GenroPy's own handler, as GenroPy itself serves them;
- ``REFUSED``: ``_raw_``, ``_http_``, ``temp``, and any configured local storage rooted at
  ``/`` or above a protected folder (GenroPy's configuration, the register store...):
  404 here, for every method; GenroPy never sees the request.

``BUILTIN_STORAGES`` classifies every storage GenroPy 26.10 defines;
``tests/unit/test_served_roots.py`` fails when GenroPy defines one it does not name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

NATIVE = "native"
GENROPY = "genropy"
REFUSED = "refused"

BUILTIN_STORAGES: dict[str, str] = {
    # GenroPy's code trees and the site's static folder
    "dojo": NATIVE, "gnr": NATIVE, "rsrc": NATIVE, "pkg": NATIVE, "pages": NATIVE, "site": NATIVE,
    "home": NATIVE,
    # per-connection / per-user / per-page data and volumes: GenroPy's own handler and rules
    "conn": GENROPY, "user": GENROPY, "page": GENROPY, "mail": GENROPY, "vol": GENROPY, "xvol": GENROPY,
    "cordova_asset": GENROPY,
    # never served from a URL
    "_raw_": REFUSED, "_http_": REFUSED, "temp": REFUSED,
}
"""Every storage name GenroPy 26.10 defines (``DEFAULT_STORAGE_CONFIGS``, the site's own
``site``/``home``/``mail``, the ``STATIC_HANDLER_TYPES`` prefixes), and its class."""

ALWAYS_PROTECTED = ("/etc", "/proc", "/sys", "/root", "/dev", "/boot", "/var/run", "/run")


def storage_policy(name: str, root: str | None, protected: Iterable[str] = ()) -> str:
    """The class of storage ``name`` whose local root is ``root`` (``None``: not a local storage)."""
    builtin = BUILTIN_STORAGES.get(name)
    if builtin is not None:
        return builtin
    if name.startswith("_") and name.endswith("_"):
        return REFUSED  # GenroPy's internal services are spelt _name_
    if root is not None and dangerous_root(root, protected):
        return REFUSED
    return GENROPY


def dangerous_root(root: str, protected: Iterable[str] = ()) -> bool:
    """Is ``root`` the filesystem root, a system folder or inside one, or a folder holding a
    ``protected`` one (GenroPy's configuration, the register store, the temporary folder)?"""
    real = os.path.realpath(root)
    if real == os.sep:
        return True
    for folder in ALWAYS_PROTECTED:
        if inside(folder, real) or inside(real, folder):
            return True
    return any(folder and inside(os.path.realpath(folder), real) for folder in protected)


def inside(path: str, root: str) -> bool:
    """Does ``path`` lie in ``root`` (both already real paths)?"""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def inside_any(real_path: str, real_roots: Iterable[str]) -> bool:
    return any(inside(real_path, root) for root in real_roots)
