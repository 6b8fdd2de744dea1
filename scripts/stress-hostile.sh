#!/usr/bin/env bash
# The long forms of the hostile-input, bad-network and many-phones scenarios (issue 6),
# one summary line each. The short forms run in CI with the e2e tests.
#   scripts/stress-hostile.sh [fuzz seconds per target] [flaky network seconds] [devices] [minutes]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds="${1:-120}"
flaky_seconds="${2:-300}"
devices="${3:-200}"
minutes="${4:-2}"

# 1. Fuzzing: every decoder of untrusted bytes, bounded time per target.
scripts/fuzz.sh "$fuzz_seconds"

# 2. Hostile sync input: bombs, limits, forged actors, replays, cuts, other institutions.
cargo test -q -p saferound-tests --test e2e hostile -- --nocapture 2>&1 |
  grep -E '^hostile |test result' || true

# 3. A flaky network for minutes, then healed.
SAFEROUND_FLAKY_SECONDS="$flaky_seconds" cargo test -q -p saferound-tests --test e2e network -- --nocapture 2>&1 |
  grep -E '^flaky network|test result' || true

# 4. Many phones at once (release build).
cargo build -q --release -p saferound-tests --bin loadgen
echo "loadgen concurrent: $("${CARGO_TARGET_DIR:-target}"/release/loadgen --concurrent "$devices" --minutes "$minutes" 2>/dev/null)"
