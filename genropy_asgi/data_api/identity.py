"""Who is asking, from an ``Authorization`` header, by GenroPy's own means.

- ``Basic user:password``: GenroPy's authentication of the site (``getAvatar(..., authenticate=
  True)``: ``xml_auth``, ``py_auth``, the ``adm`` users...), the user's tags and group; like
  GenroPy's login page, an account not confirmed (``status``) is refused, and so is one with a
  second factor (a password alone cannot pass it: API tokens are for them);
- ``Bearer TOKEN``: GenroPy's API tokens (``adm.api_token``: created, expired and revoked by a
  GenroPy admin; only their SHA-256 is stored), the token's tags and group.

No header, or one that does not authenticate: ``None`` (the application answers 401). A good
answer is remembered for ``CACHE_SECONDS`` under a SHA-256 of the header, so a client sending the
same credentials does not cost a password hash per request; a revoked token stops working within
that time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("genropy_asgi")

CACHE_SECONDS = 30.0
CACHE_SIZE = 1024
TOKEN_TABLE = "adm.api_token"


@dataclass(frozen=True)
class Identity:
    user: str
    tags: str  # GenroPy's comma-separated tags
    group: str | None = None
    via: str = "password"  # or "token"
    env: tuple[tuple[str, Any], ...] = ()  # the avatar's values a GenroPy page puts in its environment


PRIVATE_AVATAR_KEYS = frozenset({"pwd", "login_pwd", "secret_2fa", "user_record", "menubag", "page"})
"""Avatar values never copied into GenroPy's environment (secrets, records, objects)."""


def avatar_env(extra: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """What a GenroPy page adds to its environment from the avatar (``user_id``, ``group_code``...),
    scalars only, no secret."""
    return tuple(sorted((str(key), value) for key, value in extra.items()
                        if key not in PRIVATE_AVATAR_KEYS and value is not None
                        and isinstance(value, (str, int, float, bool))))


class CredentialsError(ValueError):
    """A malformed ``Authorization`` header (an HTTP 401 with this text)."""


def parse_authorization(header: str) -> tuple[str, str, str]:
    """``Basic ...`` -> ("basic", user, password); ``Bearer T`` -> ("bearer", "", T)."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialsError("Basic credentials are not base64 of user:password") from None
        user, colon, password = decoded.partition(":")
        if not colon or not user:
            raise CredentialsError("Basic credentials are not user:password")
        return "basic", user, password
    if scheme.lower() == "bearer" and value:
        return "bearer", "", value
    raise CredentialsError("expected Basic or Bearer credentials")


class Authenticator:
    """Authenticate headers against one GenroPy application (``site.gnrapp``); thread-safe."""

    def __init__(self, app: Any, clock: Any = time.monotonic) -> None:
        self.app = app
        self.clock = clock
        self._cache: dict[str, tuple[float, Identity]] = {}
        self._lock = threading.Lock()

    def identify(self, header: str | None) -> Identity | None:
        """Blocking (a database read): call from a worker thread."""
        if not header:
            return None
        key = hashlib.sha256(header.encode("utf-8", "surrogateescape")).hexdigest()
        now = self.clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        scheme, user, secret = parse_authorization(header)
        identity = self._password(user, secret) if scheme == "basic" else self._token(secret)
        if identity is not None:
            with self._lock:
                if len(self._cache) >= CACHE_SIZE:
                    self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                    if len(self._cache) >= CACHE_SIZE:
                        self._cache.clear()
                self._cache[key] = (now + CACHE_SECONDS, identity)
        return identity

    def _password(self, user: str, password: str) -> Identity | None:
        if user == "gnrtoken":  # GenroPy's external-token login: not a password
            return None
        try:
            avatar = self.app.getAvatar(user, password=password, authenticate=True)
        except NotImplementedError:  # a plain GnrApp (config.yaml's databases): its own auth methods
            avatar = application_avatar(self.app, user, password)
        except Exception:
            return None
        if avatar is None or not getattr(avatar, "user", None):
            return None
        extra = getattr(avatar, "extra_kwargs", {}) or {}
        if extra.get("status", "conf") != "conf":
            return None  # invited, waiting, banned: GenroPy's login page refuses them too
        if extra.get("secret_2fa"):
            return None  # a second factor a password cannot give: such users use API tokens
        return Identity(user=str(avatar.user), tags=str(avatar.user_tags or ""),
                        group=extra.get("group_code"), via="password", env=avatar_env(extra))

    def _token(self, token: str) -> Identity | None:
        db = self.app.db
        if TOKEN_TABLE.split(".")[0] not in db.packages:
            return None
        try:
            found = db.table(TOKEN_TABLE).validate_token(token)
            if found:
                db.commit()  # GenroPy defers the token's last_used_ts to the next commit
        except Exception:  # GenroPy's own check failing is no identity (and logged), never a 500
            logger.exception("data bridge: GenroPy's API token check failed")
            db.rollback()
            return None
        if not found:
            return None
        # no ':' in the name: GenroPy's PostgreSQL path reads ":word" in a parameter's text as a parameter
        return Identity(user=f"token-{found['token_id']}", tags=str(found.get("auth_tags") or ""),
                        group=found.get("group_code") or None, via="token")


def application_avatar(app: Any, user: str, password: str) -> Any:
    """GenroPy's authentication methods of the instance (``<authentication>``: ``xml_auth``,
    ``py_auth``...), in order, as the site's ``getAvatar`` runs them, for an application
    without a site (config.yaml's ``databases``). A plain ``GnrApp`` refuses every login by its
    ``checkAllowedIp`` hook ("override", says GenroPy); here a user with no address restriction
    is allowed and one with a restriction is refused (no client address is checked here)."""
    methods = app.config["authentication"]
    if not methods:
        return None
    if getattr(app, "checkAllowedIp", None) is not no_address_restriction:
        app.checkAllowedIp = no_address_restriction  # GenroPy's hook, on this application only
    for node in methods.nodes:
        mode = node.attr.get("mode") or node.label.replace("_auth", "")
        method = getattr(app, f"auth_{mode}", None)
        if method is None:
            continue
        try:
            avatar = method(node, user, password=password, authenticate=True)
        except Exception:
            return None  # refused (a restricted address, a database error): no identity
        if avatar is not None:
            return avatar
    return None


def no_address_restriction(allowed_ip: Any) -> bool:
    """``checkAllowedIp`` for a GenroPy application without a site."""
    return allowed_ip is None or allowed_ip is True
