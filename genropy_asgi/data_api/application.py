"""``DataApplication``: the data bridge as one genro-asgi application on one URL prefix.

    GET  /                                  what is here (links)
    GET  /openapi.json                      the caller's OpenAPI 3.1 document
    GET  /docs, /redoc                      Swagger UI, ReDoc (files from this package)
    GET  /tables                            the tables the caller may read
    GET  /tables/{pkg.table}                one table's columns
    GET  /tables/{pkg.table}/records        records: filters, _order, _limit, _offset, _count
    GET  /tables/{pkg.table}/records/{key}  one record
    GET  .../records/{key}/{column}         the record a foreign key points at (every hop gated)
    GET  /tables/{pkg.table}/changes        its changes as GenroPy commits them (Server-Sent Events)
    POST /tables/{pkg.table}/records        insert      } with ``writes`` (GENROPY_DATA_API=write),
    PATCH, DELETE .../records/{key}         update, delete  } where the table opens them
    POST /mcp                               MCP (Streamable HTTP, stateless)

Everything but the two docs pages and their files needs a GenroPy identity (401 otherwise). A
table the caller may not read answers exactly like one that does not exist (404). The database
work runs on the bridge's own threads (``threads``), never on the site's WSGI threads, one
GenroPy connection per request, closed after it. Refusals are one short JSON line, never a trace.
A write must come as ``application/json`` and, from a browser, from an allowed origin (the rule of
MCP and GenroPy's websocket): a page elsewhere cannot ride a browser's remembered login.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl

from genro_asgi import BaseApplication

from genropy_asgi import __version__
from genropy_asgi.asgi.http_protocol import SERVER_STOPPING
from genropy_asgi.asgi.websocket_policy import WebSocketLimits, handshake_refusal
from genropy_asgi.data_api import change_stream, docs_pages, mcp_endpoint, openapi_document, records, writes
from genropy_asgi.data_api.change_feed import Batch, Change, ChangeHub, FeedUnavailable, broadcasts
from genropy_asgi.data_api.exposure import ModelFacts, TableView, genropy_user_config, relation_target
from genropy_asgi.data_api.identity import Authenticator, CredentialsError, Identity
from genropy_asgi.data_api.login_throttle import LoginThrottle
from genropy_asgi.data_api.query_params import QueryError, parse_query

logger = logging.getLogger("genropy_asgi")

TABLE_NAME = re.compile(r"[a-z0-9_]+\.[a-z0-9_]+\Z", re.IGNORECASE)
MCP_MAX_BODY = 1024 * 1024
STREAM_THREADS = 2
DESCRIBED_BATCHES = 512  # batches described per set of rights, kept for the other streams sharing them
PENDING_PER_THREAD = 16
"""Requests waiting for the bridge's threads, per thread; one more is 503 (never an unbounded queue)."""
WRITE_METHODS = {"POST": "insert", "PATCH": "update", "DELETE": "delete"}
WWW_AUTHENTICATE = 'Basic realm="genropy data", charset="UTF-8", Bearer realm="genropy data"'
SECURITY_HEADERS = [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer")]


class Refusal(Exception):
    def __init__(self, status: int, text: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(text)
        self.status, self.headers = status, headers or []


class DataApplication(BaseApplication):
    """REST + OpenAPI + MCP over the tables of one GenroPy application (``app_provider()``)."""

    def __init__(self, app_provider: Callable[[], Any], *, max_rows: int = 500, threads: int = 4,
                 origins: WebSocketLimits | None = None, title: str = "GenroPy data", writes: bool = False,
                 site_provider: Callable[[], Any] | None = None,
                 stopping: Callable[[], bool] = SERVER_STOPPING.is_set,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_provider = app_provider
        self.writes = writes
        """Writes served where tables open them (``GENROPY_DATA_API=write``); else read-only."""
        self.max_rows = max_rows
        self.origins = origins or WebSocketLimits()
        """Whose pages may call MCP besides the site's own (``GENROPY_ALLOWED_ORIGINS``)."""
        self.title = title
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="data-api")
        self._facts: ModelFacts | None = None
        self._authenticator: Authenticator | None = None
        self._lock = threading.Lock()
        self.changes = ChangeHub(site_provider or (lambda: None))
        """The change stream's subscribers; ``site_provider()``: the GenroPy site (its register)."""
        self.stopping = stopping
        """True once the server stops: open change streams end (they would hold the drain)."""
        self.streams = 0
        self.user_streams: dict[str, int] = {}
        self.stream_executor = ThreadPoolExecutor(max_workers=STREAM_THREADS, thread_name_prefix="data-streams")
        """The change streams' database work, apart from REST's and MCP's threads."""
        self._described_batches: OrderedDict[tuple[Any, ...], list[tuple[str, dict[str, Any]]]] = OrderedDict()
        self.logins = LoginThrottle()
        """Failed logins per client address (429 past its limits)."""
        self.pending = 0
        self.max_pending = threads * PENDING_PER_THREAD

    # -- the blocking side (worker threads) -------------------------------------------------
    def _prepared(self) -> tuple[Any, ModelFacts, Authenticator]:
        with self._lock:
            app = self.app_provider()
            if self._facts is None or self._authenticator is None or self._authenticator.app is not app:
                self._facts = ModelFacts.from_app(app)
                self._authenticator = Authenticator(app)
            return app, self._facts, self._authenticator

    def _views(self, app: Any, facts: ModelFacts, identity: Identity) -> dict[str, TableView]:
        return facts.views(identity, app.checkResourcePermission, genropy_user_config(app), writes=self.writes)

    def _serve(self, work: Callable[[Any, dict[str, TableView], Identity], Any],
               authorization: str | None) -> Any:
        app, facts, authenticator = self._prepared()
        with records.database_session(app.db, None):
            try:
                identity = authenticator.identify(authorization)
            except CredentialsError as exc:
                raise Refusal(401, str(exc), [(b"www-authenticate", WWW_AUTHENTICATE.encode())]) from None
        if identity is None:
            raise Refusal(401, "credentials required: a GenroPy login (Basic) or API token (Bearer)",
                          [(b"www-authenticate", WWW_AUTHENTICATE.encode())])
        with records.database_session(app.db, identity):
            return work(app, self._views(app, facts, identity), identity)

    # -- ASGI ---------------------------------------------------------------------------------
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = "/" + scope["path"].strip("/")
        method = scope["method"]
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        base = f"{scope.get('root_path', '')}/{self.mount}".replace("//", "/")
        scheme = scope.get("scheme", "http")
        authorization = headers.get("authorization")
        address = str((scope.get("client") or ("?",))[0])
        try:
            if authorization and not path.startswith(("/static/", "/docs", "/redoc")):
                wait = self.logins.retry_after(address, authorization, time.monotonic())
                if wait is not None:
                    raise Refusal(429, "too many failed logins from your address: try again later",
                                  [(b"retry-after", str(math.ceil(wait)).encode())])
            if path == "/mcp":
                await self._mcp(method, headers, scheme, receive, send)
                return
            if path.startswith("/tables/") and path.endswith("/changes") and path.count("/") == 3:
                if method != "GET":
                    raise Refusal(405, "a change stream is a GET", [(b"allow", b"GET")])
                refusal = handshake_refusal(headers, scheme, self.origins)  # a browser elsewhere: as MCP's rule
                if refusal is not None:
                    raise Refusal(403, refusal)
                await self._changes(path.split("/")[2], headers.get("authorization"), receive, send)
                return
            if method not in ("GET", "HEAD") and path.startswith("/tables/"):
                status, answer, extra = await self._modify(method, path, headers, scheme, receive)
                await self._json(send, status, answer, extra)
                return
            if method not in ("GET", "HEAD"):
                raise Refusal(405, f"{method} is not served here", [(b"allow", b"GET, HEAD")])
            if path in ("/docs", "/redoc"):
                page = docs_pages.page(path[1:].replace("docs", "swagger"), f"{base}/static", f"{base}/openapi.json",
                                       self.title)
                await self._answer(send, 200, page.encode(), "text/html; charset=utf-8",
                                   [(b"content-security-policy", docs_pages.CONTENT_SECURITY_POLICY.encode())])
                return
            if path.startswith("/static/"):
                found = docs_pages.asset(path[len("/static/"):])
                if found is None:
                    raise Refusal(404, "no such file")
                await self._answer(send, 200, found[0], found[1], cache="public, max-age=86400")
                return
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            answer = await self._run(self._rest, path, query, base, headers.get("authorization"))
            await self._json(send, 200, answer)
        except Refusal as refusal:
            if refusal.status == 401 and authorization:
                self.logins.failed(address, authorization, time.monotonic())
            await self._json(send, refusal.status, {"error": str(refusal)}, refusal.headers)

    async def _run(self, function: Callable[..., Any], *args: Any, executor: ThreadPoolExecutor | None = None) -> Any:
        """``function`` on the bridge's threads (``executor``: the change streams' own); 503 when
        ``max_pending`` already wait for them."""
        if self.pending >= self.max_pending:
            raise Refusal(503, "the data bridge is busy: try again", [(b"retry-after", b"1")])
        self.pending += 1
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor or self.executor, function, *args)
        except (Refusal, mcp_endpoint.McpRefusal):
            raise
        except Exception as exc:
            if records.timed_out(exc):
                raise Refusal(503, f"the query ran longer than {records.STATEMENT_SECONDS} s") from None
            logger.exception("data bridge: request failed")
            raise Refusal(500, "the request failed (see the server log)") from None
        finally:
            self.pending -= 1

    def _rest(self, path: str, query: list[tuple[str, str]], base: str, authorization: str | None) -> Any:
        parts = path.strip("/").split("/") if path != "/" else []

        def work(app: Any, views: dict[str, TableView], identity: Identity) -> Any:
            if not parts:
                return {"user": identity.user, "tables": f"{base}/tables", "openapi": f"{base}/openapi.json",
                        "docs": f"{base}/docs", "redoc": f"{base}/redoc", "mcp": f"{base}/mcp"}
            if parts == ["openapi.json"]:
                return openapi_document.document(views, title=self.title, version=__version__,
                                                 server_url=base, max_rows=self.max_rows)
            if parts == ["tables"]:
                return [{"name": v.fullname, "title": v.title, "primary_key": v.pkey}
                        for v in sorted(views.values(), key=lambda v: v.fullname)]
            if parts[0] != "tables" or len(parts) > 5:
                raise Refusal(404, "not found")
            view = self._view(views, parts[1])
            if len(parts) == 2:
                return {"name": view.fullname, "title": view.title, "primary_key": view.pkey,
                        "columns": {n: openapi_document.column_schema(c, views) for n, c in view.columns.items()}}
            if parts[2] != "records":
                raise Refusal(404, "not found")
            if len(parts) == 3:
                return self._query(app, view, query)
            if len(parts) == 5:
                related = self._related_or_none(app, views, view, parts[3], parts[4])
                if related is None:  # a relation the user may not follow answers like none
                    raise Refusal(404, f"no record that {parts[4][:80]!r} of {parts[3][:80]!r} in "
                                       f"{view.fullname} points at and you may read")
                return related
            record = records.get_record(app.db, view, parts[3])
            if record is None:
                raise Refusal(404, f"no record {parts[3][:80]!r} in {view.fullname}")
            return record

        return self._serve(work, authorization)

    async def _modify(self, method: str, path: str, headers: dict[str, str], scheme: str,
                      receive: Any) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        """Any other method on a table's path: a write where this user may make it, else 405 with
        the methods this user's document lists for that path."""
        parts = path.strip("/").split("/")
        if len(parts) not in (2, 3, 4) or (len(parts) > 2 and parts[2] != "records"):
            raise Refusal(404, "not found")
        body = b""
        if self.writes and method in ("POST", "PATCH"):
            body = await read_body(receive, MCP_MAX_BODY)
        status, answer = await self._run(self._write, parts, method, body, dict(headers), scheme)
        return status, answer, []

    def _write(self, parts: list[str], method: str, body: bytes, headers: dict[str, str],
               scheme: str) -> tuple[int, Any]:
        def work(app: Any, views: dict[str, TableView], identity: Identity) -> tuple[int, Any]:
            view = self._view(views, parts[1])
            on_records = len(parts) == 3
            served = {"insert"} & view.verbs if on_records else {"update", "delete"} & view.verbs
            verb = WRITE_METHODS.get(method)
            if len(parts) == 2 or verb not in served:
                allow = "GET, HEAD" + "".join(f", {m}" for m, v in WRITE_METHODS.items() if v in served)
                raise Refusal(405, f"{method} is not served here for you", [(b"allow", allow.encode())])
            try:
                mcp_endpoint.check_http({k: v for k, v in headers.items() if k != "mcp-protocol-version"},
                                        scheme, self.origins)
            except mcp_endpoint.McpRefusal as refusal:
                raise Refusal(refusal.status, str(refusal)) from None
            values = None
            if verb != "delete":
                if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
                    raise Refusal(415, "a write is a JSON body (Content-Type: application/json)")
                try:
                    values = json.loads(body)
                except (ValueError, RecursionError):
                    raise Refusal(400, "the body is not JSON") from None
            key = None if on_records else parts[3]
            try:
                found = self._tool_write(app, view, verb, key, values)
            except writes.WriteRefused as refused:
                raise Refusal(refused.status, str(refused)) from None
            if found is None:
                raise Refusal(404, f"no record {str(key)[:80]!r} in {view.fullname}")
            return (201 if verb == "insert" else 200), found

        result: tuple[int, Any] = self._serve(work, headers.get("authorization"))
        return result

    # -- the change stream ----------------------------------------------------------------------
    async def _changes(self, name: str, authorization: str | None, receive: Any, send: Any) -> None:
        user = await self._run(self._watchable, name, authorization, executor=self.stream_executor)
        if self.streams >= change_stream.MAX_STREAMS:
            raise Refusal(503, "too many change streams open here: try again", [(b"retry-after", b"5")])
        if self.user_streams.get(user, 0) >= change_stream.MAX_STREAMS_PER_USER:
            raise Refusal(429, f"you have {change_stream.MAX_STREAMS_PER_USER} change streams open here already",
                          [(b"retry-after", b"5")])
        if self.changes.clashes(name):
            raise Refusal(409, f"{name}: another watched table has the same GenroPy change name")
        self.streams += 1  # counted before any wait, so concurrent subscribers cannot pass the limits
        self.user_streams[user] = self.user_streams.get(user, 0) + 1
        try:
            try:
                subscriber = await self.changes.subscribe(name)
            except FeedUnavailable as exc:
                raise Refusal(503, f"no change stream: {exc}", [(b"retry-after", b"5")]) from None
            try:
                async def describe(batches: list[Batch]) -> list[tuple[str, dict[str, Any]]]:
                    try:
                        described: list[tuple[str, dict[str, Any]]] = await self._run(
                            self._described, name, batches, authorization, executor=self.stream_executor)
                        return described
                    except Refusal as refusal:
                        raise change_stream.StreamEnded(str(refusal)) from None

                await change_stream.serve(send, receive, subscriber, describe, self.stopping)
            finally:
                await self.changes.unsubscribe(subscriber)
        finally:
            self.streams -= 1
            self.user_streams[user] -= 1
            if not self.user_streams[user]:
                del self.user_streams[user]

    def _watchable(self, name: str, authorization: str | None) -> str:
        def work(app: Any, views: dict[str, TableView], identity: Identity) -> str:
            view = self._view(views, name)
            if not broadcasts(dict(app.db.table(view.fullname).attributes)):
                raise Refusal(409, f"{view.fullname} does not broadcast its changes (GenroPy's broadcast=False)")
            return identity.user

        user: str = self._serve(work, authorization)
        return user

    def _described(self, name: str, batches: list[Batch],
                   authorization: str | None) -> list[tuple[str, dict[str, Any]]]:
        """The batches' changes of ``name`` as this client may see them now: its rights checked
        again (also for no batch), the records read through its view, once per batch and per set
        of rights however many streams share them."""
        def work(app: Any, views: dict[str, TableView], identity: Identity) -> list[tuple[str, dict[str, Any]]]:
            view = views.get(name)
            if view is None:
                raise Refusal(403, f"you may no longer read {name}")
            rights = (identity.user, identity.tags, identity.env, tuple(view.columns))
            described = []
            for batch in batches:
                key = (batch.number, name, rights)
                with self._lock:
                    found = self._described_batches.get(key)
                if found is None:
                    found = change_messages(app.db, view, [c for c in batch.changes if c.table == name])
                    with self._lock:
                        self._described_batches[key] = found
                        while len(self._described_batches) > DESCRIBED_BATCHES:
                            self._described_batches.popitem(last=False)
                described.extend(found)
            return described

        result: list[tuple[str, dict[str, Any]]] = self._serve(work, authorization)
        return result

    def _view(self, views: dict[str, TableView], name: str) -> TableView:
        view = views.get(name) if TABLE_NAME.match(name) else None
        if view is None:
            raise Refusal(404, f"no table {name[:80]!r} you may read")
        return view

    def _related_or_none(self, app: Any, views: dict[str, TableView], view: TableView, key: str,
                         column: str) -> dict[str, Any] | None:
        target = relation_target(view, column, views)
        return None if target is None else records.related_record(app.db, view, key, column, *target)

    def _query(self, app: Any, view: TableView, items: list[tuple[str, str]]) -> dict[str, Any]:
        try:
            spec = parse_query(items, view.column_types(), max_rows=self.max_rows)
        except QueryError as exc:
            raise Refusal(400, str(exc)) from None
        return records.list_records(app.db, view, spec)

    # -- MCP ----------------------------------------------------------------------------------
    async def _mcp(self, method: str, headers: dict[str, str], scheme: str, receive: Any, send: Any) -> None:
        try:
            mcp_endpoint.check_http(headers, scheme, self.origins)
        except mcp_endpoint.McpRefusal as refusal:
            raise Refusal(refusal.status, str(refusal)) from None
        if method != "POST":
            raise Refusal(405, "MCP here is stateless: POST only (no server stream)", [(b"allow", b"POST")])
        body = await read_body(receive, MCP_MAX_BODY)
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            await self._json(send, 400, mcp_endpoint.rpc_error(None, mcp_endpoint.PARSE_ERROR, "not JSON"))
            return
        response = await self._run(self._mcp_message, message, headers.get("authorization"))
        if response is None:
            await self._answer(send, 202, b"", "application/json")
            return
        await self._json(send, 200, response)

    def _mcp_message(self, message: Any, authorization: str | None) -> dict[str, Any] | None:
        def work(app: Any, views: dict[str, TableView], identity: Identity) -> Any:
            reader = mcp_endpoint.DataReader(
                views=views, query=lambda view, items: self._query_for_tool(app, view, items),
                get=lambda view, key: records.get_record(app.db, view, key),
                related=lambda view, key, column: self._related_or_none(app, views, view, key, column),
                write=(lambda verb, view, key, values: self._tool_write(app, view, verb, key, values))
                if self.writes else None)
            return mcp_endpoint.handle(message, reader, server_name="genropy-asgi data",
                                       server_version=__version__, max_rows=self.max_rows)

        answer: dict[str, Any] | None = self._serve(work, authorization)
        return answer

    def _tool_write(self, app: Any, view: TableView, verb: str, key: str | None,
                    values: Any) -> dict[str, Any] | None:
        """One write (REST or MCP): the values checked against the view, then GenroPy's method."""
        if verb == "insert":
            return writes.insert_record(app.db, view, writes.checked_values(view, values, verb))
        if verb == "update":
            return writes.update_record(app.db, view, str(key), writes.checked_values(view, values, verb))
        writes.require_verb(view, verb)
        return {"deleted": str(key)} if writes.delete_record(app.db, view, str(key)) else None

    def _query_for_tool(self, app: Any, view: TableView, items: list[tuple[str, str]]) -> dict[str, Any]:
        spec = parse_query(items, view.column_types(), max_rows=self.max_rows)
        return records.list_records(app.db, view, spec)

    # -- answers ------------------------------------------------------------------------------
    async def _json(self, send: Any, status: int, payload: Any,
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()  # ASCII: a lone surrogate echoed stays valid
        await self._answer(send, status, body, "application/json", headers)

    async def _answer(self, send: Any, status: int, body: bytes, content_type: str,
                      headers: list[tuple[bytes, bytes]] | None = None, cache: str | None = None) -> None:
        extra = [(k, v) for k, v in SECURITY_HEADERS if not (cache and k == b"cache-control")]
        if cache:
            extra.append((b"cache-control", cache.encode()))
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
            *extra, *(headers or [])]})
        await send({"type": "http.response.body", "body": body})


async def read_body(receive: Any, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refusal(400, "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Refusal(413, f"an MCP message is at most {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def change_messages(db: Any, view: TableView, changes: list[Change]) -> list[tuple[str, dict[str, Any]]]:
    """``changes`` of ``view``'s table as (event, payload): the record as the view shows it (one
    query for them all), the key only where the view shows the key column, an insert the view
    cannot see left out."""
    wanted = list(dict.fromkeys(c.pkey for c in changes if c.event != "delete" and c.pkey is not None))
    found = records.records_by_key(db, view, wanted) if wanted else {}
    key_shown = view.pkey in view.columns
    messages = []
    for change in changes:
        record = found.get(change.pkey) if change.event != "delete" else None
        if change.event == "insert" and record is None:
            continue
        payload: dict[str, Any] = {"table": view.fullname}
        if key_shown:
            payload["pkey"] = records.json_value(change.pkey)
            if change.old_pkey is not None and change.old_pkey != change.pkey:
                payload["old_pkey"] = records.json_value(change.old_pkey)
        payload["record"] = record
        messages.append((change.event, payload))
    return messages
