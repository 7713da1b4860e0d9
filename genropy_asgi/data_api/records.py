"""The bridge's reads, through GenroPy's own table API, as JSON-ready values.

Blocking: call from a worker thread inside ``database_session``, which opens GenroPy's
environment for the user and closes the thread's connections whatever happens, so a pooled
worker thread never keeps one open. Logically deleted and draft records are left out, as
GenroPy's own pages do.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from genropy_asgi.data_api.exposure import TableView
from genropy_asgi.data_api.identity import Identity
from genropy_asgi.data_api.query_params import QueryError, QuerySpec, bound, parse_value

STATEMENT_SECONDS = 30
"""On PostgreSQL, a statement of the bridge running longer is cancelled (``statement_timeout``):
a costly query holds one of the bridge's threads for this long at most."""
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout


@contextmanager
def database_session(db: Any, identity: Identity | None) -> Iterator[None]:
    """A fresh GenroPy environment on this thread for ``identity`` (nothing of an earlier request:
    GenroPy keeps caches such as adm's authentication in it), cleared again and the thread's
    connections closed after, whatever happens. On PostgreSQL the connection's statements are
    bounded (``STATEMENT_SECONDS``)."""
    db.clearCurrentEnv()
    if identity is not None:
        db.updateEnv(**dict(identity.env))  # as a page does from its avatar (user_id, group_code...)
        db.updateEnv(user=identity.user, userTags=identity.tags,
                     _user_conf_expirebag=ConfigurationsExpire(CONFIGURATION_SECONDS))
    try:
        if str(getattr(db, "implementation", "")).startswith("postgres"):
            cursor = db.connection.cursor()  # the driver's own (GenroPy's execute adds the environment)
            cursor.execute(f"SET statement_timeout = {STATEMENT_SECONDS * 1000}")
            cursor.close()
        yield
    finally:
        db.clearCurrentEnv()
        db.closeConnection()


def timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is PostgreSQL cancelling a statement for its time."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "pgcode", None) == QUERY_CANCELED or getattr(seen, "sqlstate", None) == QUERY_CANCELED:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


CONFIGURATION_SECONDS = 30.0
"""A change to a user's GenroPy table configuration (adm.user_config) shows within this time."""


class ConfigurationsExpire:
    """GenroPy's ``_user_conf_expirebag`` (pages take it from the site's global store): every
    table's cached user configuration counts as expired once older than ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __getitem__(self, table: str) -> datetime.datetime:
        return datetime.datetime.now() - datetime.timedelta(seconds=self.seconds)


def query_options(view: TableView) -> dict[str, Any]:
    return {"columns": ",".join(f"${name}" for name in view.columns), "addPkeyColumn": False,
            "excludeLogicalDeleted": True, "excludeDraft": True}


def list_records(db: Any, view: TableView, spec: QuerySpec) -> dict[str, Any]:
    where, params = spec.where()
    table = db.table(view.fullname)
    rows = table.query(where=where, order_by=spec.order_by(view.pkey), limit=spec.limit + 1,
                       offset=spec.offset, **query_options(view), **params).fetch()
    more = len(rows) > spec.limit
    result: dict[str, Any] = {
        "rows": records_json(view, rows[:spec.limit]),
        "limit": spec.limit, "offset": spec.offset,
        "next_offset": spec.offset + spec.limit if more else None,
    }
    if spec.count:
        result["total"] = table.query(where=where, excludeLogicalDeleted=True, excludeDraft=True,
                                      **params).count()
    return result


def primary_key(view: TableView, raw_key: str) -> Any:
    """``raw_key`` (a path segment) parsed by the type of the view's key; ``None`` when it cannot be
    one (or the user does not see the key)."""
    key_column = view.columns.get(view.pkey)
    if key_column is None:
        return None
    try:
        return parse_value("primary key", key_column.dtype, raw_key)
    except QueryError:
        return None


def get_record(db: Any, view: TableView, raw_key: str) -> dict[str, Any] | None:
    key = primary_key(view, raw_key)
    if key is None:
        return None
    rows = first_row(db, view, view.pkey, key)
    return records_json(view, rows)[0] if rows else None


KEYS_PER_QUERY = 200


def records_by_key(db: Any, view: TableView, keys: list[Any]) -> dict[Any, dict[str, Any]]:
    """The records of ``keys`` (GenroPy's own values) the user sees, by key: a query per
    ``KEYS_PER_QUERY`` keys, each key bound on its own."""
    found: dict[Any, dict[str, Any]] = {}
    options = query_options(view)
    if view.pkey not in view.columns:  # to know which record is which (never shown)
        options["columns"] += f",${view.pkey}"
    for start in range(0, len(keys), KEYS_PER_QUERY):
        placeholders, params = [], {}
        for number, key in enumerate(keys[start:start + KEYS_PER_QUERY]):
            placeholder, params[f"k{number}"] = bound(f"k{number}", key)
            placeholders.append(placeholder)
        rows = db.table(view.fullname).query(where=f"${view.pkey} IN ({', '.join(placeholders)})",
                                             **options, **params).fetch()
        for row, record in zip(rows, records_json(view, rows), strict=True):
            found[row[view.pkey]] = record
    return found


def related_record(db: Any, view: TableView, raw_key: str, column: str, target: TableView,
                   target_column: str) -> dict[str, Any] | None:
    """The record of ``target`` that the foreign key ``column`` of one record of ``view`` points
    at (``exposure.relation_target`` decided the user may follow it); ``None`` when either is not
    there."""
    key = primary_key(view, raw_key)
    if key is None:
        return None
    placeholder, key = bound("key", key)
    rows = db.table(view.fullname).query(where=f"${view.pkey} = {placeholder}", key=key, limit=1,
                                         columns=f"${column}", addPkeyColumn=False,
                                         excludeLogicalDeleted=True, excludeDraft=True).fetch()
    if not rows or rows[0][0] is None:
        return None
    found = first_row(db, target, target_column, rows[0][0])
    return records_json(target, found)[0] if found else None


def first_row(db: Any, view: TableView, column: str, value: Any) -> list[Any]:
    placeholder, value = bound("match", value)
    rows: list[Any] = db.table(view.fullname).query(where=f"${column} = {placeholder}", match=value, limit=1,
                                                    **query_options(view)).fetch()
    return rows


def records_json(view: TableView, rows: list[Any]) -> list[dict[str, Any]]:
    """GenroPy's fetched rows as JSON objects of the view's columns, each value by its column's
    type (one converter per column, chosen once per result)."""
    if not rows:
        return []
    names = list(rows[0].keys())
    plan = [(name, names.index(name), converter(column.dtype)) for name, column in view.columns.items()]
    out = []
    for row in rows:
        values = tuple(row)
        out.append({name: convert(values[index]) for name, index, convert in plan})
    return out


def converter(dtype: str) -> Any:
    """A cell of type ``dtype`` as JSON (``None`` stays ``None``; SQLite hands booleans back as 0/1)."""
    def nullable(function: Any) -> Any:
        return lambda value: None if value is None else function(value)

    if dtype == "B":
        return nullable(bool)
    if dtype in ("L", "I"):
        return nullable(int)
    if dtype in ("R", "F"):
        return nullable(float)
    if dtype in ("T", "A", "C", "P", "TEXT"):
        return lambda value: value if value is None or isinstance(value, str) else json_value(value)
    if dtype == "DHZ":
        return nullable(lambda value: json_value(value.replace(tzinfo=datetime.UTC)
                                                 if isinstance(value, datetime.datetime) and value.tzinfo is None
                                                 else value))  # GenroPy keeps DHZ in UTC
    return json_value


def json_value(value: Any) -> Any:
    """GenroPy's values as JSON: decimals as strings (exact), dates and times ISO 8601, Bags as
    GenroPy's own JSON."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    as_dict = getattr(value, "asDict", None)
    if callable(as_dict):
        return json_value(as_dict(ascii=True, lower=False))
    return str(value)
