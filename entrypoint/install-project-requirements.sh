#!/bin/sh
# Build-time helper for a derived image: install every package's requirements.txt of a
# GenroPy project (GenroPy's own convention) into the image's venv. Run as root:
#   USER 0
#   RUN /opt/genropy-asgi/entrypoint/install-project-requirements.sh /opt/genropy/projects/myproject
# pip honours the usual PIP_* variables: an air-gapped build sets PIP_NO_INDEX=1 and
# PIP_FIND_LINKS=/path/to/wheels (copied into the build first).
set -eu
project=${1:?usage: install-project-requirements.sh PROJECT_DIR}
[ -d "$project/packages" ] || { echo "install-project-requirements.sh: no packages/ in $project" >&2; exit 2; }
set --
for file in "$project"/packages/*/requirements.txt; do
  [ -f "$file" ] && set -- "$@" --requirement "$file"
done
if [ $# -eq 0 ]; then
  echo "install-project-requirements.sh: no requirements.txt in $project/packages/*: nothing to install"
  exit 0
fi
python="${GENROPY_VENV:-/opt/venv}/bin/python"
# PIP_PREFIX (the derived image's first stage): what lands there is copied over the venv, so a
# requirement that replaces a version the image has would leave both versions' metadata there
# (pip even uninstalls the image's copy, in that stage only): refuse, comparing with before
before=$(mktemp)
"$python" -c 'import importlib.metadata as m; print("\n".join(f"{d.name} {d.version}" for d in m.distributions()))' >"$before"
"$python" -m pip install --no-cache-dir --disable-pip-version-check "$@"
if [ -n "${PIP_PREFIX:-}" ]; then
  "$python" - "$PIP_PREFIX" "$before" <<'PY'
import importlib.metadata as metadata
import pathlib
import sys

def key(name):
    return name.lower().replace("_", "-")

image = dict(line.rsplit(" ", 1) for line in pathlib.Path(sys.argv[2]).read_text().splitlines() if " " in line)
image = {key(name): version for name, version in image.items()}
clashes = []
for info in pathlib.Path(sys.argv[1]).glob("lib/python*/site-packages/*.dist-info"):
    dist = metadata.Distribution.at(info)
    name = key(dist.metadata["Name"])
    if name in image and image[name] != dist.version:
        clashes.append(f"{name} {dist.version} (the image has {image[name]})")
if clashes:
    sys.exit("install-project-requirements.sh: the project's requirements replace the image's own versions: "
             + ", ".join(clashes) + "; pin the image's versions in requirements.txt")
PY
fi
rm -f "$before"
