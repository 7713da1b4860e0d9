"""Forwarded headers only from trusted proxies (``FORWARDED_ALLOW_IPS``).

uvicorn's ``ProxyHeadersMiddleware`` takes the client address and scheme from
``X-Forwarded-For`` / ``X-Forwarded-Proto`` when the peer is a trusted proxy, but leaves
the headers themselves in the request whoever sent them: GenroPy then reads a client's
own ``X-Forwarded-For`` (its ``user_ip``, connection names, logs) with no proxy in front.
Here the peer is checked first: a trusted proxy's request goes through uvicorn's middleware
(its parsing, unchanged); any other peer's forwarded headers (``FORWARDED_NAMES``) are
dropped before anything reads them. The server runs uvicorn with ``proxy_headers=False``
so this is the one place that decides.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

FORWARDED_NAMES = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port",
                             b"x-forwarded-prefix", b"x-real-ip", b"forwarded"})


class TrustedPeers:
    """``FORWARDED_ALLOW_IPS``: ``*``, or addresses and networks separated by commas."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        items = [item.strip() for item in spec.split(",") if item.strip()]
        self.everyone = "*" in items
        self.networks = []
        self.names = set()
        for item in items:
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.names.add(item)  # a Unix socket path or a name, as uvicorn compares them

        # one decision per peer address, remembered (parsing it was most of this check's cost);
        # bounded, so a flood of source addresses costs a parse each, never memory
        self._decided = functools.lru_cache(maxsize=4096)(self._decide)

    def __contains__(self, peer: str | None) -> bool:
        if self.everyone:
            return True
        if not peer:
            return False
        return self._decided(peer)

    def _decide(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return peer in self.names
        return any(address in network for network in self.networks)


def without_forwarded(scope: dict[str, Any]) -> dict[str, Any]:
    headers = scope.get("headers") or []
    if not any(name.lower() in FORWARDED_NAMES for name, _ in headers):
        return scope
    return {**scope, "headers": [(name, value) for name, value in headers if name.lower() not in FORWARDED_NAMES]}


class ForwardedHeaders:
    """ASGI middleware: uvicorn's proxy headers for trusted peers, none for the others."""

    def __init__(self, app: Any, spec: str) -> None:
        self.app = app
        self.trusted = TrustedPeers(spec)
        self.proxy = ProxyHeadersMiddleware(app, trusted_hosts=spec)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        peer = (scope.get("client") or (None,))[0]
        if peer in self.trusted:
            await self.proxy(scope, receive, send)
        else:
            await self.app(without_forwarded(scope), receive, send)
