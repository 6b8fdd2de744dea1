#!/usr/bin/env bash
# The whole test suite: unit, integration and end-to-end tests of every crate (storage
# tests on SQLite and on a private PostgreSQL), then the phone library from foreign
# languages (Python against a real server, Kotlin on the JVM, the Swift bindings parsed).
# Tools those need are fetched by scripts/mobile-tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase's time is printed when it ends, so the suite's cost stays visible.
phase_start=$SECONDS
phase() {
  echo "== phase done: $1 in $((SECONDS - phase_start)) s"
  phase_start=$SECONDS
}
# System packages the foreign-language and browser tests need (apt, when missing).
scripts/system-deps.sh
target="${CARGO_TARGET_DIR:-$PWD/target}"
phase "system packages"

# Habits the code keeps: formatted, no module of a crate importing another in a circle
# (scripts/import-cycles.py), and every dependency under an allowed licence
# (scripts/licences.py).
cargo fmt --all --check
python3 scripts/import-cycles.py
python3 scripts/licences.py
phase "format, import circles and licences"

# One build for everything: the tests crate turns on the features the suite needs
# (including saferound-mobile's uniffi-bindgen), so building the workspace at once unifies
# them (a second feature set would rebuild).
cargo build --workspace --locked --lib --bins
phase "build"
# The workspace's lints (Cargo.toml, [workspace.lints]) with every warning an error.
cargo clippy --workspace --all-targets --locked -- -D warnings
phase "clippy"
# Under a throwaway PostgreSQL (scripts/with-postgres.sh): the storage suite runs on both
# backends, and SAFEROUND_REQUIRE_PG=1 makes a missing database a failure, not a skip.
scripts/with-postgres.sh cargo test --workspace --locked --lib --bins --tests "$@"
phase "Rust tests (SQLite and PostgreSQL)"

# The phone library (mobile-bindings/README.md): generate Kotlin, Swift and Python from
# the library just built (the build above is reused, nothing recompiles).
kotlin="$(scripts/mobile-tools.sh)"
scripts/bindings.sh "$target/bindings"
SAFEROUND_BINDINGS="$target/bindings/python" SAFEROUND_SERVER="$target/debug/saferound-server" \
  python3 -m pytest -q -p no:cacheprovider mobile-bindings/tests/python
python3 mobile-bindings/tests/swift/check_swift.py "$target/bindings/swift/saferound_mobile.swift"
mobile-bindings/tests/kotlin/run.sh "$target/bindings" "$kotlin" "$target/kotlin-smoke"
phase "phone library from Python, Swift and Kotlin"

# The dashboard in headless Chromium (tests/browser/dashboard.mjs): playwright-core is
# fetched once into the target dir; Debian's chromium is installed by .ci/run. Screenshots
# of the main pages go to target/screenshots.
browser="$target/browser"
mkdir -p "$browser"
cp tests/browser/package.json tests/browser/dashboard.mjs tests/browser/read_xlsx.py "$browser/"
[[ -d "$browser/node_modules/playwright-core" ]] ||
  (cd "$browser" && npm install --silent --no-audit --no-fund)
SCREENSHOTS="$target/screenshots" node "$browser/dashboard.mjs" "$target/debug/saferound-server" "$target/debug/saferound"
phase "dashboard in Chromium"
