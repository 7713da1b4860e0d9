"""GenroPy's compressed JS bundles (``site/_static/_jslib``) written safely by concurrent requests.

Why this exists: GenroPy 26.10's ``GnrWebJSTools.compress_js`` (every page of a site
with ``jscompress`` builds one bundle of its JS files on first use) creates the folder with
``if not os.path.exists(path): os.makedirs(path)`` and moves the bundle from the system
temp folder with ``shutil.move``. Two requests at once (two workers, or two threads, on a
cold start under load) race: the second ``makedirs`` raises ``FileExistsError`` and the page
answers 500; and ``shutil.move`` across file systems copies into the final name, so a
concurrent request can serve a half-written bundle.

What it does: in ``gnr.web.gnrwebpage_proxy.jstools`` only, ``os.makedirs`` accepts an
existing folder and ``shutil.move`` lands the bundle atomically (copied next to its final
name, then ``os.replace``). Every other ``os``/``shutil`` name is the real one.

When to drop it: ``tests/compat/test_js_bundle_compat.py`` fails the day GenroPy changes
the code this relies on.
"""

from __future__ import annotations

import os
import shutil
import threading
from types import ModuleType, SimpleNamespace
from typing import Any

TARGET_MODULE = "gnr.web.gnrwebpage_proxy.jstools"


def makedirs_existing_ok(name: str, mode: int = 0o777, **ignored: object) -> None:
    """``os.makedirs`` that accepts a folder another request created meanwhile."""
    os.makedirs(name, mode, exist_ok=True)


def atomic_move(source: str, destination: str) -> str:
    """Move ``source`` to ``destination`` so that readers see the old file or the whole new one."""
    staging = f"{destination}.{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        shutil.copyfile(source, staging)
        os.replace(staging, destination)
    except BaseException:
        if os.path.exists(staging):
            os.unlink(staging)
        raise
    os.unlink(source)
    return destination


def module_namespace(real: ModuleType, **replaced: object) -> SimpleNamespace:
    return SimpleNamespace(**{**{name: getattr(real, name) for name in dir(real) if not name.startswith("__")},
                              **replaced})


def patch_jstools_module(module: Any) -> None:
    module.os = module_namespace(os, makedirs=makedirs_existing_ok)
    module.shutil = module_namespace(shutil, move=atomic_move)
    module.GENROPY_ASGI_JS_BUNDLE_COMPAT = "folder race and atomic bundle"
