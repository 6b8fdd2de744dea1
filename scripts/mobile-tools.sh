#!/usr/bin/env bash
# Makes sure the tools of the phone library's foreign-language tests are here, fetching
# what is missing once and caching it under the target dir. Prints the Kotlin compiler's
# folder. Used by scripts/test.sh; .ci/run installs the system packages (java, npm, JNA).
#   pytest, tree-sitter, tree-sitter-swift   pip (only if not importable)
#   kotlin-compiler 2.4.20                    npm pack → <target>/tools (JetBrains' kotlinc)
#   JNA                                       Debian libjna-java (/usr/share/java/jna.jar)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"
kotlin_version=2.4.20
tools="$target/tools"
kotlin="$tools/kotlin-compiler-$kotlin_version"

if ! python3 -c "import pytest, tree_sitter, tree_sitter_swift" 2>/dev/null; then
  pkgs=(pytest tree-sitter tree-sitter-swift)
  # A distribution's own Python refuses user installs (PEP 668) unless told.
  python3 -m pip install -q --disable-pip-version-check "${pkgs[@]}" >&2 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages "${pkgs[@]}" >&2
fi
if [[ ! -x "$kotlin/bin/kotlinc" ]]; then
  mkdir -p "$tools"
  (cd "$tools" && npm pack -q "kotlin-compiler@$kotlin_version" >/dev/null \
    && rm -rf package && tar xzf "kotlin-compiler-$kotlin_version.tgz" \
    && rm "kotlin-compiler-$kotlin_version.tgz" && mv package "kotlin-compiler-$kotlin_version")
  chmod +x "$kotlin"/bin/*
fi
if [[ ! -f /usr/share/java/jna.jar ]]; then
  echo "JNA is missing: apt-get install libjna-java (.ci/run does)" >&2
  exit 1
fi
echo "$kotlin"
