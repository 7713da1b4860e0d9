"""A request's query string -> a checked ``QuerySpec`` (pure: no database, no GenroPy).

Filters are ``column=value`` (equals) or ``column__op=value``; ``_order`` (``col`` or ``-col``,
comma-separated), ``_limit``, ``_offset`` and ``_count`` (``true``: the total as well) steer the
selection. Every column named must be one the caller may read; every value is parsed by the
column's GenroPy type and reaches SQL only as a bound parameter. What cannot be parsed is a
``QueryError`` naming the parameter.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

OPERATORS = {
    "eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=",
    "contains": "ILIKE", "startswith": "ILIKE", "in": "IN", "isnull": "IS NULL",
}
"""Filter operators (``column__op``) and the SQL each becomes; values are always bound."""
TEXT_ONLY = frozenset({"contains", "startswith"})
RESERVED = frozenset({"_order", "_limit", "_offset", "_count"})
MAX_IN_VALUES = 100
COLUMN_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z", re.IGNORECASE)

TEXT_TYPES = frozenset({"T", "A", "C", "P", "TEXT"})
INTEGER_TYPES = frozenset({"L", "I"})
FLOAT_TYPES = frozenset({"R", "F"})
DATETIME_TYPES = frozenset({"DH", "DHZ", "DT"})
TRUE_WORDS, FALSE_WORDS = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})


class QueryError(ValueError):
    """A query string the caller must fix; ``str(exc)`` names the parameter (an HTTP 400)."""


@dataclass(frozen=True)
class Condition:
    column: str
    operator: str  # a key of OPERATORS
    value: Any


@dataclass(frozen=True)
class QuerySpec:
    conditions: tuple[Condition, ...] = ()
    order: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    limit: int = 100
    offset: int = 0
    count: bool = False
    columns: tuple[str, ...] = field(default=())

    def where(self) -> tuple[str | None, dict[str, Any]]:
        """GenroPy's ``where`` with placeholders, and their values. A text value is bound behind a
        leading space that SQL strips (``SUBSTR(:p, 2)``): GenroPy pastes a parameter whose text
        starts with ``$column`` or ``@relation`` into the SQL as a field reference
        (``embedFieldPars``); no client text may ever start that way."""
        clauses, params = [], {}
        for index, condition in enumerate(self.conditions):
            name, column = f"p{index}x", f"${condition.column}"  # GenroPy expands a list p1x as p1x0, p1x1...
            if condition.operator == "isnull":
                clauses.append(f"{column} IS NULL" if condition.value else f"{column} IS NOT NULL")
                continue
            if condition.operator == "in":
                clauses.append(f"{column} IN :{name}")
                params[name] = list(condition.value)
                continue
            value = condition.value
            if condition.operator == "contains":
                value = f"%{escape_like(value)}%"
            elif condition.operator == "startswith":
                value = f"{escape_like(value)}%"
            escape = " ESCAPE '\\'" if condition.operator in TEXT_ONLY else ""
            placeholder, params[name] = bound(name, value)
            clauses.append(f"{column} {OPERATORS[condition.operator]} {placeholder}{escape}")
        return (" AND ".join(clauses) or None), params

    def order_by(self, primary_key: str) -> str:
        """``$col ASC, ...``, always ending on the primary key (a stable page order)."""
        parts = [f"${column} {'DESC' if descending else 'ASC'}" for column, descending in self.order]
        if primary_key not in {column for column, _ in self.order}:
            parts.append(f"${primary_key} ASC")
        return ", ".join(parts)


def bound(name: str, value: Any) -> tuple[str, Any]:
    """``(SQL placeholder, value)`` for GenroPy: text never reaches ``embedFieldPars`` as
    ``$...``/``@...`` (a leading space, stripped by ``SUBSTR`` in SQL, on SQLite and PostgreSQL)."""
    if isinstance(value, str):
        return f"SUBSTR(:{name}, 2)", " " + value
    return f":{name}", value


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def parse_query(items: Iterable[tuple[str, str]], column_types: Mapping[str, str], *,
                max_rows: int, default_limit: int = 100) -> QuerySpec:
    """``items``: the query string's pairs; ``column_types``: the readable columns and their
    GenroPy dtypes. Raises ``QueryError`` for anything else."""
    conditions: list[Condition] = []
    seen_reserved: set[str] = set()
    seen_filters: set[str] = set()  # each filter once: a request has at most as many as the document lists
    order: tuple[tuple[str, bool], ...] = ()
    limit, offset, count = min(default_limit, max_rows), 0, False
    for key, raw in items:
        if "\x00" in key or "\x00" in raw:
            raise QueryError(f"{key[:40]!r}: a NUL character is never a valid name or value")
        if key in RESERVED:
            if key in seen_reserved:
                raise QueryError(f"{key}: given twice")
            seen_reserved.add(key)
            if key == "_order":
                order = parse_order(raw, column_types)
            elif key == "_limit":
                limit = parse_int(key, raw, 1, max_rows)
            elif key == "_offset":
                offset = parse_int(key, raw, 0, 10**9)
            else:
                count = parse_bool(key, raw)
            continue
        if key in seen_filters:
            raise QueryError(f"{key[:60]}: given twice (one value a filter; `in` takes a list)")
        seen_filters.add(key)
        column, operator = split_key(key, column_types)
        dtype = readable_type(column, column_types, key)
        conditions.append(Condition(column, operator, parse_operand(key, operator, dtype, raw)))
    return QuerySpec(tuple(conditions), order, limit, offset, count)


def split_key(key: str, column_types: Mapping[str, str]) -> tuple[str, str]:
    """``price__gt`` -> (price, gt); ``__ins_ts`` (a GenroPy system column) -> (__ins_ts, eq)."""
    column, separator, operator = key.rpartition("__")
    if separator and column and operator in OPERATORS:
        return column, operator
    if key in column_types:
        return key, "eq"
    if separator and column in column_types:
        raise QueryError(f"{key}: unknown operator {operator[:20]!r} (known: {', '.join(OPERATORS)})")
    return key, "eq"


def readable_type(column: str, column_types: Mapping[str, str], where: str) -> str:
    if not COLUMN_NAME.match(column) or column not in column_types:
        raise QueryError(f"{where}: no readable column {column!r}")
    return column_types[column]


def parse_order(raw: str, column_types: Mapping[str, str]) -> tuple[tuple[str, bool], ...]:
    order = []
    for part in raw.split(","):
        part = part.strip()
        descending = part.startswith("-")
        column = part.lstrip("-")
        readable_type(column, column_types, "_order")
        order.append((column, descending))
    return tuple(order)


def parse_int(key: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{key}: expected an integer, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise QueryError(f"{key}: expected {low} to {high}, got {value}")
    return value


def parse_bool(key: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise QueryError(f"{key}: expected true or false, got {raw[:40]!r}")


def parse_operand(key: str, operator: str, dtype: str, raw: str) -> Any:
    if operator == "isnull":
        return parse_bool(key, raw)
    if operator in TEXT_ONLY and dtype not in TEXT_TYPES:
        raise QueryError(f"{key}: {operator} applies to text columns only")
    if operator == "in":
        values = raw.split(",")
        if len(values) > MAX_IN_VALUES:
            raise QueryError(f"{key}: at most {MAX_IN_VALUES} values")
        return tuple(parse_value(key, dtype, value) for value in values)
    return parse_value(key, dtype, raw)


def parse_value(key: str, dtype: str, raw: str) -> Any:
    parser = VALUE_PARSERS.get(dtype)
    if parser is None:
        raise QueryError(f"{key}: a column of type {dtype} cannot be filtered")
    try:
        return parser(raw)
    except (ValueError, ArithmeticError):
        raise QueryError(f"{key}: {raw[:40]!r} is not a valid {TYPE_WORDS.get(dtype, dtype)}") from None


def bounded_int(value: int) -> int:
    """A database integer: 64 bits at most (a longer one is a 400, not an overflow in the driver)."""
    if not -(2**63) <= value < 2**63:
        raise ValueError(value)
    return value


def local_datetime(value: datetime.datetime) -> datetime.datetime:
    """GenroPy's ``DH`` has no offset: a value with one is taken to UTC and compared without it."""
    if value.tzinfo is None:
        return value
    return value.astimezone(datetime.UTC).replace(tzinfo=None)


def parse_decimal(raw: str) -> decimal.Decimal:
    value = decimal.Decimal(raw)
    if not value.is_finite():
        raise ValueError(raw)
    return value


def parse_float(raw: str) -> float:
    value = float(raw)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(raw)
    return value


def parse_boolean_value(raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(raw)


VALUE_PARSERS: dict[str, Callable[[str], Any]] = {
    **{dtype: str for dtype in TEXT_TYPES},
    **{dtype: lambda raw: bounded_int(int(raw)) for dtype in INTEGER_TYPES},
    **{dtype: parse_float for dtype in FLOAT_TYPES},
    "N": parse_decimal,
    "B": parse_boolean_value,
    "D": datetime.date.fromisoformat,
    "DH": lambda raw: local_datetime(datetime.datetime.fromisoformat(raw)),
    "DT": lambda raw: local_datetime(datetime.datetime.fromisoformat(raw)),
    "DHZ": datetime.datetime.fromisoformat,
    "H": datetime.time.fromisoformat,
}
TYPE_WORDS = {"L": "integer", "I": "integer", "R": "number", "F": "number", "N": "decimal",
              "B": "boolean", "D": "date (YYYY-MM-DD)", "DH": "date-time", "DHZ": "date-time",
              "DT": "date-time", "H": "time"}
