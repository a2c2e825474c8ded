#!/usr/bin/env bash
# bench/auth.sh — what authentication costs on a small request, in one run.
#
# Against one cells server (request logs off), wrk drives for $DURATION seconds each:
#   pat-bearer   GET /io/personal-files/small.bin (4 KiB), Authorization: Bearer cpat_...
#   pat-basic    the same, Basic admin:cpat_...
#                (the token carries limits, as a careful user's would: 4 address blocks,
#                the one that holds the client, 127.0.0.1, last, and 2 protocols, rest
#                and io; an auto-refresh window of 1 h, so its answers also carry
#                Cells-Token-Expires-At)
#   login-token  the same, Bearer <access token from POST /oauth2/token>
#   password     the same, Basic admin:password (verified once, then cached)
#   no-auth      the same GET without credentials
# and prints each figure with its ratio to no-auth and to pat-bearer.
#
# "no-auth" needs a benchmark build: `--features bench-anonymous` makes a request without
# credentials act as `admin` (never enable that feature for a real server). The script
# builds that binary and runs every row against it, so the rows differ only in the
# credentials they send.
#
#   bash bench/auth.sh            (DURATION=5 per run, ROUNDS=3 interleaved rounds, median
#                                  per row; CONNECTIONS=32; CELLS_BIN=path to skip the
#                                  build: it must be built with bench-anonymous)
#
# Installs wrk and curl from Debian if missing. Output: a table, and the same markdown in
# bench/out/auth-<date>.md.
set -euo pipefail

DURATION="${DURATION:-5}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-32}"
PASSWORD="benchpass123"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

log() { printf '[auth.sh] %s\n' "$*" >&2; }
die() { printf '[auth.sh] ERROR: %s\n' "$*" >&2; exit 1; }

missing=()
for tool in wrk curl python3; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]})); then
    [[ $EUID -eq 0 ]] || die "need root to install: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

TMP="$(mktemp -d -t cells-bench-auth.XXXXXX)"
if [[ -z "${CELLS_BIN:-}" ]]; then
    log "building cells (release, with the benchmark-only feature bench-anonymous)"
    # A build that skips authentication never goes where a user would run it
    # (target/release): it has a target folder of its own.
    BENCH_TARGET="${BENCH_TARGET_DIR:-$REPO_ROOT/target/bench-anonymous}"
    (cd "$REPO_ROOT" && CARGO_TARGET_DIR="$BENCH_TARGET" cargo build --release -p cells --features bench-anonymous) >&2
    cp "$BENCH_TARGET/release/cells" "$TMP/cells-bench"
    CELLS_BIN="$TMP/cells-bench"
fi
[[ -x "$CELLS_BIN" ]] || die "no cells binary at $CELLS_BIN"
PID=""
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf -- "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
CELLS_LOG=warn CELLS_ADMIN_PASSWORD="$PASSWORD" "$CELLS_BIN" start --data "$TMP/data" --bind "127.0.0.1:$PORT" \
    >"$TMP/cells.log" 2>&1 &
PID=$!
for _ in $(seq 1 240); do
    curl -fs -o /dev/null "$URL/healthz" && break
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/cells.log" >&2; die "cells did not start"; }
    sleep 0.25
done

ACCESS="$(curl -fsS "$URL/oauth2/token" -d grant_type=password -d username=admin -d "password=$PASSWORD" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
# The PAT rows use a token with limits, checked on every request after the cache hit.
LIMITS='"AllowedIps": ["10.0.0.0/8", "fd00::/8", "192.168.0.0/16", "127.0.0.1/32"], "AllowedVia": ["rest", "io"]'
PAT="$(curl -fsS "$URL/a/auth/token/personal" -H "Authorization: Bearer $ACCESS" -H 'Content-Type: application/json' \
    -d "{\"Label\": \"bench/auth.sh\", \"AutoRefresh\": 3600, $LIMITS}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["AccessToken"])')"
head -c 4096 /dev/urandom >"$TMP/small.bin"
curl -fsS -o /dev/null -T "$TMP/small.bin" -H "Authorization: Bearer $PAT" "$URL/io/personal-files/small.bin"

FILE="$URL/io/personal-files/small.bin"
declare -A HEADER=(
    [pat-bearer]="Authorization: Bearer $PAT"
    [pat-basic]="Authorization: Basic $(printf 'admin:%s' "$PAT" | base64 -w0)"
    [login-token]="Authorization: Bearer $ACCESS"
    [password]="Authorization: Basic $(printf 'admin:%s' "$PASSWORD" | base64 -w0)"
    [no-auth]="X-Nothing: 1"
)
declare -A TARGET=([pat-bearer]="$FILE" [pat-basic]="$FILE" [login-token]="$FILE" [password]="$FILE" [no-auth]="$FILE")
ORDER=(no-auth pat-bearer pat-basic login-token password)

for name in "${ORDER[@]}"; do
    got="$(curl -s -o /dev/null -w '%{http_code}' -H "${HEADER[$name]}" "${TARGET[$name]}")"
    [[ "$got" == 200 ]] || die "$name: ${TARGET[$name]} answered $got (no-auth needs a build with --features bench-anonymous)"
done
# The limits hold: the same token through WebDAV, or from 127.0.0.2, is refused.
got="$(curl -s -o /dev/null -w '%{http_code}' -H "${HEADER[pat-bearer]}" "$URL/dav/personal-files/small.bin")"
[[ "$got" == 401 ]] || die "the token's protocol limit did not hold: WebDAV answered $got"
got="$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 -H "${HEADER[pat-bearer]}" "$FILE")"
[[ "$got" == 401 ]] || die "the token's address limit did not hold: a request from 127.0.0.2 got $got"

# Rounds interleave the rows, so a machine that slows down (or speeds up) during the run
# does not favour the rows measured first; each row's figure is its median.
declare -A RPS=()
for name in "${ORDER[@]}"; do
    wrk -t2 -c"$CONNECTIONS" -d2s -H "${HEADER[$name]}" "${TARGET[$name]}" >/dev/null
done
for ((round = 1; round <= ROUNDS; round++)); do
    for name in "${ORDER[@]}"; do
        out="$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -H "${HEADER[$name]}" "${TARGET[$name]}")"
        grep -q 'Non-2xx' <<<"$out" && { printf '%s\n' "$out" >&2; die "$name: non-2xx answers"; }
        rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
        RPS[$name]="${RPS[$name]:-} $rps"
        log "round $round, $name: $rps req/s"
    done
done

mkdir -p "$SCRIPT_DIR/out"
report="$SCRIPT_DIR/out/auth-$(date +%Y%m%d-%H%M%S).md"
python3 - "$report" "$DURATION" "$CONNECTIONS" "${ORDER[@]/#/}" <<EOF
import sys
report, duration, conns, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
import statistics
runs = {$(for n in "${ORDER[@]}"; do printf '"%s": [%s], ' "$n" "$(echo ${RPS[$n]} | tr ' ' ',')"; done)}
rps = {name: statistics.median(values) for name, values in runs.items()}
lines = [f"wrk -t2 -c{conns} -d{duration}s, 4 KiB GET /io/personal-files/small.bin, median of {len(runs['no-auth'])} interleaved rounds;",
         "the PAT carries 4 address blocks (the client's last) and 2 protocols (rest, io)", "",
         "| credentials | req/s | vs no-auth | vs pat-bearer |", "|---|---:|---:|---:|"]
for n in names:
    lines.append(f"| {n} | {rps[n]:.0f} | {rps[n] / rps['no-auth']:.2f}x | {rps[n] / rps['pat-bearer']:.2f}x |")
text = "\n".join(lines)
print(text)
open(report, "w").write(text + "\n")
EOF
log "written to $report"
