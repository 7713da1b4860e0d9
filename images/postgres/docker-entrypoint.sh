#!/bin/sh
# The official postgres image's contract, on Debian's PostgreSQL: first start runs
# initdb with POSTGRES_USER/POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE), creates
# POSTGRES_DB, runs /docker-entrypoint-initdb.d/* with TCP closed, then serves.
set -eu

file_env() {  # VAR [default]: VAR or VAR_FILE
  var=$1; file_var="${1}_FILE"
  eval "val=\${$var:-}"; eval "file=\${$file_var:-}"
  if [ -n "$val" ] && [ -n "$file" ]; then echo "error: both $var and $file_var are set" >&2; exit 1; fi
  if [ -n "$file" ]; then val=$(cat "$file"); fi
  export "$var"="${val:-${2:-}}"
}

if [ "${1:-postgres}" != "postgres" ]; then exec "$@"; fi

# as the official image: the _FILE secrets are read first (as root when started as root,
# so a secret file readable only by root works), then privileges are dropped
file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
unset POSTGRES_PASSWORD_FILE POSTGRES_USER_FILE POSTGRES_DB_FILE

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

[ "${1:-}" = postgres ] && shift

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "$POSTGRES_PASSWORD" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != "trust" ]; then
    echo "error: POSTGRES_PASSWORD is required (or POSTGRES_PASSWORD_FILE, or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" --encoding=UTF8 --locale=C.UTF-8 --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
         --auth-host="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >/dev/null
  rm -f "$pwfile"
  printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
  printf "host all all all %s\n" "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"
  # init with TCP closed: nobody connects to a half-initialised database
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$POSTGRES_DB" != "postgres" ]; then
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
         -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) echo "running $f"
        # shellcheck source=/dev/null
        . "$f" ;;
      *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f "$f" ;;
      *) : ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
fi

exec postgres -D "$PGDATA" "$@"
