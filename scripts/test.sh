#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need if it is
# missing (Debian packages, npm packages, cargo-nextest), checks formatting and lints,
# then runs every test of the workspace (unit, property, store suite, black-box tests
# against the real binary, real peers: curl, litmus, rclone, OpenSSH sftp, Chromium).
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
declare -A package=(
  [curl]=curl [sqlite3]=sqlite3 [litmus]=litmus [rclone]=rclone
  [sftp]=openssh-client [sshpass]=sshpass [node]=nodejs [npm]=npm
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

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast
