"""testcontainers wait strategy for a GenroPy site: ``/_server/ready`` answers 200.

``GenropyReady`` is a testcontainers ``WaitStrategy`` (``container.waiting_for(...)``):
it polls the site's readiness endpoint on the mapped web port and, unlike a plain
``HttpWaitStrategy``, stops at once when the container exits (a configuration error
exits with status 2: waiting out the timeout would only hide it). Either failure raises
``GenropySiteDidNotStart`` whose message ends with the container's last log lines.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

from testcontainers.core.waiting_utils import WaitStrategy

READY_PATH = "/_server/ready"


class GenropySiteDidNotStart(RuntimeError):
    """The site never became ready; the message ends with the container's last log lines."""


def last_log_lines(container: Any, lines: int = 60) -> str:
    """The last ``lines`` of a docker-py container's output ("" if it is gone)."""
    try:
        return "\n".join(container.logs().decode(errors="replace").splitlines()[-lines:])
    except Exception:  # removed meanwhile
        return ""


class GenropyReady(WaitStrategy):
    """Wait until ``GET /_server/ready`` on ``port`` answers 200; fail fast if the container exits."""

    def __init__(self, port: int, what: str = "GenroPy site", path: str = READY_PATH) -> None:
        super().__init__()
        self.port, self.what, self.path = port, what, path
        self.with_poll_interval(0.25)

    def failure(self, container: Any, reason: str) -> GenropySiteDidNotStart:
        return GenropySiteDidNotStart(f"{self.what}: {reason}\n--- last log lines ---\n{last_log_lines(container)}")

    def wait_until_ready(self, target: Any) -> None:
        container = target.get_wrapped_container()
        timeout = self._startup_timeout  # WaitStrategy's own setting (with_startup_timeout)
        deadline = time.monotonic() + timeout
        last, url = "no answer yet", None
        while time.monotonic() < deadline:
            container.reload()
            if container.status in ("exited", "dead"):
                raise self.failure(container, f"the container exited ({container.attrs['State']['ExitCode']})")
            if container.status == "running":
                url = url or f"http://{target.get_container_host_ip()}:{target.get_exposed_port(self.port)}{self.path}"
                try:
                    with urllib.request.urlopen(url, timeout=10) as response:
                        if response.status == 200:
                            return
                except urllib.error.HTTPError as exc:
                    last = f"{self.path} answered {exc.code}: {exc.read()[:300].decode(errors='replace')}"
                except OSError as exc:
                    last = str(exc)
            time.sleep(self._poll_interval)
        raise self.failure(container, f"not ready after {timeout:g}s ({last})")
