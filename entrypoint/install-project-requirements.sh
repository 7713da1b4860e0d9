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
"${GENROPY_VENV:-/opt/venv}/bin/python" -m pip install --no-cache-dir --disable-pip-version-check "$@"
