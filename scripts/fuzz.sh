#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (default 60 s each) and prints one
# summary line per target. Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); the
# toolchain is stable, RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the flags it needs.
# New corpus entries go to fuzz/corpus-work/<target> (not committed); a crash stops the
# run with the input in fuzz/artifacts/<target>/ — fix it, then commit the input to
# fuzz/artifacts-fixed/<target>/, which server/tests/fuzz_replay.rs replays on stable.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
export RUSTC_BOOTSTRAP=1
# The fuzz build has its own flags (sanitizer coverage): its own target dir, not the
# workspace's, so neither build invalidates the other.
unset CARGO_TARGET_DIR
targets=(sync_request change_chunks stored_document blob_upload export_query)
cargo fuzz build >/dev/null
status=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus-work/$t" "fuzz/artifacts/$t"
  log="fuzz/artifacts/$t.log"
  # One worker: the machine has 2 cores and other work; -timeout flags a hang (say, an
  # operation bomb) as a crash; -rss_limit_mb an allocation bomb.
  if cargo fuzz run "$t" "fuzz/corpus-work/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -max_len=65536 \
      -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1; then
    result=ok
  else
    result=CRASH
    status=1
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
  echo "fuzz $t: $result, ${runs:-?} runs in ${seconds}s, coverage ${cov:-?} edges, artifacts: $(ls "fuzz/artifacts/$t" | wc -l)"
done
exit $status
