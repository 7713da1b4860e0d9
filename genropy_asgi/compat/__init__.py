"""Fixes to GenroPy applied in EVERY Python process of the environment, as its modules load.

``install()`` runs once, when ``genropy_asgi`` is first imported, and
``genropy_asgi_gnr_compat.pth`` (shipped in our wheel) imports ``genropy_asgi`` at each
interpreter start, so the fixes reach the processes we do not start ourselves too:
``gnrwsgiserve``, ``gnr web async``, ``gnr web taskworker``... Each fix names one
GenroPy module and a function that patches it right after it executed (or at once,
if it is already imported); nothing is imported early.

The fixes (each module says why it exists and when to drop it):

- ``compat.routes``: GenroPy's ``/_api`` dispatcher on genro-routes >= 0.30;
- ``compat.wsproxy``: pushes from the WSGI side to pages over ``gnr web async``;
- ``compat.page_args``: the markup check of a page's arguments in linear time;
- ``compat.db_override``: the deployment's database settings win over the instance's;
- ``compat.register_store``: gnrdaemon's registers (sessions) survive its restart;
- ``compat.register_client``: the site finds its register again after that restart;
- ``compat.register_hosted``: the register in the web server's process (``GENROPY_REGISTER=local``);
- ``compat.register_redis``: the register's state in Redis or Valkey (``GENROPY_REGISTER=redis``);
- ``compat.store_lock``: a page's RPCs wait for its store in turn, not in 0.2 s polling steps;
- ``compat.async_channel``: ``gnr web async``'s socket in the container, not the shared site folder;
- ``compat.async_server``: ``gnr web async``'s shared-object ids stay file names, its TCP port binds where asked;
- ``compat.task_schedule``: GenroPy's older scheduler runs "every N minutes" tasks on SQLite;
- ``compat.js_bundle``: concurrent first requests build a site's JS bundle without a 500;
- ``compat.instance_site``: an instance without its own ``root.py`` is served through the
  standard one the image supplies in its site folder.

``compat.upstream`` is the other half of living on upstream code: every private
attribute of an upstream library we touch, written once, each guarded by a test.

This module must stay cheap and stdlib-only at import time.
"""

from __future__ import annotations

import importlib.machinery
import sys
from types import ModuleType

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing

if TYPE_CHECKING:  # typing and importlib.abc cost ~40 ms at every interpreter start: not at run time
    from collections.abc import Callable
    from typing import Any

    Patch = Callable[[ModuleType], Any]

PATCHES: dict[str, tuple[str, ...]] = {  # GenroPy module -> its fixes, applied in this order
    "gnr.web.gnrwsgisite_proxy.gnrapidispatcher": ("genropy_asgi.compat.routes:patch_dispatcher_module",),
    "gnr.web.gnrwsgisite_proxy.gnrwebsockethandler": ("genropy_asgi.compat.wsproxy:patch_websockethandler_module",
                                                      "genropy_asgi.compat.async_channel:patch_handler_module"),
    "gnr.web.gnrasync": ("genropy_asgi.compat.async_channel:patch_async_module",
                         "genropy_asgi.compat.async_server:patch_async_module"),
    "gnr.web.gnrtask": ("genropy_asgi.compat.task_schedule:patch_task_module",),
    "gnr.web.gnrwebpage": ("genropy_asgi.compat.page_args:patch_webpage_module",),
    "gnr.app.gnrapp": ("genropy_asgi.compat.db_override:patch_gnrapp_module",),
    "gnr.web.daemon.siteregister": ("genropy_asgi.compat.register_store:patch_siteregister_module",),
    "gnr.web.daemon.siteregister_client": ("genropy_asgi.compat.register_client:patch_client_module",
                                           "genropy_asgi.compat.register_hosted:patch_client_module",
                                           "genropy_asgi.compat.register_redis:patch_client_module",
                                           "genropy_asgi.compat.store_lock:patch_client_module"),
    "gnr.web.gnrwebpage_proxy.jstools": ("genropy_asgi.compat.js_bundle:patch_jstools_module",),
    "gnr.app.pathresolver": ("genropy_asgi.compat.instance_site:patch_pathresolver_module",),
}

_patches: dict[str, Patch] = {}


def lazy(target: str) -> Patch:
    """A patch that imports its ``module:function`` only when the target module loads."""
    def patch(module: ModuleType) -> Any:
        from importlib import import_module

        module_name, _, function = target.partition(":")
        try:
            fix = getattr(import_module(module_name), function)
        except Exception as exc:  # never break GenroPy's own import
            sys.stderr.write(f"genropy-asgi: warning: {module.__name__} loaded unpatched: {target} "
                             f"failed to load ({type(exc).__name__}: {exc})\n")
            return None
        return fix(module)

    return patch


def in_order(*patches: Patch) -> Patch:
    """One patch running ``patches`` one after the other."""
    def patch(module: ModuleType) -> None:
        for one in patches:
            one(module)

    return patch


def register(module_name: str, patch: Patch) -> None:
    """Run ``patch(module)`` once ``module_name`` is imported (now, if it already is)."""
    if module_name in _patches:
        return
    _patches[module_name] = patch
    if not any(isinstance(finder, _PatchingFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchingFinder())
    already = sys.modules.get(module_name)
    if already is not None:
        patch(already)


class _PatchingLoader:
    """Runs the real loader, then the module's patch."""

    def __init__(self, loader: importlib.abc.Loader, patch: Patch) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._patch(module)


class _PatchingFinder:
    """Finds nothing but the registered modules, and wraps their loaders."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        patch = _patches.get(fullname)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader, patch)  # type: ignore[assignment]  # a Loader by duck typing
        return spec


PYTHON_PACKAGES_VARIABLE = "GENROPY_PYTHON_PACKAGES"
"""A folder of extra packages (the image's start-time install of a project's requirements):
added after the venv's own site-packages, so the venv's versions always win."""


def add_python_packages() -> None:
    import os

    folder = os.environ.get(PYTHON_PACKAGES_VARIABLE)
    if folder and folder not in sys.path and os.path.isdir(folder):
        import site

        site.addsitedir(folder)


def install() -> None:
    """Register every fix of ``PATCHES`` (idempotent); add ``GENROPY_PYTHON_PACKAGES`` to the path."""
    add_python_packages()
    for module_name, targets in PATCHES.items():
        register(module_name, in_order(*(lazy(target) for target in targets)))
