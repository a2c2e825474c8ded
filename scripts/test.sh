#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need if it is
# missing (Debian packages, npm and PyPI packages, cargo-nextest), checks formatting and lints,
# then runs every test of the workspace (unit, property, store suite on SQLite and on
# PostgreSQL, black-box tests against the real binary, real peers: curl, litmus, rclone,
# OpenSSH sftp, aws-cli, boto3, Chromium, s3s-fs, two nodes over PostgreSQL and s3s-fs).
#
# Nothing needs to be running. The PostgreSQL tests (a fresh schema per test) use the
# PostgreSQL at CELLS_TEST_POSTGRES_URL, by default postgres://postgres@127.0.0.1:5432/test,
# when it answers; otherwise this script starts a throwaway one of its own (installing
# Debian's `postgresql` if missing) on a free loopback port, points the tests at it, and
# stops and removes it when it exits, whether the tests pass, fail or are interrupted
# (scripts/postgres.sh). The tests start their s3s-fs servers themselves.
#
#   bash scripts/test.sh
#
# CARGO_TARGET_DIR is honoured, so a build folder outside the clone can be reused.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Real peers and tools the tests drive, as Debian packages: command -> package.
#   curl            the README tour
#   sqlite3         integrity checks after a crash, the tree consistency checks
#   litmus          WebDAV compliance (crates/cli/tests/it/dav_peers.rs)
#   rclone          WebDAV, SFTP and S3 remotes
#   aws, python3    S3 at /io: the aws CLI, and boto3 (from PyPI, in a venv)
#   sftp, sshpass   the OpenSSH client, typing a token as the password
#   chromium, node  the web console in a real browser (playwright-core drives it)
#   psql            the tree checks of the concurrency tests, on PostgreSQL
#   cadaver, davfs2 desktop WebDAV clients (crates/cli/tests/it/dav_desktop.rs)
#   gio, gvfsd-dav  GNOME Files' WebDAV backend, in a private session bus (dbus)
declare -A package=(
  [curl]=curl [sqlite3]=sqlite3 [litmus]=litmus [rclone]=rclone
  [sftp]=openssh-client [sshpass]=sshpass [node]=nodejs [npm]=npm [psql]=postgresql-client
  [cadaver]=cadaver [mount.davfs]=davfs2
)
missing=()
for tool in "${!package[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package[$tool]}")
done
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The S3 tests (crates/cli/tests/it/s3*.rs): Debian's aws CLI (v2, even when another
# `aws` is on the PATH), and a Python for boto3's venv.
[ -x /usr/bin/aws ] || missing+=(awscli)
export CELLS_TEST_AWS=/usr/bin/aws
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
# gvfs without what it recommends (volume monitors, FUSE bridge, samba): only the daemons.
bare=()
command -v dbus-run-session >/dev/null 2>&1 || bare+=(dbus)
command -v gio >/dev/null 2>&1 || bare+=(libglib2.0-bin)
[ -x /usr/libexec/gvfsd-dav ] || bare+=(gvfs-daemons gvfs-backends)
if [ ${#missing[@]} -gt 0 ] || [ ${#bare[@]} -gt 0 ]; then
  echo "installing: ${missing[*]} ${bare[*]}"
  as_root apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
  if [ ${#bare[@]} -gt 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${bare[@]}"
  fi
fi
# playwright-core from npm (it downloads no browser: the tests use Debian's Chromium).
if [ ! -d crates/cli/tests/browser/node_modules/playwright-core ]; then
  (cd crates/cli/tests/browser && npm ci --no-audit --no-fund)
fi
# boto3 from PyPI, in a venv of its own next to the build (the S3 tests run it).
venv="${CARGO_TARGET_DIR:-$PWD/target}/s3-venv"
if ! "$venv/bin/python" -c 'import boto3' >/dev/null 2>&1; then
  echo "installing boto3 into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check boto3
fi
export CELLS_TEST_PYTHON="$venv/bin/python"
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
# The S3-compatible server of the bucket tests (DESIGN.md section 7).
if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" ]; then
  echo "installing s3s-fs"
  cargo install s3s-fs --version 0.14.1 --features binary --locked
fi

# Each step below runs in a process group of its own (set -m), in the background, and is
# waited for: a signal to this script (Ctrl-C, a TERM from CI) then stops the step with
# all its processes and cleans up at once, rather than after the step ends.
step_pid=""
step() { set -m; "$@" </dev/null & step_pid=$!; set +m; wait "$step_pid"; step_pid=""; }
stop_step() {
  if [ -n "$step_pid" ] && kill -TERM -- "-$step_pid" 2>/dev/null; then wait "$step_pid" || true; fi
}
# The PostgreSQL of the tests: the one at CELLS_TEST_POSTGRES_URL if it answers, else a
# throwaway one, stopped and removed at exit however the script ends.
source scripts/postgres.sh
trap 'stop_step; pg_throwaway_stop' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
pg_for_tests

step cargo fmt --all -- --check
step cargo clippy --workspace --all-targets --locked -- -D warnings
step cargo nextest run --workspace --locked --no-fail-fast

# The black-box suite again, each server on a fresh PostgreSQL schema and s3s-fs bucket.
# Left out: the two-node and migration tests (on PostgreSQL already), and the tests that
# look inside SQLite files (sqlite3) or at the local folder's temporary files, which a
# bucket does not have (the two-node test kills a node mid-upload on a bucket instead).
sqlite_or_folder_only='test(=concurrency::the_consistency_check_catches_a_broken_tree_and_blob_store)
  | test(=concurrency::uploads_into_a_folder_that_moves_land_at_its_new_path_or_fail_with_409)
  | test(=concurrency::uploads_into_a_folder_deleted_meanwhile_fail_with_409_and_leave_nothing)
  | test(=concurrency::revoking_a_token_ends_its_long_download_and_its_slow_upload)
  | test(=crash::a_server_killed_mid_upload_leaves_no_partial_file)
  | test(=crash::a_client_that_hangs_up_mid_upload_leaves_nothing_behind)
  | test(=hardening_sessions::the_data_folder_is_private_and_a_copy_of_the_database_signs_no_login)
  | test(=ops::sigterm_lets_requests_finish_and_exits_zero)
  | test(=token_safety::no_token_nor_its_hash_leaks)'
# (--workspace with a filter, not -p cells: the same build as the first pass.)
CELLS_TEST_STORE=postgres step cargo nextest run --workspace --locked --no-fail-fast \
  -E "package(cells) & binary(it) & not (test(/^cluster::/) | test(/^migrate_store::/) | $sqlite_or_folder_only)"
