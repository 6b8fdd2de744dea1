#!/usr/bin/env bash
# The whole test suite: unit, integration and end-to-end tests of every crate.
# Later suites (Python and Kotlin bindings, browser) install what they need here too.
set -euo pipefail
cd "$(dirname "$0")/.."

# One build for everything: the tests crate turns on the features the suite needs, so
# building the workspace at once unifies them (a second feature set would rebuild).
cargo build --workspace --locked --bins
cargo test --workspace --locked --lib --bins --tests "$@"
