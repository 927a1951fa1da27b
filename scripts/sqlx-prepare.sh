#!/usr/bin/env bash
# Regenerates .sqlx/, the offline query data that lets every build check its SQL (`query!`)
# without a running database. Run it after changing a query or a migration, and commit .sqlx/.
# The test suite fails while the committed data does not match the schema.
#
# Needs a PostgreSQL server: EBOK__DATABASE__URL, or the local stack (started here if needed).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${EBOK__DATABASE__URL:-}" ]]; then
    if [[ -x target/debug/ebok ]] && env_lines=$(target/debug/ebok stack env 2>/dev/null); then
        eval "$env_lines"
    else
        [[ -x target/debug/ebok ]] || SQLX_OFFLINE=true cargo build -q --bin ebok
        exec target/debug/ebok stack run -- "$0" "$@"
    fi
fi

server="${EBOK__DATABASE__URL%/*}"
db=ebok_sqlx_prepare
psql -q -v ON_ERROR_STOP=1 "$server/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
for migration in migrations/*.sql; do
    psql -q -v ON_ERROR_STOP=1 -1 "$server/$db" -f "$migration" >/dev/null
done

out=target/sqlx-prepare
rm -rf "$out" && mkdir -p "$out"
# The macros only describe queries of crates they compile: touch every workspace crate.
find . -path ./target -prune -o -name '*.rs' -path '*/src/*' -print0 | xargs -0 touch
SQLX_OFFLINE=false DATABASE_URL="$server/$db" SQLX_OFFLINE_DIR="$PWD/$out" \
    cargo check -q --workspace --all-targets
rm -rf .sqlx && mkdir .sqlx && cp "$out"/query-*.json .sqlx/
psql -q "$server/postgres" -c "DROP DATABASE $db WITH (FORCE)"
echo "sqlx-prepare: $(ls .sqlx | wc -l) queries in .sqlx/"
