#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a circle.

Usage: import_cycles.py SRC_DIR [SRC_DIR ...]

A module is one file (`foo.rs`, or `foo/mod.rs` for the folder). A module imports another when
its code (comments and `#[cfg(test)]` modules left out) names it by a path: `crate::foo::..`,
`super::foo`, or an entry of a `use crate::{..}` / `use super::{..}` group. A file inside a
folder module may name its siblings through `super::`. For each circle found, the script prints
its modules and one import that closes it, then exits 1; it prints each crate's module count
and exits 0 when there is none.
"""

import os
import re
import sys


def module_files(src):
    """Maps each module path ('' for the crate root, 'a::b') to its file."""
    found = {}
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            parts = os.path.relpath(os.path.join(root, name), src)[:-3].split(os.sep)
            if parts[-1] == "mod":
                parts = parts[:-1]
            if parts in (["lib"], ["main"]):
                parts = []
            found["::".join(parts)] = os.path.join(root, name)
    return found


def without_tests_and_comments(text):
    """The code of a file without `#[cfg(test)] mod .. { .. }` blocks and comments."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def use_paths(code):
    """Every path the code names from `crate`, `super` or `self`, as segment lists; `use` groups
    are expanded to one path per entry."""
    paths = []
    for m in re.finditer(r"\buse\s+((?:crate|super|self)(?:::\w+)*)::\{", code):
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
        head = m.group(1).split("::")
        for entry in split_group(code[m.end() : j - 1]):
            segments = re.findall(r"\w+", entry.split("{")[0].split(" as ")[0])
            if segments:
                paths.append(head + segments)
    for m in re.finditer(r"\b((?:crate|super|self)(?:::(?:super|self))*(?:::\w+)+)", code):
        paths.append(m.group(1).split("::"))
    return paths


def split_group(body):
    """The top-level entries of a `{..}` group."""
    entries, depth, start = [], 0, 0
    for k, c in enumerate(body):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            entries.append(body[start:k])
            start = k + 1
    entries.append(body[start:])
    return [e.strip() for e in entries if e.strip()]


def target(module, path, modules):
    """The module a path from `module` lands in, or None (an item of its own, or outside)."""
    base = module.split("::") if module else []
    if path[0] == "crate":
        base, rest = [], path[1:]
    else:
        rest = path
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super" and base:
                base = base[:-1]
            rest = rest[1:]
    full = base + rest
    for n in range(len(full), len(base), -1):
        candidate = "::".join(full[:n])
        if candidate in modules:
            return candidate
    return None


def imports(modules):
    graph = {m: {} for m in modules}
    for module, path in modules.items():
        with open(path, encoding="utf-8") as f:
            code = without_tests_and_comments(f.read())
        for segments in use_paths(code):
            to = target(module, segments, modules)
            # A module's own items, its children and its ancestors are not imports.
            if to is None or to == "" or to == module:
                continue
            if module.startswith(to + "::") or to.startswith(module + "::"):
                continue
            graph[module].setdefault(to, "::".join(segments))
    return graph


def circles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main(dirs):
    failed = False
    for src in dirs:
        modules = module_files(src)
        graph = imports(modules)
        found = circles(graph)
        if not found:
            print(f"{src}: {len(modules)} modules, no import circle")
            continue
        failed = True
        for component in found:
            members = set(component)
            print(f"{src}: import circle of {len(component)}: {' '.join(component)}")
            for m in component:
                for to, path in sorted(graph[m].items()):
                    if to in members:
                        print(f"    {m} -> {to}  ({path})")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
