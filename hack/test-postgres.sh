#!/usr/bin/env bash
# test-postgres.sh: print the DSN of a PostgreSQL superuser connection for the
# tests, starting one if needed. Tests create (and drop) their own databases.
#
#   1. $MEMORY_SERVER_TEST_POSTGRES_DSN, when set;
#   2. the server on 127.0.0.1:5432, when it answers (trust auth as postgres);
#   3. otherwise a throwaway cluster on 127.0.0.1:${TEST_PG_PORT:-55432},
#      installing Debian's postgresql first if no initdb is found.
# Only the DSN goes to stdout; progress goes to stderr.
set -euo pipefail

log() { echo "test-postgres: $*" >&2; }

if [ -n "${MEMORY_SERVER_TEST_POSTGRES_DSN:-}" ]; then
	echo "$MEMORY_SERVER_TEST_POSTGRES_DSN"
	exit 0
fi

answers() { # host port
	if command -v psql >/dev/null 2>&1; then
		psql "postgres://postgres@$1:$2/postgres?sslmode=disable&connect_timeout=3" -Atqc 'select 1' >/dev/null 2>&1
	else
		timeout 3 bash -c "</dev/tcp/$1/$2" >/dev/null 2>&1
	fi
}

if answers 127.0.0.1 5432; then
	echo "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	exit 0
fi

PORT="${TEST_PG_PORT:-55432}"
DSN="postgres://postgres@127.0.0.1:${PORT}/postgres?sslmode=disable"
if answers 127.0.0.1 "$PORT"; then
	echo "$DSN"
	exit 0
fi

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pgbin)" ]; then
	log "no PostgreSQL found; installing Debian's postgresql"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-contrib >&2
fi
BIN="$(pgbin)"
[ -n "$BIN" ] || { log "PostgreSQL binaries not found after install"; exit 1; }

DIR="${TMPDIR:-/tmp}/memory-operator-test-pg-${PORT}"
RUN=()
if [ "$(id -u)" -eq 0 ]; then
	# PostgreSQL refuses to run as root; Debian's package creates this user.
	id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" postgres
	RUN=(runuser -u postgres --)
fi
mkdir -p "$DIR"
[ "$(id -u)" -ne 0 ] || chown postgres "$DIR"
if [ ! -f "$DIR/data/PG_VERSION" ]; then
	log "initialising a throwaway cluster in $DIR"
	"${RUN[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1 ||
		{ cat "$DIR/initdb.log" >&2; exit 1; }
fi
log "starting PostgreSQL on 127.0.0.1:$PORT"
"${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
	-o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >&2 ||
	{ cat "$DIR/server.log" >&2; exit 1; }
echo "$DSN"
