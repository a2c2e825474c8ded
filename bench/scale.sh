#!/usr/bin/env bash
# bench/scale.sh — cells on its three deployments, in one run:
#   single   one node, SQLite + a local folder (the default)
#   pg-s3    one node, PostgreSQL + s3s-fs
#   two      two nodes on the same PostgreSQL + s3s-fs bucket, loaded together
#
# Workloads, all with a personal access token (Authorization: Bearer):
#   small GET req/s   wrk -c$CONNECTIONS for $DURATION s on a 4 KiB file (for "two",
#                     one wrk per node with half the connections each, summed)
#   PUT MB/s          curl -T of a $BIG_MB MiB file (for "two", one upload per node at
#                     once, summed)
#   GET MB/s          curl download of it (likewise)
# Every download is checked byte-identical (sha256) once before the timings.
#
#   bash bench/scale.sh
# Env: DURATION=10 CONNECTIONS=32 BIG_MB=1024 CELLS_BIN=path PG_URL=postgres://postgres@127.0.0.1:5432
# Needs: wrk, curl, psql, python3, s3s-fs (cargo install s3s-fs --version 0.14.1 --features binary --locked)
# Output: a table on stdout, and bench/out/scale-<date>.md.

set -euo pipefail
shopt -s inherit_errexit

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
BIG_MB="${BIG_MB:-1024}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
BENCH_DB="cells_bench_scale"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
OUT_DIR="$SCRIPT_DIR/out"

log() { printf '[scale.sh] %s\n' "$*" >&2; }
die() { printf '[scale.sh] ERROR: %s\n' "$*" >&2; exit 1; }

for tool in wrk curl psql python3; do command -v "$tool" >/dev/null || die "$tool is missing (Debian: wrk curl postgresql-client python3)"; done
S3S_FS="$(command -v s3s-fs || echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs")"
[[ -x "$S3S_FS" ]] || die "s3s-fs is missing: cargo install s3s-fs --version 0.14.1 --features binary --locked"

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $BENCH_DB" >/dev/null 2>&1 || true
    rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if [[ -z "${CELLS_BIN:-}" ]]; then
    log "building cells (release)…"
    (cd "$REPO_ROOT" && cargo build --release -p cells) >&2
    CELLS_BIN="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/cells"
fi
[[ -x "$CELLS_BIN" ]] || die "no cells binary at $CELLS_BIN"

# The content: a 4 KiB file and a big one.
head -c 4096 /dev/urandom >"$TMP/small.bin"
log "making a $BIG_MB MiB file"
head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom >"$TMP/big.bin"
SMALL_SUM="$(sha256sum <"$TMP/small.bin" | cut -d' ' -f1)"
BIG_SUM="$(sha256sum <"$TMP/big.bin" | cut -d' ' -f1)"

# s3s-fs, and a fresh database.
S3_PORT="$(free_port)"
mkdir -p "$TMP/s3/cells"
"$S3S_FS" --host 127.0.0.1 --port "$S3_PORT" --access-key bench-key --secret-key bench-secret "$TMP/s3" \
    >"$TMP/s3.log" 2>&1 &
PIDS+=($!)
export AWS_ACCESS_KEY_ID=bench-key AWS_SECRET_ACCESS_KEY=bench-secret
S3_URL="s3://cells?endpoint=http://127.0.0.1:$S3_PORT&region=us-east-1"
psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $BENCH_DB" >/dev/null
psql "$PG_URL/postgres" -qc "CREATE DATABASE $BENCH_DB" >/dev/null
DB_URL="$PG_URL/$BENCH_DB"

# start_node NAME DATA [store args...] -> sets URL_<NAME>
start_node() {
    local name=$1 data=$2 port i
    shift 2
    port="$(free_port)"
    CELLS_LOG=warn CELLS_ADMIN_PASSWORD=bench-password-1 "$CELLS_BIN" start --data "$data" \
        --bind "127.0.0.1:$port" --sftp-bind 127.0.0.1:0 "$@" >"$TMP/$name.log" 2>&1 &
    PIDS+=($!)
    for ((i = 0; i < 240; i++)); do
        if curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; then
            printf -v "URL_$name" 'http://127.0.0.1:%s' "$port"
            return
        fi
        sleep 0.25
    done
    tail -20 "$TMP/$name.log" >&2
    die "node $name did not start"
}

# Results: RESULT[config.workload] = figure.
declare -A RESULT

# measure CONFIG TOKEN URL...: runs the three workloads against the nodes given.
measure() {
    local config=$1 token=$2 url n total rate pids=()
    shift 2
    local nodes=("$@") count=$#
    local auth="Authorization: Bearer $token"
    for url in "${nodes[@]}"; do
        curl -fsS -o /dev/null -T "$TMP/small.bin" -H "$auth" "$url/io/personal-files/small.bin"
        [[ "$(curl -fsS -H "$auth" "$url/io/personal-files/small.bin" | sha256sum | cut -d' ' -f1)" == "$SMALL_SUM" ]] \
            || die "$config: the small file came back different"
    done
    log "$config: small GET, wrk -c$CONNECTIONS for ${DURATION}s over $count node(s)"
    n=0
    for url in "${nodes[@]}"; do
        wrk -t1 -c"$((CONNECTIONS / count))" -d"${DURATION}s" -H "$auth" "$url/io/personal-files/small.bin" \
            >"$TMP/wrk-$config-$n.txt" &
        pids+=($!)
        n=$((n + 1))
    done
    wait "${pids[@]}"
    total=0
    for ((i = 0; i < n; i++)); do
        grep -q "Non-2xx" "$TMP/wrk-$config-$i.txt" && die "$config: wrk saw errors: $(cat "$TMP/wrk-$config-$i.txt")"
        rate="$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk-$config-$i.txt")"
        total="$(python3 -c "print(round($total + $rate))")"
    done
    RESULT[$config.small]=$total

    log "$config: PUT $BIG_MB MiB on each of $count node(s) at once"
    local start end
    pids=()
    start="$(date +%s.%N)"
    n=0
    for url in "${nodes[@]}"; do
        curl -fsS -o /dev/null -T "$TMP/big.bin" -H "$auth" "$url/io/personal-files/big-$n.bin" &
        pids+=($!)
        n=$((n + 1))
    done
    wait "${pids[@]}"
    end="$(date +%s.%N)"
    RESULT[$config.put]="$(python3 -c "print(round($count * $BIG_MB * 1.048576 / ($end - $start)))")"

    log "$config: GET $BIG_MB MiB from each of $count node(s) at once"
    # Checked once (from the other node, when there are two), then timed to /dev/null.
    [[ "$(curl -fsS -H "$auth" "${nodes[-1]}/io/personal-files/big-0.bin" | sha256sum | cut -d' ' -f1)" == "$BIG_SUM" ]] \
        || die "$config: the big file came back different"
    pids=()
    start="$(date +%s.%N)"
    n=0
    for url in "${nodes[@]}"; do
        curl -fsS -o /dev/null -H "$auth" "$url/io/personal-files/big-$n.bin" &
        pids+=($!)
        n=$((n + 1))
    done
    wait "${pids[@]}"
    end="$(date +%s.%N)"
    RESULT[$config.get]="$(python3 -c "print(round($count * $BIG_MB * 1.048576 / ($end - $start)))")"
}

stop_nodes() {
    for pid in "${PIDS[@]:1}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    PIDS=("${PIDS[0]}")
}

token_for() { "$CELLS_BIN" admin --data "$1" "${@:2}" user token -u admin -e 1h -q -l bench; }

# 1. One node, SQLite and a folder.
start_node single "$TMP/single"
measure single "$(token_for "$TMP/single")" "$URL_single"
stop_nodes

# 2. One node, PostgreSQL and s3s-fs.
STORE=(--database-url "$DB_URL" --storage-url "$S3_URL")
start_node pga "$TMP/node-a" "${STORE[@]}"
TOKEN="$(token_for "$TMP/node-a" "${STORE[@]}")"
measure pg-s3 "$TOKEN" "$URL_pga"

# 3. Two nodes on the same database and bucket (B with A's key file).
mkdir -m 700 "$TMP/node-b"
cp -p "$TMP/node-a/secret.key" "$TMP/node-b/"
start_node pgb "$TMP/node-b" "${STORE[@]}"
measure two "$TOKEN" "$URL_pga" "$URL_pgb"
stop_nodes

ratio() { python3 -c "print(f'{$1 / $2:.2f}x')"; }
mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/scale-$(date +%Y%m%d-%H%M%S).md"
{
    echo "cells deployments, $(nproc) cores, $(date -u +%F), wrk -c$CONNECTIONS ${DURATION}s, $BIG_MB MiB files"
    echo
    echo "| workload | single (SQLite+disk) | pg-s3 (1 node) | two (2 nodes) | pg-s3/single | two/pg-s3 |"
    echo "|---|---:|---:|---:|---:|---:|"
    for w in small put get; do
        case $w in small) label="small GET req/s" ;; put) label="PUT MB/s (all nodes)" ;; get) label="GET MB/s (all nodes)" ;; esac
        echo "| $label | ${RESULT[single.$w]} | ${RESULT[pg-s3.$w]} | ${RESULT[two.$w]} | $(ratio "${RESULT[pg-s3.$w]}" "${RESULT[single.$w]}") | $(ratio "${RESULT[two.$w]}" "${RESULT[pg-s3.$w]}") |"
    done
} | tee "$OUT"
log "written to $OUT"
