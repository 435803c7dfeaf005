#!/usr/bin/env bash
# A/B of the daily credit limit's running total (PostgreSQL migration 20261214090100_loyalty_daily_totals),
# side by side in one run: two fresh databases on the same server, one migrated up to the migration
# before it (the day's sum over the entries), one with it; one partner, 1 000 customers; pgbench calls
# loyalty.credit_purchase with a fresh key, all in the same day, alternately for SECONDS on each, ROUNDS
# times, so each round starts with more of the day's entries. Prints credits per second per round and
# the ratio. Used for docs/PERFORMANCE.md ("the daily-limit sum").
#
#   scripts/pg-daily-total-ab.sh [ROUNDS] [SECONDS] [CLIENTS]     (defaults 5, 10, 4)
#
# Needs PostgreSQL answering on 127.0.0.1:5432 as postgres (trust) and pgbench; drops its databases after.
set -euo pipefail
ROUNDS=${1:-5}
SECONDS_EACH=${2:-10}
CLIENTS=${3:-4}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG=(-h 127.0.0.1 -U postgres)
export PGOPTIONS="-c client_min_messages=warning"
PGBENCH=${PGBENCH:-$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -1)}
[[ -x ${PGBENCH:-} ]] || { echo "pg-daily-total-ab: pgbench not found (set PGBENCH)" >&2; exit 1; }
CUT=20261214090100
OLD=loyalty_ab_sum_$$
NEW=loyalty_ab_total_$$
WORK=$(mktemp -d)
cleanup() {
    psql "${PG[@]}" -q -c "drop database if exists $OLD" -c "drop database if exists $NEW" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

psql "${PG[@]}" -q -c "create database $OLD" -c "create database $NEW" >/dev/null
for f in "$REPO_ROOT"/supabase/migrations/*.sql; do
    version=$(basename "$f" | cut -d_ -f1)
    psql "${PG[@]}" -q -d "$NEW" -v ON_ERROR_STOP=1 -f "$f" >/dev/null
    if [[ $version < $CUT ]]; then
        psql "${PG[@]}" -q -d "$OLD" -v ON_ERROR_STOP=1 -f "$f" >/dev/null
    fi
done
cat >"$WORK/seed.sql" <<'SQL'
insert into loyalty.customers (telegram_id, code, first_name, language, created_at)
select 100000 + g, lpad(g::text, 8, '0'), 'C', 'en', 1765065600 from generate_series(1, 1000) g;
insert into loyalty.partners (telegram_id, name, category, status, earn_rate_bps, max_redeem_share_bps,
                              daily_credit_limit, language, created_at)
values (7000, 'P', 'cafe', 'approved', 500, 3000, 9000000000000000000, 'en', 1765065600);
SQL
cat >"$WORK/credit.pgb" <<'SQL'
\set c random(1, 1000)
\set k random(1, 1000000000000)
select loyalty.credit_purchase(jsonb_build_object('partner', jsonb_build_object('by', 'id', 'value', (select id from loyalty.partners limit 1)), 'customer', jsonb_build_object('by', 'id', 'value', (select min(id) from loyalty.customers) + :c - 1), 'purchase', 1000, 'idempotency_key', 'ab:' || :client_id || ':' || :k, 'day_start', 1765065600, 'now', 1765090000));
SQL
for db in "$OLD" "$NEW"; do psql "${PG[@]}" -q -d "$db" -v ON_ERROR_STOP=1 -f "$WORK/seed.sql"; done

tps() { # database → credits per second
    "$PGBENCH" -n "${PG[@]}" -c "$CLIENTS" -j 2 -T "$SECONDS_EACH" -f "$WORK/credit.pgb" "$1" 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
entries() { psql "${PG[@]}" -d "$1" -Atc "select count(*) from loyalty.entries"; }

printf '%-6s %12s %12s %12s %12s %8s\n' round "entries" "sum/s" "entries" "total/s" ratio
for round in $(seq 1 "$ROUNDS"); do
    before_old=$(entries "$OLD")
    old=$(tps "$OLD")
    before_new=$(entries "$NEW")
    new=$(tps "$NEW")
    ratio=$(awk -v a="$new" -v b="$old" 'BEGIN { printf "%.2f", a / b }')
    printf '%-6s %12s %12s %12s %12s %8s\n' "$round" "$before_old" "$old" "$before_new" "$new" "$ratio"
done
