"""The docs' settings tables, generated from ``genropy_asgi.settings`` (kept out of that module,
which every GenroPy process imports): ``python -m genropy_asgi.settings_docs readme docs/*.md``
rewrites the generated blocks (``<!-- settings:SCOPE -->``), ``markdown SCOPE`` prints one table;
``tests/unit/test_settings.py`` fails when a page differs."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable

from genropy_asgi import settings


def markdown(scope: str) -> str:
    """The README's table of one scope."""
    lines = ["| Variable | Meaning | Default |", "|---|---|---|"]
    for entry in settings.TABLE:
        if not settings.in_scope(entry, scope):
            continue
        name = f"`{entry.name}`" + (" (secret; or `_FILE`)" if entry.secret else "")
        meaning = entry.help + (f"; old name `{'`, `'.join(entry.aliases)}` still read" if entry.aliases else "")
        lines.append(f"| {name} | {meaning} | {entry.shown_default()} |")
    return "\n".join(lines) + "\n"


def readme_blocks(text: str) -> Iterable[tuple[str, str]]:
    """``(scope, table text)`` of each generated block of a README."""
    for match in re.finditer(r"<!-- settings:(\w+) -->\n(.*?)<!-- /settings -->", text, re.S):
        yield match.group(1), match.group(2)


def render_readme(text: str) -> str:
    """The README with each generated block replaced by the table's current text."""
    return re.sub(r"(<!-- settings:(\w+) -->\n)(.*?)(<!-- /settings -->)",
                  lambda m: m.group(1) + markdown(m.group(2)) + m.group(4), text, flags=re.S)


def main(argv: list[str]) -> int:
    """``markdown SCOPE`` prints a table; ``readme PATH...`` rewrites the generated blocks of those pages."""
    if len(argv) == 2 and argv[0] == "markdown" and argv[1] in settings.SCOPES:
        sys.stdout.write(markdown(argv[1]))
        return 0
    if len(argv) >= 2 and argv[0] == "readme":
        for path in argv[1:]:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(render_readme(text))
        return 0
    sys.stderr.write(f"usage: python -m genropy_asgi.settings_docs markdown {{{','.join(settings.SCOPES)}}} | readme PATH...\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
