"""The image's HEALTHCHECK: GET /_server/health on the port the entrypoint chose."""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    from genropy_asgi import settings

    try:
        # docker exec sees the container's environment, not the entrypoint's children's: GENROPY_HOME
        with open(os.path.join(settings.read(os.environ, "GENROPY_HOME"), "run", "port")) as handle:
            port = int(handle.read().strip())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_server/health", timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
