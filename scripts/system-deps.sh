#!/usr/bin/env bash
# Installs the system packages the test suite uses besides Rust, when missing (Debian/
# Ubuntu, as root or with sudo): openssl to make a test certificate and curl to speak
# HTTPS to it; for the phone library's tests python3 with pip, a JVM, npm (to fetch the
# Kotlin compiler) and JNA; for the dashboard's browser tests Chromium and a CJK font (so
# the screenshots show the Chinese UI). scripts/mobile-tools.sh and scripts/test.sh fetch
# the rest (pytest, tree-sitter, kotlinc, playwright-core) into the target dir.
set -euo pipefail
missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
command -v java >/dev/null || missing+=(default-jre-headless)
command -v npm >/dev/null || missing+=(npm)
[[ -f /usr/share/java/jna.jar ]] || missing+=(libjna-java)
command -v chromium >/dev/null || missing+=(chromium)
# 7.5 MB; Noto CJK would be 57 MB.
fc-list 2>/dev/null | grep -qi "wqy\|cjk" || missing+=(fonts-wqy-zenhei)
((${#missing[@]})) || exit 0
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "the tests need these packages: ${missing[*]} (apt-get install them as root)" >&2
  exit 1
fi
echo "installing ${missing[*]}…" >&2
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
