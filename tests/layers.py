#!/usr/bin/python3
"""tests/layers.py [TABLE]: every `#include "…"` in agent/*.[ch] and platform/*.[ch] against the layer
table (tests/layers.txt). Prints each arrow the table forbids as
    FILE: includes X (layer A may not include layer B)
and ends with 'N passed, N failed': one check per include line, and one for each rule of the table
itself (every module placed once, platform/ is layer platform, no cycle). Exit 1 on any failure."""

import fnmatch
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
LAYER = re.compile(r"^layer\s+([a-z][a-z0-9_-]*)\s*:\s*(.*)$")
MAY = re.compile(r"^may include\s*:\s*(.*)$")


def fail(msg):
    sys.exit(f"layers.py: {msg}")


def read_table(path):
    """[(layer, [module patterns], set of layers it may include)], in file order."""
    layers = []
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            m = LAYER.match(line)
            if m:
                layers.append([m.group(1), m.group(2).split(), None])
                continue
            m = MAY.match(line)
            if m and layers and layers[-1][2] is None:
                words = m.group(1).split()
                layers[-1][2] = set() if words == ["-"] else set(words)
                continue
            fail(f"{path}:{n}: expected 'layer NAME: MODULE…' or 'may include: LAYER…'")
    names = [l[0] for l in layers]
    for name, _, may in layers:
        if may is None:
            fail(f"{path}: layer {name} has no 'may include:' line")
        if names.count(name) > 1:
            fail(f"{path}: layer {name} is defined twice")
        for other in may:
            if other not in names:
                fail(f"{path}: layer {name} may include an unknown layer {other}")
    return layers


def sources():
    """{module: [paths]} of agent/ and platform/, and the module names of platform/."""
    mods, platform = {}, set()
    for d in ("agent", "platform"):
        for name in sorted(os.listdir(os.path.join(ROOT, d))):
            base, ext = os.path.splitext(name)
            if ext not in (".c", ".h"):
                continue
            mods.setdefault(base, []).append(f"{d}/{name}")
            if d == "platform":
                platform.add(base)
    return mods, platform


def cycle(layers):
    """A list of layer names forming a cycle of may-include arrows, or None."""
    may = {name: m for name, _, m in layers}
    state = {}

    def visit(n, path):
        state[n] = 1
        for o in sorted(may[n]):
            if state.get(o) == 1:
                return path[path.index(o):] + [o] if o in path else [n, o]
            if o not in state:
                c = visit(o, path + [o])
                if c:
                    return c
        state[n] = 2
        return None

    for name in may:
        if name not in state:
            c = visit(name, [name])
            if c:
                return c
    return None


def main():
    table = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "layers.txt")
    layers = read_table(table)
    mods, platform = sources()
    passed = failed = 0

    def check(ok, msg):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print(msg)

    def layers_of(module):
        return [name for name, pats, _ in layers if any(fnmatch.fnmatchcase(module, p) for p in pats)]

    layer_of = {}
    for module, paths in sorted(mods.items()):
        found = layers_of(module)
        check(len(found) == 1, f"{paths[0]}: in {len(found)} layers of the table ({' '.join(found) or 'none'})")
        if len(found) == 1:
            layer_of[module] = found[0]
            check((found[0] == "platform") == (module in platform),
                  f"{paths[0]}: in layer {found[0]}, but layer platform is exactly platform/'s modules")
        check(len({os.path.dirname(p) for p in paths}) == 1,
              f"{paths[0]}: module {module} is in both agent/ and platform/ ({' '.join(paths)})")
    c = cycle(layers)
    check(c is None, f"{table}: the layers include each other: {' -> '.join(c or [])}")
    may = {name: m for name, _, m in layers}

    for module, paths in sorted(mods.items()):
        src = layer_of.get(module)
        for path in paths:
            with open(os.path.join(ROOT, path), encoding="utf-8") as f:
                for line in f:
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = os.path.splitext(os.path.basename(m.group(1)))[0]
                    if src is None:
                        continue  # already failed above, once
                    found = layers_of(target)
                    if len(found) != 1:
                        check(False, f"{path}: includes {m.group(1)} (not in exactly one layer of the table)")
                        continue
                    dst = found[0]
                    check(dst == src or dst in may[src],
                          f"{path}: includes {m.group(1)} (layer {src} may not include layer {dst})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
