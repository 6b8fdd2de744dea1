#!/usr/bin/env bash
# The long forms of the stress tests (not CI; CI runs the short forms in tests/e2e).
# Each scenario is one command below; its test prints one summary line starting with
# "<scenario>:" and this script prints those lines, plus a failure line if one fails.
#
#   scripts/stress.sh                 every scenario, release build
#   STRESS_PROFILE=debug scripts/stress.sh
#   SAFEROUND_CRASH_ROUNDS=100 SAFEROUND_STRESS_SEED=42 scripts/stress.sh
#
# To add a scenario: add a line to SCENARIOS ("name|command"); its command must print a
# line starting with "name:".
set -uo pipefail
cd "$(dirname "$0")/.."
profile="${STRESS_PROFILE:-release}"
release=""
[ "$profile" = release ] && release="--release"
export SAFEROUND_CRASH_ROUNDS="${SAFEROUND_CRASH_ROUNDS:-50}"
e2e="cargo test -q $release -p saferound-tests --test e2e"

SCENARIOS=(
  "crash-rounds|$e2e crash_rounds -- --nocapture --test-threads=1"
)

echo "# scripts/stress.sh $(date -u +%FT%TZ) on $(uname -n), $(nproc) cores, $profile build"
status=0
for s in "${SCENARIOS[@]}"; do
  name="${s%%|*}"
  cmd="${s#*|}"
  log="$(mktemp)"
  start=$(date +%s)
  if bash -c "$cmd" >"$log" 2>&1; then
    grep -a "^$name:" "$log" || echo "$name: passed (no summary line) in $(( $(date +%s) - start ))s"
  else
    status=1
    echo "$name: FAILED after $(( $(date +%s) - start ))s; last lines:"
    tail -n 30 "$log" | sed 's/^/    /'
  fi
  rm -f "$log"
done
exit $status
