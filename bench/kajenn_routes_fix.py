"""Loaded at every interpreter start of the bench's genropy-kajenn venv (a ``.pth`` line): our
``compat/routes.py`` fix ONLY (GenroPy 26.10's ``/_api`` dispatcher on genro-routes >= 0.30,
which genropy-kajenn 0.5.2 installs and cannot build a site with), loaded from its file so no
other part of genropy-asgi enters that venv."""

import importlib.machinery
import importlib.util
import os
import sys

TARGET = "gnr.web.gnrwsgisite_proxy.gnrapidispatcher"
FIX = os.environ.get("GENROPY_ASGI_ROUTES_FIX", "")


class _Loader:
    def __init__(self, loader, fix):
        self._loader, self._fix = loader, fix

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._fix.patch_dispatcher_module(module, "adapter")


class _Finder:
    def find_spec(self, fullname, path, target=None):
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        fix_spec = importlib.util.spec_from_file_location("genropy_asgi_routes_fix", FIX)
        fix = importlib.util.module_from_spec(fix_spec)
        fix_spec.loader.exec_module(fix)
        spec.loader = _Loader(spec.loader, fix)
        return spec


if FIX and os.path.isfile(FIX):
    sys.meta_path.insert(0, _Finder())
