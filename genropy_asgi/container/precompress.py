"""Precompressed siblings (``file.js.br``, ``file.js.gz``) for static trees, at image build.

``python -m genropy_asgi.container.precompress [--genropy] [FOLDER...]`` walks the folders
(``--genropy``: GenroPy's own static trees, found from the installed ``gnr`` package:
each dojo's ``dojo`` build, ``gnrjs``, ``resources``; not the ``dojo_src`` trees GenroPy
loads only for developers, nor the unused ``dojo_release``) and writes, next to every text file the native
static server would compress (``static_rules.is_compressible``, at least
``MIN_BYTES``), its brotli (quality 11) and gzip (level 9) forms, when they save at least
5%; each sibling gets its original's mtime, so the server takes it as fresh
(``static_files`` serves a sibling only when it is not older than its original) and a
later edit of the original falls back to on-the-fly compression. Idempotent: a fresh
sibling is kept. The same ``static_files.compress`` as on the fly, at its best level.

ServeStatic's ``compress`` command does the same for the folders it serves; we keep one
compression code path (the server's), and no second dependency for two function calls.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from genropy_asgi.asgi import static_rules as rules
from genropy_asgi.asgi.static_files import compress

MIN_BYTES = 1024  # below this the saving is a few hundred bytes: on the fly is enough
MIN_SAVING = 0.05
STATIC_TREES = ("dojo_libs/*/dojo", "gnrjs", "resources")  # globs under the gnr package


def genropy_trees() -> list[Path]:
    import importlib.util

    spec = importlib.util.find_spec("gnr")  # without importing GenroPy (it is slow and noisy)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("precompress: GenroPy (the gnr package) is not installed")
    root = Path(list(spec.submodule_search_locations)[0])
    return sorted(path for pattern in STATIC_TREES for path in root.glob(pattern) if path.is_dir())


def candidates(folders: list[Path]) -> Iterator[Path]:
    suffixes = tuple(rules.SIBLING_SUFFIX.values())
    for folder in folders:
        for directory, _, names in os.walk(folder):
            for name in names:
                if name.endswith(suffixes):
                    continue
                path = Path(directory, name)
                media, own_coding = rules.content_type(name)
                if own_coding is None and rules.is_compressible(media) and not path.is_symlink() \
                        and path.stat().st_size >= MIN_BYTES:
                    yield path


def precompress_file(path: Path) -> tuple[int, int]:
    """Write the siblings of ``path``; (original bytes, sibling bytes written)."""
    original = path.stat()
    data = None
    written = 0
    for coding, suffix in rules.SIBLING_SUFFIX.items():
        sibling = Path(str(path) + suffix)
        if sibling.exists() and sibling.stat().st_mtime >= original.st_mtime:
            continue
        if data is None:
            data = path.read_bytes()
        packed = compress(data, coding, best=True)
        if len(packed) > len(data) * (1 - MIN_SAVING):
            continue
        staging = sibling.with_name(sibling.name + ".tmp")
        staging.write_bytes(packed)
        os.utime(staging, ns=(original.st_atime_ns, original.st_mtime_ns))
        os.replace(staging, sibling)
        written += len(packed)
    return original.st_size, written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genropy_asgi.container.precompress",
                                     description="write .br and .gz siblings of static text files")
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--genropy", action="store_true", help="GenroPy's own static trees")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    options = parser.parse_args(argv)
    folders = list(options.folders) + (genropy_trees() if options.genropy else [])
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing or not folders:
        parser.error(f"not a folder: {', '.join(missing)}" if missing else "no folder given")
    started = time.monotonic()
    files = list(candidates(folders))
    with ProcessPoolExecutor(max(options.jobs, 1)) as pool:
        results = list(pool.map(precompress_file, files, chunksize=16))
    source = sum(size for size, _ in results)
    written = sum(size for _, size in results)
    print(f"precompress: {len(files)} files, {source / 1e6:.1f} MB -> {written / 1e6:.1f} MB of .br/.gz siblings "
          f"in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
