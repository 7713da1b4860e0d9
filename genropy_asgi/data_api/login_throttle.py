"""Failed logins slow a guesser down: after too many in a minute, 429 until the minute passes.

Counted per client address and account (``PER_ACCOUNT`` failures in ``WINDOW_SECONDS``: one
address guessing one account's password) and per address (``PER_ADDRESS``: one address trying
many accounts or tokens). Never per account alone, so nobody can lock a user out from elsewhere.
The address is the one the server trusts (``FORWARDED_ALLOW_IPS`` decides when a proxy's
``X-Forwarded-For`` counts). Successful logins do not reset anything (one good account would
otherwise reset a guesser's count). Memory is bounded (``MAX_KEYS``, the oldest forgotten first).

Pure bookkeeping with the clock passed in; the application calls ``retry_after`` before a
request with credentials and ``failed`` after each 401.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

from genropy_asgi.data_api.identity import CredentialsError, parse_authorization

WINDOW_SECONDS = 60.0
PER_ACCOUNT = 10
PER_ADDRESS = 100
MAX_KEYS = 10_000


def account_of(authorization: str) -> str:
    """What a header tries to be (a Basic user name, or every bearer token as one), for counting."""
    try:
        scheme, user, _ = parse_authorization(authorization)
    except CredentialsError:
        return "(malformed)"
    return f"user:{user}" if scheme == "basic" else "(token)"


class LoginThrottle:
    def __init__(self, window: float = WINDOW_SECONDS, per_account: int = PER_ACCOUNT,
                 per_address: int = PER_ADDRESS, max_keys: int = MAX_KEYS) -> None:
        self.window, self.per_account, self.per_address, self.max_keys = window, per_account, per_address, max_keys
        self._failures: OrderedDict[tuple[str, ...], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, address: str, authorization: str) -> list[tuple[tuple[str, ...], int]]:
        return [((address, account_of(authorization)), self.per_account), ((address,), self.per_address)]

    def retry_after(self, address: str, authorization: str, now: float) -> float | None:
        """Seconds until this address may try these credentials again; ``None``: it may now."""
        wait = 0.0
        with self._lock:
            for key, limit in self._keys(address, authorization):
                times = self._recent(key, now)
                if times is not None and len(times) >= limit:
                    wait = max(wait, times[0] + self.window - now)
        return wait if wait > 0 else None

    def failed(self, address: str, authorization: str, now: float) -> None:
        with self._lock:
            for key, _ in self._keys(address, authorization):
                times = self._recent(key, now)
                if times is None:
                    times = self._failures[key] = deque()
                times.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times
