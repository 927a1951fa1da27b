#!/usr/bin/env bash
# Runs every test of the project: formatting and lints, then the whole workspace's tests against
# a real PostgreSQL and a real Mosquitto. On a fresh Debian machine with the Rust toolchain it
# installs and starts what it needs (the tests' own tools through scripts/test-tools.sh: the SMTP
# server, Chromium and axe-core; the private test stack under .ebok/test-stack, on free loopback
# ports), and stops what it started at the end.
#
#   scripts/test.sh                 everything
#   scripts/test.sh -E 'test(demo)' extra arguments go to cargo nextest (or cargo test)
#
# EBOK__DATABASE__URL / EBOK__MQTT__URL point the tests at existing services instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export EBOK__STACK__DATA_DIR="${EBOK__STACK__DATA_DIR:-.ebok/test-stack}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n== %s\n' "$*" >&2; }

if [[ "${1:-}" != "--inner" ]]; then
    step "format"
    cargo fmt --all -- --check
    step "build"
    cargo build --workspace --all-targets
    step "test tools"
    scripts/test-tools.sh "$EBOK__STACK__DATA_DIR"
    step "test stack"
    exec target/debug/ebok stack run -- "$0" --inner "$@"
fi
shift

step "lint"
cargo clippy --workspace --all-targets -- -D warnings

step "tests (PostgreSQL ${EBOK__DATABASE__URL##*@}, broker ${EBOK__MQTT__URL})"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
    cargo test --workspace --doc -q
else
    cargo test --workspace --no-fail-fast "$@"
fi
step "all tests passed"
