#!/bin/sh
# Build-time helper: make a GenroPy project baked into an image work on a read-only
# root filesystem. Each instance's data/ and site/ (what GenroPy writes) become
# symlinks into $GENROPY_HOME/instances/<instance>/, the one writable mount; the
# entrypoint creates the targets at start.
#   RUN /opt/genropy-asgi/entrypoint/prepare-project.sh /opt/genropy/projects/myproject
set -eu
project=${1:?usage: prepare-project.sh PROJECT_DIR}
home=${GENROPY_HOME:-/var/lib/genropy}
[ -d "$project/instances" ] || { echo "prepare-project.sh: no instances/ in $project" >&2; exit 1; }
for instance in "$project"/instances/*/; do
  name=$(basename "$instance")
  for folder in data site; do
    rm -rf "${instance}${folder}"
    ln -s "$home/instances/$name/$folder" "${instance}${folder}"
  done
done
