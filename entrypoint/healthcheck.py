"""The image's HEALTHCHECK: GET /_server/health on the port the entrypoint chose."""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    home = os.environ.get("GENROPY_HOME", "/var/lib/genropy")
    try:
        with open(os.path.join(home, "run", "port")) as handle:
            port = int(handle.read().strip())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_server/health", timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
