"""A steady load on a GenroPy site from client threads, every answer recorded.

    with SteadyLoad(site.get_url(), clients=16, rpc="my_method") as load:
        ...  # kill a program, restart the database, stop the container
    assert not load.failures()

Each client opens the page (GET: the shell and its ``page_id``), then calls the
page's RPC in a loop; after a failed answer it opens the page again. Every
answer is an :class:`Answer` (when it was sent and answered, status or
transport error, ``Retry-After``), so a test can ask what happened in a
window of time: during a restart, before readiness, while a stop drained.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import httpx

from genropy_asgi.testing.client import PAGE_ID


@dataclasses.dataclass(frozen=True)
class Answer:
    sent: float  # time.monotonic()
    answered: float
    kind: str  # "page" or "rpc"
    status: int | None  # None: no HTTP answer (refused, reset, timed out)
    error: str = ""
    retry_after: str | None = None
    body: str = ""  # the start of a non-200 answer's body, to say what went wrong

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error

    @property
    def gate(self) -> bool:
        """The gateway's own 'not ready yet' answer: 503 with Retry-After."""
        return self.status == 503 and self.retry_after is not None


class SteadyLoad:
    """``clients`` threads of page + RPC calls against ``base_url`` until the block ends."""

    def __init__(self, base_url: str, clients: int = 4, page: str = "index", rpc: str | None = None,
                 pause: float = 0.0, timeout: float = 60.0) -> None:
        self.base_url, self.page, self.rpc, self.pause = base_url, page, rpc, pause
        self.timeout = timeout
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True, name=f"load-{n}") for n in range(clients)]

    def __enter__(self) -> SteadyLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)

    # -- what happened -----------------------------------------------------------------
    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    def failures(self, since: float = 0.0, until: float = float("inf")) -> list[Answer]:
        """Answers sent in [since, until) that were not 200."""
        return [a for a in self.snapshot() if since <= a.sent < until and not a.ok]

    def first_success_after(self, moment: float) -> float | None:
        """When the first 200 sent after ``moment`` was answered (None: none yet)."""
        answered = [a.answered for a in self.snapshot() if a.sent >= moment and a.ok]
        return min(answered) if answered else None

    def summary(self, answers: list[Answer] | None = None) -> str:
        answers = self.snapshot() if answers is None else answers
        counts: dict[str, int] = {}
        for a in answers:
            key = str(a.status) if a.status is not None else (a.error.split(":")[0] or "no answer")
            counts[key] = counts.get(key, 0) + 1
        return ", ".join(f"{key}: {count}" for key, count in sorted(counts.items()))

    # -- a client ----------------------------------------------------------------------
    def _record(self, sent: float, kind: str, response: httpx.Response | None, error: str = "") -> None:
        answer = Answer(sent, time.monotonic(), kind, response.status_code if response is not None else None,
                        error, response.headers.get("retry-after") if response is not None else None,
                        response.text[:500] if response is not None and response.status_code != 200 else "")
        with self._lock:
            self.answers.append(answer)

    def _call(self, kind: str, request) -> httpx.Response | None:
        sent = time.monotonic()
        try:
            response = request()
        except httpx.HTTPError as exc:
            self._record(sent, kind, None, f"{type(exc).__name__}: {exc}")
            return None
        self._record(sent, kind, response, "" if self._complete(kind, response) else "incomplete answer")
        return response

    @staticmethod
    def _complete(kind: str, response: httpx.Response) -> bool:
        if response.status_code != 200:
            return True  # the status says it
        return bool(PAGE_ID.search(response.text)) if kind == "page" else "<result" in response.text

    def _client(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as client:
            page_id = None
            while not self._stop.is_set():
                if page_id is None or self.rpc is None:
                    response = self._call("page", lambda: client.get(f"/{self.page}"))
                    match = PAGE_ID.search(response.text) if response is not None else None
                    page_id = match.group(1) if match and response.status_code == 200 else None
                    failed = page_id is None
                else:
                    data = {"method": self.rpc, "page_id": page_id}
                    response = self._call("rpc", lambda data=data: client.post(f"/{self.page}", data=data))
                    failed = response is None or not self._complete("rpc", response) or response.status_code != 200
                    if failed:
                        page_id = None
                if failed:
                    self._stop.wait(0.05)  # a refused connection is instant: don't spin
                elif self.pause:
                    self._stop.wait(self.pause)


def stalled_bodies(port: int, count: int, path: str = "/index", host: str = "127.0.0.1") -> list:
    """``count`` connections that send a POST's headers and the first bytes of its body, then
    stall (half urlencoded forms, half octet-stream): a hostile client's load. Close the
    returned sockets when done."""
    import socket

    sockets = []
    for index in range(count):
        sock = socket.create_connection((host, port), timeout=30)
        kind = "application/x-www-form-urlencoded" if index % 2 else "application/octet-stream"
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {kind}\r\n"
                     f"Content-Length: 100000\r\n\r\na=1".encode())
        sockets.append(sock)
    return sockets
