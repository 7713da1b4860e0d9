"""The HTTP decisions of native static serving, as pure functions (no I/O, no GenroPy).

Kept apart from ``static_files`` (which resolves and reads) so each rule is tested on
its own: which query strings leave a request to us, which URLs are versioned
(``immutable``), GenroPy's ETag, conditional requests, ``Range``, and the content
coding a client accepts. The choices mirror GenroPy's own handler (paste's ``FileApp``:
ETag ``"<mtime>-<size>"``, ``Cache-Control: max-age`` of the site's ``cache_max_age``,
``Last-Modified``, ``If-None-Match`` before ``If-Modified-Since``, one byte range).
"""

from __future__ import annotations

import email.utils
import mimetypes
import re
import urllib.parse
from dataclasses import dataclass

CACHE_BUSTERS = frozenset({"mtime", "nocache", "_no_cache_"})
"""Query parameters GenroPy's static handler ignores when it serves a file (``kwargs_url``'s
``mtime`` and the cache-busters). Any other parameter (``download``, ``_lazydoc``,
``aux_instance``...) changes what GenroPy answers: such a request is left to GenroPy."""

VERSION_PARAMETER = "mtime"
HASHED_NAME = re.compile(r"[0-9a-f]{32,64}(\.[A-Za-z0-9]+)+")
"""A content-hashed file name (GenroPy's ``_jslib`` bundles: an md5 of the sources)."""

COMPRESSIBLE_TYPES = frozenset({
    "application/javascript", "text/javascript", "application/json", "application/xml", "text/xml",
    "image/svg+xml", "application/x-javascript", "application/manifest+json", "application/wasm",
    "image/x-icon", "image/vnd.microsoft.icon", "font/ttf", "font/otf", "application/vnd.ms-fontobject",
})
MIN_COMPRESS_BYTES = 256  # below this a coding's headers cost more than it saves
CODINGS = ("br", "gzip")  # what we produce, in order of preference at equal q
SIBLING_SUFFIX = {"br": ".br", "gzip": ".gz"}  # precompressed files next to the original


def query_allows_native(query_string: bytes | str) -> bool:
    """Does GenroPy answer this query exactly as it answers the bare path?"""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    if not query_string:
        return True
    pairs = urllib.parse.parse_qsl(query_string, keep_blank_values=True)
    return bool(pairs) and all(name in CACHE_BUSTERS for name, _ in pairs)


def is_versioned(path: str, query_string: bytes | str) -> bool:
    """A URL that names one version of a file for good: ``?mtime=`` or a hashed file name."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    if query_string and any(name == VERSION_PARAMETER and value
                            for name, value in urllib.parse.parse_qsl(query_string, keep_blank_values=True)):
        return True
    return bool(HASHED_NAME.fullmatch(path.rsplit("/", 1)[-1]))


def content_type(path: str) -> tuple[str, str | None]:
    """(media type, content coding of the file itself) as GenroPy's handler guesses them."""
    media, coding = mimetypes.guess_type(path)
    return media or "application/octet-stream", coding


def is_compressible(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type in COMPRESSIBLE_TYPES


def genropy_etag(mtime: float, size: int) -> str:
    """GenroPy's (paste's) ETag: the float mtime and the size, quoted."""
    return f'"{mtime}-{size}"'


def coded_etag(etag: str, coding: str | None) -> str:
    """One ETag per representation (RFC 9110 8.8.3): the identity one, suffixed by the coding."""
    return etag if not coding else f'{etag[:-1]}-{coding}"'


def http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def cache_control(max_age: int, immutable: bool) -> str:
    if max_age <= 0:
        return "no-cache"
    return f"public, max-age={max_age}" + (", immutable" if immutable else "")


def not_modified(if_none_match: str | None, if_modified_since: str | None, etags: set[str], mtime: float) -> bool:
    """RFC 9110 13.2.2: ``If-None-Match`` decides when present, else ``If-Modified-Since``."""
    if if_none_match is not None:
        candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in candidates or bool(candidates & etags)
    if if_modified_since:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        return int(mtime) <= since
    return False


@dataclass(frozen=True)
class ByteRange:
    first: int
    last: int  # inclusive

    @property
    def length(self) -> int:
        return self.last - self.first + 1


UNSATISFIABLE = ByteRange(-1, -2)


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One ``bytes=`` range of a file of ``size`` bytes; ``None``: serve it whole (absent, several
    ranges, another unit, malformed: RFC 9110 14.2 lets a server ignore those);
    ``UNSATISFIABLE``: 416."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    start, dash, end = spec.strip().partition("-")
    if not dash or not (start.isdigit() or end.isdigit()) or (start and not start.isdigit()) \
            or (end and not end.isdigit()):
        return None
    if not start:  # the last N bytes
        suffix = int(end)
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return ByteRange(max(size - suffix, 0), size - 1)
    first = int(start)
    last = min(int(end), size - 1) if end else size - 1
    if first >= size or (end and int(end) < first):
        return UNSATISFIABLE
    return ByteRange(first, last)


def accepted_codings(accept_encoding: str | None) -> list[str]:
    """The codings of ``CODINGS`` the client accepts, best first (q-values; ``*`` counts)."""
    if not accept_encoding:
        return []
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            weights[name] = q
    star = weights.get("*")
    ranked = []
    for order, coding in enumerate(CODINGS):
        q = weights.get(coding, weights.get("x-gzip") if coding == "gzip" else None)
        if q is None:
            q = star
        if q and q > 0:
            ranked.append((-q, order, coding))
    return [coding for _, _, coding in sorted(ranked)]
