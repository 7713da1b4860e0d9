"""Every environment variable genropy-asgi reads, in one table, read one way.

Each ``Setting`` has a name, a parser, a default, a scope (who reads it), whether it
is a secret, and a one-line help. Everything else comes from this table: the
docs' variable tables (``genropy_asgi.settings_docs``; a test fails when a page
differs), ``print-config``'s ``settings`` section, and the
validation at start (``validate``: every setting of a scope parsed before anything
starts, each bad value one line naming the variable and what was expected).

Secrets are read like the official postgres image's ``file_env``: ``NAME`` or the
content of the file ``NAME_FILE`` names, never both. A renamed variable keeps
working under its old name (``aliases``), with a deprecation line
(``deprecations``) for the start log.

Stdlib only and cheap to import: GenroPy's processes read it too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

MASK = "********"
WEB_PORT = 8080  # GenroPy's (gnrwsgiserve's) default web port, and the image's
DAEMON_PORT = 40404  # gnrdaemon's default Pyro port
ASYNC_PORT = 9999  # mode async's TCP port (gnr web async -p)
# A stop: SIGTERM, in-flight requests drain for up to GENROPY_SHUTDOWN_TIMEOUT, then the
# other programs stop (gnrdaemon saves its registers). The budgets derive from that one setting:
SERVER_STOP_MARGIN = 10  # supervisord's SIGKILL of the server comes this long after the drain ends
CONTAINER_STOP_MARGIN = 15  # what a container's stop must allow beyond the drain (docker stop -t,
#                             compose stop_grace_period, the chart's terminationGracePeriodSeconds)
PRESTOP_SECONDS = 5  # the chart's preStop pause before SIGTERM (endpoints forget the pod)


def stop_grace_seconds(shutdown_timeout: float, prestop: int = 0) -> int:
    """Seconds a container needs from the stop request to exit, for a drain of ``shutdown_timeout``."""
    return prestop + int(math.ceil(shutdown_timeout)) + CONTAINER_STOP_MARGIN

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
SECRET_SUFFIXES = ("_PASSWORD", "_HMAC_KEY", "_SECRET")

# who reads a setting (the README has one table per scope)
IMAGE = "image"  # the image's entrypoint (and through it, its programs)
SERVER = "server"  # gnrasgiserve, wherever it runs (the image's server included)
BOTH = "both"
COMPOSE = "compose"  # docker-compose.yml's interpolation
TESTING = "testing"  # the pytest plugin (genropy_asgi.testing)
SUITE = "suite"  # this repository's own test suite
INTERNAL = "internal"  # set by the entrypoint for its programs: never set them yourself
SCOPES = (IMAGE, SERVER, BOTH, COMPOSE, TESTING, SUITE, INTERNAL)


class SettingError(ValueError):
    """A bad value; ``str(exc)`` is the one line to show."""


# -- parsers: (name, raw text) -> value, or SettingError ------------------------

class Parser:
    expected = "a value"

    def __call__(self, name: str, raw: str) -> Any:
        return raw

    def refuse(self, name: str, raw: str) -> SettingError:
        return SettingError(f"{name}={raw!r}: expected {self.expected}")

    def shown(self, value: Any) -> Any:
        """A value read, as ``print-config`` shows it."""
        return value


class Text(Parser):
    expected = "text"


class Matching(Parser):
    def __init__(self, pattern: str, expected: str) -> None:
        self.pattern = re.compile(pattern)
        self.expected = expected

    def __call__(self, name: str, raw: str) -> str:
        if not self.pattern.fullmatch(raw):
            raise self.refuse(name, raw)
        return raw


HOSTNAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                      r"(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


class Host(Parser):
    """An address to listen on or reach: IPv4, IPv6 or a host name (not a bare dotted number)."""

    expected = "an IP address (0.0.0.0, ::, 127.0.0.1...) or a host name"

    def __call__(self, name: str, raw: str) -> str:
        import ipaddress

        try:
            ipaddress.ip_address(raw)
            return raw
        except ValueError:
            pass
        if HOSTNAME.fullmatch(raw) and not re.fullmatch(r"[0-9.]+", raw):
            return raw
        raise self.refuse(name, raw)


class Whole(Parser):
    """ASCII digits only (``²`` and ``٣`` are digits to ``str.isdigit``), within a range."""

    def __init__(self, minimum: int = 0, maximum: int = 65535) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.expected = f"a whole number from {minimum} to {maximum}"

    def __call__(self, name: str, raw: str) -> int:
        if not (raw.isascii() and raw.isdigit()) or not self.minimum <= int(raw) <= self.maximum:
            raise self.refuse(name, raw)
        return int(raw)


class Workers(Whole):
    """A number of worker processes, or ``auto`` (read as ``AUTO_WORKERS``, 0): the number is
    chosen with the register in mind (``genropy_asgi.cpu_quota.server_workers``)."""

    def __init__(self, maximum: int) -> None:
        super().__init__(1, maximum)
        self.expected = f"auto or a whole number from 1 to {maximum}"

    def __call__(self, name: str, raw: str) -> int:
        if raw.lower() == "auto":
            return AUTO_WORKERS
        return super().__call__(name, raw)

    def shown(self, value: Any) -> Any:
        return "auto" if value == AUTO_WORKERS else value


AUTO_WORKERS = 0  # GENROPY_WORKERS=auto, before cpu_quota.server_workers() resolves it
MAX_WORKERS = 64


class Port(Whole):
    def __init__(self) -> None:
        super().__init__(1, 65535)


class Seconds(Parser):
    """A finite number of seconds (``nan`` and ``inf`` parse as floats: refused too)."""

    def __init__(self, above_zero: bool = False, maximum: float | None = None) -> None:
        self.above_zero, self.maximum = above_zero, maximum
        bound = "above 0" if above_zero else ">= 0"
        self.expected = f"a number of seconds {bound}" + (f", at most {maximum:g}" if maximum else " (finite)")

    def __call__(self, name: str, raw: str) -> float:
        try:
            value = float(raw) if raw.isascii() else math.nan
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0 or (self.above_zero and value == 0) or \
                (self.maximum is not None and value > self.maximum):
            raise self.refuse(name, raw)
        return value


class Flag(Parser):
    expected = "true or false"

    def __call__(self, name: str, raw: str) -> bool:
        word = raw.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise self.refuse(name, raw)


class Choice(Parser):
    def __init__(self, *allowed: str, synonyms: Mapping[str, str] | None = None) -> None:
        self.allowed = allowed
        self.synonyms = dict(synonyms or {})
        self.expected = f"one of {', '.join(allowed)}"

    def __call__(self, name: str, raw: str) -> str:
        word = raw.lower()
        word = self.synonyms.get(word, word)
        if word not in self.allowed:
            raise self.refuse(name, raw)
        return word


ASYNC_MODES = Choice("on", "off", "spawn", "external",
                     synonyms={**{w: "on" for w in TRUE_WORDS}, **{w: "off" for w in FALSE_WORDS}})
SIZE_CEILING = 2**53  # the largest whole number a float holds exactly
INSTANCE_NAME = Matching(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", "an instance name (letters, digits, _ . -)")


class Setting:
    """One environment variable: what it is, how it is read, who reads it."""

    __slots__ = ("name", "parser", "default", "help", "scope", "secret", "aliases", "shown", "family")

    def __init__(self, name: str, parser: Parser, default: Any, help: str, scope: str = IMAGE,
                 secret: bool = False, aliases: tuple[str, ...] = (), shown: str | None = None,
                 family: bool = False) -> None:
        assert scope in SCOPES, scope
        self.name, self.parser, self.default, self.help = name, parser, default, help
        self.scope, self.secret, self.aliases, self.family = scope, secret, aliases, family
        self.shown = shown  # how the README states the default (None: from ``default``)

    def shown_default(self) -> str:
        if self.shown is not None:
            return self.shown
        if self.default is None or self.default == "":
            return ""
        if isinstance(self.default, bool):
            return f"`{str(self.default).lower()}`"
        if isinstance(self.default, float):
            return f"`{self.default:g}`"
        return f"`{self.default}`"


S = Setting
TABLE: tuple[Setting, ...] = (
    # -- the site -------------------------------------------------------------------
    S("GNR_CURRENT_SITE", INSTANCE_NAME, "demo", "the GenroPy instance to serve", BOTH,
      shown="`demo` (gnrasgiserve: its site argument)"),
    S("GNR_WSGI_OPT_<option>", Text(), None, "GenroPy server options (`port`, `host`, `debug`...), between the "
      "command line and the siteconfig, as with gnrwsgiserve", BOTH, shown=f"port {WEB_PORT}, host 0.0.0.0",
      family=True),
    S("GENROPY_PROJECTS", Text(), "/opt/genropy/projects", "folders holding GenroPy projects, `:`-separated "
      "(a project folder itself, one with `instances/` and `packages/`, stands for its parent)"),
    S("GENROPY_PROJECT_REQUIREMENTS", Choice("check", "install"), "check", "the instance's packages' "
      "`requirements.txt`: `check` (a missing one: one line, exit 2) or `install` (pip, at start, into "
      "`GENROPY_HOME/python/<key>`, reused while they stay the same; pip's `PIP_*` variables apply)",
      shown="`check` (compose and the testing module: `install`)"),
    S("GENROPY_SITECONFIG", Text(), "/etc/genropy/siteconfig.xml", "a siteconfig to start from (its "
      "`gnrdaemon` is replaced)", shown="`/etc/genropy/siteconfig.xml` if present"),
    S("GENROPY_HOME", Text(), "/var/lib/genropy", "writable state: GenroPy config folder, runtime files, TMPDIR"),
    S("GENROPY_EXTERNAL_HOST", Matching(r"https?://[^\s/?#@]+(/[^\s?#]*)?", "a URL like https://shop.example.com"),
      None, "the site's public URL: GenroPy's `wsgi external_host` (links in mails, headless pages, tasks); "
      "`GNR_EXTERNALHOST` is read as it", shown="unset: the siteconfig's"),
    S("GENROPY_SITE_DATA", Text(), None, "a folder (one volume shared by every pod) for what GenroPy writes "
      "and must keep: each instance's `data/` and `site/` (uploads, attachments) and gnrdaemon's saved "
      "registers; the project itself may be baked or mounted read-only",
      shown="unset: the instance's own folders"),
    S("GENRO_GNRFOLDER", Text(), None, "GenroPy config folder (must be named `gnr` or `.gnr`); the image "
      "writes its own under `GENROPY_HOME`", SERVER, shown="`$VIRTUAL_ENV/etc/gnr`, `~/.gnr`, `/etc/gnr`"),
    # -- the database ---------------------------------------------------------------
    S("GNR_DB_IMPLEMENTATION", Choice("sqlite", "postgres"), None, "`sqlite` or `postgres`; when set, the "
      "`GNR_DB_*` settings **replace** the instance's own `<db>`, whatever its `instanceconfig.xml` says "
      "(the start logs `database: postgres NAME on HOST:PORT`)", shown="the instance's (SQLite)"),
    S("GNR_DB_HOST", Text(), None, "PostgreSQL host (required for postgres)"),
    S("GNR_DB_PORT", Port(), 5432, "PostgreSQL port"),
    S("GNR_DB_USER", Text(), None, "PostgreSQL user (required for postgres)"),
    S("GNR_DB_PASSWORD", Text(), None, "PostgreSQL password", secret=True),
    S("GNR_DB_NAME", Text(), None, "database name", shown="the instance's `<db dbname>`, else the instance's name"),
    S("GENROPY_DB_WAIT", Seconds(), 60.0, "seconds to wait for PostgreSQL at start"),
    S("GENROPY_DB_SETUP", Choice("auto", "always", "never"), "auto", "`auto`: `gnr db setup` (and the first-use "
      "records) before serving, skipped while the packages' models, the instance's configuration and the versions "
      "are those of the last setup of this database (recorded in the database); `always`; `never`"),
    S("GNR_REMOTEDB", Text(), None, "serve with `--remotedb NAME`"),
    S("GNR_REMOTEDB_<NAME>_DB_*", Text(), None, "the remote database: `_DB_NAME`, `_DB_USER`, `_DB_PASSWORD` "
      "(secret), `_DB_HOST`, `_DB_PORT`, `_DB_IMPLEMENTATION`", shown="port 5432, postgres", family=True),
    S("GNR_REMOTEDB_<NAME>_SSH_*", Text(), None, "reach it through gnrdaemon's SSH tunnel: `_SSH_HOST`, "
      "`_SSH_USER`, `_SSH_PASSWORD` (secret), `_SSH_PORT` (`_DB_HOST` is then the host as seen from the SSH "
      "server)", shown="port 22", family=True),
    # -- gnrdaemon and logins -------------------------------------------------------
    S("GNR_DAEMON_HMAC_KEY", Text(), None, "gnrdaemon's Pyro HMAC key", secret=True,
      shown="random per container"),
    S("GNR_DAEMON_PORT", Port(), DAEMON_PORT, "gnrdaemon's port"),
    S("GNR_DAEMON_BIND", Text(), "127.0.0.1", "where mode `daemon` listens (`0.0.0.0`: every address, "
      "advertised as the container's own); any address but loopback needs `GNR_DAEMON_HMAC_KEY`"),
    S("GNR_DAEMON_HOST", Text(), None, "a shared gnrdaemon (mode `daemon` elsewhere): `serve`, `scheduler` "
      "and `taskworker` use it and start none of their own; needs `GNR_DAEMON_HMAC_KEY`",
      shown="unset: `serve` runs its own on 127.0.0.1"),
    S("GENROPY_REGISTER", Choice("local", "redis", "pyro"), None, "where the site's register (sessions, "
      "connections, pages) lives: `local`, in the web server's process (no round trip; the site's other programs "
      "reach it through `sitedaemon.xml`); `redis`, in Redis or Valkey at `GENROPY_REDIS_URL`, shared by every "
      "process and pod (one round trip a call, no daemon); `pyro`, in gnrdaemon", BOTH,
      shown="`local` with one server process, `pyro` with `GENROPY_WORKERS` > 1"),
    S("GENROPY_REDIS_URL", Text(), None, "the Redis or Valkey server of `GENROPY_REGISTER=redis`: "
      "`redis://HOST:6379/0`, `rediss://` for TLS (a password may be in it, or in `GENROPY_REDIS_PASSWORD`)",
      BOTH, secret=True),
    S("GENROPY_REDIS_PASSWORD", Text(), None, "that server's password", BOTH, secret=True),
    S("GENROPY_REDIS_PREFIX", Text(), "genropy", "first part of the register's keys (`PREFIX:{SITE}:...`): "
      "two deployments of one site on one server need two", BOTH),
    S("GENROPY_REGISTER_PROXY", Choice("thread", "shared"), "thread", "connections to gnrdaemon's register: one per "
      "thread (`thread`), or GenroPy's one shared, locked proxy (`shared`)", BOTH),
    S("GENROPY_REGISTER_SNAPSHOT", Seconds(), 30.0, "seconds between saves of gnrdaemon's registers (sessions, "
      "pages) besides the save at stop: what a `kill -9` of gnrdaemon can lose (0: only at stop)"),
    S("GENROPY_DAEMON_WAIT", Seconds(), 0.0, "seconds to wait for gnrdaemon, or the register's Redis, at start "
      "(one started alongside)", BOTH, aliases=("GENROPY_ASGI_DAEMON_WAIT",), shown="`0` (the image's programs: 60)"),
    S("GNR_ADMIN_USER", Text(), "admin", "a login defined in the config (GenroPy `xml_auth`, with the tags "
      "of GenroPy's own `initgenropy` admin: `superadmin,_DEV_,admin,user`), with `GNR_ADMIN_PASSWORD`"),
    S("GNR_ADMIN_PASSWORD", Text(), None, "that login's password (no password: no such login)", secret=True),
    # -- serving --------------------------------------------------------------------
    S("GENROPY_WORKERS", Workers(MAX_WORKERS), AUTO_WORKERS, "1: one uvicorn process; more: gunicorn with that many "
      "uvicorn workers; `auto`: with `GENROPY_REGISTER=redis`, one per CPU of the container's quota (cgroup "
      "`cpu.max`, rounded up; no quota: the CPUs it may run on), within its memory limit (256 MiB a worker), "
      "else 1 (one process on its own register serves more than several on gnrdaemon's: docs/benchmarks.md)",
      shown="`auto`"),
    S("GENROPY_MAX_REQUESTS", Whole(0, 10**9), 0, "with GENROPY_WORKERS > 1: a worker is replaced after this many "
      "requests, the others serving meanwhile (gunicorn's `max_requests`; GenroPy's own deployments use 300); "
      "0: never"),
    S("GENROPY_MAX_REQUESTS_JITTER", Whole(0, 10**9), None, "up to this many more, at random per worker, so "
      "workers are not replaced together (gunicorn's `max_requests_jitter`)",
      shown="a sixth of GENROPY_MAX_REQUESTS (GenroPy's 300/50)"),
    S("GENROPY_WSGI_THREADS", Whole(1, 256), 16, "threads serving GenroPy requests, per process", BOTH,
      aliases=("GENROPY_ASGI_WSGI_THREADS",)),
    S("GENROPY_SHUTDOWN_TIMEOUT", Seconds(), 30.0, "seconds SIGTERM waits for in-flight requests", BOTH,
      aliases=("GENROPY_ASGI_SHUTDOWN_TIMEOUT",)),
    S("GENROPY_ALLOW_DEBUG", Flag(), False, "must be `true` to start with debug on (werkzeug's console "
      "executes code)"),
    S("GENROPY_ASYNC_SERVER", ASYNC_MODES, None, "`gnr web async` and the pages' websockets: `on`/`off` "
      "(`true`/`false`); gnrasgiserve also takes `spawn` (it starts it) and `external` (someone else does)",
      BOTH, aliases=("GENROPY_ASGI_ASYNC_SERVER",),
      shown="the siteconfig's `wsgi websockets`, else on (gnrasgiserve: `spawn` when websockets are on)"),
    S("GENROPY_ASYNC_ADDRESS", Matching(r"(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9_.-]+):([1-9][0-9]{0,4})", "host:port"),
      None, "a shared `gnr web async` (mode `async` elsewhere): `/websocket` is relayed and the site's pushes "
      "sent there over TCP, so a page open through one web pod gets the updates triggered through another; "
      "none runs in this container", BOTH, shown="unset: the container's own, on a Unix socket"),
    S("GENROPY_ASYNC_PORT", Port(), ASYNC_PORT, "the TCP port mode `async` listens on (every address: only "
      "where a network policy admits just the site's pods)"),
    S("GENROPY_ASGI_GNR_API", Choice("adapter", "off"), "adapter", "`adapter`: keep GenroPy's `/_api` working "
      "on genro-routes 0.30; `off`: disable it (501)", BOTH),
    S("FORWARDED_ALLOW_IPS", Text(), "127.0.0.1", "proxies whose `X-Forwarded-*` headers are trusted", BOTH),
    S("GENROPY_STATIC", Choice("native", "genropy"), "native", "GenroPy's static files (`_dojo`, `_gnr`, `_rsrc`, "
      "`_pkg`, `_site`...): `native` serves them from the event loop (GenroPy's own resolution, compressed, "
      "cached); `genropy`: GenroPy's own handler, in a WSGI thread — see [Static files](python-api.md#static-files)", BOTH),
    S("GENROPY_STATIC_COMPRESS_BYTES", Whole(0, SIZE_CEILING), 2 << 20, "largest static file compressed on the fly "
      "(gzip, brotli) when it has no precompressed sibling (0: never)", BOTH, shown="`2097152` (2 MiB)"),
    S("GENROPY_STATIC_CACHE_BYTES", Whole(0, SIZE_CEILING), 64 << 20, "memory per process for static bodies "
      "(files, their compressed forms) kept between requests (0: read each time)", BOTH,
      shown="`67108864` (64 MiB)"),
    S("GENROPY_METRICS_PORT", Whole(0, 65535), 9090, "Prometheus metrics on their own port, never the public "
      "one (0: off) — see [Monitoring](monitoring.md)", BOTH),
    S("GENROPY_METRICS_BIND", Host(), "", "address the metrics port listens on (`127.0.0.1`: the pod's own "
      "scrapers only)", BOTH, shown="the web server's (`GNR_WSGI_OPT_host`; `0.0.0.0` in the container)"),
    S("GENROPY_PUBLIC_METRICS", Flag(), False, "GenroPy's own `/metrics` (its webtool: 4 counters, no types) on "
      "the public port", BOTH),
    S("GENROPY_LOG_FORMAT", Choice("text", "json"), "text", "`json`: every line of the container one JSON object "
      "(`time`, `level`, `program`, `message`, `request_id`...) — see [Monitoring](monitoring.md)", BOTH),
    S("GENROPY_ACCESS_LOG", Choice("on", "off", "all", synonyms={**{w: "on" for w in TRUE_WORDS},
                                                                 **{w: "off" for w in FALSE_WORDS}}),
      "on", "one line per request with its `X-Request-ID`: `on` (not the probes `/_server/health`, "
      "`/_server/ready`, `/metrics`), `off`, or `all`", BOTH),
    S("GENROPY_MAX_FORM_BYTES", Whole(0, SIZE_CEILING), 1 << 20, "largest urlencoded form body, in bytes "
      "(413 beyond; 0: no limit) — see [Security](security.md)", BOTH, shown="`1048576` (1 MiB)"),
    S("GENROPY_MAX_UPLOAD_BYTES", Whole(0, SIZE_CEILING), 100 << 20, "largest multipart body (uploads), in "
      "bytes (413 beyond; 0: no limit)", BOTH, shown="`104857600` (100 MiB)"),
    S("GENROPY_MAX_HEADER_BYTES", Whole(1024, SIZE_CEILING), 64 << 10, "largest request line + headers, in "
      "bytes (431 beyond)", BOTH),
    S("GENROPY_HEADER_TIMEOUT", Seconds(above_zero=True, maximum=3600), 10.0, "seconds a client may take to "
      "send a request's headers (then 408 and closed)", BOTH),
    S("GENROPY_BODY_TIMEOUT", Seconds(above_zero=True, maximum=3600), 30.0, "seconds a request body may take "
      "beyond what `GENROPY_BODY_MIN_RATE` allows (then 408 and closed); bodies up to 1 MiB and every "
      "urlencoded form are received before a WSGI thread is taken", BOTH),
    S("GENROPY_BODY_MIN_RATE", Whole(0, SIZE_CEILING), 10240, "bytes per second a request body must keep up "
      "once `GENROPY_BODY_TIMEOUT` has passed (0: the timeout bounds the whole body)", BOTH),
    S("GENROPY_ALLOWED_ORIGINS", Text(), None, "comma-separated origins (`https://app.example.com`) whose pages "
      "may open GenroPy's websocket and call the data bridge's MCP endpoint besides the site's own (the `Host` "
      "it is reached by); `*`: any", BOTH),
    S("GENROPY_WS_MAX_MESSAGE_BYTES", Whole(1024, 64 << 20), 1 << 20, "largest websocket message on GenroPy's "
      "real-time channel, each way (close 1009 beyond)", BOTH, shown="`1048576` (1 MiB)"),
    S("GENROPY_WS_MAX_CONNECTIONS", Whole(1, 1_000_000), 1000, "open websockets to GenroPy's real-time channel "
      "per server process (close 1013 beyond)", BOTH),
    S("GENROPY_WS_MAX_PER_CLIENT", Whole(1, 1_000_000), 50, "open websockets per client address, per server "
      "process (close 1008 beyond)", BOTH),
    # -- the data bridge (REST, OpenAPI, MCP over the site's tables) -----------------
    S("GENROPY_DATA_API", Choice("off", "read", "write"), "off", "`read`: the tables the site opens with "
      "GenroPy's `openapi` flag, as REST with an OpenAPI document and as MCP tools, under GenroPy's permissions, "
      "on `/<GENROPY_DATA_API_MOUNT>/`; `write`: also inserts, updates and deletes where a table opens them "
      "(`openapi=dict(write=True)`) — see [Data API](data-api.md)", BOTH),
    S("GENROPY_DATA_API_MOUNT", Matching(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}", "one URL path segment like _data"),
      "_data", "the data bridge's URL prefix (one path segment; not one the server, GenroPy's files or a "
      "package's pages already use)", BOTH),
    S("GENROPY_DATA_API_MAX_ROWS", Whole(1, 100_000), 500, "most records one data bridge request returns "
      "(`_limit` above it: 400)", BOTH),
    S("GENROPY_DATA_API_THREADS", Whole(1, 256), 4, "threads of the data bridge's database work (apart from "
      "GenroPy's WSGI threads)", BOTH),
    # -- backups (modes backup and restore) -----------------------------------------
    S("GENROPY_BACKUP_DESTINATION", Text(), None, "where `backup` writes its archives and `restore` finds them: "
      "an absolute folder (a volume of its own) or `s3://BUCKET[/PREFIX]` — see [Backups](backups.md)",
      shown="`$GENROPY_HOME/backups`"),
    S("GENROPY_BACKUP_KEEP", Whole(1, 100_000), 7, "archives of the site kept after each backup, newest first"),
    S("GENROPY_BACKUP_MAX_AGE_DAYS", Whole(0, 36_500), 0, "archives older than this many days removed after each "
      "backup (the newest always stays; 0: by count only)"),
    S("GENROPY_BACKUP_S3_ENDPOINT", Matching(r"https?://\S+", "a URL like https://minio.example.com:9000"), None,
      "an S3-compatible endpoint (MinIO, Ceph, Garage...) for an `s3://` destination",
      shown="unset: AWS S3"),
    S("AWS_ACCESS_KEY_ID", Text(), None, "the S3 destination's access key", secret=True),
    S("AWS_SECRET_ACCESS_KEY", Text(), None, "the S3 destination's secret key", secret=True),
    S("AWS_REGION", Text(), None, "the S3 destination's region", shown="boto3's default"),
    # -- GenroPy's other programs ---------------------------------------------------
    S("GENROPY_TASKS", Flag(), False, "run the task scheduler and workers (writes `<tasks async_impl=\"true\"/>` "
      "into environment.xml)"),
    S("GENROPY_TASK_WORKERS", Whole(0, 32), 1, "`gnr web taskworker` processes (0: the scheduler only)"),
    S("GNR_SCHEDULER_PORT", Port(), 14951, "the scheduler's port on 127.0.0.1"),
    S("GNR_SCHEDULER_HOST", Text(), None, "must stay unset: the scheduler has no authentication and listens "
      "on 127.0.0.1"),
    S("GNR_SCHEDULER_URL", Text(), None, "the scheduler workload (mode `scheduler`) the site and mode "
      "`taskworker` use, e.g. `http://scheduler:14951`; unset with `GENROPY_TASKS` (it runs in the container)"),
    S("GNR_SCHEDULER_BIND", Text(), "127.0.0.1", "where mode `scheduler` listens (it has no authentication: "
      "off loopback only where a network policy admits just the site's pods)"),
    S("GENROPY_CRASH_RESTARTS", Whole(1, 1000), 5, "a program exiting unexpectedly this many times within "
      "`GENROPY_CRASH_WINDOW` stops the container"),
    S("GENROPY_CRASH_WINDOW", Seconds(above_zero=True), 60.0, "seconds of that window"),
    # -- compose --------------------------------------------------------------------
    S("SITE_BIND", Text(), "127.0.0.1", "the host address the site is published on (keep 127.0.0.1 with "
      "`GENROPY_DEBUG`: the console runs code)", COMPOSE),
    S("SITE_PORT", Port(), WEB_PORT, "the host port the site is published on", COMPOSE),
    S("GENROPY_PROJECT_DIR", Text(), "./demo", "your GenroPy project, bind-mounted (live)", COMPOSE),
    S("GENROPY_PROJECT_NAME", Text(), "demo", "its folder name inside the container", COMPOSE),
    S("GENROPY_UID", Whole(0, 2**31 - 1), 0, "the user the site runs as (unset or 0: the entrypoint picks "
      "the owner of the mounted instance)", COMPOSE),
    S("GENROPY_RELOAD", Flag(), True, "reload on code changes (`GNR_WSGI_OPT_reload`)", COMPOSE),
    S("GENROPY_DEBUG", Flag(), False, "werkzeug's debug console (`GNR_WSGI_OPT_debug` and "
      "`GENROPY_ALLOW_DEBUG`): local only", COMPOSE),
    S("GENROPY_BACKUP_DIR", Text(), "./backups", "the host folder `backup` writes its archives to (bind-mounted "
      "at `$GENROPY_HOME/backups`: off the volumes `down -v` removes)", COMPOSE),
    S("GENROPY_BACKUP_EVERY", Whole(60, 10**8), 86400, "seconds between backups of the `backup` profile", COMPOSE),
    S("PYTHON_BASE", Text(), "python:3.13-slim-trixie", "the Python base image of the build", COMPOSE),
    S("POSTGRES_IMAGE", Text(), "postgres:17", "the PostgreSQL image", COMPOSE),
    S("POSTGRES_USER", Text(), "genropy", "PostgreSQL's user (its password is generated on first start)",
      COMPOSE),
    S("REMOTEDB_*", Text(), None, "the `remotedb` profile: `REMOTEDB_SITE_PORT`, `_SSH_HOST`, `_SSH_PORT`, "
      "`_SSH_USER`, `_DB_HOST`, `_DB_PORT`, `_DB_NAME`, `_DB_USER`, `_SECRETS_DIR` (see `.env.example`)",
      COMPOSE, family=True),
    # -- the testing module ---------------------------------------------------------
    S("GENROPY_ASGI_IMAGE", Text(), "genropy-asgi:latest", "the image (ini `genropy_image`); also the suite's",
      TESTING),
    S("GENROPY_ASGI_POSTGRES_IMAGE", Text(), "postgres:17", "PostgreSQL image (ini `genropy_postgres_image`)",
      TESTING, shown="`postgres:17` (the bootstrapped one when that is absent)"),
    S("GENROPY_ASGI_VALKEY_IMAGE", Text(), "valkey/valkey:8", "Valkey image of `testing.topology`'s "
      "`scaled(n, register=\"redis\")`", TESTING, shown="`valkey/valkey:8` (the bootstrapped one when that is absent)"),
    S("GENROPY_ASGI_PROJECT", Text(), None, "your GenroPy project folder, rootdir-relative "
      "(ini `genropy_project`)", TESTING),
    S("GENROPY_ASGI_SITE", Text(), "demo", "the instance to serve (ini `genropy_site`)", TESTING),
    S("GENROPY_ASGI_DATABASE", Choice("sqlite", "postgres"), "sqlite", "`sqlite` or `postgres` "
      "(ini `genropy_database`)", TESTING),
    S("GENROPY_ASGI_REQUIREMENTS", Choice("install", "check"), "install", "the packages' `requirements.txt`: "
      "pip-installed at start, or only checked (ini `genropy_requirements`)", TESTING),
    S("GENROPY_ASGI_ISOLATION", Choice("test", "session"), "test", "`test`: each test that uses the site starts "
      "from its database as it was when the site became ready (PostgreSQL: a template database cloned; "
      "SQLite: the files copied back); `session`: tests share it (ini `genropy_isolation`)", TESTING),
    S("GENROPY_ASGI_REUSE", Flag(), False, "keep the site's containers for the next run with the same image, "
      "project and settings, and take them over then (ini `genropy_reuse`, or `--genropy-reuse`)", TESTING),
    S("GENROPY_ASGI_ADMIN_USER", Text(), "admin", "the admin login the site's container defines, with a "
      "generated password (fixture `genropy_admin`; ini `genropy_admin_user`)", TESTING),
    S("GENROPY_CHROMIUM", Text(), "/usr/bin/chromium", "the browser `genropy_asgi.testing.devtools` drives "
      "(headless, DevTools protocol)", TESTING, shown="`/usr/bin/chromium` (Debian's `chromium`)"),
    # -- this repository's test suite -------------------------------------------------
    S("GENROPY_ASGI_TEST_PG", Text(), None, "DSN of a PostgreSQL to use instead of starting one", SUITE,
      shown="started by `scripts/test-postgres`"),
    S("GENROPY_ASGI_PG_DIR", Text(), "/tmp/genropy-asgi-pg", "where the throwaway cluster runs", SUITE),
    S("GENROPY_ASGI_PG_PORT", Port(), 55432, "its port", SUITE),
    S("GENROPY_ASGI_BUILD", Choice("build", "skip"), "build", "`skip`: do not (re)build the image before the "
      "container tests", SUITE),
    # -- set by the entrypoint for its programs -----------------------------------------
    S("GENROPY_ASGI_ARGV", Text(), None, "the `gnrasgiserve` arguments as a JSON list, read by "
      "`genropy_asgi.launch.app_factory:create_app()` (gunicorn workers, the `--reload` child)", INTERNAL),
    S("GENROPY_IMAGE_FLAVOUR", Choice("full", "slim"), "full", "the image's flavour, set by its build "
      "(`FLAVOUR`): GenroPy's bundled packages' requirements that the flavour leaves out are not missing",
      INTERNAL),
    S("GENROPY_ASYNC_BIND", Text(), None, "the address `gnr web async -p PORT` binds its TCP port to, set by "
      "`gnrasgiserve` to its own `-H` host (GenroPy binds `0.0.0.0`)", INTERNAL),
    S("GENROPY_APP_DIR", Text(), "/opt/genropy-asgi", "the image's own files (config, entrypoint)", INTERNAL),
    S("GENROPY_VENV", Text(), "/opt/venv", "the image's virtual environment", INTERNAL),
    S("GENROPY_RUN", Text(), "/var/lib/genropy/run", "runtime files (port, locks, the fatal marker)", INTERNAL),
    S("GENROPY_BACKUP_STATUS", Text(), None, "the last backup's status file (the instance's `data/`), read by the "
      "metrics endpoint", INTERNAL),
    S("GENROPY_PYTHON_PACKAGES", Text(), None, "a folder of packages installed at start "
      "(`GENROPY_PROJECT_REQUIREMENTS=install`), added after the venv's", INTERNAL),
    S("GENROPY_BIND", Text(), f"0.0.0.0:{WEB_PORT}", "gunicorn's bind address", INTERNAL),
    S("GENROPY_STOP_WAIT", Whole(1, 86400), 40, "seconds supervisord gives the server to stop", INTERNAL),
    S("GENROPY_SERVER_COMMAND", Text(), None, "the server program's command line", INTERNAL),
    S("GENROPY_DAEMON_ADDRESS", Text(), f"127.0.0.1:{DAEMON_PORT}", "where gnrdaemon is reached (host:port)",
      INTERNAL),
    S("PROMETHEUS_MULTIPROC_DIR", Text(), None, "where every process of the container writes its metrics "
      "(prometheus-client's multiprocess mode; emptied at start)", INTERNAL, shown="`$GENROPY_RUN/metrics`"),
    S("GENROPY_STARTED_AT", Text(), None, "when the entrypoint started (epoch seconds): the server's `ready` "
      "line says how long the start took", INTERNAL),
    S("GENROPY_SUPERVISOR_USER", Text(), None, "supervisord's socket user (`python -m "
      "genropy_asgi.container.supervisorctl` reads it)", INTERNAL),
    S("GENROPY_SUPERVISOR_TOKEN", Text(), None, "supervisord's socket token, made at each start "
      "(`$GENROPY_RUN/supervisor.token`, mode 0600)", INTERNAL, secret=True),
    S("GENROPY_PROGRAM", Text(), None, "the program a process's JSON records name (set by `prefix_output`)",
      INTERNAL),
    S("GENROPY_REVISION", Text(), None, "the source revision the image was built from (build arg `REVISION`)",
      INTERNAL),
    S("GENROPY_DAEMON_AUTOSTART", Flag(), True, "supervisord starts a gnrdaemon of its own", INTERNAL),
    S("GENROPY_SOCKETS", Text(), None, "the folder of `gnr web async`'s Unix socket (`$GENROPY_RUN/sockets`: "
      "the container's own, never the shared site folder)", INTERNAL),
    S("GENROPY_REGISTER_STORE", Text(), None, "the folder of gnrdaemon's saved registers "
      "(`$GENROPY_SITE_DATA/registers`, else `$GENROPY_HOME/registers`)", INTERNAL),
    S("GENROPY_SITE_SPEC", Text(), None, "the site (and `:remotedb`) GenroPy's other programs are given",
      INTERNAL),
    S("GENROPY_ASYNC_AUTOSTART", Flag(), False, "supervisord starts `gnr web async`", INTERNAL),
    S("GENROPY_SCHEDULER_AUTOSTART", Flag(), False, "supervisord starts the task scheduler", INTERNAL),
    S("GENROPY_METRICS_AUTOSTART", Flag(), True, "supervisord starts the metrics endpoint", INTERNAL),
    S("GENROPY_TASKWORKER_AUTOSTART", Flag(), False, "supervisord starts the task workers", INTERNAL),
    S("GENROPY_TASK_WORKER_SLOTS", Whole(1, 32), 1, "supervisord's task worker `numprocs`", INTERNAL),
)
del S

BY_NAME: dict[str, Setting] = {s.name: s for s in TABLE}
ALIASES: dict[str, str] = {alias: s.name for s in TABLE for alias in s.aliases}


def setting(name: str) -> Setting:
    return BY_NAME[name]


def in_scope(setting_: Setting, scope: str) -> bool:
    """``image``/``server`` include the settings both read."""
    return setting_.scope == scope or (setting_.scope == BOTH and scope in (IMAGE, SERVER))


# -- reading --------------------------------------------------------------------

def raw_value(env: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """``(variable actually set, its stripped text)``: the name, else its first old name set."""
    for candidate in (name, *BY_NAME[name].aliases):
        text = (env.get(candidate) or "").strip()
        if text:
            return candidate, text
    return None


_UNSET = object()


def read(env: Mapping[str, str], name: str, default: Any = _UNSET) -> Any:
    """The parsed value of ``name`` (or of an old name of it), else the default.

    ``default`` replaces the table's where the caller knows better (e.g. the port a
    mounted siteconfig declares).
    """
    entry = BY_NAME[name]
    found = raw_value(env, name)
    if found is None:
        return entry.default if default is _UNSET else default
    variable, text = found
    return entry.parser(variable, text)


def read_as(env: Mapping[str, str], name: str, parser: Parser, default: Any = None) -> Any:
    """A variable of a family (``GNR_WSGI_OPT_port``, ``GNR_REMOTEDB_X_DB_PORT``...) through a parser."""
    text = (env.get(name) or "").strip()
    return parser(name, text) if text else default


def read_secret(env: Mapping[str, str], name: str, read_file: Callable[[str], str | None]) -> str | None:
    """``NAME`` or the content of ``NAME_FILE`` (trailing newline stripped); never both.

    ``read_file(path)`` answers the content, ``None`` when absent, ``OSError`` when unreadable.
    """
    direct = env.get(name)
    path = env.get(f"{name}_FILE")
    if direct and path:
        raise SettingError(f"{name} and {name}_FILE are both set: use one")
    if path:
        try:
            content = read_file(path)
        except OSError as exc:
            raise SettingError(f"{name}_FILE={path}: cannot read ({exc.strerror or exc})") from exc
        if content is None:
            raise SettingError(f"{name}_FILE={path}: no such file")
        return content.rstrip("\r\n")
    return direct or None


def is_secret_name(name: str) -> bool:
    """A secret of the table, or of a family (``GNR_REMOTEDB_<NAME>_DB_PASSWORD``...)."""
    entry = BY_NAME.get(name)
    return entry.secret if entry is not None else name.endswith(SECRET_SUFFIXES)


def validate(env: Mapping[str, str], scope: str) -> None:
    """Parse every (non-secret, non-family) setting of a scope: the first bad one raises."""
    for entry in TABLE:
        if in_scope(entry, scope) and not entry.secret and not entry.family:
            read(env, entry.name)


def deprecations(env: Mapping[str, str]) -> list[str]:
    """One line per old name in use (and whether the new one overrides it)."""
    lines = []
    for alias, name in ALIASES.items():
        if (env.get(alias) or "").strip():
            also = f" ({name} is set too and wins)" if (env.get(name) or "").strip() else ""
            lines.append(f"{alias} is deprecated: use {name}{also}")
    return lines


def snapshot(env: Mapping[str, str], scope: str) -> dict[str, Any]:
    """The value of each setting of a scope, as read (secrets masked when set): ``print-config``."""
    values: dict[str, Any] = {}
    for entry in TABLE:
        if not in_scope(entry, scope) or entry.family:
            continue
        if entry.secret:
            given = env.get(entry.name) or env.get(f"{entry.name}_FILE")
            values[entry.name] = MASK if given else None
        else:
            values[entry.name] = entry.parser.shown(read(env, entry.name))
    return values
