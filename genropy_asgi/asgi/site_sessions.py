"""Whose is a websocket: GenroPy's session cookie and page register, asked of the site (thread side).

GenroPy keeps a browser's connection id in a signed cookie (``MarshalCookie``, named after
the site's domain identifier, signed with the site's ``secret`` or else its name: what
``gnrwebpage_proxy.connection`` reads) and each page's connection and user in its register
(``site.register.page(page_id)``). The websocket relay asks both, in a worker thread
(the register may be a Pyro round trip), to bind a socket to a page of its own session.
This is the one module that reads them; ``tests/compat/test_site_sessions.py`` fails when
GenroPy changes either.
"""

from __future__ import annotations

import http.cookies
import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("genropy_asgi.asgi.site_sessions")


@dataclass(frozen=True)
class PageOwner:
    connection_id: str | None
    user: str | None


class SiteSessions:
    """The session facts of one GenroPy site."""

    def __init__(self, site: Any) -> None:
        self.site = site

    def secret(self) -> str:
        return self.site.config["secret"] or self.site.site_name

    def connections(self, cookie_header: str) -> frozenset[str]:
        """Connection ids of the valid GenroPy session cookies in ``cookie_header``."""
        from gnr.web.gnrcookie import MarshalCookie

        if not cookie_header:
            return frozenset()
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(cookie_header)
        except http.cookies.CookieError:
            return frozenset()
        secret = self.secret()
        found = set()
        for morsel in jar.values():
            try:
                data = MarshalCookie.unserialize(morsel.value, secret)
            except Exception:  # not GenroPy's, or not signed with this site's secret
                continue
            connection_id = dict(data or {}).get("connection_id") if data is not None else None
            if isinstance(connection_id, str) and connection_id:
                found.add(connection_id)
        return frozenset(found)

    def page_owner(self, page_id: str) -> PageOwner | None:
        """The connection and user of a live page (``None``: no such page)."""
        try:
            item = self.site.register.page(page_id)
        except Exception as exc:
            logger.warning("websocket: the register could not say whose page %s is: %s: %s",
                           page_id, type(exc).__name__, exc)
            return None
        if not item:
            return None
        return PageOwner(item.get("connection_id"), item.get("user"))
