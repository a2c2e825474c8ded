#!/usr/bin/env bash
# bench/s3.sh — cells' S3 at /io against s3s-fs, the same client (rclone's S3 remote),
# in one run.
#
# Rows (each the median of ROUNDS interleaved rounds: cells, s3s-fs, cells, ...):
#   1. big PUT    MiB/s  — rclone copy of one BIG_MB MiB file (multipart, 64 MiB parts)
#   2. big GET    MiB/s  — rclone copy of it back
#   3. small PUT  files/s — rclone copy of SMALL_N files of 4 KiB (8 transfers)
#   4. small GET  files/s — rclone copy of them back
# cells checks a personal access token (the access key) and its scopes on every request,
# writes to its SQLite database and local blob folder, and lists in key order; s3s-fs
# checks a fixed key pair and writes files. Both run on 127.0.0.1, on the same disk.
# Each round checks what came back is byte-identical (sha256) before it counts.
#
#   bash bench/s3.sh
# Env: BIG_MB=1024 SMALL_N=1000 ROUNDS=3 CELLS_BIN=path (else a release build)
# Needs rclone (Debian) and s3s-fs (`cargo install s3s-fs --version 0.14.1 --features
# binary --locked`, as scripts/test.sh does). Output: a table on stdout, and markdown
# in bench/out/s3-<date>.md (gitignored).

set -euo pipefail
shopt -s inherit_errexit

BIG_MB="${BIG_MB:-1024}"
SMALL_N="${SMALL_N:-1000}"
ROUNDS="${ROUNDS:-3}"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
OUT_DIR="$SCRIPT_DIR/out"

log() { printf '[s3.sh] %s\n' "$*" >&2; }
die() { printf '[s3.sh] ERROR: %s\n' "$*" >&2; exit 1; }

command -v rclone >/dev/null 2>&1 || die "rclone is missing (apt-get install rclone)"
S3S_FS="$(command -v s3s-fs 2>/dev/null || echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs")"
[[ -x "$S3S_FS" ]] || die "s3s-fs is missing (cargo install s3s-fs --version 0.14.1 --features binary --locked)"

TMP="$(mktemp -d /var/tmp/cells-s3-bench.XXXXXX)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
wait_port() {
    local port=$1 pid=$2 i
    for ((i = 0; i < 240; i++)); do
        kill -0 "$pid" 2>/dev/null || die "a server exited during startup (logs in $TMP)"
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.25
    done
    die "nothing answers on port $port"
}

# ---------------------------------------------------------------- servers
if [[ -z "${CELLS_BIN:-}" ]]; then
    log "building cells (release)"
    (cd "$REPO_ROOT" && cargo build --release -p cells --locked) >&2
    CELLS_BIN="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/cells"
fi
[[ -x "$CELLS_BIN" ]] || die "no cells binary at $CELLS_BIN"

CELLS_PORT="$(free_port)"
CELLS_LOG=warn CELLS_ADMIN_PASSWORD=benchpassword "$CELLS_BIN" start --data "$TMP/cells-data" \
    --bind "127.0.0.1:$CELLS_PORT" --sftp-bind 127.0.0.1:0 >"$TMP/cells.log" 2>&1 &
PIDS+=($!)
wait_port "$CELLS_PORT" "${PIDS[-1]}"
# A token scoped to the bench's folder: the scope check runs on every request.
CELLS_TOKEN_ALL="$("$CELLS_BIN" admin --data "$TMP/cells-data" user token -u admin -e 1d -q)"
curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $CELLS_TOKEN_ALL" -H "Content-Type: application/json" \
    -d '{"Path":"/personal-files/bench","Type":"COLLECTION"}' "http://127.0.0.1:$CELLS_PORT/a/tree/create"
BENCH_UUID="$(curl -fsS -H "Authorization: Bearer $CELLS_TOKEN_ALL" "http://127.0.0.1:$CELLS_PORT/a/tree/personal-files/bench" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Uuid"])')"
CELLS_TOKEN="$("$CELLS_BIN" admin --data "$TMP/cells-data" user token -u admin -e 1d -q -s "node:$BENCH_UUID:rw")"

S3S_PORT="$(free_port)"
mkdir -p "$TMP/s3s-root"
"$S3S_FS" --host 127.0.0.1 --port "$S3S_PORT" --access-key bench-access --secret-key bench-secret-key \
    "$TMP/s3s-root" >"$TMP/s3s.log" 2>&1 &
PIDS+=($!)
wait_port "$S3S_PORT" "${PIDS[-1]}"

# rclone remotes from the environment, the same options for both.
export RCLONE_CONFIG_CELLS_TYPE=s3 RCLONE_CONFIG_CELLS_PROVIDER=Other RCLONE_CONFIG_CELLS_REGION=us-east-1
export RCLONE_CONFIG_CELLS_ACCESS_KEY_ID="$CELLS_TOKEN" RCLONE_CONFIG_CELLS_SECRET_ACCESS_KEY=gatewaysecret
export RCLONE_CONFIG_CELLS_ENDPOINT="http://127.0.0.1:$CELLS_PORT" RCLONE_CONFIG_CELLS_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_S3SFS_TYPE=s3 RCLONE_CONFIG_S3SFS_PROVIDER=Other RCLONE_CONFIG_S3SFS_REGION=us-east-1
export RCLONE_CONFIG_S3SFS_ACCESS_KEY_ID=bench-access RCLONE_CONFIG_S3SFS_SECRET_ACCESS_KEY=bench-secret-key
export RCLONE_CONFIG_S3SFS_ENDPOINT="http://127.0.0.1:$S3S_PORT" RCLONE_CONFIG_S3SFS_FORCE_PATH_STYLE=true
unset AWS_CA_BUNDLE # rclone's SDK refuses its own transport with one (plain HTTP here)
RCLONE=(rclone --config /dev/null --s3-no-check-bucket --s3-chunk-size 64M --s3-upload-concurrency 4
    --transfers 8 --checkers 8 --ignore-checksum --no-check-dest -q)
# Where round N puts KIND (big, small). On s3s-fs each is a bucket of its own: s3s-fs
# answers rclone's first HEAD of a prefix that is a folder on its disk only after tens
# of seconds, with a 500, which would be measured as its slowness.
base() {
    if [[ $1 == cells ]]; then
        echo "cells:io/personal-files/bench/r$2-$3"
    else
        mkdir -p "$TMP/s3s-root/r$2-$3"
        echo "s3sfs:r$2-$3"
    fi
}

# ---------------------------------------------------------------- data
log "writing the data: $BIG_MB MiB and $SMALL_N × 4 KiB"
mkdir -p "$TMP/big" "$TMP/small"
head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom >"$TMP/big/big.bin"
python3 - "$TMP/small" "$SMALL_N" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(root, f"f{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(4096))
EOF
BIG_SUM="$(sha256sum <"$TMP/big/big.bin")"
SMALL_SUM="$(cd "$TMP/small" && sha256sum -- * | sha256sum)"

seconds() { python3 -c 'import time; print(time.monotonic())'; }
timed() { local t0 t1; t0="$(seconds)"; "$@"; t1="$(seconds)"; python3 -c "print($t1 - $t0)"; }

# One round on one server: four timings, in seconds, on one line.
round() {
    local server=$1 n=$2 big small down t1 t2 t3 t4
    big="$(base "$server" "$n" big)"
    small="$(base "$server" "$n" small)"
    down="$TMP/down-$server-$n"
    t1="$(timed "${RCLONE[@]}" copy "$TMP/big" "$big")"
    t2="$(timed "${RCLONE[@]}" copy "$big" "$down/big")"
    [[ "$(sha256sum <"$down/big/big.bin")" == "$BIG_SUM" ]] || die "$server: the big file came back different"
    t3="$(timed "${RCLONE[@]}" copy "$TMP/small" "$small")"
    t4="$(timed "${RCLONE[@]}" copy "$small" "$down/small")"
    [[ "$(cd "$down/small" && sha256sum -- * | sha256sum)" == "$SMALL_SUM" ]] || die "$server: the small files came back different"
    rm -rf -- "$down"
    echo "$t1 $t2 $t3 $t4"
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
declare -A times
for ((n = 1; n <= ROUNDS; n++)); do
    for server in cells s3s-fs; do
        log "round $n: $server"
        times[$server,$n]="$(round "$server" "$n")"
        log "  seconds (big PUT, big GET, small PUT, small GET): ${times[$server,$n]}"
    done
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- report
mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/s3-$(date -u +%Y%m%dT%H%M%SZ).md"
{
    for server in cells s3s-fs; do
        for ((n = 1; n <= ROUNDS; n++)); do echo "$server ${times[$server,$n]}"; done
    done
} | python3 -c '
import statistics, sys
big, small = float(sys.argv[1]), int(sys.argv[2])
rows = {}
for line in sys.stdin:
    server, *t = line.split()
    rows.setdefault(server, []).append([float(x) for x in t])
names = ["big PUT (MiB/s)", "big GET (MiB/s)", "small PUT (files/s)", "small GET (files/s)"]
amount = [big, big, small, small]
print("| row | cells | s3s-fs | cells / s3s-fs |")
print("|---|---|---|---|")
for i, name in enumerate(names):
    med = {s: statistics.median(amount[i] / r[i] for r in rows[s]) for s in rows}
    c, o = med["cells"], med["s3s-fs"]
    print("| %s | %.1f | %.1f | %.2fx |" % (name, c, o, c / o))
' "$BIG_MB" "$SMALL_N" | tee "$OUT"
{
    echo
    echo "Median of $ROUNDS interleaved rounds; rclone $(rclone version | head -1 | cut -d' ' -f2), 8 transfers,"
    echo "64 MiB parts; $(nproc) cores; load average before $LOAD_BEFORE, after $LOAD_AFTER."
} | tee -a "$OUT"
log "written to $OUT"
