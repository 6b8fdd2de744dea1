#!/usr/bin/env python3
"""Checks the generated Swift bindings without a Swift compiler (none runs on this
machine): the file parses with tree-sitter's Swift grammar with no syntax errors, and
every object, record, enum, error, callback protocol, function and method the Rust crate
exports is declared in it under its Swift name (and every enum or error variant as a case: lowerCamelCase, error variants as in Rust).

The exported items are read from the Rust sources (mobile-bindings/src), independently of
the generated code. Usage: check_swift.py <saferound_mobile.swift> [<mobile-bindings/src>]

tree-sitter-swift 0.7.4 rejects two constructs that are valid Swift and that UniFFI
emits; they are rewritten to equivalents before parsing, by exact match, and counted:
  @_documentation(visibility: private)   an underscored attribute → removed
  { () }                                 a closure returning ()   → { Void() }
"""

import pathlib
import re
import sys

import tree_sitter_swift
from tree_sitter import Language, Parser

REWRITES = [
    (b"@_documentation(visibility: private)", b""),
    (b"{ () }", b"{ Void() }"),
]


def lower_camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def exported(src_dir: pathlib.Path):
    """(types, variants, functions) the crate exports, read from its Rust sources."""
    types, variants, functions, errors = set(), {}, set(), set()
    for path in sorted(src_dir.rglob("*.rs")):
        text = path.read_text()
        # Records, enums, errors and objects by derive; the enums mirrored by macro.
        for m in re.finditer(
            r"#\[derive\([^)]*uniffi::(Record|Enum|Error|Object)[^)]*\)\]\s*pub (struct|enum) (\w+)\s*\{",
            text,
        ):
            types.add(m.group(3))
            if m.group(1) == "Error":
                errors.add(m.group(3))
            if m.group(2) == "enum":
                body = text[m.end(): text.index("\n}", m.end())]
                variants[m.group(3)] = re.findall(r"^\s{4}(\w+)\s*[,{(]?", body, re.M)
        for m in re.finditer(r"mirror_enum!\(\s*(?:///[^\n]*\n\s*)*(\w+) => [\w:]+ \{(.*?)\n    \}", text, re.S):
            types.add(m.group(1))
            variants[m.group(1)] = re.findall(r"^\s{8}(\w+),", m.group(2), re.M)
        # Callback interfaces the app implements.
        for m in re.finditer(r"#\[uniffi::export\(with_foreign\)\]\s*pub trait (\w+)", text):
            types.add(m.group(1))
            body = text[m.end(): text.index("\n}", m.end())]
            functions.update(re.findall(r"fn (\w+)\(", body))
        # Exported functions, and methods and constructors of exported impls.
        for m in re.finditer(r"#\[uniffi::export\]\s*pub (?:async )?fn (\w+)", text):
            functions.add(m.group(1))
        for m in re.finditer(r"#\[uniffi::export\]\s*impl (\w+) \{", text):
            body = text[m.end(): text.index("\n}", m.end())]
            for f in re.findall(r"pub (?:async )?fn (\w+)\(", body):
                if f != "new":  # `new` is the class's init
                    functions.add(f)
    return types, variants, functions, errors


def case_name(enum: str, variant: str, errors: set) -> str:
    """UniFFI's Swift name of a variant: lowerCamelCase, but error variants as in Rust."""
    return variant if enum in errors else lower_camel(variant[:1].lower() + variant[1:])


def main():
    swift_path = pathlib.Path(sys.argv[1])
    src_dir = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else pathlib.Path(__file__).resolve().parents[2] / "src"
    source = swift_path.read_bytes()
    rewritten = {}
    for old, new in REWRITES:
        rewritten[old.decode()] = source.count(old)
        source = source.replace(old, new)

    tree = Parser(Language(tree_sitter_swift.language())).parse(source)
    errors, declared, cases = [], set(), set()
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            errors.append(node)
            continue
        if node.type in ("class_declaration", "protocol_declaration", "function_declaration",
                         "protocol_function_declaration", "typealias_declaration"):
            name = node.child_by_field_name("name")
            if name is not None:
                declared.add(name.text.decode().strip("`"))
        if node.type == "enum_entry":
            for child in node.children_by_field_name("name"):
                cases.add(child.text.decode().strip("`"))
        stack.extend(node.children)

    lines = source.decode().split("\n")
    for e in errors[:20]:
        row = e.start_point[0]
        print(f"syntax error at {row + 1}:{e.start_point[1] + 1}: {lines[row].strip()[:120]}")

    types, variants, functions, error_types = exported(src_dir)
    missing = sorted(t for t in types if t not in declared)
    missing += sorted(f"func {lower_camel(f)}" for f in functions if lower_camel(f) not in declared)
    for enum, vs in sorted(variants.items()):
        missing += sorted(f"case {enum}.{case_name(enum, v, error_types)}" for v in vs
                          if case_name(enum, v, error_types) not in cases)
    for m in missing:
        print(f"missing from the Swift bindings: {m}")
    n_variants = sum(len(v) for v in variants.values())
    print(f"{swift_path.name}: {len(errors)} syntax errors; {len(types)} types, {len(functions)} "
          f"functions and methods, {n_variants} enum cases exported, {len(missing)} missing; "
          f"rewritten before parsing: {rewritten}")
    # Guard against a check that cannot fail: the crate exports dozens of items.
    if errors or missing or len(types) < 30 or len(functions) < 40 or n_variants < 50:
        sys.exit(1)


if __name__ == "__main__":
    main()
