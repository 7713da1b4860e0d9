"""Python objects kept in Redis or Valkey, read and changed in optimistic transactions.

What ``GENROPY_REGISTER=redis`` stands on (``compat.register_redis``): GenroPy's own register
code runs unchanged in every process of the site, and the objects it works on (register
items, page stores, locks, the global store) live here, shared by every process and pod.

How one transaction goes (``Store.run``):
- an object is read from this process's cache, or fetched when the cache has none;
- nothing is locked; at the end ONE round trip (a Lua script, atomic in the server) checks
  that every object read is still at the version read and writes every object changed
  (compared by pickling), all at one new version;
- when something read was changed meanwhile by another process, the stale objects are
  fetched again and the whole call runs again, on fresh objects (GenroPy's register methods
  change nothing but the register, so running one again is safe).

So a call costs one round trip when this process has seen the objects' latest versions, and
the server does a few microseconds of work for it; calls of different processes run at the
same time, and calls that touch the same objects are serialised by the versions, which gives
GenroPy the atomicity its daemon's single thread gave (``claim_cleanup``, datachanges).

Versions come from one clock per store, started from the server's own ``TIME`` in
microseconds, so they only grow, even across a Redis restart that lost the data (a cached
object can never be taken for a new one of the same version).

Objects are pickles, as gnrdaemon's Pyro sends them; every value is tagged with HMAC-SHA256
under the site's key, bound to the object's own key, and checked before anything is
unpickled: whoever can write to the Redis server but has no key cannot make a web process
unpickle anything, nor move a signed value to another object (another user's connection).
They can still delete objects or put back an older signed value of the same object: the
Redis server must be the site's alone (a password, a network policy).

All keys of a store share one hash tag (``{...}``), so the script's keys are in one slot of a
Redis Cluster too.

Within one web request (``Store.request_scope``, entered around GenroPy's WSGI app): a call
that changes nothing and read only objects this request already checked against the server,
less than ``SCOPE_SECONDS`` ago, at the versions this process still holds, needs no round
trip. A GenroPy ``/index`` asks the register 162 times, mostly the same page, connection and
user: the request sees them as they were when it first checked them (as a database
transaction sees its snapshot), and any call that writes checks everything it read, so a
write never rests on a stale read. Outside a request (``gnr web async``, task workers,
commands) every call checks.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

PICKLE = pickle.HIGHEST_PROTOCOL
TAG_SIZE = 32
ATTEMPTS = 200  # a call that meets a newer version this many times in a row is given up (one line)
CACHE_OBJECTS = 20000  # objects a process remembers; past that the oldest quarter is forgotten (fetched again)
SCOPE_SECONDS = 0.25  # how long, within one request, an object checked against the server stays checked

# KEYS[1]: object hash; ARGV[1]: the version this process has ("0": none). Answer {version} when
# it is still that one, else {version, value}; a missing object is version 0.
READ_SCRIPT = """
local answers = {}
for i = 1, #KEYS do
  local v = redis.call('HGET', KEYS[i], 'v') or '0'
  if v == ARGV[i] or v == '0' then
    answers[i] = {v}
  else
    answers[i] = {v, redis.call('HGET', KEYS[i], 'b')}
  end
end
return answers
"""

# KEYS[1] clock; ARGV[1..3]: checks, writes, index changes. Then KEYS/ARGV in that order:
# checks (key, version), writes (key, value; '' deletes), index changes (set key and its
# version hash; a count then '+id'/'-id'). Answer: {0, stale positions...} or {new version}.
COMMIT_SCRIPT = """
local checks, writes, indexes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local k, a = 2, 4
local stale = {}
for i = 1, checks do
  local v = redis.call('HGET', KEYS[k], 'v') or '0'
  if v ~= ARGV[a] then stale[#stale + 1] = i end
  k = k + 1; a = a + 1
end
if #stale > 0 then
  table.insert(stale, 1, 0)
  return stale
end
if writes == 0 and indexes == 0 then return {1} end
if redis.call('EXISTS', KEYS[1]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[1], tonumber(t[1]) * 1000000 + tonumber(t[2]))
end
local now = redis.call('INCR', KEYS[1])
for i = 1, writes do
  if ARGV[a] == '' then
    redis.call('DEL', KEYS[k])
  else
    redis.call('HSET', KEYS[k], 'v', now, 'b', ARGV[a])
  end
  k = k + 1; a = a + 1
end
for i = 1, indexes do
  local members, version = KEYS[k], KEYS[k + 1]
  k = k + 2
  local n = tonumber(ARGV[a]); a = a + 1
  for j = 1, n do
    local op = ARGV[a]; a = a + 1
    if string.sub(op, 1, 1) == '+' then
      redis.call('SADD', members, string.sub(op, 2))
    else
      redis.call('SREM', members, string.sub(op, 2))
    end
  end
  redis.call('HSET', version, 'v', now)
end
return {now}
"""

# KEYS[1] set, KEYS[2] its version hash; ARGV[1] the version this process has.
INDEX_SCRIPT = """
local v = redis.call('HGET', KEYS[2], 'v') or '0'
if v == ARGV[1] then return {v} end
return {v, redis.call('SMEMBERS', KEYS[1])}
"""

MISSING = object()


class ForgedValue(Exception):
    """A value in Redis whose tag is not the site's key's: never unpickled."""


class Conflict(Exception):
    """Something a transaction read changed meanwhile (``stale``: the keys)."""

    def __init__(self, stale: list[str]) -> None:
        super().__init__(", ".join(stale))
        self.stale = stale


class GivenUp(RuntimeError):
    pass


class Cached:
    """One object as this process last saw it: its version, and its pickle as this process
    writes it (pickles of sets differ between processes: compared to this one, an unchanged
    object is never written back)."""

    __slots__ = ("version", "payload")

    def __init__(self, version: str, payload: bytes | None) -> None:
        self.version, self.payload = version, payload


class Transaction:
    """One call's view of the store: the objects it loaded (live, its own copies), what it
    created, deleted and added to or removed from an index."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.read: dict[str, str] = {}  # key -> version read ("0": missing)
        self.baseline: dict[str, bytes | None] = {}  # key -> pickle when loaded (None: missing)
        self.live: dict[str, Any] = {}  # key -> object (MISSING: deleted or absent)
        self.index_read: dict[str, str] = {}
        self.index_members: dict[str, set[str]] = {}
        self.index_ops: dict[str, dict[str, str]] = {}  # index -> id -> '+' / '-'
        self.on_load: dict[str, Callable[[str, Any], None]] = {}  # space -> called with each object loaded

    # -- objects ---------------------------------------------------------------------
    def get(self, key: str, default: Any = MISSING, space: str | None = None) -> Any:
        if key not in self.live:
            cached = self.store.cached(key)
            self.read[key] = cached.version
            self.baseline[key] = cached.payload
            if cached.payload is None:
                self.live[key] = MISSING
            else:
                value = pickle.loads(cached.payload)
                self.live[key] = value
                hook = self.on_load.get(space) if space is not None else None
                if hook is not None and space is not None:
                    hook(key[len(self.store.object_key(space, "")):], value)
        found = self.live[key]
        return default if found is MISSING else found

    def get_many(self, keys: Iterable[str]) -> None:
        """Fetch what the cache lacks in one round trip (an index walked)."""
        self.store.refresh([k for k in keys if k not in self.live and self.store.cache.get(k) is None])

    def put(self, key: str, value: Any, space: str | None = None) -> None:
        self.get(key, space=space)
        self.live[key] = value

    def delete(self, key: str, space: str | None = None) -> Any:
        found = self.get(key, space=space)
        self.live[key] = MISSING
        return found

    # -- indexes ---------------------------------------------------------------------
    def members(self, index: str) -> set[str]:
        if index not in self.index_members:
            version, members = self.store.index(index)
            self.index_read[index] = version
            found = set(members)
            for member, op in self.index_ops.get(index, {}).items():  # this call's own, before the read
                (found.add if op == "+" else found.discard)(member)
            self.index_members[index] = found
        return self.index_members[index]

    def index_change(self, index: str, member: str, added: bool) -> None:
        self.index_ops.setdefault(index, {})[member] = "+" if added else "-"
        if index in self.index_members:
            (self.index_members[index].add if added else self.index_members[index].discard)(member)

    # -- the end ---------------------------------------------------------------------
    def changes(self) -> list[tuple[str, bytes | None]]:
        changed: list[tuple[str, bytes | None]] = []
        for key, value in self.live.items():
            before = self.baseline.get(key)
            if value is MISSING:
                if before is not None:
                    changed.append((key, None))
                continue
            now = pickle.dumps(value, PICKLE)
            if now != before:
                changed.append((key, now))
        return changed

    def commit(self) -> None:
        self.store.commit(self)


class Store:
    """One site's objects in Redis (``client``: a ``redis.Redis``) under ``prefix``, tagged with ``key``."""

    def __init__(self, client: Any, prefix: str, key: bytes) -> None:
        self.client = client
        self.prefix = prefix
        self.key = key
        self.clock = f"{prefix}:clock"
        self.cache: dict[str, Cached] = {}
        self.index_cache: dict[str, tuple[str, frozenset[str]]] = {}
        self._read = client.register_script(READ_SCRIPT)
        self._commit = client.register_script(COMMIT_SCRIPT)
        self._index = client.register_script(INDEX_SCRIPT)
        self.local = threading.local()
        self.evicting = threading.Lock()
        self.stats = {"transactions": 0, "retries": 0, "round_trips": 0, "checks_skipped": 0}

    # -- keys ------------------------------------------------------------------------
    def object_key(self, space: str, name: str) -> str:
        return f"{self.prefix}:o:{space}:{name}"

    def index_keys(self, index: str) -> tuple[str, str]:
        return f"{self.prefix}:i:{index}", f"{self.prefix}:iv:{index}"

    # -- values ----------------------------------------------------------------------
    def tag(self, key: str, payload: bytes) -> bytes:
        """Bound to the object's key: a value signed for one object (another user's connection)
        is refused under another."""
        return hmac.new(self.key, key.encode() + b"\0" + payload, hashlib.sha256).digest()

    def seal(self, key: str, payload: bytes) -> bytes:
        return self.tag(key, payload) + payload

    def open(self, key: str, sealed: bytes) -> bytes:
        signature, payload = sealed[:TAG_SIZE], sealed[TAG_SIZE:]
        if not hmac.compare_digest(signature, self.tag(key, payload)):
            raise ForgedValue(f"{key}: its tag is not the site's key's (GNR_DAEMON_HMAC_KEY differs, or someone "
                              "else wrote it); not unpickled")
        return payload

    def warn(self, message: str) -> None:
        import sys

        print(f"genropy-asgi: register: {message}", file=sys.stderr, flush=True)

    def normalised(self, payload: bytes) -> bytes:
        return pickle.dumps(pickle.loads(payload), PICKLE)

    # -- reads -----------------------------------------------------------------------
    def cached(self, key: str) -> Cached:
        found = self.cache.get(key)
        while found is None:  # (forgotten meanwhile by another thread's eviction: fetched again)
            self.refresh([key])
            found = self.cache.get(key)
        return found

    def refresh(self, keys: list[str]) -> None:
        if not keys:
            return
        known = [getattr(self.cache.get(k), "version", "0") for k in keys]
        self.stats["round_trips"] += 1
        for key, answer in zip(keys, self._read(keys=keys, args=known), strict=True):
            version = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
            if version == "0":
                self.remember(key, Cached("0", None))
            elif len(answer) > 1:
                try:
                    self.remember(key, Cached(version, self.normalised(self.open(key, answer[1]))))
                except ForgedValue as forged:  # as if absent: the next write replaces it
                    self.warn(str(forged))
                    self.remember(key, Cached(version, None))

    def remember(self, key: str, cached: Cached) -> None:
        self.cache[key] = cached
        if len(self.cache) > CACHE_OBJECTS:
            with self.evicting:
                for old in list(self.cache.keys())[:CACHE_OBJECTS // 4]:
                    self.cache.pop(old, None)

    def index(self, index: str) -> tuple[str, frozenset[str]]:
        members_key, version_key = self.index_keys(index)
        known = self.index_cache.get(index, ("0", frozenset()))
        if index in self.index_cache and self._already_checked([(version_key, known[0])]):
            return known  # checked by this request a moment ago
        self.stats["round_trips"] += 1
        answer = self._index(keys=[members_key, version_key], args=[known[0]])
        version = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
        if len(answer) > 1:
            known = (version, frozenset(m.decode() for m in answer[1]))
            self.index_cache[index] = known
        self._mark_checked([(version_key, known[0])])
        return known

    # -- one web request -------------------------------------------------------------
    def request_scope(self) -> Any:
        """``with store.request_scope():`` around one request's register calls (see the module)."""
        import contextlib

        @contextlib.contextmanager
        def scope() -> Any:
            outer = getattr(self.local, "checked", None)
            self.local.checked = {} if outer is None else outer  # nested: the outer request's
            try:
                yield
            finally:
                self.local.checked = outer

        return scope()

    def _checks(self, transaction: Transaction) -> list[tuple[str, str]]:
        return list(transaction.read.items()) + [
            (self.index_keys(i)[1], v) for i, v in transaction.index_read.items()]

    def _already_checked(self, checks: list[tuple[str, str]]) -> bool:
        checked = getattr(self.local, "checked", None)
        if checked is None:
            return False
        now = time.monotonic()
        for key, version in checks:
            found = checked.get(key)
            if found is None or found[0] != version or now - found[1] > SCOPE_SECONDS:
                return False
        return True

    def _mark_checked(self, checks: list[tuple[str, str]]) -> None:
        checked = getattr(self.local, "checked", None)
        if checked is not None:
            now = time.monotonic()
            for key, version in checks:
                checked[key] = (version, now)

    # -- transactions ----------------------------------------------------------------
    def current(self) -> Transaction | None:
        return getattr(self.local, "transaction", None)

    def run(self, call: Callable[[], Any], hooks: dict[str, Callable[[str, Any], None]] | None = None) -> Any:
        """``call()`` in a transaction (joins the one running in this thread), committed, run
        again on fresh objects while something it read was changed by someone else."""
        if self.current() is not None:
            return call()
        for attempt in range(ATTEMPTS):
            transaction = Transaction(self)
            transaction.on_load = hooks or {}
            self.local.transaction = transaction
            try:
                answer = call()
                transaction.commit()
                self.stats["transactions"] += 1
                return answer
            except Conflict as conflict:
                self.stats["retries"] += 1
                self.refresh([k for k in conflict.stale if not k.startswith(f"{self.prefix}:iv:")])
                for key in conflict.stale:
                    if key.startswith(f"{self.prefix}:iv:"):
                        self.index_cache.pop(key.rpartition(":iv:")[2], None)
                if attempt > 3:
                    time.sleep(min(0.05, 0.001 * attempt))
            finally:
                self.local.transaction = None
        raise GivenUp(f"GENROPY_REGISTER=redis: a register call met newer versions {ATTEMPTS} times in a row")

    def commit(self, transaction: Transaction) -> None:
        changes = transaction.changes()
        checks = self._checks(transaction)
        if not changes and not transaction.index_ops and self._already_checked(checks):
            self.stats["checks_skipped"] += 1
            return
        keys = [self.clock] + [k for k, _ in checks] + [k for k, _ in changes]
        args: list[Any] = [len(checks), len(changes), len(transaction.index_ops)]
        args += [v for _, v in checks]
        args += [self.seal(k, p) if p is not None else b"" for k, p in changes]
        for index, ops in transaction.index_ops.items():
            keys += list(self.index_keys(index))
            args.append(len(ops))
            args += [op + member for member, op in ops.items()]
        self.stats["round_trips"] += 1
        answer = self._commit(keys=keys, args=args)
        if int(answer[0]) == 0:
            raise Conflict([checks[int(i) - 1][0] for i in answer[1:]])
        self._mark_checked(checks)
        if changes or transaction.index_ops:
            version = str(int(answer[0]))
            written = []
            for key, payload in changes:
                if payload is None:
                    self.cache.pop(key, None)  # deleted: nothing to remember
                else:
                    self.remember(key, Cached(version, payload))
                    written.append((key, version))
            for index in transaction.index_ops:
                if index in transaction.index_members:  # read whole and unchanged by others: now this
                    self.index_cache[index] = (version, frozenset(transaction.index_members[index]))
                    written.append((self.index_keys(index)[1], version))
                else:
                    self.index_cache.pop(index, None)
            self._mark_checked(written)  # what this request wrote is what the server has


class Mapping:
    """A dict-like space of objects (``store``'s ``space``) seen through the thread's transaction,
    with an index of its keys: what GenroPy's register keeps in a plain ``dict``.

    ``group``: a value's group (e.g. a page's connection), kept in an index of its own per group
    when the value is stored or removed, so ``group_items`` loads one group's values, not all.
    A group must not change in place (through a loaded object, not ``__setitem__``): its index
    would not follow."""

    def __init__(self, store: Store, space: str, default_factory: Callable[[], Any] | None = None,
                 group: Callable[[Any], str | None] | None = None) -> None:
        self.store, self.space, self.default_factory, self.group = store, space, default_factory, group

    def _tx(self) -> Transaction:
        transaction = self.store.current()
        if transaction is None:
            raise RuntimeError(f"register space {self.space} used outside a register call")
        return transaction

    def _key(self, name: Any) -> str:
        return self.store.object_key(self.space, str(name))

    def get(self, name: Any, default: Any = None) -> Any:
        return self._tx().get(self._key(name), default, self.space)

    def __getitem__(self, name: Any) -> Any:
        transaction = self._tx()
        found = transaction.get(self._key(name), space=self.space)
        if found is MISSING:
            if self.default_factory is None:
                raise KeyError(name)
            found = self.default_factory()
            self[name] = found
        return found

    def group_index(self, group: str) -> str:
        return f"{self.space}/{group}"

    def _regroup(self, transaction: Transaction, name: str, before: Any, after: Any) -> None:
        if self.group is None:
            return
        old = None if before is MISSING else self.group(before)
        new = None if after is MISSING else self.group(after)
        if old != new:
            if old is not None:
                transaction.index_change(self.group_index(old), name, False)
            if new is not None:
                transaction.index_change(self.group_index(new), name, True)

    def __setitem__(self, name: Any, value: Any) -> None:
        transaction = self._tx()
        key = self._key(name)
        before = transaction.get(key, space=self.space)
        if before is MISSING:
            transaction.index_change(self.space, str(name), True)
        self._regroup(transaction, str(name), before, value)
        transaction.put(key, value, self.space)

    def pop(self, name: Any, default: Any = None) -> Any:
        transaction = self._tx()
        key = self._key(name)
        found = transaction.get(key, space=self.space)
        if found is MISSING:
            return default
        transaction.delete(key, self.space)
        transaction.index_change(self.space, str(name), False)
        self._regroup(transaction, str(name), found, MISSING)
        return found

    def __delitem__(self, name: Any) -> None:
        if self.pop(name, MISSING) is MISSING:
            raise KeyError(name)

    def __contains__(self, name: Any) -> bool:
        return self._tx().get(self._key(name), space=self.space) is not MISSING

    def keys(self) -> list[str]:
        return sorted(self._tx().members(self.space))

    def __iter__(self) -> Any:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._tx().members(self.space))

    def items(self) -> list[tuple[str, Any]]:
        transaction = self._tx()
        names = self.keys()
        transaction.get_many(self._key(n) for n in names)
        found = [(n, transaction.get(self._key(n), space=self.space)) for n in names]
        return [(n, v) for n, v in found if v is not MISSING]

    def values(self) -> list[Any]:
        return [v for _, v in self.items()]

    def group_items(self, group: str) -> list[tuple[str, Any]]:
        """``items()`` of one group, in key order (only its values are loaded)."""
        transaction = self._tx()
        names = sorted(transaction.members(self.group_index(group)))
        transaction.get_many(self._key(n) for n in names)
        found = [(n, transaction.get(self._key(n), space=self.space)) for n in names]
        return [(n, v) for n, v in found if v is not MISSING]

    def clear(self) -> None:
        for name in self.keys():
            self.pop(name)

    def update(self, other: dict[Any, Any]) -> None:
        for name, value in dict(other).items():
            self[name] = value

    def setdefault(self, name: Any, default: Any = None) -> Any:
        if name not in self:
            self[name] = default
        return self[name]


class Discard(dict):  # type: ignore[type-arg]
    """Where GenroPy writes what nobody reads (``itemsTS``: every ``get_item`` stamps it, only a
    dump reads it): kept nowhere, so a read is never a write."""

    def __setitem__(self, name: Any, value: Any) -> None:
        return None


class Attribute:
    """An attribute of GenroPy's ``SiteRegister`` kept in the store (``last_cleanup``,
    ``interproces_commands``): one object each, in the calling thread's transaction."""

    def __init__(self, name: str, default: Callable[[], Any]) -> None:
        self.name, self.default = name, default

    def __set_name__(self, owner: Any, name: str) -> None:
        self.name = name

    def _store(self, instance: Any) -> Store | None:
        store: Store | None = instance.__dict__.get("_genropy_asgi_store")
        return store

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        store = self._store(instance)
        if store is None:  # GenroPy's __init__, before the register is bound to its store
            return self.default()
        transaction = store.current()
        if transaction is None:  # read on the object itself, outside a call: a transaction of its own
            return store.run(lambda: self.__get__(instance, owner))
        key = store.object_key("site", self.name)
        found = transaction.get(key)
        if found is MISSING:
            found = self.default()
            transaction.put(key, found)
            transaction.baseline[key] = pickle.dumps(found, PICKLE)  # written only when changed
        return found

    def __set__(self, instance: Any, value: Any) -> None:
        store = self._store(instance)
        if store is None:  # GenroPy's __init__ sets the default: nothing to keep
            return
        transaction = store.current()
        if transaction is None:
            store.run(lambda: self.__set__(instance, value))
            return
        transaction.put(store.object_key("site", self.name), value)
