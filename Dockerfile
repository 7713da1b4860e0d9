# genropy-asgi: a GenroPy site on uvicorn (ASGI), with gnrdaemon, in one image.
#
#   docker build -t genropy-asgi .                       # ordinary build (PyPI)
#   scripts/wheelhouse && docker build -t genropy-asgi \
#       --build-arg PYTHON_BASE=genropy-asgi/python:3.13-trixie .   # air-gapped build
#
# Packages are the pinned set of requirements/image.lock either way: from PyPI, or
# from wheelhouse/ (--no-index) when it holds wheels. Legacy-builder safe (no
# BuildKit-only syntax), so testcontainers can build it too.

ARG PYTHON_BASE=python:3.13-slim-trixie

# What the package install needs from the build context. wheelhouse/ always exists
# (a tracked README.md): empty of wheels in a fresh clone, so pip goes to PyPI.
FROM ${PYTHON_BASE} AS inputs
COPY requirements/image.lock /src/requirements/image.lock
COPY wheelhouse/ /wheelhouse/

FROM inputs AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN set -eu; \
    if ls /wheelhouse/*.whl >/dev/null 2>&1; then set -- --no-index --find-links /wheelhouse; else set --; fi; \
    python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install "$@" --requirement /src/requirements/image.lock
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

FROM ${PYTHON_BASE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="genropy-asgi" \
      org.opencontainers.image.description="GenroPy sites on uvicorn (ASGI) with gnrdaemon, REST and WebSocket on one port" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"

# tini is PID 1: it reaps GenroPy's forked children and forwards signals;
# postgresql-client gives GenroPy psql/pg_dump/pg_restore (dumps, restores)
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --gid 0 --home-dir /var/lib/genropy --no-create-home --shell /usr/sbin/nologin genropy

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
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 10001:0
WORKDIR /var/lib/genropy
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=5s --start-period=90s --retries=3 \
    CMD ["/opt/venv/bin/python", "-m", "genropy_asgi.container.healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/venv/bin/python", "-m", "genropy_asgi.container.entrypoint"]
CMD ["serve"]
