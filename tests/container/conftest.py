"""Container tests: the image built from this repository, run with testcontainers
(the docker/image fixtures are in tests/conftest.py). Every test here leaves no
container, network or volume behind."""

from __future__ import annotations

from support import no_leftovers  # noqa: F401  (autouse fixture)


