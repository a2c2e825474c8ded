#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need if it is
# missing (Debian packages, npm packages, cargo-nextest), checks formatting and lints,
# then runs every test of the workspace (unit, property, store suite on SQLite and on
# PostgreSQL, black-box tests against the real binary, real peers: curl, litmus, rclone,
# OpenSSH sftp, Chromium, s3s-fs, two nodes over PostgreSQL and s3s-fs).
#
# The PostgreSQL tests use postgres://postgres@127.0.0.1:5432/test (a fresh schema per
# test), or CELLS_TEST_POSTGRES_URL; without a reachable PostgreSQL they fail and say so.
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
#   rclone          WebDAV and SFTP remotes
#   sftp, sshpass   the OpenSSH client, typing a token as the password
#   chromium, node  the web console in a real browser (playwright-core drives it)
#   psql            the tree checks of the concurrency tests, on PostgreSQL
declare -A package=(
  [curl]=curl [sqlite3]=sqlite3 [litmus]=litmus [rclone]=rclone
  [sftp]=openssh-client [sshpass]=sshpass [node]=nodejs [npm]=npm [psql]=postgresql-client
)
missing=()
for tool in "${!package[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package[$tool]}")
done
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
# playwright-core from npm (it downloads no browser: the tests use Debian's Chromium).
if [ ! -d crates/cli/tests/browser/node_modules/playwright-core ]; then
  (cd crates/cli/tests/browser && npm ci --no-audit --no-fund)
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
# The S3-compatible server of the bucket tests (DESIGN.md section 7).
if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" ]; then
  echo "installing s3s-fs"
  cargo install s3s-fs --version 0.14.1 --features binary --locked
fi
# Say at once, not after the build, when the PostgreSQL the tests need is not there.
pg_url="${CELLS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -d "$pg_url"; then
  echo "no PostgreSQL answers at $pg_url: the PostgreSQL tests will fail" >&2
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast

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
CELLS_TEST_STORE=postgres cargo nextest run --workspace --locked --no-fail-fast \
  -E "package(cells) & binary(it) & not (test(/^cluster::/) | test(/^migrate_store::/) | $sqlite_or_folder_only)"
