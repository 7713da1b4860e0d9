"""Make GenroPy's markup check of a page's arguments linear (it was quadratic and worse).

Why this exists: GenroPy 26.10's ``GnrWebPage.build_arg_dict`` (every page load, GET
or POST) drops an argument that looks like markup with
``re.search(r"(.*<.*.*?>.+?</.*>)", value)``. Tried at each start position, the
leading ``.*`` and its backtracking make that search O(n²) on text without markup and
worse on text with ``<``: a 25 KB form took 0.44 s, 100 KB 4.2 s, 1 MB more than 90 s,
holding the GIL, so one POST froze the whole process (``/_server/health`` included).

What it does: in ``gnr.web.gnrwebpage`` only, the ``re`` the module sees answers that
one pattern with ``looks_like_markup`` -- the same answer in one pass -- and passes
every other call to the real ``re``. Registered for every interpreter of the
environment by ``genropy_asgi.compat``.

When to drop it: ``tests/compat/test_page_args_compat.py`` fails the day GenroPy's
``build_arg_dict`` stops using that pattern.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

TARGET_MODULE = "gnr.web.gnrwebpage"
MARKUP_PATTERN = r"(.*<.*.*?>.+?</.*>)"


def looks_like_markup(text: str) -> bool:
    """What ``re.search(MARKUP_PATTERN, text)`` answers, in linear time.

    The pattern (``.`` never matches a newline) asks, within one line: a ``<``, a
    later ``>``, at least one character, ``</``, then a later ``>``. The earliest
    choice at each step leaves the most room for the next, so one left-to-right
    scan per line decides it.
    """
    for line in text.split("\n"):
        opening = line.find("<")
        if opening < 0:
            continue
        closing = line.find(">", opening + 1)
        if closing < 0:
            continue
        end_tag = line.find("</", closing + 2)
        if end_tag >= 0 and line.find(">", end_tag + 2) >= 0:
            return True
    return False


def markup_aware_search(pattern: Any, string: Any, flags: int = 0) -> Any:
    """``re.search``, except that the markup pattern is answered by ``looks_like_markup``."""
    source = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    if source == MARKUP_PATTERN and not flags and isinstance(string, str):
        return True if looks_like_markup(string) else None
    return re.search(pattern, string, flags)


def patch_webpage_module(module: Any) -> None:
    names = {name: getattr(re, name) for name in dir(re) if not name.startswith("__")}
    module.re = SimpleNamespace(**{**names, "search": markup_aware_search})
    module.GENROPY_ASGI_PAGE_ARGS_COMPAT = "linear markup check"
