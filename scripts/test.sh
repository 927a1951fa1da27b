#!/usr/bin/env bash
# Runs every test of the project: formatting and lints, then the whole workspace's tests against
# a real PostgreSQL and a real Mosquitto, then the tests of the time-series path (schema, ingest,
# readings, billing) again on PostgreSQL with TimescaleDB. On a fresh Debian machine with the
# Rust toolchain it installs and starts what it needs (the tests' own tools through
# scripts/test-tools.sh: the SMTP server, Chromium and axe-core; TimescaleDB built from
# ../shared/timescaledb by scripts/timescaledb.sh when the source is there; a private test stack
# per store under .ebok/test-stack, on free loopback ports), and stops what it started at the end.
#
#   scripts/test.sh                 everything, on both stores
#   scripts/test.sh -E 'test(demo)' extra arguments go to cargo nextest (or cargo test), on both
#   EBOK_TEST_STORES=plain scripts/test.sh      one store only (plain or timescale)
#
# EBOK__DATABASE__URL / EBOK__MQTT__URL point the tests at existing services instead (one store:
# whichever that server is).
set -euo pipefail
cd "$(dirname "$0")/.."
export EBOK__STACK__DATA_DIR="${EBOK__STACK__DATA_DIR:-.ebok/test-stack}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# What runs on TimescaleDB too: everything that reads or writes the readings' table.
TIMESCALE_TESTS='package(ebok-ingest) | package(ebok-readings) | package(ebok-billing) | package(ebok-balance)
    | (binary_id(ebok::system) & test(/^(schema|read_models|ingest_e2e|stores)::/))
    | (binary_id(ebok-api::api) & test(/^(resident_api|former_tenant|invoices|billing_office)::/))'

step() { printf '\n== %s\n' "$*" >&2; }

# nextest's summary line of a log: "N tests run: N passed, M skipped".
summary() { grep -Eo '[0-9]+ tests? run: [0-9]+ passed[^[:cntrl:]]*' "$1" | tail -1 || echo "no summary"; }

if [[ "${1:-}" == "--timescale" ]]; then
    # Inside the TimescaleDB stack (started by the plain pass below).
    shift
    if [[ $# -eq 0 ]]; then set -- -E "$TIMESCALE_TESTS"; fi
    exec cargo nextest run --workspace --no-fail-fast "$@"
fi

if [[ "${1:-}" != "--inner" ]]; then
    step "format"
    cargo fmt --all -- --check
    step "build"
    cargo build --workspace --all-targets
    step "test tools"
    scripts/test-tools.sh "$EBOK__STACK__DATA_DIR"
    stores="${EBOK_TEST_STORES:-plain timescale}"
    if [[ " $stores " == *" timescale "* ]] && [[ -z "${EBOK__DATABASE__URL:-}" ]]; then
        step "TimescaleDB"
        status=0
        scripts/timescaledb.sh "$EBOK__STACK__DATA_DIR" || status=$?
        case $status in
            0) ;;
            3) stores="${stores/timescale/}" ;;
            *) exit "$status" ;;
        esac
    else
        stores="${stores/timescale/}"
    fi
    # Against a server of the caller's, the tests do not know which store to expect.
    [[ -n "${EBOK__DATABASE__URL:-}" ]] && export EBOK_TEST_STORE_UNKNOWN=1
    step "test stack"
    EBOK__STACK__TIMESCALEDB=off exec target/debug/ebok stack run -- "$0" --inner "$stores" "$@"
fi
stores="$2"
shift 2
logs="$EBOK__STACK__DATA_DIR/test-logs"
mkdir -p "$logs"
failed=0
plain_store=(EBOK_TEST_STORE=plain)
[[ -n "${EBOK_TEST_STORE_UNKNOWN:-}" ]] && plain_store=()

step "lint"
cargo clippy --workspace --all-targets -- -D warnings

if [[ " $stores " == *" plain "* ]]; then
    step "tests on plain PostgreSQL (${EBOK__DATABASE__URL##*@}, broker ${EBOK__MQTT__URL})"
    if cargo nextest --version >/dev/null 2>&1; then
        env "${plain_store[@]}" cargo nextest run --workspace --no-fail-fast "$@" 2>&1 |
            tee "$logs/plain.log" || failed=1
        cargo test --workspace --doc -q || failed=1
    else
        env "${plain_store[@]}" cargo test --workspace --no-fail-fast "$@" || failed=1
        stores="${stores/timescale/}" # the TimescaleDB pass selects its tests with nextest
    fi
fi

if [[ " $stores " == *" timescale "* ]]; then
    step "tests on PostgreSQL with TimescaleDB (the time-series path; both stores compared)"
    # A stack of its own beside the plain one, which stays up for the tests that compare the two.
    env -u EBOK__DATABASE__URL -u DATABASE_URL -u EBOK__MQTT__URL -u EBOK__MQTT__USERNAME \
        -u EBOK__MQTT__PASSWORD -u EBOK_STACK_BROKER_DIR \
        EBOK_TEST_PLAIN_DATABASE_URL="$EBOK__DATABASE__URL" EBOK_TEST_STORE=timescale \
        EBOK__STACK__DATA_DIR="$EBOK__STACK__DATA_DIR/timescale" EBOK__STACK__TIMESCALEDB=on \
        target/debug/ebok stack run -- "$0" --timescale "$@" 2>&1 |
        tee "$logs/timescale.log" || failed=1
fi

step "test counts"
[[ " $stores " == *" plain "* ]] && echo "plain PostgreSQL: $(summary "$logs/plain.log")" >&2
[[ " $stores " == *" timescale "* ]] && echo "TimescaleDB:      $(summary "$logs/timescale.log")" >&2
if [[ $failed -ne 0 ]]; then
    step "tests failed"
    exit 1
fi
step "all tests passed"
