#!/bin/sh
# faultline's stand-in for the official image's docker-entrypoint.sh, for machines that cannot
# pull postgres:16: the same environment (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB,
# PGDATA), the same CMD convention (`postgres -c name=value …`), initdb on first start, then
# the server in the foreground as the unprivileged `postgres` user.
set -e
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
case "$1" in -*) set -- postgres "$@" ;; esac

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  # -p keeps the environment (POSTGRES_*, PGDATA) across the switch of user; "--" ends su's
  # own options, so the server's `-c name=value` arguments pass through untouched.
  exec su -p -s /bin/sh -c 'exec "$0" "$@"' -- postgres "$0" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    echo "error: POSTGRES_PASSWORD is empty (set it, or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  user="${POSTGRES_USER:-postgres}"
  db="${POSTGRES_DB:-$user}"
  method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD:-unused}" >"$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as in the official image.
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -A "$method" --auth-local=trust \
    -E UTF8 --locale=C --no-sync --no-instructions $POSTGRES_INITDB_ARGS >/dev/null
  rm -f "$pwfile"
  printf 'host all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    # No psql in this image: single-user mode runs one statement without a server.
    printf 'CREATE DATABASE "%s"\n' "$(printf %s "$db" | sed 's/"/""/g')" |
      postgres --single -D "$PGDATA" -c listen_addresses= -c fsync=off postgres >/dev/null
  fi
  echo "faultline postgres image: initialised $PGDATA (user $user, database $db)"
fi

exec "$@"
