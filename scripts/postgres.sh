# shellcheck shell=bash
# The PostgreSQL of the tests, sourced by scripts/test.sh (usable on its own too):
#
#   source scripts/postgres.sh
#   trap pg_throwaway_stop EXIT
#   pg_for_tests
#
# pg_for_tests uses the PostgreSQL at CELLS_TEST_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/test) when it answers a query there. Otherwise it
# starts a throwaway cluster: Debian's `postgresql` package (installed if missing),
# initdb in a temporary folder, 127.0.0.1 on a free port, trust authentication, superuser
# `postgres`, database `test`; and exports CELLS_TEST_POSTGRES_URL pointing at it.
# PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` system
# user (which the package creates), or `nobody`. pg_throwaway_stop stops it and removes
# its folder; it does nothing when there is none, and may be called more than once.

pg_default_url=postgres://postgres@127.0.0.1:5432/test
pg_dir=""  # the throwaway cluster's folder, while there is one
pg_user="" # who the throwaway cluster runs as; empty: this user
pg_ctl=""  # its pg_ctl
pg_port="" # its port
pg_url=""  # its URL, database `test`

# As root, or through sudo.
pg_as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

pg_install() {
  echo "installing: $*"
  pg_as_root apt-get update -qq
  pg_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# Runs a command as the cluster's owner, from a folder it may enter.
pg_as_owner() {
  if [ -n "$pg_user" ]; then (cd / && runuser -u "$pg_user" -- "$@"); else "$@"; fi
}

# Whether a query succeeds at a URL: a server that answers but refuses the login or has
# no such database is of no use to the tests either.
pg_usable() { local out; out=$(PGCONNECT_TIMEOUT=5 psql -X -q -tA -d "$1" -c 'SELECT 1' 2>&1); }

# The folder of initdb and pg_ctl: the newest /usr/lib/postgresql/*/bin, else the PATH.
pg_bin() {
  local initdb
  initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
  [ -x "$initdb" ] || initdb=$(command -v initdb) || return 1
  dirname "$initdb"
}

# Whether nothing listens on a loopback port.
pg_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The URL without the password, if it has one.
pg_masked() { sed -E 's#^([a-z]+://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

pg_for_tests() {
  local url="${CELLS_TEST_POSTGRES_URL:-$pg_default_url}"
  command -v psql >/dev/null 2>&1 || pg_install postgresql-client
  if pg_usable "$url"; then
    echo "PostgreSQL tests: at $(pg_masked "$url")"
    return 0
  fi
  echo "no PostgreSQL usable at $(pg_masked "$url"): starting a throwaway one"
  pg_throwaway_start
  export CELLS_TEST_POSTGRES_URL="$pg_url"
  echo "PostgreSQL tests: at $pg_url (a throwaway cluster, removed at exit)"
}

# Starts the throwaway cluster; sets pg_dir, pg_port and pg_url.
pg_throwaway_start() {
  local bin try out
  bin=$(pg_bin) || { pg_install postgresql && bin=$(pg_bin); } || {
    echo "no initdb after installing postgresql" >&2
    return 1
  }
  pg_ctl="$bin/pg_ctl"
  if [ "$(id -u)" -eq 0 ]; then
    if id -u postgres >/dev/null 2>&1; then pg_user=postgres; else pg_user=nobody; fi
  fi
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/cells-pg.XXXXXX")
  if [ -n "$pg_user" ]; then
    chown "$pg_user:" "$pg_dir"
    # A TMPDIR that only root may enter: /tmp instead.
    if ! pg_as_owner test -w "$pg_dir"; then
      rmdir "$pg_dir"
      pg_dir=$(mktemp -d /tmp/cells-pg.XXXXXX)
      chown "$pg_user:" "$pg_dir"
    fi
  fi
  # (Output through $(...), not redirected: a trap that runs meanwhile writes where it should.)
  if ! out=$(pg_as_owner "$bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 2>&1); then
    echo "$out" >&2
    return 1
  fi
  # Loopback only, its socket in its own folder; the data is thrown away: no fsync.
  cat >>"$pg_dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg_dir'
fsync = off
EOF
  # A free port, taken by the server only when it starts: another one if it went meanwhile.
  for try in 1 2 3 4 5 6 7 8 9 10; do
    pg_port=$((20000 + RANDOM % 10000))
    pg_port_free "$pg_port" || continue
    if out=$(pg_as_owner "$pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -o "-p $pg_port" \
      -w -t 60 start); then
      pg_url="postgres://postgres@127.0.0.1:$pg_port/test"
      psql -X -q -d "postgres://postgres@127.0.0.1:$pg_port/postgres" -c 'CREATE DATABASE test' || return 1
      return 0
    fi
    echo "throwaway PostgreSQL: no start on port $pg_port (try $try)" >&2
  done
  tail -n 20 "$pg_dir/server.log" >&2
  return 1
}

# Stops the throwaway cluster, if there is one, and removes its folder.
pg_throwaway_stop() {
  local dir="$pg_dir" pid
  [ -n "$dir" ] || return 0
  pg_dir=""
  if [ -f "$dir/data/postmaster.pid" ]; then
    if ! pg_as_owner "$pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1; then
      pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || true
      [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$dir"
  echo "throwaway PostgreSQL stopped and removed"
  return 0
}
