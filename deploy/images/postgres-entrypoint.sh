#!/bin/bash
# The official postgres image's start-up contract, the part Kiln uses: on an empty PGDATA, initdb with
# POSTGRES_USER (default postgres) and its password (POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE; required),
# scram-sha-256 for every connection, and POSTGRES_DB created; then run the command.
set -euo pipefail
[ "${1:0:1}" = - ] && set -- postgres "$@"
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  pass=${POSTGRES_PASSWORD:-}
  [ -n "${POSTGRES_PASSWORD_FILE:-}" ] && pass=$(cat "$POSTGRES_PASSWORD_FILE")
  [ -n "$pass" ] || { echo "postgres: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (no database runs without one)" >&2; exit 1; }
  user=${POSTGRES_USER:-postgres}
  initdb -D "$PGDATA" --username="$user" --pwfile=<(printf '%s\n' "$pass") --auth=scram-sha-256 --encoding=UTF8 >/dev/null
  echo 'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
  db=${POSTGRES_DB:-$user}
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\"" | postgres --single -j -D "$PGDATA" postgres >/dev/null
  fi
  echo "postgres: initialized $PGDATA (user $user, database $db)"
fi
exec "$@"
