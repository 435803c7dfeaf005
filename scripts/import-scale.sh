#!/usr/bin/env bash
# scripts/import-scale.sh — `loyalty import legacy --from-backup` at scale, into SQLite and PostgreSQL
# (docs/PERFORMANCE.md, "Importing the legacy data at scale").
#
# Steps:
#   1. cargo build --release: `loyalty` with the PostgreSQL store (-p loyalty-native --features postgres)
#      and the generator (-p loyalty-benches --bin legacy_backup)
#   2. legacy_backup writes a backup_database.py file: CUSTOMERS customers, CUSTOMERS × PER_CUSTOMER
#      transactions, 50 partners, referrals, languages and a few bad rows (see its header)
#   3. into a fresh SQLite file (LOYALTY_DB), then into a fresh PostgreSQL database (created on the
#      server of PG_ADMIN_URL, `loyalty migrate`d): `loyalty import legacy --from-backup FILE --json`
#      under /usr/bin/time -v, twice each — the second run must change nothing
#   4. prints, per run: exit code, wall time, CPU time, peak RSS, customers and transactions per
#      second (the plan's customers and history entries over the wall time), what the store
#      created, and the reconciliation; then per store the time to read and plan the file, the time
#      to apply the batches, the first and last ten batches' mean time (from the progress lines) and
#      the store's size on disk
#
# Exits non-zero when a run fails, when the reconciliation finds a mismatch, or when a second run
# changed anything. Leaves nothing behind: the file and the SQLite store live in a temporary
# directory, and the scratch database is dropped, whatever happens.
#
# Environment:
#   CUSTOMERS (100000), PER_CUSTOMER (10), SEED (1)   the generated data
#   BATCH_SIZE                                         --batch-size (default: the import's own, 500)
#   PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres)  a server where we may create databases
#   SKIP_POSTGRES=1, SKIP_SQLITE=1                     one store only
#   CARGO_TARGET_DIR                                   as for cargo (default: the repo's target/)
#
# Needs cargo, GNU time (/usr/bin/time), jq, and psql unless SKIP_POSTGRES=1.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

CUSTOMERS=${CUSTOMERS:-100000}
PER_CUSTOMER=${PER_CUSTOMER:-10}
SEED=${SEED:-1}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}

for tool in /usr/bin/time jq; do
    command -v "$tool" >/dev/null || { echo "import-scale.sh: $tool is needed" >&2; exit 1; }
done
if [[ -z ${SKIP_POSTGRES:-} ]]; then
    command -v psql >/dev/null || { echo "import-scale.sh: psql is needed (or SKIP_POSTGRES=1)" >&2; exit 1; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/loyalty-import-scale.XXXXXX")
SCRATCH_DB=loyalty_import_scale_$$
DB_CREATED=
cleanup() {
    if [[ -n $DB_CREATED ]]; then
        psql -q -X "$PG_ADMIN_URL" -c "drop database if exists $SCRATCH_DB with (force)" >/dev/null ||
            echo "import-scale.sh: could not drop the database $SCRATCH_DB" >&2
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> building (release)"
cargo build --release --locked -p loyalty-native --features postgres --bin loyalty
cargo build --release --locked -p loyalty-benches --bin legacy_backup
LOYALTY=$TARGET_DIR/release/loyalty

echo "==> generating $CUSTOMERS customers × $PER_CUSTOMER transactions (seed $SEED)"
BACKUP=$WORK/backup.json
"$TARGET_DIR/release/legacy_backup" "$BACKUP" --customers "$CUSTOMERS" --per-customer "$PER_CUSTOMER" --seed "$SEED"
echo "file: $(stat -c %s "$BACKUP") B"

IMPORT_ARGS=(import legacy --from-backup "$BACKUP" --json)
[[ -n ${BATCH_SIZE:-} ]] && IMPORT_ARGS+=(--batch-size "$BATCH_SIZE")
FAILED=0

# Stamps each line of stdin with the seconds since the epoch (microseconds).
stamp() {
    local line
    while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done
}

# import LABEL VAR=VALUE…: one run with only these variables set (no stray DATABASE_URL or
# SUPABASE_URL choosing another store); LABEL.json (report), LABEL.time, LABEL.progress in $WORK.
import() {
    local label=$1 rc=0
    shift
    echo "==> $label"
    env -i PATH="$PATH" HOME="${HOME:-/tmp}" LOG_LEVEL=warn "$@" \
        /usr/bin/time -v -o "$WORK/$label.time" "$LOYALTY" "${IMPORT_ARGS[@]}" \
        >"$WORK/$label.json" 2> >(stamp >"$WORK/$label.progress") || rc=$?
    wait # the progress stamper
    echo "$rc" >"$WORK/$label.rc"
    if ((rc != 0)); then
        FAILED=1
        echo "exit $rc; the last lines on stderr:"
        tail -n 5 "$WORK/$label.progress"
    fi
}

if [[ -z ${SKIP_POSTGRES:-} ]]; then
    psql -q -X "$PG_ADMIN_URL" -c "create database $SCRATCH_DB" >/dev/null
    DB_CREATED=1
    DATABASE_URL=${PG_ADMIN_URL%/*}/$SCRATCH_DB
fi

SQLITE_DB=$WORK/loyalty.db
STORES=()
if [[ -z ${SKIP_SQLITE:-} ]]; then
    STORES+=(sqlite)
    import sqlite-1 LOYALTY_DB="$SQLITE_DB"
    import sqlite-2 LOYALTY_DB="$SQLITE_DB"
fi
if [[ -n $DB_CREATED ]]; then
    STORES+=(postgres)
    env -i PATH="$PATH" LOG_LEVEL=warn DATABASE_URL="$DATABASE_URL" "$LOYALTY" migrate
    import postgres-1 DATABASE_URL="$DATABASE_URL"
    import postgres-2 DATABASE_URL="$DATABASE_URL"
fi

# time_field LABEL PATTERN: a value of /usr/bin/time -v's output.
time_field() { sed -n "s/^[[:space:]]*$2: //p" "$WORK/$1.time"; }

# seconds H:MM:SS.ss | M:SS.ss
seconds() { awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }' <<<"$1"; }

echo
echo "==> results: $CUSTOMERS customers × $PER_CUSTOMER, $(nproc) cores, $(date -u +%F)"
printf '%-11s %4s %9s %9s %10s %12s %15s  %s\n' run exit wall cpu "peak RSS" customers/s transactions/s \
    "created: partners/customers/history, balances changed; legacy = ours total"
for store in "${STORES[@]}"; do
    for n in 1 2; do
        label=$store-$n
        report=$WORK/$label.json
        wall=$(seconds "$(time_field "$label" 'Elapsed (wall clock) time (h:mm:ss or m:ss)')")
        cpu=$(awk '{ s += $1 } END { printf "%.2f", s }' \
            <<<"$(time_field "$label" 'User time (seconds)')
$(time_field "$label" 'System time (seconds)')")
        rss=$(time_field "$label" 'Maximum resident set size (kbytes)')
        if jq -e '.outcome' "$report" >/dev/null 2>&1; then
            read -r customers history < <(jq -r '"\(.plan.customers) \(.plan.history)"' "$report")
            summary=$(jq -r '.applied as $a
                | "\($a.partners_created)/\($a.customers_created)/\($a.history_created), \($a.balances_changed); "
                  + "\(.legacy_total) = \(.ours_total) (\(.mismatches | length) mismatches)"' "$report")
        else
            customers=0 history=0 summary="no report"
        fi
        printf '%-11s %4s %8ss %8ss %7s MB %12.0f %15.0f  %s\n' "$label" "$(cat "$WORK/$label.rc")" "$wall" "$cpu" \
            "$((rss / 1024))" "$(awk -v a="$customers" -v w="$wall" 'BEGIN { print (w > 0 ? a / w : 0) }')" \
            "$(awk -v a="$history" -v w="$wall" 'BEGIN { print (w > 0 ? a / w : 0) }')" "$summary"
        if [[ $n == 2 ]] && ! jq -e '.applied == {"partners_created": 0, "customers_created": 0,
                "balances_changed": 0, "history_created": 0}' "$report" >/dev/null 2>&1; then
            echo "  the second run changed something (or failed)"
            FAILED=1
        fi
        if [[ -s $report ]] && ! jq -e '.outcome == "imported" and .mismatches == []' "$report" >/dev/null 2>&1; then
            FAILED=1
        fi
    done
done

echo
echo "The file: rows read / imported / skipped per table, from the first run's report:"
jq -r '.tables[] | "  \(.table): \(.read) / \(.imported) / \(.skipped | length)"' "$WORK/${STORES[0]:-none}-1.json" \
    2>/dev/null || true
echo
echo "Where the time goes (from the progress lines on stderr): reading and planning the file, then the batches"
for store in "${STORES[@]}"; do
    for n in 1 2; do
        label=$store-$n
        # "<epoch> importing N customers in B batches", then "<epoch> batch k/B applied (…)".
        awk -v label="$label" '
            NR == 1 { start = $1 }
            / importing [0-9]+ customers in / { sending = $1; t[0] = $1 }
            / batch [0-9]+\/[0-9]+ applied / { t[++b] = $1 }
            END {
                if (!sending || !b) { printf "  %-11s no batch lines\n", label; exit }
                first = b < 10 ? b : 10
                printf "  %-11s read+plan %6.1f s, %d batches %7.1f s: first %d %.3f s each, last %d %.3f s each\n",
                    label, sending - start, b, t[b] - sending, first, (t[first] - sending) / first,
                    first, (t[b] - t[b - first]) / first
            }' "$WORK/$label.progress"
    done
done
echo
if [[ -e $SQLITE_DB ]]; then
    echo "SQLite store after the runs: $(du -cb "$SQLITE_DB"* | tail -n1 | cut -f1) B (with -wal/-shm)"
fi
if [[ -n $DB_CREATED ]]; then
    echo "PostgreSQL database after the runs: $(psql -X -A -t "$DATABASE_URL" \
        -c 'select pg_database_size(current_database())') B"
fi
exit "$FAILED"
