#!/usr/bin/env python3
"""The house is a ladder: common -> journal -> materializer -> api -> export
-> api/http -> sink -> import -> bench -> tools. A file may include headers of its own folder, of folders
below it, and the public API (include/chatjournal/); it may call functions
defined in its own folder or below. An include or a call that climbs the
ladder (journal/ asking api/ for the store, say) fails this test, naming the
file, the line and the target. The exports, the HTTP service, the sink, the importers, bench/ and
tools/ may include
nothing private at all: only include/ and their own folder.

A negative control runs the same checker on a small synthetic tree with one
upward include and one upward call and asserts that both are reported.
Usage: test_layers.py SOURCE_ROOT
"""
import os
import re
import sys
import tempfile
import unittest

SRC = sys.argv[1]
del sys.argv[1:2]

RANK = {"common": 0, "journal": 1, "materializer": 2, "api": 3, "export": 4, "api/http": 5,
        "sink": 6, "import": 7, "bench": 8, "tools": 9}
PUBLIC_ONLY = {"export", "api/http", "sink", "import", "bench", "tools"}
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# A function definition starts at column 0: "type name(" ... and its line
# either opens the body or does not end the declaration with ';'.
DEF_RE = re.compile(r"^[A-Za-z_][\w \t\*]*?\b(cj_\w+|cji_\w+|cjh_\w+)\s*\((?:[^;\n]*|.*\{.*)$",
                    re.M)
CALL_RE = re.compile(r"\b(cj_\w+|cji_\w+|cjh_\w+)\s*\(")


def folder_of(root, path):
    rel = os.path.relpath(path, root)
    d = os.path.dirname(rel)
    while d and d not in RANK:
        d = os.path.dirname(d)
    return d or None


def sources(root):
    for top in RANK:
        base = os.path.join(root, top)
        if not os.path.isdir(base):
            continue
        for name in sorted(os.listdir(base)):
            if name.endswith((".c", ".h")):
                yield os.path.join(base, name)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def resolve(root, path, inc):
    """The file an include names: beside the includer, then the tree root,
    then include/. None for a header outside the tree (system, generated)."""
    for base in (os.path.dirname(path), root, os.path.join(root, "include")):
        cand = os.path.normpath(os.path.join(base, inc))
        if os.path.isfile(cand):
            return cand
    return None


def check(root):
    """Every climb of the ladder, as text lines."""
    problems = []
    texts = {p: strip_comments(read(p)) for p in sources(root)}
    defined = {}
    for p, text in texts.items():
        if p.endswith(".c"):
            for m in DEF_RE.finditer(text):
                defined.setdefault(m.group(1), set()).add(folder_of(root, p))
    for p, text in texts.items():
        src = folder_of(root, p)
        rel = os.path.relpath(p, root)
        for m in INCLUDE_RE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            target = resolve(root, p, m.group(1))
            if target is None:
                continue
            trel = os.path.relpath(target, root)
            if trel.startswith("include" + os.sep):
                continue  # the public API: the contract every layer may read
            dst = folder_of(root, target)
            if dst is None:
                problems.append("%s:%d includes %s, outside every layer" % (rel, line, trel))
            elif src in PUBLIC_ONLY and dst != src:
                problems.append("%s:%d includes private %s (%s uses the public API only)"
                                % (rel, line, trel, src))
            elif RANK[dst] > RANK[src]:
                problems.append("%s:%d includes %s: %s/ climbs to %s/" % (rel, line, trel, src, dst))
        if not p.endswith(".c"):
            continue
        for m in CALL_RE.finditer(text):
            homes = defined.get(m.group(1))
            if not homes or src in homes:
                continue
            if all(RANK[h] > RANK[src] for h in homes):
                line = text.count("\n", 0, m.start()) + 1
                problems.append("%s:%d calls %s, defined in %s/ above %s/"
                                % (rel, line, m.group(1), "/, ".join(sorted(homes)), src))
    return sorted(set(problems))


class Layers(unittest.TestCase):
    def test_no_climb(self):
        self.assertEqual(check(SRC), [])

    def test_checker_sees_a_climb(self):
        with tempfile.TemporaryDirectory() as root:
            files = {
                "api/store.h": "int cj_store_thing(void);\n",
                "api/store.c": "#include \"api/store.h\"\nint cj_store_thing(void)\n{\n\treturn 1;\n}\n",
                "journal/append.c": "#include \"api/store.h\"\n#include \"common/buf.h\"\n"
                                    "int cji_append(void)\n{\n\treturn cj_store_thing();\n}\n",
                "common/buf.h": "int cji_buf(void);\n",
                "tools/cli.c": "#include \"journal/append.h\"\n",
                "journal/append.h": "int cji_append(void);\n",
            }
            for name, text in files.items():
                os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
                with open(os.path.join(root, name), "w") as f:
                    f.write(text)
            found = check(root)
            self.assertIn("journal/append.c:1 includes api/store.h: journal/ climbs to api/", found)
            self.assertIn("journal/append.c:5 calls cj_store_thing, defined in api/ above journal/",
                          found)
            self.assertIn("tools/cli.c:1 includes private journal/append.h "
                          "(tools uses the public API only)", found)
            self.assertEqual(len(found), 3, found)


if __name__ == "__main__":
    unittest.main(verbosity=2)
