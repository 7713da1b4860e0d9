"""The bridge's reads as MCP tools: JSON-RPC 2.0 over Streamable HTTP, stateless, JSON answers.

The HTTP rules of the MCP specification (2025-11-25, also 2025-06-18 and 2025-03-26) are checked
by ``check_http`` before a message is read: a browser ``Origin`` must be allowed (DNS rebinding),
an ``MCP-Protocol-Version`` header must name a version served here. The caller is authenticated
like every REST call (GenroPy's Basic or its API tokens). No session: every POST stands alone,
there is no server-to-client stream (``GET`` is 405).

Tools: ``list_tables``, ``describe_table``, ``query_table``, ``get_record``, ``get_related_record``
(where a foreign key leads, gated like REST) and, where the caller
may write, ``insert_record``, ``update_record``, ``delete_record``; their ``table`` argument lists
only the tables the caller may read (or write), so a tool is never offered over data it cannot
reach. Unknown arguments are refused, never passed on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from genropy_asgi.asgi.websocket_policy import WebSocketLimits, handshake_refusal
from genropy_asgi.data_api.exposure import TableView
from genropy_asgi.data_api.openapi_document import column_schema
from genropy_asgi.data_api.query_params import QueryError
from genropy_asgi.data_api.writes import WriteRefused

PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
"""Served protocol versions, newest first (the one offered when a client asks for another)."""
DEFAULT_HEADER_VERSION = "2025-03-26"  # what a missing header means (the specification's rule)

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602


class McpRefusal(Exception):
    """An HTTP-level refusal: ``status`` and a short text."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


def check_http(headers: Mapping[str, str], scheme: str, limits: WebSocketLimits) -> None:
    """Raise ``McpRefusal`` for a request the specification says to refuse. A browser's
    ``Origin`` must be the site's own or one of ``GENROPY_ALLOWED_ORIGINS`` -- the rule of
    GenroPy's websocket, one policy for both."""
    refusal = handshake_refusal(headers, scheme, limits)
    if refusal is not None:
        raise McpRefusal(403, refusal)
    version = headers.get("mcp-protocol-version")
    if version is not None and version not in PROTOCOL_VERSIONS:
        raise McpRefusal(400, f"unsupported MCP-Protocol-Version {version[:40]!r} "
                              f"(served: {', '.join(PROTOCOL_VERSIONS)})")


@dataclass
class DataReader:
    """What the tools read and write, for one caller (built by the application, blocking calls)."""

    views: Mapping[str, TableView]
    query: Callable[[TableView, list[tuple[str, str]]], dict[str, Any]]
    get: Callable[[TableView, str], dict[str, Any] | None]
    related: Callable[[TableView, str, str], dict[str, Any] | None] | None = None
    write: Callable[[str, TableView, str | None, Any], dict[str, Any] | None] | None = None


def write_tools(views: Mapping[str, TableView]) -> list[dict[str, Any]]:
    """Insert, update and delete tools, each offered only when some table lets this caller."""
    tools = []
    for verb, title, extra in (("insert", "Insert a record", {}),
                               ("update", "Update a record", {"pkey": {"type": ["string", "integer"]}}),
                               ("delete", "Delete a record", {"pkey": {"type": ["string", "integer"]}})):
        tables = sorted(name for name, view in views.items() if verb in view.verbs)
        if not tables:
            continue
        properties: dict[str, Any] = {"table": {"type": "string", "enum": tables}, **extra}
        if verb != "delete":
            properties["values"] = {"type": "object", "description": "column: value (the columns you may write)"}
        tools.append({"name": f"{verb}_record", "title": title,
                      "description": f"{title} through GenroPy's own table methods (triggers and protections run).",
                      "inputSchema": {"type": "object", "properties": properties, "required": sorted(properties),
                                      "additionalProperties": False},
                      "annotations": {"readOnlyHint": False, "destructiveHint": verb != "insert",
                                      "idempotentHint": verb == "delete", "openWorldHint": False}})
    return tools


def tool_definitions(views: Mapping[str, TableView], max_rows: int) -> list[dict[str, Any]]:
    table = {"type": "string", "enum": sorted(views), "description": "a table, as package.table"}
    read_only = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}
    return [
        {"name": "list_tables", "title": "List tables", "description": "The tables you may read.",
         "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
         "annotations": read_only},
        {"name": "describe_table", "title": "Describe a table",
         "description": "A table's columns you may read, with their JSON types.",
         "inputSchema": {"type": "object", "properties": {"table": table}, "required": ["table"],
                         "additionalProperties": False}, "annotations": read_only},
        {"name": "query_table", "title": "Query a table",
         "description": "Records of a table. filters: {column: value} or {column__op: value}, op one of "
                        "eq ne lt lte gt gte contains startswith in isnull (in: comma-separated values); "
                        "order: columns, '-' for descending; limit, offset; count: also the total.",
         "inputSchema": {"type": "object", "properties": {
             "table": table,
             "filters": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
             "order": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": max_rows},
             "offset": {"type": "integer", "minimum": 0}, "count": {"type": "boolean"}},
             "required": ["table"], "additionalProperties": False}, "annotations": read_only},
        {"name": "get_record", "title": "Get a record", "description": "One record by its primary key.",
         "inputSchema": {"type": "object", "properties": {"table": table, "pkey": {"type": ["string", "integer"]}},
                         "required": ["table", "pkey"], "additionalProperties": False},
         "annotations": read_only},
        {"name": "get_related_record", "title": "Follow a foreign key",
         "description": "The record that a foreign-key column of one record points at (describe_table shows "
                        "them as x-references).",
         "inputSchema": {"type": "object", "properties": {"table": table, "pkey": {"type": ["string", "integer"]},
                                                          "column": {"type": "string"}},
                         "required": ["column", "pkey", "table"], "additionalProperties": False},
         "annotations": read_only},
        *write_tools(views),
    ]


def handle(message: Any, reader: DataReader, *, server_name: str, server_version: str,
           max_rows: int) -> dict[str, Any] | None:
    """One JSON-RPC message -> its response (``None`` for a notification or a response)."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return rpc_error(None, INVALID_REQUEST, "expected one JSON-RPC 2.0 message")
    method = message.get("method")
    if "id" not in message:
        return None  # a notification (notifications/initialized...) or a client's response
    request_id = message["id"]
    if not isinstance(request_id, (str, int)) or isinstance(request_id, bool):
        return rpc_error(None, INVALID_REQUEST, "id must be a string or an integer")
    if not isinstance(method, str):
        return rpc_error(request_id, INVALID_REQUEST, "method must be a string")
    params = message.get("params") or {}
    if not isinstance(params, dict):
        return rpc_error(request_id, INVALID_PARAMS, "params must be an object")
    if method == "initialize":
        asked = params.get("protocolVersion")
        version = asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
        return rpc_result(request_id, {
            "protocolVersion": version, "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": server_name, "version": server_version},
            "instructions": "Read-only access to the GenroPy tables your account may read."})
    if method == "ping":
        return rpc_result(request_id, {})
    if method == "tools/list":
        return rpc_result(request_id, {"tools": tool_definitions(reader.views, max_rows)})
    if method == "tools/call":
        return call_tool(request_id, params, reader, max_rows)
    return rpc_error(request_id, METHOD_NOT_FOUND, f"method {method[:60]!r} is not served")


def call_tool(request_id: Any, params: dict[str, Any], reader: DataReader, max_rows: int) -> dict[str, Any]:
    name = params.get("name")
    arguments = params.get("arguments") or {}
    definitions = {tool["name"]: tool for tool in tool_definitions(reader.views, max_rows)}
    if name not in definitions:
        return rpc_error(request_id, INVALID_PARAMS, f"unknown tool {str(name)[:60]!r}")
    if not isinstance(arguments, dict):
        return rpc_error(request_id, INVALID_PARAMS, "arguments must be an object")
    schema = definitions[name]["inputSchema"]
    unknown = sorted(set(arguments) - set(schema["properties"]))
    if unknown:
        return rpc_error(request_id, INVALID_PARAMS, f"{name}: unknown argument {unknown[0][:40]!r}")
    missing = [key for key in schema.get("required", ()) if key not in arguments]
    if missing:
        return rpc_error(request_id, INVALID_PARAMS, f"{name}: missing argument {missing[0]!r}")
    try:
        outcome = run_tool(str(name), arguments, reader)
    except (QueryError, WriteRefused, LookupError, TypeError, ValueError, ArithmeticError) as exc:
        return rpc_result(request_id, {"content": [{"type": "text", "text": str(exc)}], "isError": True})
    return rpc_result(request_id, {"content": [{"type": "text", "text": json.dumps(outcome)}],
                                   "structuredContent": outcome, "isError": False})


def run_tool(name: str, arguments: dict[str, Any], reader: DataReader) -> dict[str, Any]:
    if name == "list_tables":
        return {"tables": [{"name": view.fullname, "title": view.title, "primary_key": view.pkey}
                           for view in sorted(reader.views.values(), key=lambda v: v.fullname)]}
    view = reader.views.get(str(arguments["table"]))
    if view is None:
        raise LookupError(f"no table {str(arguments['table'])[:80]!r} you may read")
    if name == "describe_table":
        return {"name": view.fullname, "title": view.title, "primary_key": view.pkey,
                "columns": {column: column_schema(fact, reader.views) for column, fact in view.columns.items()}}
    if name in ("insert_record", "update_record", "delete_record") and reader.write is not None:
        verb = name.split("_")[0]
        key = str(arguments["pkey"]) if "pkey" in arguments else None
        done = reader.write(verb, view, key, arguments.get("values"))
        if done is None:
            raise LookupError(f"no record {str(key)[:80]!r} in {view.fullname}")
        return {"record": done} if verb != "delete" else done
    if name == "get_related_record" and reader.related is not None:
        record = reader.related(view, str(arguments["pkey"]), str(arguments["column"]))
        if record is None:
            raise LookupError(f"no record that {str(arguments['column'])[:80]!r} of {str(arguments['pkey'])[:80]!r} "
                              f"in {view.fullname} points at and you may read")
        return {"record": record}
    if name == "get_record":
        record = reader.get(view, str(arguments["pkey"]))
        if record is None:
            raise LookupError(f"no record {str(arguments['pkey'])[:80]!r} in {view.fullname}")
        return {"record": record}
    items = query_items(arguments)
    return reader.query(view, items)


def query_items(arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """The tool's arguments as the REST query string's pairs (one parser for both)."""
    filters = arguments.get("filters") or {}
    if not isinstance(filters, dict):
        raise TypeError("filters must be an object")
    items = [(str(key), scalar_text(key, value)) for key, value in filters.items()]
    reserved = key_of_reserved(items)
    if reserved:
        raise QueryError(f"filters: {reserved[:40]} is not a column")
    for key in ("order", "limit", "offset", "count"):
        if key in arguments and arguments[key] is not None:
            items.append((f"_{key}", scalar_text(key, arguments[key])))
    return items


def key_of_reserved(items: list[tuple[str, str]]) -> str:
    return next((key for key, _ in items if key.startswith("_")), "")


def scalar_text(key: Any, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TypeError(f"{str(key)[:40]}: expected a string, number or boolean")


def rpc_result(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def rpc_error(request_id: Any, code: int, text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": text}}
