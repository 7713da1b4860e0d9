"""The image's HEALTHCHECK: GET /_server/ready on the port the entrypoint chose.

Readiness, not liveness: "healthy" is what ``docker compose up --wait`` and
``depends_on: {condition: service_healthy}`` wait for, and their users expect pages
to be served then (site built, gnrdaemon and the database answering). Kubernetes
does not use this check; the chart's probes split liveness and readiness."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    from genropy_asgi import settings

    try:
        # docker exec sees the container's environment, not the entrypoint's children's: GENROPY_HOME
        with open(os.path.join(settings.read(os.environ, "GENROPY_HOME"), "run", "port")) as handle:
            port = int(handle.read().strip())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_server/ready", timeout=4) as response:
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:  # 503: which checks failed, for docker inspect
        print(f"not ready: {exc.read()[:300].decode(errors='replace')}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
