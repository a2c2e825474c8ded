#!/usr/bin/env bash
# bench/sftp.sh — cells' SFTP server vs OpenSSH's sshd + internal-sftp, in one run.
#
# What it measures (same machine, both servers on 127.0.0.1, the same OpenSSH `sftp`
# client with the same cipher, aes128-gcm@openssh.com, for both):
#   1. upload of a $BIG_MB MiB file   (sftp put)
#   2. download of that file          (sftp get)
#   3. upload of $SMALL_COUNT files of $SMALL_KB KiB   (sftp put -r)
#   4. download of those files        (sftp get -r)
# Each row runs $ROUNDS times, the servers interleaved; the median is kept. Every
# transfer is checked byte-identical (sha256) before anything is timed. The ratio is
# cells' throughput over sshd's (above 1: cells is faster).
#
# cells logs in with a personal access token as the password (sshpass); sshd with a
# throwaway key pair (the login is not timed: each row is one session, the time from
# the client's start to its end, minus nothing).
#
# How to run (root, Debian; installs openssh-server, openssh-client, sshpass if
# missing):
#   bash bench/sftp.sh
# Env knobs:
#   BIG_MB=1024  SMALL_COUNT=1000  SMALL_KB=4  ROUNDS=3
#   CELLS_BIN=path   use this cells binary instead of building one (release)
#   CIPHER=aes128-gcm@openssh.com
#   WORK_DIR=/tmp    where both servers keep their files (/dev/shm: no disk at all;
#                    cells syncs every upload to disk before it is visible, sshd does
#                    not, so on a disk the upload rows also measure the disk's sync)
#
# Output: a table on stdout and the same as markdown in bench/out/sftp-<date>.md
# (bench/out is gitignored).

set -euo pipefail
shopt -s inherit_errexit

BIG_MB="${BIG_MB:-1024}"
SMALL_COUNT="${SMALL_COUNT:-1000}"
SMALL_KB="${SMALL_KB:-4}"
ROUNDS="${ROUNDS:-3}"
CIPHER="${CIPHER:-aes128-gcm@openssh.com}"
WORK_DIR="${WORK_DIR:-/tmp}"
PASSWORD="benchpass123"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
OUT_DIR="$SCRIPT_DIR/out"

log() { printf '[sftp.sh] %s\n' "$*" >&2; }
die() { printf '[sftp.sh] ERROR: %s\n' "$*" >&2; exit 1; }

ensure_tools() {
    local missing=()
    [[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
    command -v sftp >/dev/null 2>&1 || missing+=(openssh-client)
    command -v sshpass >/dev/null 2>&1 || missing+=(sshpass)
    if ((${#missing[@]})); then
        [[ $EUID -eq 0 ]] || die "need root to apt-get install ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
    [[ $EUID -eq 0 ]] || die "run as root: sshd needs it"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

WORK=""
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ -n "$WORK" ]] && rm -rf "$WORK"
}
trap cleanup EXIT

build_cells() {
    if [[ -n "${CELLS_BIN:-}" ]]; then
        [[ -x "$CELLS_BIN" ]] || die "CELLS_BIN=$CELLS_BIN is not executable"
        return
    fi
    log "building cells (release)"
    (cd "$REPO_ROOT" && cargo build --release -p cells) || die "cargo build --release -p cells failed"
    local target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
    CELLS_BIN="$target_dir/release/cells"
}

start_cells() {
    CELLS_HTTP=$(free_port)
    CELLS_SFTP=$(free_port)
    mkdir -p "$WORK/cells"
    CELLS_LOG=warn CELLS_ADMIN_PASSWORD="$PASSWORD" "$CELLS_BIN" start --data "$WORK/cells" \
        --bind "127.0.0.1:$CELLS_HTTP" --sftp-bind "127.0.0.1:$CELLS_SFTP" >"$WORK/cells.out" 2>"$WORK/cells.log" &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q "listening on http" "$WORK/cells.out" 2>/dev/null && break; sleep 0.1; done
    grep -q "listening on http" "$WORK/cells.out" || die "cells did not start: $(cat "$WORK/cells.log")"
    TOKEN=$("$CELLS_BIN" admin --data "$WORK/cells" user token -u admin -e 1d -q)
}

start_sshd() {
    SSHD_PORT=$(free_port)
    mkdir -p "$WORK/sshd/files"
    ssh-keygen -q -t ed25519 -N '' -f "$WORK/sshd/host_key"
    ssh-keygen -q -t ed25519 -N '' -f "$WORK/client_key"
    cp "$WORK/client_key.pub" "$WORK/sshd/authorized_keys"
    cat >"$WORK/sshd/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $WORK/sshd/host_key
PidFile $WORK/sshd/sshd.pid
AuthorizedKeysFile $WORK/sshd/authorized_keys
PermitRootLogin yes
StrictModes no
UsePAM no
PasswordAuthentication no
Ciphers $CIPHER
Subsystem sftp internal-sftp
ForceCommand internal-sftp
EOF
    mkdir -p /run/sshd
    /usr/sbin/sshd -D -e -f "$WORK/sshd/sshd_config" 2>"$WORK/sshd.log" &
    PIDS+=($!)
    for _ in $(seq 50); do ssh-keyscan -p "$SSHD_PORT" 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.1; done
}

CLIENT_OPTS=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -c "$CIPHER")

# sftp_run SERVER BATCHFILE: one session running the batch, from $WORK/local.
sftp_run() {
    local server=$1 batch=$2
    case $server in
        cells) (cd "$WORK/local" && SSHPASS="$TOKEN" sshpass -e sftp "${CLIENT_OPTS[@]}" -o BatchMode=no \
            -o PubkeyAuthentication=no -P "$CELLS_SFTP" -b "$batch" admin@127.0.0.1 >/dev/null) ;;
        sshd) (cd "$WORK/local" && sftp "${CLIENT_OPTS[@]}" -i "$WORK/client_key" -P "$SSHD_PORT" \
            -b "$batch" root@127.0.0.1 >/dev/null) ;;
    esac
}

# The remote folder of each server.
remote() { case $1 in cells) echo "/personal-files" ;; sshd) echo "$WORK/sshd/files" ;; esac; }

seconds() { date +%s.%N; }

# time_batch SERVER BATCHFILE: prints the seconds one run took.
time_batch() {
    local start end
    start=$(seconds)
    sftp_run "$1" "$2" || die "sftp against $1 failed on $2"
    end=$(seconds)
    echo "$end - $start" | bc -l
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

main() {
    ensure_tools
    command -v bc >/dev/null || die "bc is needed"
    build_cells
    WORK=$(mktemp -d "$WORK_DIR/sftp-bench.XXXXXX")
    mkdir -p "$WORK/local/small"
    log "making a $BIG_MB MiB file and $SMALL_COUNT files of $SMALL_KB KiB"
    head -c $((BIG_MB * 1024 * 1024)) /dev/urandom >"$WORK/local/big.bin"
    for i in $(seq "$SMALL_COUNT"); do head -c $((SMALL_KB * 1024)) /dev/urandom >"$WORK/local/small/f$i"; done
    start_cells
    start_sshd

    local server
    for server in cells sshd; do
        local r; r=$(remote "$server")
        printf 'put big.bin %s/big.bin\nget %s/big.bin check.bin\n' "$r" "$r" >"$WORK/check.$server"
        sftp_run "$server" "$WORK/check.$server"
        cmp -s "$WORK/local/big.bin" "$WORK/local/check.bin" || die "$server: the big file came back different"
        printf 'put big.bin %s/big.bin\n' "$r" >"$WORK/up.$server"
        printf 'get %s/big.bin down.bin\n' "$r" >"$WORK/down.$server"
        printf -- '-rm %s/small/*\n-rmdir %s/small\n' "$r" "$r" >"$WORK/clean.$server"
        printf 'put -r small %s/\n' "$r" >"$WORK/sup.$server"
        printf 'get -r %s/small small-back\n' "$r" >"$WORK/sdown.$server"
    done
    rm -f "$WORK/local/check.bin"

    declare -A times
    local row round
    for round in $(seq "$ROUNDS"); do
        log "round $round of $ROUNDS"
        for row in up down sup sdown; do
            for server in cells sshd; do
                case $row in
                    down) rm -f "$WORK/local/down.bin" ;;
                    sdown) rm -rf "$WORK/local/small-back" ;;
                    sup) sftp_run "$server" "$WORK/clean.$server" 2>/dev/null ;;
                esac
                times[$row.$server]+="$(time_batch "$server" "$WORK/$row.$server") "
            done
        done
        cmp -s "$WORK/local/big.bin" "$WORK/local/down.bin" || die "the big download differs"
        diff -r "$WORK/local/small" "$WORK/local/small-back" >/dev/null || die "the small files differ"
    done

    mkdir -p "$OUT_DIR"
    local out; out="$OUT_DIR/sftp-$(date -u +%Y%m%dT%H%M%SZ).md"
    {
        echo "# bench/sftp.sh $(date -u +%FT%TZ): cipher $CIPHER, files in $WORK_DIR, median of $ROUNDS, $(nproc) cores"
        echo
        echo "| row | cells | sshd + internal-sftp | cells / sshd |"
        echo "|---|---|---|---|"
        local label unit amount c s
        for row in up down sup sdown; do
            case $row in
                up) label="upload $BIG_MB MiB"; amount=$BIG_MB; unit="MiB/s" ;;
                down) label="download $BIG_MB MiB"; amount=$BIG_MB; unit="MiB/s" ;;
                sup) label="upload $SMALL_COUNT x $SMALL_KB KiB"; amount=$SMALL_COUNT; unit="files/s" ;;
                sdown) label="download $SMALL_COUNT x $SMALL_KB KiB"; amount=$SMALL_COUNT; unit="files/s" ;;
            esac
            c=$(tr ' ' '\n' <<<"${times[$row.cells]}" | grep . | median)
            s=$(tr ' ' '\n' <<<"${times[$row.sshd]}" | grep . | median)
            printf '| %s | %.1f %s (%.2f s) | %.1f %s (%.2f s) | %.2fx |\n' "$label" \
                "$(bc -l <<<"$amount / $c")" "$unit" "$c" "$(bc -l <<<"$amount / $s")" "$unit" "$s" "$(bc -l <<<"$s / $c")"
        done
    } | tee "$out"
    log "written to $out"
}

main "$@"
