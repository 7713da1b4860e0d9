""".env.example documents every variable docker-compose.yml reads, and nothing else."""

from __future__ import annotations

import re

from support import REPO


def variables_read_by_compose() -> set[str]:
    text = (REPO / "docker-compose.yml").read_text()
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)(?::?[-?][^}]*)?\}", text))


def test_env_example_covers_the_compose_file():
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", (REPO / ".env.example").read_text(), re.M))
    assert variables_read_by_compose() <= documented, variables_read_by_compose() - documented
    assert documented <= variables_read_by_compose(), documented - variables_read_by_compose()
