#!/usr/bin/env bash
# bench/io.sh — cells vs nginx on the file-download hot path, in one run.
#
# What it measures (same machine, same files, both servers on 127.0.0.1,
# both authenticating every request):
#   1. small GET req/s   — wrk -t2 -c$CONNECTIONS on a 4 KiB file for
#                          $DURATION seconds (cells with a Bearer token,
#                          nginx with HTTP Basic auth, plain htpasswd entry).
#   2. small GET (Basic) — same, but cells also uses HTTP Basic auth
#                          (apples-to-apples with nginx).
#   3. big GET MiB/s     — curl download of a $BIG_MB MiB file, best of
#                          $BIG_RUNS runs (median also reported).
# Before measuring, it checks that one download of each file from each
# server is byte-identical to the source (sha256) and aborts otherwise.
#
# How to run (from anywhere; needs root for apt-get only if nginx/wrk/curl
# are missing; Debian):
#   bash bench/io.sh
# Env knobs:
#   DURATION=10      seconds per wrk run
#   CONNECTIONS=32   wrk connections (wrk uses 2 threads)
#   BIG_MB=1024      size of the big file in MiB
#   BIG_RUNS=3       big-file downloads per server (best and median kept)
#   CELLS_BIN=path   use this cells binary instead of building one
#   SERVERS="cells nginx"   which servers to measure (e.g. "nginx" alone)
#
# Output: a table on stdout and the same as markdown in
# bench/out/io-<date>.md (bench/out is gitignored).

set -euo pipefail
shopt -s inherit_errexit

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
BIG_MB="${BIG_MB:-1024}"
BIG_RUNS="${BIG_RUNS:-3}"
SERVERS="${SERVERS:-cells nginx}"
WRK_THREADS=2
PASSWORD="benchpass123"
USERNAME="admin"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
OUT_DIR="$SCRIPT_DIR/out"

log() { printf '[io.sh] %s\n' "$*" >&2; }
die() { printf '[io.sh] ERROR: %s\n' "$*" >&2; exit 1; }

want() { [[ " $SERVERS " == *" $1 "* ]]; }

# ---------------------------------------------------------------- tools
ensure_tools() {
    local missing=()
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    if ((${#missing[@]})); then
        log "installing missing packages: ${missing[*]}"
        [[ $EUID -eq 0 ]] || die "need root to apt-get install ${missing[*]}"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y nginx wrk curl
    fi
    command -v python3 >/dev/null 2>&1 || die "python3 is required (ports, JSON, arithmetic)"
    # Debian puts nginx in /usr/sbin, which is not always on PATH.
    NGINX_BIN="$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)"
}

# ---------------------------------------------------------------- cleanup
TMP=""
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "$TMP" && -d "$TMP" ]]; then
        rm -rf -- "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Wait (bounded) until URL answers 200; $3 = pid that must stay alive.
wait_http_ok() {
    local url=$1 timeout=$2 pid=$3 logfile=$4 i
    for ((i = 0; i < timeout * 4; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "server exited early; last log lines:"
            tail -n 30 "$logfile" >&2 || true
            die "server for $url died during startup"
        fi
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null || true)" == 200 ]]; then
            return 0
        fi
        sleep 0.25
    done
    tail -n 30 "$logfile" >&2 || true
    die "$url did not answer 200 within ${timeout}s"
}

# ---------------------------------------------------------------- cells
build_cells() {
    if [[ -n "${CELLS_BIN:-}" ]]; then
        [[ -x "$CELLS_BIN" ]] || die "CELLS_BIN=$CELLS_BIN is not executable"
        return
    fi
    log "building cells (release)…"
    (cd "$REPO_ROOT" && cargo build --release -p cells) || die "cargo build --release -p cells failed"
    local target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
    CELLS_BIN="$target_dir/release/cells"
    [[ -x "$CELLS_BIN" ]] || die "built, but $CELLS_BIN not found"
}

start_cells() {
    CELLS_PORT="$(free_port)"
    CELLS_URL="http://127.0.0.1:$CELLS_PORT"
    log "starting cells on $CELLS_URL"
    # Request logs off, as nginx runs with access_log off.
    CELLS_LOG=warn CELLS_ADMIN_PASSWORD="$PASSWORD" "$CELLS_BIN" start \
        --data "$TMP/cells-data" --bind "127.0.0.1:$CELLS_PORT" \
        >"$TMP/cells.log" 2>&1 &
    CELLS_PID=$!
    PIDS+=("$CELLS_PID")
    wait_http_ok "$CELLS_URL/healthz" 60 "$CELLS_PID" "$TMP/cells.log"
}

# Sets CELLS_AUTH to a fresh Bearer header (tokens live 600 s, so call
# this before each measurement).
cells_login() {
    local body token
    body="$(curl -fsS -X POST "$CELLS_URL/oauth2/token" \
        -d grant_type=password -d "username=$USERNAME" -d "password=$PASSWORD")" \
        || die "cells login failed"
    token="$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')" \
        || die "no access_token in login answer: $body"
    CELLS_AUTH="Authorization: Bearer $token"
}

cells_upload() {
    local src=$1 name=$2
    log "uploading $name to cells ($(du -h "$src" | cut -f1))"
    curl -fsS -o /dev/null -T "$src" -H "$CELLS_AUTH" "$CELLS_URL/io/personal-files/$name" \
        || die "cells upload of $name failed"
}

# ---------------------------------------------------------------- nginx
start_nginx() {
    NGINX_PORT="$(free_port)"
    NGINX_URL="http://127.0.0.1:$NGINX_PORT"
    local user_line=""
    # As root, workers would drop to "nobody" and could not read the 0700
    # temp dir; keep them as root like the cells process.
    if [[ $EUID -eq 0 ]]; then user_line="user root root;"; fi
    mkdir -p "$TMP/nginx"
    printf '%s:{PLAIN}%s\n' "$USERNAME" "$PASSWORD" >"$TMP/nginx/htpasswd"
    cat >"$TMP/nginx/nginx.conf" <<EOF
$user_line
worker_processes 2;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000;
    client_body_temp_path $TMP/nginx/client_body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $TMP/www;
        location = /healthz { auth_basic off; return 200 "ok\n"; }
        location /io/personal-files/ {
            auth_basic "bench";
            auth_basic_user_file $TMP/nginx/htpasswd;
            alias $TMP/www/;
        }
    }
}
EOF
    log "starting nginx on $NGINX_URL"
    "$NGINX_BIN" -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" \
        -g 'daemon off;' >"$TMP/nginx/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    wait_http_ok "$NGINX_URL/healthz" 60 "$NGINX_PID" "$TMP/nginx/error.log"
}

# ---------------------------------------------------------------- measures
# verify NAME URL AUTH_HEADER FILE: one download must hash like the source.
verify() {
    local name=$1 url=$2 auth=$3 src=$4 got want_sum
    want_sum="$(sha256sum "$src" | cut -d' ' -f1)"
    got="$(curl -fsS -H "$auth" "$url" | sha256sum | cut -d' ' -f1)" \
        || die "$name: download of $url failed"
    if [[ "$got" != "$want_sum" ]]; then
        die "$name: CONTENT MISMATCH for $url (sha256 $got, expected $want_sum)"
    fi
    log "$name: $(basename "$url") content OK"
}

# wrk_rps URL AUTH_HEADER SECONDS -> prints requests/s; fails on errors.
wrk_rps() {
    local url=$1 auth=$2 secs=$3 out
    out="$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${secs}s" -H "$auth" "$url")" \
        || die "wrk failed on $url"
    if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
        printf '%s\n' "$out" >&2
        die "wrk saw non-2xx answers on $url"
    fi
    if grep -q 'Socket errors' <<<"$out"; then
        log "warning: wrk reported socket errors on $url: $(grep 'Socket errors' <<<"$out")"
    fi
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

# big_mibs URL AUTH_HEADER -> prints "best median" in MiB/s.
big_mibs() {
    local url=$1 auth=$2 i res code size speed speeds=()
    local expect=$((BIG_MB * 1024 * 1024))
    for ((i = 0; i < BIG_RUNS; i++)); do
        res="$(curl -s -o /dev/null -H "$auth" -w '%{http_code} %{size_download} %{speed_download}' "$url")" \
            || die "curl failed on $url"
        read -r code size speed <<<"$res"
        [[ "$code" == 200 ]] || die "big GET $url answered $code"
        [[ "${size%.*}" == "$expect" ]] || die "big GET $url returned $size bytes, expected $expect"
        speeds+=("$speed")
    done
    python3 - "${speeds[@]}" <<'EOF'
import statistics, sys
v = sorted(float(x) / 1048576 for x in sys.argv[1:])
print(f"{max(v):.0f} {statistics.median(v):.0f}")
EOF
}

# ---------------------------------------------------------------- main
main() {
    ensure_tools
    if want cells; then build_cells; fi

    TMP="$(mktemp -d -t cells-bench-io.XXXXXX)"
    mkdir -p "$TMP/www"
    log "temp dir $TMP"

    log "making test files (4 KiB, ${BIG_MB} MiB)"
    head -c 4096 /dev/urandom >"$TMP/www/small.bin"
    head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom >"$TMP/www/big.bin"
    local small_src="$TMP/www/small.bin" big_src="$TMP/www/big.bin"

    local basic_hdr
    basic_hdr="Authorization: Basic $(printf '%s:%s' "$USERNAME" "$PASSWORD" | base64 -w0)"

    declare -A R=()
    local warm=$((DURATION < 3 ? DURATION : 3)) big best median

    if want cells; then
        start_cells
        cells_login
        cells_upload "$small_src" small.bin
        cells_upload "$big_src" big.bin
        local c_small="$CELLS_URL/io/personal-files/small.bin"
        local c_big="$CELLS_URL/io/personal-files/big.bin"
        verify cells "$c_small" "$CELLS_AUTH" "$small_src"
        verify cells "$c_big" "$CELLS_AUTH" "$big_src"          # also warms the big file
        verify cells-basic "$c_small" "$basic_hdr" "$small_src"

        log "cells: warm-up + small GET (Bearer), ${DURATION}s"
        cells_login
        wrk_rps "$c_small" "$CELLS_AUTH" "$warm" >/dev/null
        R[cells_small]="$(wrk_rps "$c_small" "$CELLS_AUTH" "$DURATION")"
        log "cells: small GET (Basic), ${DURATION}s"
        wrk_rps "$c_small" "$basic_hdr" "$warm" >/dev/null
        R[cells_basic]="$(wrk_rps "$c_small" "$basic_hdr" "$DURATION")"
        log "cells: big GET x$BIG_RUNS"
        cells_login
        big="$(big_mibs "$c_big" "$CELLS_AUTH")"
        read -r best median <<<"$big"
        R[cells_big]=$best R[cells_big_med]=$median
        # Free the cores for nginx.
        kill "$CELLS_PID" 2>/dev/null || true
        wait "$CELLS_PID" 2>/dev/null || true
    fi

    if want nginx; then
        start_nginx
        local n_small="$NGINX_URL/io/personal-files/small.bin"
        local n_big="$NGINX_URL/io/personal-files/big.bin"
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$n_small")" != 401 ]]; then
            die "nginx serves $n_small without auth; config is wrong"
        fi
        verify nginx "$n_small" "$basic_hdr" "$small_src"
        verify nginx "$n_big" "$basic_hdr" "$big_src"

        log "nginx: warm-up + small GET (Basic), ${DURATION}s"
        wrk_rps "$n_small" "$basic_hdr" "$warm" >/dev/null
        R[nginx_small]="$(wrk_rps "$n_small" "$basic_hdr" "$DURATION")"
        R[nginx_basic]=${R[nginx_small]}
        log "nginx: big GET x$BIG_RUNS"
        big="$(big_mibs "$n_big" "$basic_hdr")"
        read -r best median <<<"$big"
        R[nginx_big]=$best R[nginx_big_med]=$median
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi

    report R
}

# ratio A B -> "0.84x" or "-"
ratio() {
    python3 -c 'import sys
a, b = sys.argv[1], sys.argv[2]
try:
    print(f"{float(a) / float(b):.2f}x")
except (ValueError, ZeroDivisionError):
    print("-")' "$1" "$2"
}

fmt_num() {
    python3 -c 'import sys
try:
    print(f"{float(sys.argv[1]):.0f}")
except ValueError:
    print("-")' "${1:--}"
}

# Git revision of the measured tree, "(dirty)" if it has local changes.
cells_version() {
    local rev
    rev="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no commit')"
    if [[ -n "$(git -C "$REPO_ROOT" status --porcelain 2>/dev/null || true)" ]]; then
        rev+=" (dirty)"
    fi
    if want cells; then echo "$rev"; else echo "not measured"; fi
}

report() {
    local -n res=$1
    local rows=(
        "small GET req/s (4 KiB, cells Bearer)|cells_small|nginx_small"
        "small GET req/s (4 KiB, both Basic)|cells_basic|nginx_basic"
        "big GET MiB/s (${BIG_MB} MiB, best of $BIG_RUNS)|cells_big|nginx_big"
        "big GET MiB/s (${BIG_MB} MiB, median)|cells_big_med|nginx_big_med"
    )
    local stamp date_tag md row label ck nk c n r
    stamp="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    date_tag="$(date '+%Y%m%d-%H%M%S')"
    mkdir -p "$OUT_DIR"
    md="$OUT_DIR/io-$date_tag.md"

    {
        echo "# cells vs nginx — download hot path"
        echo
        echo "- date: $stamp"
        echo "- host: $(uname -srm), $(nproc) cores"
        echo "- cells: $(cells_version); nginx: $("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')"
        echo "- wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s; big file via curl, $BIG_RUNS runs"
        echo
        echo "| metric | cells | nginx | cells/nginx |"
        echo "|---|---:|---:|---:|"
    } >"$md"

    echo
    printf '%-44s %10s %10s %12s\n' metric cells nginx cells/nginx
    for row in "${rows[@]}"; do
        IFS='|' read -r label ck nk <<<"$row"
        c="$(fmt_num "${res[$ck]:-}")"
        n="$(fmt_num "${res[$nk]:-}")"
        r="$(ratio "$c" "$n")"
        printf '%-44s %10s %10s %12s\n' "$label" "$c" "$n" "$r"
        echo "| $label | $c | $n | $r |" >>"$md"
    done
    echo
    log "written $md"
}

main "$@"
