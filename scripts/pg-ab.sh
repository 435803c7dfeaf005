#!/usr/bin/env bash
# A/B of one PostgreSQL migration, side by side in one run: two fresh databases on the same server,
# "before" migrated up to the migration before CUT and "after" up to CUT itself; the same seed
# (1 000 customers, one approved partner) in both; pgbench runs WORKLOAD on each in turn for SECONDS,
# ROUNDS times, so both see the same machine. Prints calls per second and pgbench's average latency per
# round, PostgreSQL's CPU per call (the whole server's, from /proc: run it where nothing else uses that
# server), and the ratio after/before. Used for docs/PERFORMANCE.md.
#
#   scripts/pg-ab.sh CUT WORKLOAD [ROUNDS] [SECONDS] [CLIENTS]     (defaults 5, 10, 4)
#
# WORKLOAD (each call a fresh key or update):
#   credit-day   loyalty.credit_purchase, every credit in the same day, so each round starts with more
#                of the partner's entries of the day (the running total: CUT 20261214090100)
#   balance      loyalty.call_claimed as a /balance update sends it: the claim with the update's body
#                and a finished update carried, then customer_summary (CUT 20261215090000)
#   credit       loyalty.call_claimed as a partner's /credit sends it: the claim, then credit_purchase
#                by the partner's Telegram id and the customer's code (CUT 20261215090000)
#   credit-one   the same, every credit to one customer, whose history grows with each (CUT 20261215090100)
#   spend        loyalty.adjust_balance taking 1 point from one of 100 customers who each hold 300 open lots
#                (a negative entry takes its points from the lots: CUT 20261217090000)
#
# Needs PostgreSQL answering on 127.0.0.1:5432 as postgres (trust) and pgbench; drops its databases after.
set -euo pipefail
CUT=${1:?usage: scripts/pg-ab.sh CUT WORKLOAD [ROUNDS] [SECONDS] [CLIENTS]}
WORKLOAD=${2:?usage: scripts/pg-ab.sh CUT WORKLOAD [ROUNDS] [SECONDS] [CLIENTS]}
ROUNDS=${3:-5}
SECONDS_EACH=${4:-10}
CLIENTS=${5:-4}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG=(-h 127.0.0.1 -U postgres)
export PGOPTIONS="-c client_min_messages=warning"
PGBENCH=${PGBENCH:-$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -1)}
[[ -x ${PGBENCH:-} ]] || { echo "pg-ab: pgbench not found (set PGBENCH)" >&2; exit 1; }
[[ -n $(ls "$REPO_ROOT"/supabase/migrations/"${CUT}"_*.sql 2>/dev/null) ]] ||
    { echo "pg-ab: no migration $CUT in supabase/migrations" >&2; exit 1; }
OLD=loyalty_ab_before_$$
NEW=loyalty_ab_after_$$
WORK=$(mktemp -d)
cleanup() {
    psql "${PG[@]}" -q -c "drop database if exists $OLD with (force)" -c "drop database if exists $NEW with (force)" \
        >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# A claim as the bots send it: bot, update, time, the update's JSON kept as its body, one finished update.
CLAIM="jsonb_build_object('bot', 1, 'update_id', cast(:k as bigint), 'now', 1765090000, 'body', '{\"update_id\":' || cast(:k as bigint) || ',\"message\":{\"message_id\":1,\"date\":1765090000,\"chat\":{\"id\":' || (100000 + cast(:c as bigint)) || ',\"type\":\"private\"},\"from\":{\"id\":' || (100000 + cast(:c as bigint)) || ',\"is_bot\": false,\"first_name\":\"Load\"},\"text\":\"/balance\"}}', 'finished', jsonb_build_array(jsonb_build_object('bot', 1, 'update_id', cast(:k as bigint) - 1)))"
case $WORKLOAD in
credit-day)
    cat >"$WORK/load.pgb" <<'SQL'
\set c random(1, 1000)
\set k random(1, 1000000000000)
select loyalty.credit_purchase(jsonb_build_object('partner', jsonb_build_object('by', 'id', 'value', (select id from loyalty.partners limit 1)), 'customer', jsonb_build_object('by', 'id', 'value', (select min(id) from loyalty.customers) + cast(:c as bigint) - 1), 'purchase', 1000, 'idempotency_key', 'ab:' || cast(:client_id as bigint) || ':' || cast(:k as bigint), 'day_start', 1765065600, 'now', 1765090000));
SQL
    ;;
balance)
    cat >"$WORK/load.pgb" <<SQL
\set c random(1, 1000)
\set k random(2, 1000000000000000)
select loyalty.call_claimed(jsonb_build_object('claim', $CLAIM, 'function', 'customer_summary', 'req', jsonb_build_object('who', jsonb_build_object('by', 'telegram', 'value', 100000 + cast(:c as bigint)), 'recent', 3)));
SQL
    ;;
credit | credit-one)
    # credit: any of the 1 000 customers; credit-one: always the first.
    if [[ $WORKLOAD == credit ]]; then customer='random(1, 1000)'; else customer=1; fi
    cat >"$WORK/load.pgb" <<SQL
\set c $customer
\set k random(2, 1000000000000000)
select loyalty.call_claimed(jsonb_build_object('claim', $CLAIM, 'function', 'credit_purchase', 'req', jsonb_build_object('partner', jsonb_build_object('by', 'telegram', 'value', 7000), 'customer', jsonb_build_object('by', 'code', 'value', lpad(cast(:c as bigint)::text, 8, '0')), 'purchase', 1000, 'idempotency_key', 'ab:' || cast(:k as bigint), 'day_start', 1765065600, 'now', 1765090000)));
SQL
    ;;
spend)
    cat >"$WORK/load.pgb" <<'SQL'
\set c random(1, 100)
\set k random(2, 1000000000000000)
select loyalty.adjust_balance(jsonb_build_object('customer', jsonb_build_object('by', 'id', 'value', (select min(id) from loyalty.customers) + cast(:c as bigint) - 1), 'amount', -1, 'reason', 'ab', 'admin', 1, 'idempotency_key', 'ab:' || cast(:k as bigint), 'now', 1765190000));
SQL
    ;;
*)
    echo "pg-ab: unknown workload $WORKLOAD (credit-day, balance, credit, credit-one, spend)" >&2
    exit 1
    ;;
esac

# PostgreSQL's CPU (clock ticks): the postmaster's own and its ended children's (pgbench's backends end
# with each run), and its live children's (WAL writer, checkpointer, …). Nothing else should use this
# server during the run. The postmaster is a backend's parent, which must be a local postgres process.
POSTMASTER=$(psql "${PG[@]}" -At 2>/dev/null <<'SQL' | tr -d ' ' || true
select pg_backend_pid() as backend \gset
\setenv LOYALTY_AB_BACKEND :backend
\! ps -o ppid= -p "$LOYALTY_AB_BACKEND"
SQL
)
[[ -n $POSTMASTER && $(cat "/proc/$POSTMASTER/comm" 2>/dev/null) == postgres* ]] ||
    { echo "pg-ab: PostgreSQL's processes are not on this machine (no /proc of its postmaster)" >&2; exit 1; }
TICKS=$(getconf CLK_TCK)

psql "${PG[@]}" -q -c "create database $OLD" -c "create database $NEW" >/dev/null
for f in "$REPO_ROOT"/supabase/migrations/*.sql; do
    version=$(basename "$f" | cut -d_ -f1)
    [[ $version > $CUT ]] && break
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
if [[ $WORKLOAD == spend ]]; then
    # 300 credits of 50 points each to the first 100 customers: 300 open lots each, no expiry date.
    cat >>"$WORK/seed.sql" <<'SQL'
select count(loyalty._append(c.id, 'accrual', 50, p.id, 1000, 'seed:' || c.id || ':' || g, 'partner', p.id, null, null,
                             1765000000 + g))
  from loyalty.customers c cross join generate_series(1, 300) g cross join loyalty.partners p
 where c.id < (select min(id) + 100 from loyalty.customers) \g /dev/null
analyze;
SQL
fi
for db in "$OLD" "$NEW"; do psql "${PG[@]}" -q -d "$db" -v ON_ERROR_STOP=1 -f "$WORK/seed.sql"; done

# One call of the workload on each database first: it must answer, neither refused nor a duplicate.
for db in "$OLD" "$NEW"; do
    answer=$(grep -v '^\\set' "$WORK/load.pgb" | psql "${PG[@]}" -d "$db" -v ON_ERROR_STOP=1 -v c=1 -v k=2 -v client_id=0 -At)
    if [[ -z $answer || $answer == null || $answer == *'"rejected"'* || $answer == *duplicate_update* ]]; then
        echo "pg-ab: the $WORKLOAD call was not answered on $db: $answer" >&2
        exit 1
    fi
done

pg_ticks() {
    local total=0 pid
    for pid in "$POSTMASTER" $(pgrep -P "$POSTMASTER"); do
        # Fields after the command's ")": utime is the 12th, stime, cutime, cstime follow.
        total=$((total + $(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }' || echo 0)))
    done
    echo "$total"
}

run() { # database → "calls/s latency-ms cpu-ms-per-call"; a failed call fails the run
    local out cpu0 cpu1 calls
    cpu0=$(pg_ticks)
    if ! out=$("$PGBENCH" -n "${PG[@]}" -M prepared -c "$CLIENTS" -j 2 -T "$SECONDS_EACH" -f "$WORK/load.pgb" "$1" 2>&1) ||
        grep -q '^number of failed transactions: [1-9]' <<<"$out"; then
        echo "$out" >&2
        return 1
    fi
    cpu1=$(pg_ticks)
    calls=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    if [[ -z $calls || $calls -eq 0 ]]; then
        echo "$out" >&2
        return 1
    fi
    echo "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | tail -1)" \
        "$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")" \
        "$(awk -v t=$((cpu1 - cpu0)) -v hz="$TICKS" -v n="$calls" 'BEGIN { printf "%.3f", t * 1000 / hz / n }')"
}
entries() { psql "${PG[@]}" -d "$1" -Atc "select count(*) from loyalty.entries"; }

echo "workload $WORKLOAD, migration $CUT: before (up to the one before it) and after, $CLIENTS clients, ${SECONDS_EACH} s each"
echo "per call: calls/s, pgbench's average latency (ms), PostgreSQL's CPU (ms); ratio: calls/s after/before"
printf '%-5s | %8s %9s %7s %6s | %8s %9s %7s %6s | %5s\n' round entries "calls/s" latency CPU entries "calls/s" latency CPU ratio
for round in $(seq 1 "$ROUNDS"); do
    before_old=$(entries "$OLD")
    result=$(run "$OLD") || exit 1
    read -r old old_ms old_cpu <<<"$result"
    before_new=$(entries "$NEW")
    result=$(run "$NEW") || exit 1
    read -r new new_ms new_cpu <<<"$result"
    ratio=$(awk -v a="$new" -v b="$old" 'BEGIN { printf "%.2f", a / b }')
    printf '%-5s | %8s %9.0f %7s %6s | %8s %9.0f %7s %6s | %5s\n' "$round" "$before_old" "$old" "$old_ms" "$old_cpu" \
        "$before_new" "$new" "$new_ms" "$new_cpu" "$ratio"
done
