#!/usr/bin/env bash
# Usage analytics in PostgreSQL: query time and storage.
#
# Starts a private PostgreSQL and a controller (migrations applied), creates
# RULES rules, then fills the usage tables directly in PostgreSQL (as the
# controller would after DAYS days): counts per minute for DAYS days and per
# hour for DAYS days of every rule, and for TOP_RULES of them the heaviest
# clients (two rankings of 256 clients each) per minute for the last 6
# hours and per hour for DAYS days. Then times, through the REST API (curl,
# median and worst of RUNS runs):
#   GET /api/v1/usage for one rule over the last 24 h (1440 minute rows)
#   GET /api/v1/usage/top for one rule over the last hour (60 summaries)
# and prints each table's size (pg_total_relation_size: rows, indexes,
# TOAST) per rule per day of data, and what 1,000 rules take at the default
# retention (7 days of minutes, 90 days of hours, 6 hours of clients per
# minute, 7 days of clients per hour).
#
# Runs on demand, not in deploy/test.sh:
#   tests/bench/usage_store.sh [RULES] [DAYS] [TOP_RULES] [RUNS]
#                                          (default 200 7 20 20)
# SLUICE_BENCH_BUILD: a build directory (default build/release, brought up
# to date first).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/deploy/lib.sh"
source "$ROOT/tests/bench/stack.sh"
RULES="${1:-200}"
DAYS="${2:-7}"
TOP_RULES="${3:-20}"
RUNS="${4:-20}"
BUILD="${SLUICE_BENCH_BUILD:-$ROOT/build/release}"
bench_daemons "$BUILD"
bench_controller usage-store
PSQL=(psql "$DB" -v ON_ERROR_STOP=1 -qAt)

log "creating $RULES rules"
for i in $(seq 1 "$RULES"); do
  curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -X POST \
    -d "{\"name\":\"r$i\",\"domain\":\"api\",\"match\":{\"route\":\"/r$i\",\"client_id\":\"*\"},\"limit\":100,\"period\":\"1s\"}" \
    "http://127.0.0.1:$HTTP_PORT/api/v1/rules"
done

NOW_MS=$(( $(date +%s) * 1000 ))
MINUTE=$(( NOW_MS / 60000 * 60000 ))
HOUR=$(( NOW_MS / 3600000 * 3600000 ))
log "filling $DAYS days of counts for $RULES rules, and clients for $TOP_RULES"
"${PSQL[@]}" <<SQL
INSERT INTO usage_minute (rule_id, t_ms, allowed, refused, shadow_refused)
SELECT r.id, $MINUTE - m * 60000, 1000 + (m % 97), m % 13, 0
FROM rules r, generate_series(0, $DAYS * 1440 - 1) AS m;
INSERT INTO usage_hour (rule_id, t_ms, allowed, refused, shadow_refused)
SELECT r.id, $HOUR - h * 3600000, 60000 + h, h % 700, 0
FROM rules r, generate_series(0, $DAYS * 24 - 1) AS h;
-- One summary document of 256 clients with Zipf-like counts.
CREATE TEMP TABLE bench_summary AS
SELECT jsonb_build_object('capacity', 256, 'floor', 3, 'total', 2000000,
  'entries', jsonb_agg(jsonb_build_array('["client-' || k || '"]',
                                         1000000 / k, 3, 1000 / k))) AS doc
FROM generate_series(1, 256) AS k;
INSERT INTO usage_top_minute (rule_id, t_ms, by, summary)
SELECT r.id, $MINUTE - m * 60000, b, (SELECT doc FROM bench_summary)
FROM (SELECT id FROM rules ORDER BY id LIMIT $TOP_RULES) r,
     generate_series(0, 6 * 60 - 1) AS m, (VALUES ('refused'), ('allowed')) AS v(b);
INSERT INTO usage_top_hour (rule_id, t_ms, by, summary)
SELECT r.id, $HOUR - h * 3600000, b, (SELECT doc FROM bench_summary)
FROM (SELECT id FROM rules ORDER BY id LIMIT $TOP_RULES) r,
     generate_series(0, $DAYS * 24 - 1) AS h, (VALUES ('refused'), ('allowed')) AS v(b);
VACUUM ANALYZE usage_minute, usage_hour, usage_top_minute, usage_top_hour;
SQL

RULE_ID="$("${PSQL[@]}" -c "SELECT min(id) FROM rules")"
time_route() {  # prints "median_ms worst_ms" of RUNS GETs of $1
  local times=() t
  for _ in $(seq 1 "$RUNS"); do
    t="$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
      "http://127.0.0.1:$HTTP_PORT$1")"
    times+=("$t")
  done
  printf '%s\n' "${times[@]}" | sort -n |
    awk '{a[NR]=$1} END {printf "%.1f %.1f\n", a[int((NR+1)/2)]*1000, a[NR]*1000}'
}
FROM_24H=$(( NOW_MS - 86400000 ))
FROM_1H=$(( NOW_MS - 3600000 ))
read -r s_med s_max < <(time_route "/api/v1/usage?rule=$RULE_ID&from=$FROM_24H")
read -r t_med t_max < <(time_route "/api/v1/usage/top?rule=$RULE_ID&from=$FROM_1H&limit=10")
echo "GET /api/v1/usage, one rule, 24 h per minute:  median ${s_med} ms, worst ${s_max} ms ($RUNS runs)"
echo "GET /api/v1/usage/top, one rule, last hour:    median ${t_med} ms, worst ${t_max} ms ($RUNS runs)"

size() { "${PSQL[@]}" -c "SELECT pg_total_relation_size('$1')"; }
awk -v m="$(size usage_minute)" -v h="$(size usage_hour)" \
    -v tm="$(size usage_top_minute)" -v th="$(size usage_top_hour)" \
    -v rules="$RULES" -v top_rules="$TOP_RULES" -v days="$DAYS" 'BEGIN {
  pm = m / rules / days; ph = h / rules / days;
  ptm = tm / top_rules / 0.25; pth = th / top_rules / days;
  printf "bytes per rule per day of data: minutes %.0f, hours %.0f, clients per minute %.0f, clients per hour %.0f\n", pm, ph, ptm, pth;
  total = 1000 * (pm * 7 + ph * 90 + ptm * 0.25 + pth * 7);
  printf "1,000 rules at the default retention: %.2f GiB (minutes 7 d, hours 90 d, clients per minute 6 h, per hour 7 d; every rule with 256+ clients every minute)\n", total / 2^30;
}'
