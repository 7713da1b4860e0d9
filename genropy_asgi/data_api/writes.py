"""The bridge's writes, through GenroPy's own table methods (``insert``, ``recordToUpdate``,
``delete``), so the tables' triggers, protections and validations run as on GenroPy's pages.

Blocking: call from a worker thread inside ``records.database_session`` (the user's environment:
GenroPy records who inserted). Each write is committed on its own; a refusal by GenroPy (a
protection, a validation, the database) rolls back and is a ``WriteRefused`` (409) with GenroPy's
one line, never a trace. Values are checked against the view before GenroPy sees them: only the
columns the user may write, each parsed by its GenroPy type.
"""

from __future__ import annotations

import decimal
import logging
from typing import Any

from genropy_asgi.data_api.exposure import TableView
from genropy_asgi.data_api.query_params import FLOAT_TYPES, INTEGER_TYPES, TEXT_TYPES, QueryError, parse_value
from genropy_asgi.data_api.records import get_record

logger = logging.getLogger("genropy_asgi")

MAX_TEXT = 1_000_000


class WriteRefused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


def require_verb(view: TableView, verb: str) -> None:
    if verb not in view.verbs:
        raise WriteRefused(403, f"{view.fullname}: you may not {verb} here")


def checked_values(view: TableView, body: Any, verb: str) -> dict[str, Any]:
    """The body's columns as GenroPy values; ``WriteRefused(400)`` naming what is wrong."""
    require_verb(view, verb)
    if not isinstance(body, dict) or (verb == "update" and not body):
        raise WriteRefused(400, "expected a JSON object of columns and values")
    values = {}
    for name, value in body.items():
        if not isinstance(name, str) or name not in view.writable:
            raise WriteRefused(400, f"{str(name)[:60]!r} is not a column you may write in {view.fullname}")
        column = view.columns[name]
        values[name] = column_value(name, column.dtype, value, column.max_length or MAX_TEXT)
    return values


def column_value(name: str, dtype: str, value: Any, max_length: int = MAX_TEXT) -> Any:
    if value is None:
        return None
    kind = "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__
    if dtype == "B":
        if isinstance(value, bool):
            return value
    elif dtype in INTEGER_TYPES:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif dtype in FLOAT_TYPES:
        if kind == "number":
            return float(value)
    elif dtype == "N":
        if kind == "number" or isinstance(value, str):
            try:
                number = decimal.Decimal(str(value))
            except decimal.InvalidOperation:
                raise WriteRefused(400, f"{name}: {str(value)[:40]!r} is not a decimal") from None
            if number.is_finite():
                return number
    elif dtype in TEXT_TYPES:
        if isinstance(value, str) and len(value) <= max_length and "\x00" not in value:
            return value
        if isinstance(value, str) and len(value) > max_length:
            raise WriteRefused(400, f"{name}: at most {max_length} characters")
    elif isinstance(value, str) and dtype in ("D", "DH", "DHZ", "DT", "H"):
        try:
            return parse_value(name, dtype, value)
        except QueryError as exc:
            raise WriteRefused(400, str(exc)) from None
    else:
        raise WriteRefused(400, f"{name}: a column of type {dtype} is not written through the data API")
    raise WriteRefused(400, f"{name}: a {kind} is not a valid value for a column of type {dtype}")


def refused_by_genropy(exc: Exception) -> WriteRefused:
    """GenroPy's own refusals (``protect_delete``, ``protect_update``, ``protect_validate``: written
    for users) say their line; anything else (a database constraint naming tables, columns and values the user
    may not see) is logged and answered without detail."""
    from gnr.sql.gnrsqltable import (
        GnrSqlProtectDeleteException,
        GnrSqlProtectUpdateException,
        GnrSqlProtectValidateException,
    )

    if isinstance(exc, (GnrSqlProtectDeleteException, GnrSqlProtectUpdateException, GnrSqlProtectValidateException)):
        text = " ".join(str(exc).split()) or type(exc).__name__
        return WriteRefused(409, f"GenroPy refused the change: {text[:300]}")
    logger.warning("data bridge: a write refused by the database: %s: %s", type(exc).__name__, exc)
    return WriteRefused(409, "the database refused the change")


def insert_record(db: Any, view: TableView, values: dict[str, Any]) -> dict[str, Any]:
    table = db.table(view.fullname)
    try:
        record = table.newrecord(**values)
        table.insert(record)
        db.commit()
    except Exception as exc:
        db.rollback()
        raise refused_by_genropy(exc) from exc
    created = get_record(db, view, str(record[view.pkey]))
    if created is None:  # a trigger made it invisible to this user (or deleted): say what was stored
        return {view.pkey: record[view.pkey]}
    return created


def update_record(db: Any, view: TableView, key: str, values: dict[str, Any]) -> dict[str, Any] | None:
    current = get_record(db, view, key)
    if current is None:
        return None
    try:
        with db.table(view.fullname).recordToUpdate(pkey=current[view.pkey]) as record:
            for name, value in values.items():
                record[name] = value
        db.commit()
    except Exception as exc:
        db.rollback()
        raise refused_by_genropy(exc) from exc
    return get_record(db, view, key) or {view.pkey: current[view.pkey]}


def delete_record(db: Any, view: TableView, key: str) -> bool:
    current = get_record(db, view, key)
    if current is None:
        return False
    table = db.table(view.fullname)
    try:
        record = table.record(pkey=current[view.pkey], for_update=True).output("dict")
        table.delete(record)
        db.commit()
    except Exception as exc:
        db.rollback()
        raise refused_by_genropy(exc) from exc
    return True
