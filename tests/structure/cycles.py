#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""
cycles.py - no two files of a folder call each other, directly or round
a loop.  The graph comes from the objects themselves: a file depends on
the file that defines a symbol it leaves undefined (nm), so a call made
through a function pointer registered at init (the event bus, the
command table) is not a dependency, which is the point.

usage: tests/structure/cycles.py BUILD_DIR FOLDER...
Run from the top of the tree.  Prints each cycle found, with the
symbols that make it, and exits 1; exits 0 when there is none.
"""
import os
import subprocess
import sys


def symbols(obj):
    out = subprocess.run(["nm", "-P", obj], check=True, capture_output=True,
                         text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        name, kind = f[0], f[1]
        if kind == "U":
            undefined.add(name)
        elif kind.isupper():
            defined.add(name)
    return defined, undefined


def sccs(graph):
    """Tarjan's strongly connected components."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    build, folders = sys.argv[1], sys.argv[2:]
    bad = 0
    for folder in folders:
        objdir = os.path.join(build, "obj", folder)
        # Only objects of sources that still exist: a file renamed or
        # removed leaves its old object behind in a build folder.
        objs = sorted(f for f in os.listdir(objdir) if f.endswith(".o")
                      and os.path.exists(os.path.join(folder, f[:-2] + ".c")))
        if not objs:
            print(f"cycles: no objects in {objdir}: build first",
                  file=sys.stderr)
            return 2
        defs, undefs = {}, {}
        for o in objs:
            d, u = symbols(os.path.join(objdir, o))
            name = folder + "/" + o[:-2] + ".c"
            undefs[name] = u
            for s in d:
                defs[s] = name
        graph = {n: set() for n in undefs}
        for n, u in undefs.items():
            for s in u:
                t = defs.get(s)
                if t is not None and t != n:
                    graph[n].add((t, s))
        plain = {n: {t for t, _ in e} for n, e in graph.items()}
        cycles = 0
        for comp in sccs(plain):
            if len(comp) < 2:
                continue
            bad = cycles = 1
            print(f"cycle in {folder}/: {' '.join(comp)}")
            for n in comp:
                for t, s in sorted(graph[n]):
                    if t in comp:
                        print(f"  {n} -> {t} ({s})")
        if not cycles:
            print(f"{folder}/: {len(objs)} files, no call cycle")
    return bad


if __name__ == "__main__":
    sys.exit(main())
