#!/bin/sh
# Entrypoint of sts-canary/postgres-base (installed as /usr/local/bin/postgres-entrypoint).
#
# `postgres-entrypoint [postgres] [-c name=value ...]` (the default: CMD ["postgres"]):
#   - PGDATA (default /var/lib/postgresql/data/pgdata, a subdirectory of the volume mount point,
#     because a fresh PersistentVolume directory is root-owned 0777) is created with mode 0700;
#   - if it holds no cluster yet (no PG_VERSION), initdb: UTF8, locale C.UTF-8, superuser
#     `postgres`, local (socket) logins trusted, TCP logins scram-sha-256 (only possible once the
#     role has a password: set POSTGRES_PASSWORD at the first start, or ALTER ROLE later);
#   - postgresql.conf gets one `include` of /etc/postgresql-base.conf (image defaults: listen on
#     all addresses, port 5432, logs to stderr, then /etc/postgresql-extra.conf and
#     /etc/postgresql-extra.d/*.conf, where derived images put their settings);
#   - then `exec postgres` in the foreground (PID 1; SIGINT = fast shutdown, the image's STOPSIGNAL).
# Any other command (`postgres-entrypoint psql ...`) is run as is.
# Run as root (docker run --user 0), it prepares the directories and re-executes itself as postgres.
set -eu

: "${PGDATA:=/var/lib/postgresql/data/pgdata}"
export PGDATA
BASE_CONF=/etc/postgresql-base.conf

case "${1:-}" in
  '' | -*) set -- postgres "$@" ;;
esac
[ "$1" = postgres ] || exec "$@"

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

mkdir -p "$PGDATA"
chmod 0700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "postgres-entrypoint: no cluster in $PGDATA, running initdb" >&2
  pwfile=""
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  fi
  initdb --username=postgres --encoding=UTF8 --locale=C.UTF-8 --no-instructions \
    --auth-local=trust --auth-host=scram-sha-256 ${pwfile:+--pwfile="$pwfile"} >&2
  [ -z "$pwfile" ] || rm -f "$pwfile"
  cat >> "$PGDATA/pg_hba.conf" <<'HBA'

# added by postgres-entrypoint: password logins over TCP from anywhere (the postgres role has
# no password unless POSTGRES_PASSWORD was set at the first start, so TCP logins fail until then)
host    all             all             0.0.0.0/0               scram-sha-256
host    all             all             ::/0                    scram-sha-256
HBA
fi

if ! grep -qxF "include = '$BASE_CONF'" "$PGDATA/postgresql.conf"; then
  printf "\n# added by postgres-entrypoint (sts-canary/postgres-base): image defaults and extra settings\ninclude = '%s'\n" \
    "$BASE_CONF" >> "$PGDATA/postgresql.conf"
fi

exec "$@"
