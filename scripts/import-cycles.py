#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a circle, or name an item of
the crate root.

For each crate's src/ tree, every file is a module (src/a/b.rs and src/a/b/mod.rs are
`a::b`); an edge runs from a module to each module of the same crate it names through
`crate::…` or `super::…` (in `use` lines and in paths), test modules (`#[cfg(test)]`
to the end of the file) left out. A circle is a strongly connected group of two or more
modules. The crate root (lib.rs) only declares the modules and re-exports some of their
items for other crates: a module naming `crate::Item` of the root would reach up through
it, so that is reported too. Prints each finding and exits 1 if there is one.

    scripts/import-cycles.py                 the workspace's crates
    scripts/import-cycles.py server/src      one crate
"""
import os
import re
import sys

CRATES = ["client-core/src", "server/src", "mobile-bindings/src", "tests/src"]


def modules(src):
    """Module path (tuple) -> file, for every .rs file under src."""
    out = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            if rel and rel[0] == "bin":
                continue  # binaries are crates of their own
            out[tuple(rel)] = os.path.join(root, f)
    return out


def resolve(path, mods):
    """The longest module prefix of `path` that is a module of the crate."""
    for n in range(len(path), 0, -1):
        if tuple(path[:n]) in mods:
            return tuple(path[:n])
    return None


PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"\b(crate|super)::((?:[A-Za-z_][A-Za-z0-9_]*::)*)\{([^}]*)\}")


def edges(mod, file, mods):
    text = open(file, encoding="utf-8").read()
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    text = re.sub(r"//[^\n]*", "", text)
    # A file's own module for `super`: a mod.rs's super is its parent's parent.
    is_dir = os.path.basename(file) in ("mod.rs", "lib.rs", "main.rs")
    here = list(mod) if is_dir else list(mod)
    base_super = here[:-1]
    found = set()

    def add(kind, parts):
        path = (base_super if kind == "super" else []) + parts
        target = resolve(path, mods)
        if target is None and path and mod != ():
            found.add(("(root item)", path[0]))
        elif target is not None and target != mod and target[: len(mod)] != mod:
            found.add(target)

    for m in GROUP.finditer(text):
        prefix = [p for p in m.group(2).split("::") if p]
        for item in m.group(3).split(","):
            item = item.strip().split(" ")[0]
            head = [p for p in item.split("::") if p and p != "self"]
            add(m.group(1), prefix + head[:1])
    for m in PATH.finditer(text):
        add(m.group(1), [p for p in m.group(2).split("::") if p])
    return found


def circles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    crates = sys.argv[1:] or CRATES
    failed = False
    for crate in crates:
        src = os.path.join(root, crate)
        mods = modules(src)
        graph = {m: edges(m, f, mods) for m, f in mods.items()}
        # Only a root that is a table of contents (modules and re-exports) is held to it;
        # a crate whose lib.rs is itself code (the test harness) is not.
        root_is_contents = () in mods and not re.search(
            r"^\s*(pub(\([^)]*\))?\s+)?(async\s+)?(fn|struct|enum|const|static|impl|trait|type)\b",
            open(mods[()], encoding="utf-8").read().split("#[cfg(test)]")[0],
            re.M,
        )
        for m in sorted(graph):
            for t in sorted(t for t in graph[m] if root_is_contents and t and t[0] == "(root item)"):
                failed = True
                print(f"{crate}: {'::'.join(m)} names crate::{t[1]} of the crate root: "
                      "name it from the module that defines it")
            graph[m] = {t for t in graph[m] if not (t and t[0] == "(root item)")}
        for c in circles(graph):
            failed = True
            names = ["::".join(m) or "(root)" for m in c]
            print(f"{crate}: modules import each other in a circle: {', '.join(names)}")
            for m in c:
                inside = sorted("::".join(t) for t in graph[m] if t in c)
                print(f"    {'::'.join(m)} -> {', '.join(inside)}")
    if not failed:
        print("no import circles in " + ", ".join(crates))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
