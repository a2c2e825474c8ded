#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need if it is
# missing (Debian packages, cargo-nextest), checks formatting and lints, then runs every
# test of the workspace (unit, store suite, black-box tests against the real binary).
#
#   bash scripts/test.sh
#
# CARGO_TARGET_DIR is honoured, so a build folder outside the clone can be reused.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Real peers and tools the tests drive: curl (the README tour), sqlite3 (integrity
# checks after a crash).
missing=()
for tool in curl sqlite3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
# --- WebDAV peers (issue 7): litmus and rclone, driven by crates/cli/tests/it/dav_peers.rs.
dav_missing=()
for tool in litmus rclone; do
  command -v "$tool" >/dev/null 2>&1 || dav_missing+=("$tool")
done
if [ ${#dav_missing[@]} -gt 0 ]; then
  echo "installing: ${dav_missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${dav_missing[@]}"
fi
# --- end of WebDAV peers
# --- web console browser tests (crates/cli/tests/it/console.rs) ---
# Debian's Chromium, driven by playwright-core from npm (which downloads no browser).
if [ ! -x /usr/bin/chromium ] || ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "installing: chromium nodejs npm (browser tests)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nodejs npm
fi
if [ ! -d crates/cli/tests/browser/node_modules/playwright-core ]; then
  (cd crates/cli/tests/browser && npm ci --no-audit --no-fund)
fi
# --- end of web console block ---
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast
