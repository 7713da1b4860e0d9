"""Numbers read from environment variables, with one-line errors naming the variable.

Shared by ``gnrasgiserve``'s factory and the image's launch plan, so the same
variable is read (and refused) the same way everywhere.
"""

from __future__ import annotations

import math
from typing import Mapping


class VariableError(ValueError):
    """A malformed variable; ``str(exc)`` is the one line to show."""


def whole_number(environ: Mapping[str, str], name: str, default: int | None,
                 minimum: int = 0, maximum: int = 65535) -> int | None:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= maximum:
        raise VariableError(f"{name}={raw!r}: expected a whole number from {minimum} to {maximum}")
    return int(raw)


def seconds(environ: Mapping[str, str], name: str, default: float | None) -> float | None:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:  # nan and inf parse as floats: refused too
        raise VariableError(f"{name}={raw!r}: expected a number of seconds >= 0 (finite)")
    return value
