"""The OpenAPI 3.1 document of what one user sees, generated from GenroPy's model (pure).

One schema per table (``components.schemas["pkg.table"]``), one path per read: the list with
its typed filters, one record by primary key. Nullable columns are ``[type, "null"]`` (3.1);
GenroPy's Bags and JSON columns accept any JSON value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from genropy_asgi.data_api.exposure import ColumnFact, TableView, relation_target
from genropy_asgi.data_api.query_params import (
    DATETIME_TYPES,
    FLOAT_TYPES,
    INTEGER_TYPES,
    TEXT_TYPES,
    VALUE_PARSERS,
)
from genropy_asgi.data_api.writes import MAX_TEXT

ANY_JSON_TYPES = frozenset({"X", "BAG", "JS"})
ORDERED_TYPES = INTEGER_TYPES | FLOAT_TYPES | DATETIME_TYPES | {"N", "D", "H"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}


LOCAL_DATETIME_TYPES = frozenset({"DH", "DT"})
LOCAL_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$"
"""GenroPy's ``DH``/``DT`` have no offset: not RFC 3339's ``date-time``, a pattern instead."""
PATH_SEGMENT = r"^[^\x00-\x1f\x7f/]+$"
"""What a primary key in the path may be (the server's path rule refuses control characters)."""


def column_schema(column: ColumnFact, readable: Collection[str] = ()) -> dict[str, Any]:
    """A column's JSON schema; ``x-references`` only when the user may read that table too."""
    if column.dtype in ANY_JSON_TYPES:
        schema: dict[str, Any] = {}
    else:
        schema = {"type": [column.openapi_type, "null"] if column.nullable else column.openapi_type}
        if column.dtype in LOCAL_DATETIME_TYPES:
            schema["pattern"] = LOCAL_DATETIME
            schema["x-format"] = "local date-time (no offset)"
        elif column.openapi_format:
            schema["format"] = column.openapi_format
    if column.description:
        schema["description"] = column.description
    if column.read_only:
        schema["readOnly"] = True
    if column.references and column.references in readable:
        schema["x-references"] = column.references
    return schema


def value_schema(column: ColumnFact) -> dict[str, Any]:
    """The schema of a filter value (a query-string parameter) for ``column``."""
    if column.dtype in INTEGER_TYPES:
        return {"type": "integer"}
    if column.dtype in FLOAT_TYPES:
        return {"type": "number"}
    if column.dtype == "B":
        return {"type": "boolean"}
    schema: dict[str, Any] = {"type": "string"}
    if column.dtype in LOCAL_DATETIME_TYPES:
        schema["format"] = "date-time"  # an offset is taken to UTC; a local form is accepted too
    elif column.openapi_format in ("date", "date-time", "time"):
        schema["format"] = column.openapi_format
    elif column.dtype in TEXT_TYPES:
        schema["pattern"] = r"^[^\x00]*$"  # NUL never reaches a database
    if column.dtype == "N":
        schema["pattern"] = r"^-?[0-9]+(\.[0-9]+)?$"
    return schema


def filter_parameters(view: TableView) -> list[dict[str, Any]]:
    parameters = []
    for column in view.columns.values():
        if column.dtype not in VALUE_PARSERS:
            continue
        operators = ["", "__ne"]
        if column.dtype in ORDERED_TYPES:
            operators += ["__lt", "__lte", "__gt", "__gte"]
        if column.dtype in TEXT_TYPES:
            operators += ["__contains", "__startswith"]
        for operator in operators:
            parameters.append({"name": f"{column.name}{operator}", "in": "query", "required": False,
                               "schema": value_schema(column)})
        parameters.append({"name": f"{column.name}__isnull", "in": "query", "required": False,
                           "schema": {"type": "boolean"}})
    return parameters


def list_parameters(view: TableView, max_rows: int) -> list[dict[str, Any]]:
    names = "|".join(name for name in view.columns if view.columns[name].dtype in VALUE_PARSERS)
    order_pattern = f"^-?({names})(,-?({names}))*$" if names else "^$"
    return [
        *filter_parameters(view),
        {"name": "_order", "in": "query", "required": False, "description": "columns, `-` for descending",
         "schema": {"type": "string", "pattern": order_pattern}},
        {"name": "_limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": max_rows}},
        {"name": "_offset", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 0, "maximum": 10**9}},
        {"name": "_count", "in": "query", "required": False, "schema": {"type": "boolean"}},
    ]


def refusals(*codes: int) -> dict[str, Any]:
    words = {400: "the request cannot be used (the query string, the path or the body)",
             401: "no or wrong credentials", 403: "not yours to write (or another origin's page)",
             404: "no such table or record (or not yours to read)",
             409: "GenroPy refused the change (a protection, a validation, the database)",
             413: "the body is too large", 415: "the body is not application/json"}
    answers: dict[str, Any] = {
        str(code): {"description": words[code], "content": {"application/json": {"schema": ERROR_REF}}}
        for code in codes}
    for code in (400, 404):  # the server's path and header rules answer before the bridge, in plain text
        if code in codes:
            answers[str(code)]["content"]["text/plain"] = {"schema": {"type": "string"}}
    return answers


def json_answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def write_schema(view: TableView) -> dict[str, Any]:
    """The columns one user may write, as a request body (no other key accepted)."""
    properties = {}
    for column in sorted(view.writable):
        fact = view.columns[column]
        schema = write_value_schema(fact)
        if fact.description:
            schema["description"] = fact.description
        properties[column] = schema
    return {"type": "object", "properties": properties, "additionalProperties": False}


def write_value_schema(column: ColumnFact) -> dict[str, Any]:
    if column.dtype in INTEGER_TYPES:
        kind: dict[str, Any] = {"type": "integer"}
    elif column.dtype in FLOAT_TYPES:
        kind = {"type": "number"}
    elif column.dtype == "B":
        kind = {"type": "boolean"}
    elif column.dtype == "N":  # exact as text; a JSON number is taken too
        kind = {"type": ["string", "number"], "pattern": r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$"}
    elif column.dtype in TEXT_TYPES:
        kind = {"type": "string", "pattern": r"^[^\x00]*$", "maxLength": column.max_length or MAX_TEXT}
    else:
        kind = value_schema(column)
    if column.nullable:
        kind["type"] = [*kind["type"], "null"] if isinstance(kind["type"], list) else [kind["type"], "null"]
    return kind


def write_body(name: str, update: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{name}.write"}
    if update:
        schema = {"allOf": [schema, {"minProperties": 1}]}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def document(views: Mapping[str, TableView], *, title: str, version: str, server_url: str,
             max_rows: int) -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        "TableSummary": {"type": "object", "required": ["name", "primary_key"], "properties": {
            "name": {"type": "string"}, "title": {"type": ["string", "null"]},
            "primary_key": {"type": "string"}}},
    }
    paths: dict[str, Any] = {
        "/tables": {"get": {"operationId": "list_tables", "summary": "The tables you may read",
                            "responses": {"200": json_answer("tables", {
                                "type": "array", "items": {"$ref": "#/components/schemas/TableSummary"}}),
                                **refusals(401)}}},
    }
    for name, view in sorted(views.items()):
        schemas[name] = {"type": "object", "title": view.title or name,
                         "properties": {column: column_schema(fact, views) for column, fact in view.columns.items()}}
        ref = {"$ref": f"#/components/schemas/{name}"}
        operation = name.replace(".", "_")
        paths[f"/tables/{name}/records"] = {"get": {
            "operationId": f"list_{operation}", "summary": f"Records of {view.title or name}",
            "tags": [name.split(".", 1)[0]], "parameters": list_parameters(view, max_rows),
            "responses": {"200": json_answer("a page of records", {
                "type": "object", "required": ["rows", "limit", "offset", "next_offset"],
                "properties": {"rows": {"type": "array", "items": ref}, "limit": {"type": "integer"},
                               "offset": {"type": "integer"}, "next_offset": {"type": ["integer", "null"]},
                               "total": {"type": "integer"}}}),
                **refusals(400, 401)}}}
        tag = [name.split(".", 1)[0]]
        if "insert" in view.verbs:
            schemas[f"{name}.write"] = write_schema(view)
            paths[f"/tables/{name}/records"]["post"] = {
                "operationId": f"insert_{operation}", "summary": f"A new record of {view.title or name}",
                "tags": tag, "requestBody": write_body(name),
                "responses": {"201": json_answer("the record as stored", ref),
                              **refusals(400, 401, 403, 409, 413, 415)}}
        key = view.columns.get(view.pkey)
        if key is not None and key.dtype in VALUE_PARSERS:
            record_path: dict[str, Any] = {
                "parameters": [{"name": "pkey", "in": "path", "required": True,
                                "schema": {**value_schema(key), **({"pattern": PATH_SEGMENT}
                                                                   if key.dtype in TEXT_TYPES else {})}}],
                "get": {"operationId": f"get_{operation}", "summary": f"One record of {view.title or name}",
                        "tags": tag, "responses": {"200": json_answer("the record", ref), **refusals(400, 401, 404)}}}
            if "update" in view.verbs:
                schemas[f"{name}.write"] = write_schema(view)
                record_path["patch"] = {
                    "operationId": f"update_{operation}", "summary": f"Change a record of {view.title or name}",
                    "tags": tag, "requestBody": write_body(name, update=True),
                    "responses": {"200": json_answer("the record as stored", ref),
                                  **refusals(400, 401, 403, 404, 409, 413, 415)}}
            if "delete" in view.verbs:
                record_path["delete"] = {
                    "operationId": f"delete_{operation}", "summary": f"Delete a record of {view.title or name}",
                    "tags": tag, "responses": {"200": json_answer("deleted", {
                        "type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "string"}}}),
                        **refusals(400, 401, 403, 404, 409)}}
            paths[f"/tables/{name}/records/{{pkey}}"] = record_path
            for column in sorted(view.columns):
                target = relation_target(view, column, views)
                if target is None:
                    continue
                paths[f"/tables/{name}/records/{{pkey}}/{column}"] = {
                    "parameters": record_path["parameters"],
                    "get": {"operationId": f"get_{operation}__{column}",  # __: apart from the tables' ids
                            "summary": f"The {target[0].title or target[0].fullname} that {column} points at",
                            "tags": tag, "responses": {
                                "200": json_answer("the related record", {"$ref": f"#/components/schemas/{target[0].fullname}"}),
                                **refusals(400, 401, 404)}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "The tables of this GenroPy site that your account may read."},
        "servers": [{"url": server_url}],
        "security": [{"basic": []}, {"bearer": []}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "basic": {"type": "http", "scheme": "basic", "description": "a GenroPy login"},
            "bearer": {"type": "http", "scheme": "bearer", "description": "a GenroPy API token (adm.api_token)"}}},
    }
