#!/usr/bin/env python3
"""Fails when a crate SafeRound depends on is under a licence not allowed here.

Reads the dependency tree from `cargo metadata` (the registry's copies, cached by the build,
carry each crate's SPDX licence expression) and judges each third-party crate's
expression against ALLOWED: an `OR` needs one allowed side, an `AND` both, and
`X WITH exception` is judged as written. A crate with no licence expression (only a
licence file) must be listed in REVIEWED with the licence it was read to be.

Why not cargo-deny: its licence check is what this is, but installing it compiles
several hundred crates (minutes on the 2-core CI machines, every run), and its advisory
database needs a network those machines lack. This needs neither.

    scripts/licences.py            the workspace's dependency tree
"""
import json
import re
import subprocess
import sys

# Permissive licences, and the weak file-level copyleft of MPL-2.0 (UniFFI and a few of
# its dependencies: kept unmodified, shipped as their own files).
ALLOWED = {
    "MIT",
    "MIT-0",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "CC0-1.0",
    "Unlicense",
    "BSL-1.0",
    "CDLA-Permissive-2.0",
    "MPL-2.0",
}

# Crates whose metadata names only a licence file: (name, the licence it holds).
REVIEWED = {}


def tokens(expr):
    # Older crates write "MIT/Apache-2.0" for "MIT OR Apache-2.0".
    expr = expr.replace("/", " OR ")
    return re.findall(r"\(|\)|[A-Za-z0-9.+-]+", expr)


def allowed(expr):
    """Whether the SPDX expression can be satisfied with ALLOWED licences."""
    toks = tokens(expr)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def atom():
        if peek() == "(":
            take()
            v = either()
            if take() != ")":
                raise ValueError(expr)
            return v
        name = take()
        if peek() == "WITH":
            take()
            name = f"{name} WITH {take()}"
        return name.removesuffix("+") in ALLOWED or name in ALLOWED

    def both():
        v = atom()
        while peek() == "AND":
            take()
            v = atom() and v
        return v

    def either():
        v = both()
        while peek() == "OR":
            take()
            v = both() or v
        return v

    v = either()
    if pos != len(toks):
        raise ValueError(expr)
    return v


def main():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    meta = json.loads(out)
    ours = set(meta["workspace_members"])
    bad = []
    n = 0
    for p in meta["packages"]:
        if p["id"] in ours:
            continue
        n += 1
        expr = p.get("license") or REVIEWED.get(p["name"])
        if not expr:
            bad.append(f"{p['name']} {p['version']}: no licence expression (review it, add to REVIEWED)")
            continue
        try:
            ok = allowed(expr)
        except (ValueError, IndexError):
            ok = False
        if not ok:
            bad.append(f"{p['name']} {p['version']}: {expr}")
    for b in bad:
        print("licence not allowed:", b)
    if not bad:
        print(f"licences: all {n} third-party crates allowed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
