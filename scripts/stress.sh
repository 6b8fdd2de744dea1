#!/usr/bin/env bash
# The long forms of the stress tests (not CI; CI runs the short forms in tests/e2e).
# Each scenario is one command below; its test prints one summary line starting with
# "<scenario>:" and this script prints those lines, plus a failure line if one fails.
#
#   scripts/stress.sh                 every scenario, release build
#   STRESS_PROFILE=debug scripts/stress.sh
#   SAFEROUND_CRASH_ROUNDS=100 SAFEROUND_STRESS_SEED=42 scripts/stress.sh
#
#   FUZZ_SECONDS=120 FLAKY_SECONDS=300 DEVICES=200 MINUTES=2 scripts/stress.sh
#
# To add a scenario: add a line to SCENARIOS ("name|summary pattern|command"); the lines
# of its output matching the pattern (grep -E) are its summary.
set -uo pipefail
cd "$(dirname "$0")/.."
profile="${STRESS_PROFILE:-release}"
release=""
[ "$profile" = release ] && release="--release"
export SAFEROUND_CRASH_ROUNDS="${SAFEROUND_CRASH_ROUNDS:-50}"
e2e="cargo test -q $release -p saferound-tests --test e2e"

loadgen="${CARGO_TARGET_DIR:-target}/$profile/loadgen"

SCENARIOS=(
  "crash-rounds|^crash-rounds:|$e2e crash_rounds -- --nocapture --test-threads=1"
  "hostile-input|^hostile |$e2e hostile -- --nocapture"
  "exhaustion|^exhaustion |$e2e attacks_stay_within -- --ignored --nocapture"
  "flaky-network|^flaky network|SAFEROUND_FLAKY_SECONDS=${FLAKY_SECONDS:-300} $e2e network -- --nocapture"
  "fuzz|^fuzz |scripts/fuzz.sh ${FUZZ_SECONDS:-120}"
  "many-phones|^loadgen|cargo build -q $release -p saferound-tests --bin loadgen && echo \"loadgen concurrent: \$($loadgen --concurrent ${DEVICES:-200} --minutes ${MINUTES:-2} 2>/dev/null)\""
)

echo "# scripts/stress.sh $(date -u +%FT%TZ) on $(uname -n), $(nproc) cores, $profile build"
status=0
for s in "${SCENARIOS[@]}"; do
  name="${s%%|*}"
  rest="${s#*|}"
  pattern="${rest%%|*}"
  cmd="${rest#*|}"
  log="$(mktemp)"
  start=$(date +%s)
  if bash -c "$cmd" >"$log" 2>&1; then
    grep -aE "$pattern" "$log" || echo "$name: passed (no summary line) in $(( $(date +%s) - start ))s"
  else
    status=1
    echo "$name: FAILED after $(( $(date +%s) - start ))s; last lines:"
    tail -n 30 "$log" | sed 's/^/    /'
  fi
  rm -f "$log"
done
exit $status
