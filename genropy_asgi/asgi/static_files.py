"""GenroPy's static files served from the event loop (``GENROPY_STATIC=native``, the default).

A GenroPy page loads ~120 static files (dojo, GenroPy's JS/CSS, resources); through
GenroPy each one takes a WSGI thread, a ``Request``, the dispatcher and paste's
``FileApp``, uncompressed. Here the gateway answers them before the WSGI bridge:

- **Resolution is GenroPy's own.** A URL whose first segment is one of the site's
  storage types (``site.storageType``: ``_dojo``, ``_gnr``, ``_rsrc``, ``_pkg``, ``_site``,
  ``_pages``, ``_conn``, ``_user``, ``_vol``, ``_storage``...) is turned into a file by
  ``site.storageNodeFromPathList``, what ``storageDispatcher`` itself calls, in a worker
  thread, once per path (an LRU cache). Only local files are ours (a storage service
  of GenroPy's ``BaseLocalService`` family); S3 and the like, webtools routes, a query
  GenroPy would read (``download``, ``_lazydoc``, ``aux_instance``...: see
  ``static_rules.CACHE_BUSTERS``), a method other than GET/HEAD, a file that does not
  exist (GenroPy may build it: ``_lazydoc``), all go on to GenroPy unchanged.
- **Never outside the root.** The root of a URL is the folder GenroPy resolves for its
  fixed leading segments (``/_dojo/11``, ``/_rsrc/common``, ``/_pkg/sys``, ``/_site``...);
  the file's real path (symlinks resolved) must lie inside the root's real path, else
  404. (The request guard already refused ``..``, encoded dots and separators.)
- **GenroPy's caching, plus what it lacks.** The same ETag (``"<mtime>-<size>"``, one
  per coding), ``Last-Modified``, 304s, the site's ``cache_max_age``; ``immutable`` for
  versioned URLs (``?mtime=``, hashed ``_jslib`` names); one byte range (206/416);
  ``br``/``gzip`` from a fresh precompressed sibling (``file.js.br``, ``file.js.gz``:
  ``genropy_asgi.container.precompress`` writes them for GenroPy's own trees at image
  build) or compressed on the fly up to ``GENROPY_STATIC_COMPRESS_BYTES`` and kept in
  a bounded memory cache (``GENROPY_STATIC_CACHE_BYTES``) with the small files' bodies.

Blocking work (resolution, reading a file not in the cache, compressing) runs in the
event loop's default executor, never in the WSGI pool: a page's statics do not queue
behind its RPCs. ``os.stat`` per request runs on the loop (it answers from the
kernel's cache). ``GENROPY_STATIC=genropy`` turns all of this off (A/B, fallback).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import stat as stat_module
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from genropy_asgi import settings
from genropy_asgi.asgi import served_roots as served_roots_module
from genropy_asgi.asgi import static_rules as rules

logger = logging.getLogger("genropy_asgi.asgi.static_files")

NATIVE = "native"
GENROPY = "genropy"
RESOLUTION_CACHE_SIZE = 8192  # paths; a resolution is a few hundred bytes
RESOLUTION_TTL = 600.0  # seconds: a storage GenroPy re-points at run time (its storage table) is seen again,
#                         re-resolved in the background (the request is served with the resolution it has)
STREAM_CHUNK = 256 * 1024
GZIP_LEVEL = 6  # on the fly; the image's precompressed files use the maximum levels
BROTLI_QUALITY = 5  # on the fly: about gzip's speed with brotli's ratio (11 is for build time)
NOT_FOUND_BODY = b"Not Found\n"

Send = Callable[[dict], Awaitable[None]]
MODE_VARIABLE = "GENROPY_STATIC"
COMPRESS_BYTES_VARIABLE = "GENROPY_STATIC_COMPRESS_BYTES"
CACHE_BYTES_VARIABLE = "GENROPY_STATIC_CACHE_BYTES"


@dataclass(frozen=True)
class StaticOptions:
    """How a server answers GenroPy's static files (the ``GENROPY_STATIC*`` settings)."""

    mode: str = settings.setting(MODE_VARIABLE).default
    compress_bytes: int = settings.setting(COMPRESS_BYTES_VARIABLE).default
    cache_bytes: int = settings.setting(CACHE_BYTES_VARIABLE).default

    @classmethod
    def from_environ(cls, environ: Any) -> StaticOptions:
        """Raises ``settings.SettingError`` (one line naming the variable) for a malformed value."""
        return cls(mode=settings.read(environ, MODE_VARIABLE),
                   compress_bytes=settings.read(environ, COMPRESS_BYTES_VARIABLE),
                   cache_bytes=settings.read(environ, CACHE_BYTES_VARIABLE))


def compress(data: bytes, coding: str, best: bool = False) -> bytes:
    """``data`` in ``coding`` (``br`` or ``gzip``); ``best``: the slow maximum, for build time."""
    if coding == "gzip":
        return gzip.compress(data, compresslevel=9 if best else GZIP_LEVEL, mtime=0)
    if coding == "br":
        import brotli

        return brotli.compress(data, quality=11 if best else BROTLI_QUALITY)
    raise ValueError(f"unknown content coding {coding!r}")


@dataclass
class StaticTarget:
    """A storage URL resolved by GenroPy: its class (``served_roots``), and for a native one
    the file, its root, and whether the file lies inside the root and the served roots."""

    policy: str  # served_roots.NATIVE / GENROPY / REFUSED
    fullpath: str = ""
    root: str = ""
    contained: bool = False
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) when ``contained`` was decided
    served_roots: tuple[str, ...] = ()


LEAVE_TO_GENROPY = StaticTarget(served_roots_module.GENROPY)
REFUSE = StaticTarget(served_roots_module.REFUSED)


def contained_in(fullpath: str, root: str, served_roots: tuple[str, ...] = ()) -> bool:
    """Does ``fullpath``, symlinks resolved, lie inside ``root`` (symlinks resolved) and, when
    ``served_roots`` (real paths) are given, inside one of them?"""
    real_root = os.path.realpath(root)
    real = os.path.realpath(fullpath)
    if not served_roots_module.inside(real, real_root):
        return False
    return not served_roots or served_roots_module.inside_any(real, served_roots)


def file_identity(path: str) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class GenropySiteFiles:
    """URL path -> ``StaticTarget`` through the GenroPy site's own storage handlers (thread side)."""

    def __init__(self, site: Any) -> None:
        self.site = site
        from gnr.lib.services.storage import BaseLocalService

        self._local_service = BaseLocalService
        self._served_roots: tuple[str, ...] | None = None
        self._protected: tuple[str, ...] | None = None

    def is_storage_url(self, path: str) -> bool:
        """Does GenroPy's dispatcher send ``path`` to its storage handler (any method)? Loop side:
        ``storageType`` only compares the first segment with the site's storage prefixes."""
        path_list = self.site.get_path_list(path)
        return bool(path_list) and bool(self.site.storageType(list(path_list)))

    def resolve(self, path: str) -> StaticTarget:
        """The class of a storage URL and, for a native one, its file."""
        site = self.site
        if site.lookup_webtools_static_route(path):
            return LEAVE_TO_GENROPY
        path_list = site.get_path_list(path)
        if not path_list:
            return LEAVE_TO_GENROPY
        storage_type = site.storageType(list(path_list))
        if not storage_type:
            return LEAVE_TO_GENROPY
        node = self._node(path_list, storage_type)
        if node is None:
            return LEAVE_TO_GENROPY  # an unknown package, version or resource: GenroPy answers it
        service = node.service
        local = isinstance(service, self._local_service)
        name = str(getattr(service, "service_name", "") or "")
        base = getattr(service, "base_path", None) if local else None
        policy = served_roots_module.storage_policy(
            name, base if isinstance(base, str) and base != "SYMBOLIC" else None, self.protected())
        if policy != served_roots_module.NATIVE:
            return StaticTarget(policy)
        fullpath = self._internal_path(node) if local else None
        if not fullpath or len(path_list) < 2:
            return LEAVE_TO_GENROPY
        fullpath = os.path.normpath(fullpath)
        root = self._root(path_list, storage_type, fullpath)
        if root is None:
            return LEAVE_TO_GENROPY
        served = self.served_roots()
        return StaticTarget(policy, fullpath, root, contained_in(fullpath, root, served), file_identity(fullpath),
                            served)

    def served_roots(self) -> tuple[str, ...]:
        """Real paths of GenroPy's code trees and the site's folders (the allow-list)."""
        if self._served_roots is None:
            self._served_roots = tuple(sorted(served_roots_of(self.site)))
        return self._served_roots

    def protected(self) -> tuple[str, ...]:
        if self._protected is None:
            self._protected = tuple(protected_folders())
        return self._protected

    def _node(self, path_list: list[str], storage_type: str) -> Any:
        site = self.site
        site.currentDomain = site.rootDomain  # what the dispatcher sets for static routes
        try:
            return site.storageNodeFromPathList(list(path_list), storage_type)
        except Exception:
            return None

    @staticmethod
    def _internal_path(node: Any) -> str | None:
        try:
            return node.internal_path or None
        except Exception:
            return None

    def _local_path(self, path_list: list[str], storage_type: str) -> str | None:
        node = self._node(path_list, storage_type)
        if node is None or not isinstance(node.service, self._local_service):
            return None
        return self._internal_path(node)

    def _root(self, path_list: list[str], storage_type: str, fullpath: str) -> str | None:
        """The folder GenroPy resolves for the URL's fixed leading segments."""
        for fixed in range(1, len(path_list)):
            root = self._local_path(path_list[:fixed], storage_type)
            if root and os.path.isdir(root) and \
                    os.path.normpath(os.path.join(root, *path_list[fixed:])) == fullpath:
                return os.path.normpath(root)
        return None


def served_roots_of(site: Any) -> set[str]:
    """GenroPy's code trees (dojo, gnrjs, resources, packages) and the site's own folders."""
    folders: list[Any] = [getattr(site, "site_path", None), getattr(site, "site_static_dir", None)]
    for mapping in (getattr(site, "dojo_path", None), getattr(site, "gnr_path", None),
                    getattr(site, "resources", None)):  # dicts, and a Bag for the resources
        if mapping is not None and callable(getattr(mapping, "values", None)):
            folders.extend(mapping.values())
    try:
        import gnr

        folders.append(os.path.dirname(gnr.__file__))  # GenroPy's package: its resources, dojo, gnrjs
    except Exception:
        pass
    try:
        folders.extend(package.packageFolder for package in site.gnrapp.packages.values())
    except Exception:  # a site without packages
        pass
    roots = set()
    for folder in folders:
        if isinstance(folder, str) and folder:
            real = os.path.realpath(os.path.expanduser(folder))
            if real != os.sep and os.path.isdir(real):
                roots.add(real)
    return roots


def protected_folders() -> list[str]:
    """Folders no configured storage may expose: GenroPy's configuration, the register store,
    the temporary folder."""
    import tempfile

    folders = [tempfile.gettempdir(), os.environ.get("GENROPY_REGISTER_STORE", "")]
    try:
        from gnr.core.gnrconfig import gnrConfigPath

        folders.append(gnrConfigPath() or "")
    except Exception:
        pass
    return [folder for folder in folders if folder]


class BodyCache:
    """Bytes kept between requests (files, their compressed forms), least recently used out first.

    Loop side only (not thread-safe). An entry over an eighth of the budget is not kept.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[tuple, bytes] = OrderedDict()

    def get(self, key: tuple) -> bytes | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def keeps(self, length: int) -> bool:
        return 0 < length <= self.max_bytes // 8

    def put(self, key: tuple, body: bytes) -> None:
        if not self.keeps(len(body)) or key in self._entries:
            return
        self._entries[key] = body
        self.size += len(body)
        while self.size > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self.size -= len(dropped)


@dataclass(frozen=True)
class Representation:
    """What one answer sends: a file (or its compressed form) and its coding."""

    coding: str | None  # the Content-Encoding sent (None: identity)
    path: str | None  # the file to read (None: ``body`` is given)
    size: int
    key: tuple | None = None  # the BodyCache key of ``body``
    body: bytes | None = None


class NativeStaticFiles:
    """Serves GenroPy's static files from the event loop; ``serve`` says whether it answered."""

    def __init__(self, site: Any, compress_bytes: int, cache_bytes: int,
                 resolver: GenropySiteFiles | None = None, native: bool = True) -> None:
        self.resolver = resolver or GenropySiteFiles(site)
        self.native = native
        """Answer native storages' files here (``False``: ``GENROPY_STATIC=genropy``; refusals still apply)."""
        self.max_age = int(getattr(site, "cache_max_age", 0) or 0)
        self.compress_bytes = compress_bytes
        self.cache = BodyCache(cache_bytes)
        self._targets: OrderedDict[str, tuple[float, StaticTarget]] = OrderedDict()
        self._compressing: dict[tuple, asyncio.Future] = {}
        self._refreshing: set[str] = set()

    # -- which requests ----------------------------------------------------------------
    @staticmethod
    def candidate(scope: dict) -> bool:
        """Cheap test before any resolution: a GET/HEAD of ``/_...`` with an ignorable query."""
        return (scope.get("method") in ("GET", "HEAD") and scope["path"].startswith("/_")
                and not scope.get("root_path") and rules.query_allows_native(scope.get("query_string", b"")))

    async def target(self, path: str) -> StaticTarget:
        now = time.monotonic()
        cached = self._targets.get(path)
        if cached is not None:
            self._targets.move_to_end(path)
            if now - cached[0] >= RESOLUTION_TTL and path not in self._refreshing:
                self._refreshing.add(path)  # the next requests get the new resolution
                asyncio.ensure_future(self._refresh(path))
            return cached[1]
        found = await asyncio.get_running_loop().run_in_executor(None, self.resolver.resolve, path)
        self._remember(path, now, found)
        return found

    async def _refresh(self, path: str) -> None:
        try:
            found = await asyncio.get_running_loop().run_in_executor(None, self.resolver.resolve, path)
            self._remember(path, time.monotonic(), found)
        except Exception as exc:  # keep the resolution we have
            logger.warning("static: re-resolving %s failed: %s: %s", path, type(exc).__name__, exc)
        finally:
            self._refreshing.discard(path)

    def _remember(self, path: str, when: float, found: StaticTarget) -> None:
        self._targets[path] = (when, found)
        self._targets.move_to_end(path)
        while len(self._targets) > RESOLUTION_CACHE_SIZE:
            self._targets.popitem(last=False)

    async def serve(self, scope: dict, receive: Any, send: Send) -> bool:
        """Answer ``scope`` when it is ours: a refused storage (404, any method) or a native file."""
        path = scope["path"]
        if scope.get("root_path") or not self.resolver.is_storage_url(path):
            return False
        target = await self.target(path)
        if target.policy == served_roots_module.REFUSED:
            logger.warning("static: %s %s names a storage that is never served: refused", scope.get("method"), path)
            await self._send_simple(send, 404, NOT_FOUND_BODY)
            return True
        if target.policy != served_roots_module.NATIVE or not self.native or not self.candidate(scope):
            return False
        try:
            found = os.stat(target.fullpath)
        except OSError:
            return False  # missing: GenroPy answers (404, or a _lazydoc it builds)
        if not stat_module.S_ISREG(found.st_mode):
            return False
        if (found.st_dev, found.st_ino) != target.identity:  # replaced since it was checked
            target.contained = await asyncio.get_running_loop().run_in_executor(
                None, contained_in, target.fullpath, target.root, target.served_roots)
            target.identity = (found.st_dev, found.st_ino)
        if not target.contained:
            logger.warning("static: %s resolves outside its served roots (%s): refused", path, target.root)
            await self._send_simple(send, 404, NOT_FOUND_BODY)
            return True
        await self._answer(scope, send, target.fullpath, found)
        return True

    # -- answering ---------------------------------------------------------------------
    async def _answer(self, scope: dict, send: Send, fullpath: str, found: os.stat_result) -> None:
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", ())}
        media_type, own_coding = rules.content_type(fullpath)
        etag = rules.genropy_etag(found.st_mtime, found.st_size)
        compressible = own_coding is None and rules.is_compressible(media_type)
        etags = {etag} | ({rules.coded_etag(etag, coding) for coding in rules.CODINGS} if compressible else set())
        common = [("cache-control", rules.cache_control(self.max_age, rules.is_versioned(
                      scope["path"], scope.get("query_string", b""))))]
        if self.max_age > 0:
            common.append(("expires", rules.http_date(time.time() + self.max_age)))
        if compressible:
            common.append(("vary", "Accept-Encoding"))
        if rules.not_modified(headers.get("if-none-match"), headers.get("if-modified-since"), etags, found.st_mtime):
            tag = etag
            if compressible and (codings := rules.accepted_codings(headers.get("accept-encoding"))):
                tag = rules.coded_etag(etag, codings[0])
            await self._start(send, 304, [("etag", tag), *common])
            await send({"type": "http.response.body", "body": b""})
            return
        entity = [("content-type", media_type), ("last-modified", rules.http_date(found.st_mtime)),
                  ("accept-ranges", "bytes")]
        if own_coding:
            entity.append(("content-encoding", own_coding))
        is_head = scope.get("method") == "HEAD"
        byte_range = rules.parse_range(headers.get("range"), found.st_size)
        if byte_range is not None and headers.get("if-range") not in (None, etag):
            byte_range = None  # the client's copy is another version: the whole file
        if byte_range is rules.UNSATISFIABLE:
            await self._start(send, 416, [("content-range", f"bytes */{found.st_size}"), ("content-length", "0"),
                                          *common])
            await send({"type": "http.response.body", "body": b""})
            return
        if byte_range is not None:
            await self._start(send, 206, [*entity, ("etag", etag), *common,
                                          ("content-range", f"bytes {byte_range.first}-{byte_range.last}/"
                                                            f"{found.st_size}"),
                                          ("content-length", str(byte_range.length))])
            if not is_head:
                await self._send_file(send, fullpath, byte_range.first, byte_range.length)
            else:
                await send({"type": "http.response.body", "body": b""})
            return
        representation = await self._representation(fullpath, found, compressible,
                                                    rules.accepted_codings(headers.get("accept-encoding")))
        if representation.coding:
            entity.append(("content-encoding", representation.coding))
        await self._start(send, 200, [*entity, ("etag", rules.coded_etag(etag, representation.coding)), *common,
                                      ("content-length", str(representation.size))])
        if is_head:
            await send({"type": "http.response.body", "body": b""})
        elif representation.body is not None:
            await send({"type": "http.response.body", "body": representation.body})
        else:
            await self._send_file(send, representation.path, 0, representation.size, representation.key)

    async def _representation(self, fullpath: str, found: os.stat_result, compressible: bool,
                              codings: list[str]) -> Representation:
        identity_key = (fullpath, found.st_mtime_ns, found.st_size, None)
        if compressible and found.st_size >= rules.MIN_COMPRESS_BYTES:
            for coding in codings:
                sibling = fullpath + rules.SIBLING_SUFFIX[coding]
                try:
                    packed = os.stat(sibling)
                except OSError:
                    continue
                if packed.st_mtime >= found.st_mtime and stat_module.S_ISREG(packed.st_mode):
                    key = (sibling, packed.st_mtime_ns, packed.st_size, coding)
                    return Representation(coding, sibling, packed.st_size, key, self.cache.get(key))
            if codings and found.st_size <= self.compress_bytes:
                coding = codings[0]
                key = (fullpath, found.st_mtime_ns, found.st_size, coding)
                body = self.cache.get(key)
                if body is None:
                    body = await self._compressed(fullpath, key, coding)
                if body is not None and len(body) < found.st_size:
                    return Representation(coding, None, len(body), key, body)
        return Representation(None, fullpath, found.st_size, identity_key, self.cache.get(identity_key))

    async def _compressed(self, fullpath: str, key: tuple, coding: str) -> bytes | None:
        """The file compressed, once even when many requests ask at the same moment."""
        pending = self._compressing.get(key)
        if pending is None:
            def work() -> bytes | None:
                try:
                    with open(fullpath, "rb") as handle:
                        data = handle.read(key[2] + 1)
                except OSError:
                    return None
                return compress(data, coding) if len(data) == key[2] else None  # changed meanwhile: not now

            pending = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(None, work))
            self._compressing[key] = pending
            pending.add_done_callback(lambda _: self._compressing.pop(key, None))
        body = await asyncio.shield(pending)
        if body is not None:
            self.cache.put(key, body)
        return body

    async def _send_file(self, send: Send, path: str, offset: int, length: int, key: tuple | None = None) -> None:
        loop = asyncio.get_running_loop()
        if key is not None and offset == 0 and self.cache.keeps(length):
            body = await loop.run_in_executor(None, read_exactly, path, 0, length)
            if len(body) == length:
                self.cache.put(key, body)
            await send({"type": "http.response.body", "body": body})
            return
        handle = await loop.run_in_executor(None, open, path, "rb")
        try:
            remaining = length
            await loop.run_in_executor(None, handle.seek, offset)
            while remaining > 0:
                chunk = await loop.run_in_executor(None, handle.read, min(STREAM_CHUNK, remaining))
                if not chunk:
                    break  # the file shrank meanwhile: the client sees a short body
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
            if remaining > 0:
                await send({"type": "http.response.body", "body": b""})
        finally:
            handle.close()

    @staticmethod
    async def _start(send: Send, status: int, headers: list[tuple[str, str]]) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]})

    async def _send_simple(self, send: Send, status: int, body: bytes) -> None:
        await self._start(send, status, [("content-type", "text/plain; charset=utf-8"),
                                         ("content-length", str(len(body)))])
        await send({"type": "http.response.body", "body": body})


def read_exactly(path: str, offset: int, length: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(length)


def native_static_files(server: Any) -> NativeStaticFiles | None:
    """The storage front of ``server``'s GenroPy site (``None``: no site): it refuses the storages
    never served in every mode, and serves native ones from the loop in mode ``native``."""
    options = getattr(server, "static", None) or StaticOptions()
    site = site_of(server)
    if site is None:
        return None
    return NativeStaticFiles(site, options.compress_bytes, options.cache_bytes, native=options.mode == NATIVE)


def site_of(server: Any) -> Any:
    """The ``GnrWsgiSite`` a server serves (``gnr_site``, else a bare site as ``wsgi_app``)."""
    site = getattr(server, "gnr_site", None)
    if site is None:
        candidate = getattr(server, "wsgi_app", None)
        if candidate is not None and hasattr(candidate, "storageNodeFromPathList"):
            site = candidate
    return site
