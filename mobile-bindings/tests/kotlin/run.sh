#!/usr/bin/env bash
# Compiles the generated Kotlin bindings with the smoke test and runs it on the JVM
# through JNA. Needs: java, JNA (Debian libjna-java), and JetBrains' Kotlin compiler
# (npm package kotlin-compiler; .ci/run fetches it).
#   run.sh <bindings dir (from scripts/bindings.sh)> <kotlin compiler dir> <work dir>
set -euo pipefail
bindings="$1" kotlin="$2" work="$3"
here="$(cd "$(dirname "$0")" && pwd)"
jna=/usr/share/java/jna.jar
cp_compile="$jna:$kotlin/lib/kotlinx-coroutines-core-jvm.jar"
mkdir -p "$work"
"$kotlin/bin/kotlinc" -nowarn -cp "$cp_compile" \
  "$bindings/kotlin/uniffi/saferound_mobile/saferound_mobile.kt" "$here/Smoke.kt" \
  -d "$work/smoke.jar"
java -Djna.library.path="$bindings/python" \
  -cp "$work/smoke.jar:$cp_compile:$kotlin/lib/kotlin-stdlib.jar" SmokeKt
