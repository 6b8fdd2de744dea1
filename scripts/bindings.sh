#!/usr/bin/env bash
# Builds the phone library (crate saferound-mobile) and generates its Kotlin, Swift and
# Python bindings with the crate's own uniffi-bindgen. Generated code is not committed.
#
#   scripts/bindings.sh [out-dir]     default out-dir: <cargo target dir>/bindings
#
# Out: kotlin/uniffi/saferound_mobile/saferound_mobile.kt, swift/saferound_mobile.swift
# (+ saferound_mobileFFI.h, .modulemap), python/saferound_mobile.py beside a copy of
# libsaferound_mobile.so (the debug build of this machine, for the tests). Release and
# cross-compiled libraries for phones: mobile-bindings/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"
out="${1:-$target/bindings}"

# The very build scripts/test.sh makes: saferound-tests turns on saferound-mobile's
# `bindgen` feature, so building the workspace at once gives the library and the
# uniffi-bindgen binary with one feature set (a different one would rebuild everything).
# `--lib`: cargo copies the .so to target/debug only when libraries are asked for.
cargo build --workspace --locked --lib --bins

lib="$target/debug/libsaferound_mobile.so"
bindgen="$target/debug/uniffi-bindgen"
rm -rf "$out"
mkdir -p "$out"
for lang in kotlin swift python; do
  "$bindgen" generate --language "$lang" --no-format --out-dir "$out/$lang" "$lib"
done
cp "$lib" "$out/python/"
echo "bindings in $out"
