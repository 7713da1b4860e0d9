# genropy-asgi: a GenroPy site on uvicorn (ASGI), with gnrdaemon, in one image.
#
#   docker build -t genropy-asgi .                       # ordinary build (PyPI)
#   scripts/wheelhouse && docker build -t genropy-asgi \
#       --build-arg PYTHON_BASE=genropy-asgi/python:3.13-trixie .   # air-gapped build
#
#   docker build --build-arg FLAVOUR=slim -t genropy-asgi:latest-slim .   # without optional features
#
# Packages are the pinned set of requirements/image.lock either way: from PyPI, or
# from wheelhouse/ (--no-index) when it holds wheels, minus what the flavour leaves out
# (genropy_asgi/container/flavours.py: full leaves out only what GenroPy never imports).
# Legacy-builder safe (no BuildKit-only syntax), so testcontainers can build it too; no
# step depends on the architecture (docker buildx build --platform linux/arm64 works where
# the wheels exist: docs/image.md, "Image flavours").

ARG PYTHON_BASE=python:3.13-slim-trixie
ARG FLAVOUR=full

# What the package install needs from the build context. wheelhouse/ always exists
# (a tracked README.md): empty of wheels in a fresh clone, so pip goes to PyPI.
FROM ${PYTHON_BASE} AS inputs
COPY requirements/image.lock /src/requirements/image.lock
COPY genropy_asgi/container/flavours.py /src/flavours.py
COPY wheelhouse/ /wheelhouse/

FROM inputs AS build
ARG FLAVOUR
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN set -eu; \
    python3 /src/flavours.py "$FLAVOUR" /src/requirements/image.lock > /tmp/install.txt; \
    if ls /wheelhouse/*.whl >/dev/null 2>&1; then set -- --no-index --find-links /wheelhouse; else set --; fi; \
    python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install "$@" --no-deps --requirement /tmp/install.txt
COPY pyproject.toml README.md genropy_asgi_gnr_compat.pth /src/
COPY genropy_asgi /src/genropy_asgi
RUN set -eu; \
    if ls /wheelhouse/*.whl >/dev/null 2>&1; then set -- --no-index --find-links /wheelhouse; else set --; fi; \
    /opt/venv/bin/pip install "$@" --no-deps /src; \
    /opt/venv/bin/python -c "import sys, gnr.web.gnrwsgisite_proxy.gnrwebsockethandler as w; \
assert any(type(f).__name__ == '_PatchingFinder' for f in sys.meta_path), 'gnr_compat .pth not active'; \
assert hasattr(w, 'GENROPY_ASGI_COMPAT'), 'wsproxy fix not applied'"
# .br/.gz siblings of GenroPy's own JS/CSS trees, served by the native static server
# (GENROPY_STATIC=native) without compressing at run time
RUN /opt/venv/bin/python -m genropy_asgi.container.precompress --genropy
# The flavour's left-out GenroPy trees; setuptools and wheel (pip stays: the entrypoint
# installs a project's requirements.txt at start, GENROPY_PROJECT_REQUIREMENTS=install);
# every module compiled once here (PYTHONDONTWRITEBYTECODE at run time: nothing is written later)
RUN set -eu; \
    site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))'); \
    /opt/venv/bin/python /src/flavours.py --prune "$FLAVOUR" "$site"; \
    /opt/venv/bin/python -m pip uninstall -q -y setuptools wheel; \
    /opt/venv/bin/python -m compileall -q -j 0 -x '/tests?/' "$site" /opt/venv/bin >/dev/null || true; \
    find "$site" -depth -type d -name tests -path '*/site-packages/*/tests' ! -path '*/gnr/*' -exec rm -rf {} +

FROM ${PYTHON_BASE}
ARG FLAVOUR
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="genropy-asgi" \
      org.opencontainers.image.description="GenroPy sites on uvicorn (ASGI) with gnrdaemon, REST and WebSocket on one port" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.genropy-asgi.flavour="${FLAVOUR}"

# tini is PID 1: it reaps GenroPy's forked children and forwards signals. The full
# flavour adds what GenroPy's optional features call outside Python: psql/pg_dump/
# pg_restore (dumps, restores), Pango (WeasyPrint's HTML to PDF), poppler (pdf2image's
# previews) and a font. apt's caches and lists are dropped in the same layer.
# hadolint ignore=DL3008
RUN set -eu; \
    case "$FLAVOUR" in \
      full) set -- postgresql-client libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils ;; \
      slim) set -- ;; \
      *) echo "FLAVOUR=$FLAVOUR: expected full or slim" >&2; exit 2 ;; \
    esac; \
    apt-get update; \
    apt-get install -y --no-install-recommends tini "$@"; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log; \
    useradd --uid 10001 --gid 0 --home-dir /var/lib/genropy --no-create-home --shell /usr/sbin/nologin genropy

COPY --from=build /opt/venv /opt/venv
COPY entrypoint/ /opt/genropy-asgi/entrypoint/
COPY config/ /opt/genropy-asgi/config/
COPY demo/ /opt/genropy/projects/demo/

# The demo instance keeps its data (SQLite) and site folder under GENROPY_HOME, so a
# read-only root filesystem needs one writable mount: GENROPY_HOME. Everything that
# must be writable is group 0 and group-writable: any UID with GID 0 works.
RUN /opt/genropy-asgi/entrypoint/prepare-project.sh /opt/genropy/projects/demo \
 && mkdir -p /var/lib/genropy/python /etc/genropy \
 && chown -R 10001:0 /var/lib/genropy \
 && chmod -R g=u /var/lib/genropy

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    GENROPY_REVISION=${REVISION} \
    GENROPY_HOME=/var/lib/genropy \
    GENROPY_PROJECTS=/opt/genropy/projects \
    GNR_CURRENT_SITE=demo \
    GENROPY_IMAGE_FLAVOUR=${FLAVOUR} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 10001:0
WORKDIR /var/lib/genropy
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=5s --start-period=90s --retries=3 \
    CMD ["/opt/venv/bin/python", "-m", "genropy_asgi.container.healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/venv/bin/python", "-m", "genropy_asgi.container.entrypoint"]
CMD ["serve"]
