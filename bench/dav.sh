#!/usr/bin/env bash
# bench/dav.sh — cells WebDAV vs nginx + dav-ext, rclone serve webdav and dufs,
# in one run, all with HTTP Basic auth on every request.
#
# What it measures (same machine, same files, every server on 127.0.0.1,
# measured one after the other so that each has both cores):
#   1. small GET req/s      — wrk -t2 -c$CONNECTIONS, 4 KiB file, $DURATION s
#   2. PROPFIND Depth 1 req/s — wrk with a PROPFIND of five named properties
#                             (what rclone and file managers ask) on a folder
#                             of $FILES files
#   3. big PUT MB/s         — curl -T of a $BIG_MB MiB file, best of $BIG_RUNS
#   4. big GET MB/s         — curl download of it, best of $BIG_RUNS
# cells uses a personal access token as the Basic password (the product's
# point); nginx a plain htpasswd entry ({PLAIN}, so it pays no hashing
# either); rclone and dufs their own --user/--pass and --auth options.
# Before measuring a server it checks the big file comes back byte-identical
# (sha256) and that the PROPFIND lists every file; it aborts otherwise.
#
#   bash bench/dav.sh
# Env knobs: DURATION=10 CONNECTIONS=32 FILES=1000 BIG_MB=1024 BIG_RUNS=3
#   SERVERS="cells nginx rclone dufs"  CELLS_BIN=path (skip the build)
# Tools: nginx, libnginx-mod-http-dav-ext, wrk, curl, rclone from Debian
# (installed when missing, as root); dufs with `cargo install dufs`.
# Output: a table on stdout and bench/out/dav-<date>.md (gitignored).

set -euo pipefail
shopt -s inherit_errexit

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
FILES="${FILES:-1000}"
BIG_MB="${BIG_MB:-1024}"
BIG_RUNS="${BIG_RUNS:-3}"
SERVERS="${SERVERS:-cells nginx rclone dufs}"
USERNAME="admin"
PASSWORD="benchpass123"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
OUT_DIR="$SCRIPT_DIR/out"

log() { printf '[dav.sh] %s\n' "$*" >&2; }
die() { printf '[dav.sh] ERROR: %s\n' "$*" >&2; exit 1; }
want() { [[ " $SERVERS " == *" $1 "* ]]; }

ensure_tools() {
    local missing=()
    [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    [[ -e /usr/lib/nginx/modules/ngx_http_dav_ext_module.so ]] || missing+=(libnginx-mod-http-dav-ext)
    for tool in wrk curl rclone; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
    if ((${#missing[@]})); then
        log "installing missing packages: ${missing[*]}"
        [[ $EUID -eq 0 ]] || die "need root to apt-get install ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
    if want dufs && ! command -v dufs >/dev/null 2>&1; then
        log "installing dufs (cargo install dufs --locked)"
        cargo install dufs --locked
    fi
    command -v python3 >/dev/null 2>&1 || die "python3 is required"
}

TMP=""
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n "$TMP" && -d "$TMP" ]]; then rm -rf -- "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_up URL PID LOG: until URL answers anything but a connection error.
wait_up() {
    local url=$1 pid=$2 logfile=$3 i
    for ((i = 0; i < 240; i++)); do
        kill -0 "$pid" 2>/dev/null || { tail -n 30 "$logfile" >&2 || true; die "server for $url died"; }
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)" != 000 ]]; then return 0; fi
        sleep 0.25
    done
    die "$url did not answer within 60 s"
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# ---------------------------------------------------------------- servers
# Each start_* sets URL (the WebDAV root holding small.bin and list/) and PID.
start_cells() {
    local port
    port="$(free_port)"
    CELLS_LOG=warn CELLS_ADMIN_PASSWORD="$PASSWORD" "$CELLS_BIN" start --data "$TMP/cells" \
        --bind "127.0.0.1:$port" --sftp-bind 127.0.0.1:0 >"$TMP/cells.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_up "http://127.0.0.1:$port/healthz" "$PID" "$TMP/cells.log"
    CELLS_TOKEN="$("$CELLS_BIN" admin --data "$TMP/cells" user token -u "$USERNAME" -a 1d -q)"
    AUTH_PASS="$CELLS_TOKEN"
    URL="http://127.0.0.1:$port/dav/personal-files"
    upload_fixture
}

start_nginx() {
    local port user_line=""
    port="$(free_port)"
    [[ $EUID -eq 0 ]] && user_line="user root root;"
    mkdir -p "$TMP/nginx" "$TMP/www"
    printf '%s:{PLAIN}%s\n' "$USERNAME" "$PASSWORD" >"$TMP/nginx/htpasswd"
    cat >"$TMP/nginx/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;
$user_line
worker_processes 2;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_requests 100000;
    client_max_body_size 0;
    client_body_temp_path $TMP/www-tmp;
    proxy_temp_path $TMP/nginx/proxy; fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi; scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        root $TMP/www;
        location / {
            auth_basic "bench";
            auth_basic_user_file $TMP/nginx/htpasswd;
            dav_methods PUT DELETE MKCOL COPY MOVE;
            dav_ext_methods PROPFIND OPTIONS;
            create_full_put_path on;
        }
    }
}
EOF
    mkdir -p "$TMP/www-tmp"
    /usr/sbin/nginx -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' \
        >"$TMP/nginx/stdout.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_up "http://127.0.0.1:$port/" "$PID" "$TMP/nginx/error.log"
    AUTH_PASS="$PASSWORD"
    URL="http://127.0.0.1:$port"
    disk_fixture "$TMP/www"
}

start_rclone() {
    local port
    port="$(free_port)"
    mkdir -p "$TMP/rclone"
    rclone serve webdav "$TMP/rclone" --addr "127.0.0.1:$port" --user "$USERNAME" --pass "$PASSWORD" \
        --config /dev/null >"$TMP/rclone.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_up "http://127.0.0.1:$port/" "$PID" "$TMP/rclone.log"
    AUTH_PASS="$PASSWORD"
    URL="http://127.0.0.1:$port"
    disk_fixture "$TMP/rclone"
}

start_dufs() {
    local port
    port="$(free_port)"
    mkdir -p "$TMP/dufs"
    dufs "$TMP/dufs" -b 127.0.0.1 -p "$port" -A -a "$USERNAME:$PASSWORD@/:rw" >"$TMP/dufs.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_up "http://127.0.0.1:$port/" "$PID" "$TMP/dufs.log"
    AUTH_PASS="$PASSWORD"
    URL="http://127.0.0.1:$port"
    disk_fixture "$TMP/dufs"
}

# The fixture on a file-system peer: small.bin and list/ with $FILES files.
disk_fixture() {
    mkdir -p "$1/list"
    cp "$TMP/src/small.bin" "$1/small.bin"
    python3 - "$1/list" "$FILES" <<'EOF'
import os, sys
for i in range(int(sys.argv[2])):
    with open(os.path.join(sys.argv[1], f"file {i:04d}.txt"), "wb") as f:
        f.write(b"x" * (i % 100))
EOF
}

# The same fixture on cells, through WebDAV (one keep-alive connection).
upload_fixture() {
    python3 - "$URL" "$USERNAME" "$AUTH_PASS" "$FILES" "$TMP/src/small.bin" <<'EOF'
import base64, http.client, sys, urllib.parse
url, user, password, files, small = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
parts = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(parts.hostname, parts.port)
auth = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
def send(method, path, body=b""):
    conn.request(method, parts.path + path, body=body, headers=auth)
    reply = conn.getresponse(); reply.read()
    if reply.status >= 300: sys.exit(f"{method} {path}: {reply.status}")
send("PUT", "/small.bin", open(small, "rb").read())
send("MKCOL", "/list")
for i in range(files):
    send("PUT", urllib.parse.quote(f"/list/file {i:04d}.txt"), b"x" * (i % 100))
EOF
}

# ---------------------------------------------------------------- measures
auth_header() { printf 'Authorization: Basic %s' "$(printf '%s:%s' "$USERNAME" "$AUTH_PASS" | base64 -w0)"; }

wrk_rps() {
    local url=$1 script=$2 out
    out="$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -H "$(auth_header)" ${script:+-s "$script"} "$url")" \
        || die "wrk failed on $url"
    if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then printf '%s\n' "$out" >&2; die "non-2xx answers from $url"; fi
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

propfind_body='<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/><D:displayname/></D:prop></D:propfind>'

write_propfind_script() {
    cat >"$TMP/propfind.lua" <<EOF
wrk.method = "PROPFIND"
wrk.headers["Depth"] = "1"
wrk.headers["Content-Type"] = "application/xml"
wrk.body = '$propfind_body'
EOF
}

check_propfind() {
    local count
    count="$(curl -fsS -X PROPFIND -H 'Depth: 1' -H "$(auth_header)" --data "$propfind_body" "$URL/list/" \
        | grep -o '<[A-Za-z0-9]*:\?response[ >]' | wc -l)" || die "$1: PROPFIND failed"
    [[ "$count" -eq $((FILES + 1)) ]] || die "$1: PROPFIND listed $count responses, expected $((FILES + 1))"
}

# big NAME -> sets R[NAME_put] R[NAME_get] (MB/s, best of BIG_RUNS), after a sha check.
big() {
    local name=$1 i put get puts=() gets=() want_sum got
    want_sum="$(sha256sum "$TMP/src/big.bin" | cut -d' ' -f1)"
    for ((i = 0; i < BIG_RUNS; i++)); do
        curl -s -o /dev/null -X DELETE -H "$(auth_header)" "$URL/big.bin" || true
        put="$(curl -fsS -o /dev/null -T "$TMP/src/big.bin" -H "$(auth_header)" -w '%{speed_upload}' "$URL/big.bin")" \
            || die "$name: big PUT failed"
        puts+=("$put")
    done
    got="$(curl -fsS -H "$(auth_header)" "$URL/big.bin" | sha256sum | cut -d' ' -f1)"
    [[ "$got" == "$want_sum" ]] || die "$name: big file came back different"
    for ((i = 0; i < BIG_RUNS; i++)); do
        get="$(curl -fsS -o /dev/null -H "$(auth_header)" -w '%{speed_download}' "$URL/big.bin")" \
            || die "$name: big GET failed"
        gets+=("$get")
    done
    R[${name}_put]="$(best "${puts[@]}")"
    R[${name}_get]="$(best "${gets[@]}")"
}

best() { python3 -c 'import sys; print(f"{max(float(x) for x in sys.argv[1:]) / 1e6:.0f}")' "$@"; }

measure() {
    local name=$1
    log "$name: starting"
    "start_$name"
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/small.bin")" == 401 ]] || die "$name serves without auth"
    check_propfind "$name"
    log "$name: small GET"
    wrk_rps "$URL/small.bin" "" >/dev/null
    R[${name}_small]="$(wrk_rps "$URL/small.bin" "")"
    log "$name: PROPFIND Depth 1 on $FILES files"
    R[${name}_propfind]="$(wrk_rps "$URL/list/" "$TMP/propfind.lua")"
    log "$name: big PUT and GET x$BIG_RUNS"
    big "$name"
    stop "$PID"
}

ratio() { python3 -c 'import sys
try: print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}x")
except (ValueError, ZeroDivisionError): print("-")' "$1" "$2"; }

main() {
    ensure_tools
    if want cells && [[ -z "${CELLS_BIN:-}" ]]; then
        log "building cells (release)"
        (cd "$REPO_ROOT" && cargo build --release -p cells) || die "cargo build failed"
        CELLS_BIN="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/cells"
    fi
    TMP="$(mktemp -d -t cells-bench-dav.XXXXXX)"
    mkdir -p "$TMP/src"
    head -c 4096 /dev/urandom >"$TMP/src/small.bin"
    head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom >"$TMP/src/big.bin"
    write_propfind_script
    declare -gA R=()
    for server in cells nginx rclone dufs; do
        if want "$server"; then measure "$server"; fi
    done

    local rows=("small GET req/s (4 KiB)|small" "PROPFIND Depth 1 req/s ($FILES files)|propfind"
        "PUT MB/s ($BIG_MB MiB, best of $BIG_RUNS)|put" "GET MB/s ($BIG_MB MiB, best of $BIG_RUNS)|get")
    local md row label key line
    mkdir -p "$OUT_DIR"
    md="$OUT_DIR/dav-$(date '+%Y%m%d-%H%M%S').md"
    {
        echo "# cells WebDAV vs nginx + dav-ext, rclone serve webdav, dufs"
        echo
        echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -srm), $(nproc) cores; cells $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
        echo "- wrk -t2 -c$CONNECTIONS -d${DURATION}s; big file by curl; Basic auth everywhere"
        echo
        echo "| metric | cells | nginx | rclone | dufs | cells/nginx | cells/rclone | cells/dufs |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    } >"$md"
    for row in "${rows[@]}"; do
        IFS='|' read -r label key <<<"$row"
        local c="${R[cells_$key]:--}" n="${R[nginx_$key]:--}" r="${R[rclone_$key]:--}" d="${R[dufs_$key]:--}"
        line="| $label | ${c%.*} | ${n%.*} | ${r%.*} | ${d%.*} | $(ratio "$c" "$n") | $(ratio "$c" "$r") | $(ratio "$c" "$d") |"
        echo "$line" >>"$md"
    done
    echo
    cat "$md"
    log "written $md"
}

main "$@"
