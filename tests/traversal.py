"""A path-traversal corpus: every way we know to write "up one folder" in a URL.

``corpus(prefixes, target)`` yields request targets that climb from each prefix to
``target`` (an absolute file path), written plain, percent-encoded (both cases),
with encoded separators, backslashes, double encoding, overlong UTF-8, NUL and
``;``-parameters. Every one must be answered 400 or 404, and no answer may contain
a line of the file. ``static_prefixes(html)`` lists the real static folders a
GenroPy page links to, so the climb starts from folders that exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

DEPTH = 16
UPS = {
    "plain": "../",
    "encoded dots": "%2e%2e/",
    "encoded dots upper": "%2E%2E/",
    "mixed case": "%2E%2e/",
    "one encoded dot": ".%2e/",
    "encoded slash": "..%2f",
    "encoded slash upper": "..%2F",
    "encoded backslash": "..%5c",
    "backslash": "..\\",
    "double encoded": "%252e%252e%252f",
    "double encoded dots": "%252e%252e/",
    "overlong dot": "%c0%ae%c0%ae/",
    "overlong slash": "..%c0%af",
    "semicolon parameter": "..;/",
    "dot segments": "./../",
}
STATIC_URL = re.compile(r"""["'(](/_[A-Za-z]+/[^"'()?\s]+/)[^"'()/?\s]+[?"')]""")


def corpus(prefixes: Iterable[str], target: str) -> Iterator[tuple[str, str]]:
    """``(name, request target)`` pairs climbing from each prefix to ``target``."""
    relative = target.lstrip("/")
    for prefix in prefixes:
        base = prefix if prefix.endswith("/") else prefix + "/"
        for name, up in UPS.items():
            yield f"{name} from {base}", base + up * DEPTH + relative
        yield f"NUL from {base}", base + "../" * DEPTH + relative + "%00.js"
        yield f"encoded NUL from {base}", base + "%00/" + "../" * DEPTH + relative


def static_prefixes(html: str) -> list[str]:
    """The static folders (``/_rsrc/common/app_images/``, ...) a page's HTML links to."""
    found: dict[str, None] = {}
    for folder in STATIC_URL.findall(html):
        found.setdefault(folder, None)
    return list(found)


def refused(status: int) -> bool:
    return status in (400, 404)
