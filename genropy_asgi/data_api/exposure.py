"""What one user sees of a GenroPy database: packages, tables, columns -- GenroPy's rules only.

A table is seen when all of these hold:

1. its package and the table opt in with GenroPy's ``openapi`` flag (``ApiEngine``'s rule:
   ``openapi=True`` on both); a column with ``openapi=False`` is never seen, ``openapi='R'`` is
   read-only;
2. the user's GenroPy tags pass the package's, the table's and the column's ``auth_tags``
   (GenroPy's ``checkResourcePermission``: ``admin,user`` any of, ``;`` alternatives, ``AND``,
   ``NOT``);
3. the user's GenroPy table configuration (``adm.user_config``) neither hides the table
   (``hidden`` in ``tbl_permission``/``tbl_forbidden``) nor forbids the column.

Writes (``GENROPY_DATA_API=write``) reach only a table whose ``openapi`` setting opens them --
``openapi=dict(write=True)`` (insert, update, delete) or ``dict(write='insert,update')`` --, for
users passing its ``write_tags`` (when set), minus what their table configuration forbids
(``readonly``, ``ins``, ``upd``, ``del``); a column is written only when GenroPy's API engine
calls it writable (a real column, not a system one, not ``openapi='R'``, not the key) and the
user's configuration does not make it read-only.

A column reaching another table through an alias (``@fkey.col``) is seen only when every table on
its way is seen and its last column too: a relation never opens a table its rules close. A SQL
formula or a bag item is seen only when the columns of its own row it reads are seen; a formula
reading beyond its row (a relation, a sub-select, GenroPy's macros, a method) is never seen, and
neither is a partitioned table (its rows are split by a page's partition, which the bridge has
not).

``ModelFacts`` reads the model once (``from_app``); the decisions (``TableView``s for one
``Identity``) are pure functions of those facts and two callables.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from genropy_asgi.data_api.identity import Identity

logger = logging.getLogger("genropy_asgi")

RELATION_STEP = re.compile(r"@([a-z_][a-z0-9_]*)", re.IGNORECASE)

PermissionCheck = Callable[[str, str], bool]
"""``(auth_tags rule, user tags) -> allowed``: GenroPy's ``checkResourcePermission``."""
WRITE_VERBS = ("insert", "update", "delete")
CONFIG_VERBS = {"insert": "ins", "update": "upd", "delete": "del"}  # GenroPy's permission words


@dataclass(frozen=True)
class TableConfig:
    """One user's GenroPy configuration of one table (``adm.user_config``)."""

    hidden: bool = False
    forbidden_columns: frozenset[str] = frozenset()
    readonly_columns: frozenset[str] = frozenset()
    denied: frozenset[str] = frozenset()  # GenroPy's words: readonly, ins, upd, del


UserTableConfig = Callable[[str, Identity], TableConfig]
"""``(table, identity) -> TableConfig``: GenroPy's user configuration."""


@dataclass(frozen=True)
class ColumnFact:
    name: str
    dtype: str
    openapi_type: str
    openapi_format: str | None
    nullable: bool
    description: str | None
    read_only: bool
    auth_tags: str | None = None
    references: str | None = None  # the table a foreign key points at
    references_column: str | None = None  # the column of that table it points at
    passes: tuple[str, ...] = ()  # tables a virtual column reads on its way
    alias_of: tuple[str, str] | None = None  # (table, column) an alias finally reads
    opaque: bool = False  # reads something the bridge cannot follow: never shown
    max_length: int | None = None  # a text column's size (GenroPy's ``size=':80'``, ``'80'``, ``'1:80'``)
    uses: tuple[str, ...] = ()  # columns of the same table a formula or a bag item reads


@dataclass(frozen=True)
class TableFact:
    fullname: str
    pkey: str
    title: str | None
    package_auth_tags: str | None
    auth_tags: str | None
    columns: Mapping[str, ColumnFact] = field(default_factory=dict)
    write: frozenset[str] = frozenset()  # verbs the table's openapi setting opens
    write_tags: str | None = None


@dataclass(frozen=True)
class TableView:
    """One table as one user sees it."""

    fullname: str
    pkey: str
    title: str | None
    columns: Mapping[str, ColumnFact]
    verbs: frozenset[str] = frozenset()  # what this user may write
    writable: frozenset[str] = frozenset()  # the columns this user may write

    def column_types(self) -> dict[str, str]:
        return {name: column.dtype for name, column in self.columns.items()}


@dataclass(frozen=True)
class ModelFacts:
    """The exposed tables of one database, read once from GenroPy's model."""

    tables: Mapping[str, TableFact]

    @classmethod
    def from_app(cls, app: Any) -> ModelFacts:
        from gnr.app.api_engine import ApiEngine

        engine = ApiEngine(app)
        exposed = sorted(engine.openapi_schema(readonly=True))
        columns = engine.table_columns(exposed) if exposed else {}
        tables = {}
        for fullname in exposed:
            table = app.db.table(fullname)
            if table.partitionParameters:  # rows split by a page's partition: no page here, fail closed
                logger.warning("data bridge: %s is partitioned (partition_*): not served", fullname)
                continue
            package = app.db.packages[fullname.split(".", 1)[0]]
            facts = {}
            for name, info in columns[fullname].items():
                fact = column_fact(app.db, fullname, name, info)
                if fact is not None:
                    facts[name] = fact
            write, write_tags = write_setting(table.attributes.get("openapi"), fullname)
            tables[fullname] = TableFact(
                fullname=fullname, pkey=table.pkey, title=text_or_none(table.attributes.get("name_long")),
                package_auth_tags=text_or_none(package.attributes.get("auth_tags")),
                auth_tags=text_or_none(table.attributes.get("auth_tags")), columns=facts,
                write=write, write_tags=write_tags)
        return cls(tables)

    def views(self, identity: Identity, allowed: PermissionCheck, user_config: UserTableConfig,
              writes: bool = False) -> dict[str, TableView]:
        """Every table ``identity`` sees, with the columns it sees (and, with ``writes``, what it
        may write)."""
        configs = {name: user_config(name, identity) for name in self.tables}
        seen = {name: table for name, table in self.tables.items()
                if table_passes(table, identity, allowed, configs[name])}

        def column_seen(table: str, column: ColumnFact, visiting: frozenset[str] = frozenset()) -> bool:
            if column.opaque or column.name in configs[table].forbidden_columns:
                return False
            if column.auth_tags and not allowed(column.auth_tags, identity.tags):
                return False
            if any(passed not in seen for passed in column.passes):
                return False
            own, visiting = self.tables[table].columns, visiting | {column.name}
            if any(used in visiting or used not in own or not column_seen(table, own[used], visiting)
                   for used in column.uses):
                return False
            if column.alias_of is not None:
                target_table, target_column = column.alias_of
                target = seen.get(target_table)
                fact = target.columns.get(target_column) if target is not None else None
                return fact is not None and fact.alias_of is None and column_seen(target_table, fact)
            return True

        views = {}
        for name, table in seen.items():
            columns = {c.name: c for c in table.columns.values() if column_seen(name, c)}
            verbs = write_verbs(table, identity, allowed, configs[name]) if writes else frozenset()
            writable = frozenset(c for c, fact in columns.items()
                                 if verbs and not fact.read_only and c not in configs[name].readonly_columns)
            views[name] = TableView(name, table.pkey, table.title, columns, verbs, writable)
        return views


def relation_target(view: TableView, column: str, views: Mapping[str, TableView]) -> tuple[TableView, str] | None:
    """Where the foreign key ``column`` of ``view`` leads, when this user may follow it: the key
    visible, the table it points at readable, and the column it points at that table's primary key
    or one the user sees (every hop gated like the first); ``None`` otherwise."""
    fact = view.columns.get(column)
    if fact is None or fact.references is None:
        return None
    target = views.get(fact.references)
    if target is None:
        return None
    target_column = fact.references_column or target.pkey
    if target_column != target.pkey and target_column not in target.columns:
        return None
    return target, target_column


def write_setting(setting: Any, table: str) -> tuple[frozenset[str], str | None]:
    """A table's ``openapi`` setting -> (verbs it opens, write_tags). ``True``: none (read only)."""
    if not isinstance(setting, dict) or not setting.get("write"):
        return frozenset(), None
    words = setting["write"]
    verbs = set(WRITE_VERBS) if words is True else {w.strip() for w in str(words).split(",") if w.strip()}
    unknown = verbs - set(WRITE_VERBS)
    if unknown:
        raise ValueError(f"{table}: openapi write: unknown {', '.join(sorted(unknown))} "
                         f"(expected True or some of {', '.join(WRITE_VERBS)})")
    return frozenset(verbs), text_or_none(setting.get("write_tags"))


def write_verbs(table: TableFact, identity: Identity, allowed: PermissionCheck,
                config: TableConfig) -> frozenset[str]:
    if not table.write or (table.write_tags and not allowed(table.write_tags, identity.tags)):
        return frozenset()
    if "readonly" in config.denied:
        return frozenset()
    return frozenset(verb for verb in table.write if CONFIG_VERBS[verb] not in config.denied)


def table_passes(table: TableFact, identity: Identity, allowed: PermissionCheck, config: TableConfig) -> bool:
    for rule in (table.package_auth_tags, table.auth_tags):
        if rule and not allowed(rule, identity.tags):
            return False
    return not config.hidden


def column_fact(db: Any, table: str, name: str, info: Mapping[str, Any]) -> ColumnFact | None:
    setting = info.get("openapi")
    kind = info["kind"]
    if setting is False or (kind != "real" and name.startswith("__")):
        return None  # hidden by its flag, or one of GenroPy's internal formulas (__record_pointer...)
    passes: tuple[str, ...] = ()
    uses: tuple[str, ...] | None = ()
    alias_of = None
    opaque = False
    references = references_column = None
    fkey = info.get("fkey") or {}
    if fkey.get("target_table"):
        references, references_column = fkey["target_table"], text_or_none(fkey.get("target_column"))
    if kind == "alias":
        path = follow_relation_path(db, table, info.get("relation_path") or "")
        if path is None:
            opaque = True
        else:
            passes, alias_of = path
    elif kind == "formula_sql":
        formula = column_attribute(db, table, name, "sql_formula")
        uses = formula_columns(formula)
        opaque = uses is None
    elif kind == "bagitem":
        source = column_attribute(db, table, name, "bagcolumn")
        uses = (str(source).lstrip("$"),) if source else None
        opaque = uses is None
    elif kind != "real":  # sub-selects and whatever else reads beyond its own row: fail closed
        opaque = True
    return ColumnFact(
        name=name, dtype=(info.get("dtype") or "T").upper(), openapi_type=info["openapi_type"],
        openapi_format=info.get("openapi_format"), nullable=bool(info.get("nullable")),
        description=text_or_none(info.get("name_long")),
        read_only=kind != "real" or bool(info.get("system")) or bool(info.get("pkey")) or setting == "R",
        auth_tags=text_or_none(column_attribute(db, table, name, "auth_tags")),
        references=references, references_column=references_column, passes=passes, alias_of=alias_of,
        opaque=opaque, uses=uses or (),
        max_length=text_size(info.get("size")) if (info.get("dtype") or "T").upper() in ("T", "A", "C") else None)


def follow_relation_path(db: Any, table: str, path: str) -> tuple[tuple[str, ...], tuple[str, str]] | None:
    """``@a_id.@b_id.col`` from ``table`` -> (tables passed, (last table, col)); ``None`` when a
    step does not resolve to a foreign key of the model."""
    steps = path.split(".")
    if len(steps) < 2 or not all(RELATION_STEP.fullmatch(step) for step in steps[:-1]):
        return None
    current, passed = table, []
    try:
        for step in steps[:-1]:
            column = db.model.table(current).column(step[1:])
            related = column.relatedColumn() if column is not None else None
            if related is None or related.table is None:
                return None
            current = related.table.fullname
            passed.append(current)
    except (AttributeError, KeyError):
        return None
    last = steps[-1]
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", last, re.IGNORECASE):
        return None
    return tuple(passed), (current, last)


FORMULA_COLUMN = re.compile(r"\$([a-z_][a-z0-9_]*)", re.IGNORECASE)
FORMULA_BEYOND_ITS_ROW = re.compile(r"@|#|\bselect\b|\bfrom\b|::", re.IGNORECASE)


def formula_columns(formula: Any) -> tuple[str, ...] | None:
    """The ``$columns`` a SQL formula reads from its own row; ``None`` when it may read anything
    else (a relation, a sub-select, GenroPy's macros, a formula computed by a method)."""
    if not isinstance(formula, str) or FORMULA_BEYOND_ITS_ROW.search(formula):
        return None
    return tuple(sorted(set(FORMULA_COLUMN.findall(formula))))


def column_attribute(db: Any, table: str, name: str, attribute: str) -> Any:
    model = db.model.table(table)
    column = model.columns.get(name) if model.columns is not None else None
    if column is None:
        virtual = model.get("virtual_columns") or {}
        column = virtual.get(name)
    return column.attributes.get(attribute) if column is not None else None


def text_size(size: Any) -> int | None:
    """GenroPy's text ``size`` (``':80'``, ``'80'``, ``'1:80'``) -> its most characters."""
    if size in (None, ""):
        return None
    most = str(size).split(":")[-1].strip()
    return int(most) if most.isdigit() else None


def text_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def genropy_user_config(app: Any) -> UserTableConfig:
    """GenroPy's per-user table configuration (``adm.user_config``): hidden table, forbidden and
    read-only columns, denied writes. Without the ``adm`` package nothing is configured."""

    def config(table: str, identity: Identity) -> TableConfig:
        conf = app.db.table(table).getUserConfiguration(user_group=identity.group, user=identity.user)
        if not conf:
            return TableConfig()
        words: set[str] = set()
        for key in ("tbl_permission", "tbl_forbidden"):
            words.update(word.strip() for word in str(conf[key] or "").split(",") if word.strip())
        forbidden: set[str] = set()
        readonly: set[str] = set()
        columns = conf["cols_permission"]
        if columns:
            for node in columns:
                if node.attr.get("forbidden"):
                    forbidden.add(node.label)
                if node.attr.get("readonly"):
                    readonly.add(node.label)
        return TableConfig("hidden" in words, frozenset(forbidden), frozenset(readonly), frozenset(words))

    return config
