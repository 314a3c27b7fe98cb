#!/usr/bin/env bash
# Runs a command next to a throw-away PostgreSQL cluster:
#
#   scripts/with-postgres.sh cargo test -p oz-storage
#
# Installs the PostgreSQL server binaries if missing (Debian: apt-get), makes a fresh cluster in a
# temporary folder (trust auth, fsync off), starts it on a free 127.0.0.1 port, exports
# OZ_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres, runs the command, then always
# stops the cluster and removes the folder, and exits with the command's status.
#
# If OZ_TEST_POSTGRES_URL is already set (say, a CI service container), it is used as is and no
# cluster is started. Needs no TTY. As root, the server runs as the `postgres` user (initdb refuses
# root); as another user it runs as that user.
set -uo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

if [ -n "${OZ_TEST_POSTGRES_URL:-}" ]; then
  echo "with-postgres: using the existing OZ_TEST_POSTGRES_URL" >&2
  "$@"
  exit $?
fi

log() { echo "with-postgres: $*" >&2; }

find_bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
    echo "$d"
  fi
}

BIN="$(find_bindir)"
if [ -z "$BIN" ]; then
  log "installing the PostgreSQL server (apt-get)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! { $SUDO apt-get update -qq </dev/null &&
    $SUDO apt-get install -y -qq --no-install-recommends postgresql </dev/null >/dev/null; }; then
    log "could not install postgresql"
    exit 1
  fi
  BIN="$(find_bindir)"
  if [ -z "$BIN" ]; then
    log "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
    exit 1
  fi
fi

# Who runs the server: initdb and postgres refuse to run as root.
AS=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id -u postgres >/dev/null 2>&1; then
    log "running as root but there is no 'postgres' user to run the server"
    exit 1
  fi
  AS=(runuser -u postgres --)
fi
as_pg() { "${AS[@]}" "$@" </dev/null; }

# /tmp rather than $TMPDIR: the postgres user must be able to reach the folder.
DIR="$(mktemp -d /tmp/oz-pg.XXXXXX)" || exit 1
DATA="$DIR/data"
STARTED=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ "$STARTED" -eq 1 ]; then
    as_pg "$BIN/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ "${#AS[@]}" -gt 0 ]; then
  chown postgres:postgres "$DIR" || exit 1
fi
chmod 700 "$DIR"

# C.UTF-8 so lower()/upper() behave for non-ASCII text; plain C where that locale is missing.
if ! as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 \
  >"$DIR/initdb.log" 2>&1; then
  rm -rf "$DATA"
  if ! as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --no-sync -E UTF8 --locale=C \
    >"$DIR/initdb.log" 2>&1; then
    log "initdb failed:"
    cat "$DIR/initdb.log" >&2
    exit 1
  fi
fi

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

PORT=""
for _ in $(seq 1 20); do
  p=$((20000 + RANDOM % 40000))
  port_busy "$p" && continue
  # The socket goes in the private folder, so no stale /tmp/.s.PGSQL.* file can get in the way.
  if as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 start \
    -o "-p $p -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    >/dev/null 2>&1; then
    PORT="$p"
    STARTED=1
    break
  fi
  # A failed start may leave a half-started server (pg_ctl -w timed out): stop it before retrying.
  as_pg "$BIN/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
done
if [ -z "$PORT" ]; then
  log "could not start PostgreSQL; server log:"
  cat "$DIR/server.log" >&2 2>/dev/null
  exit 1
fi

export OZ_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
log "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on port $PORT ($DIR)"

"$@"
exit $?
