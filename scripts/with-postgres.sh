#!/usr/bin/env bash
# Runs a command with a private, throwaway PostgreSQL: a fresh cluster in a temporary
# directory, listening on a free port of 127.0.0.1 (and a socket in that directory),
# removed when the command ends (also on failure or Ctrl-C). The command sees
#   SAFEROUND_TEST_PG=postgres://postgres@127.0.0.1:<port>/postgres
#   SAFEROUND_REQUIRE_PG=1   (so the PostgreSQL tests fail rather than skip)
# SAFEROUND_PG_FSYNC=on keeps fsync on (benchmarks); otherwise it is off (tests).
# and its exit code is this script's. Usage: scripts/with-postgres.sh cargo test …
set -euo pipefail
(($#)) || { echo "usage: $0 <command…>" >&2; exit 2; }

# The server binaries of Debian's postgresql package (any version), else install it.
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [[ ! -x "$bin/initdb" ]]; then
  if [[ $(id -u) -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
    echo "PostgreSQL is needed for the tests: apt-get install postgresql (as root)" >&2; exit 1
  fi
  echo "installing postgresql…" >&2
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq postgresql >/dev/null
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi

# initdb refuses to run as root: as root the cluster belongs to the `postgres` user.
dir=$(mktemp -d "${TMPDIR:-/tmp}/saferound-pg.XXXXXX")
if [[ $(id -u) -eq 0 ]]; then
  chown postgres "$dir"
  as_pg() { su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; }
else
  as_pg() { "$@"; }
fi
cleanup() {
  as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free port: bind port 0 and read what the kernel chose (a race with another process
# taking it meanwhile is unlikely, and pg_ctl would then fail loudly).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
# fsync off: a test cluster need not survive power loss, and it is much faster. For
# benchmarks against SQLite (which syncs every commit), SAFEROUND_PG_FSYNC=on keeps
# PostgreSQL's durable defaults (fsync, synchronous_commit) instead.
fsync=off
[[ ${SAFEROUND_PG_FSYNC:-off} == on ]] && fsync=on
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=$fsync -c max_connections=200" start >/dev/null ||
  { cat "$dir/log" >&2; exit 1; }

export SAFEROUND_TEST_PG="postgres://postgres@127.0.0.1:$port/postgres"
export SAFEROUND_REQUIRE_PG=1
# Not exec: the trap removes the cluster after the command, whatever its exit code.
status=0
"$@" || status=$?
exit "$status"
