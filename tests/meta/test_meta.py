#!/usr/bin/env python3
"""Meta-tests: facts about the tree that no unit test sees.

- every symbol the shared library exports starts with cj_;
- docs/errors.md lists every CJ_E* code of include/chatjournal/error.h with its value;
- docs/cli.md documents every command `chatjournal --help` lists;
- every public function declared in include/chatjournal/*.h is exported.
Usage: test_meta.py SOURCE_ROOT LIBCHATJOURNAL_SO CHATJOURNAL_BIN
"""
import os
import re
import subprocess
import sys
import unittest

SRC, LIB, BIN = sys.argv[1:4]
del sys.argv[1:4]


def exported():
    out = subprocess.run(["nm", "-D", "--defined-only", LIB], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRVW":
            names.add(parts[2])
    return names


class Meta(unittest.TestCase):
    def test_exports_prefixed(self):
        names = exported()
        self.assertGreater(len(names), 20)
        bad = sorted(n for n in names if not n.startswith("cj_"))
        self.assertEqual(bad, [], "exported symbols without the cj_ prefix")

    def test_public_functions_exported(self):
        declared = set()
        inc = os.path.join(SRC, "include", "chatjournal")
        for name in os.listdir(inc):
            text = open(os.path.join(inc, name)).read()
            declared |= set(re.findall(r"CJ_API\s+[^;(]*?\b(cj_\w+)\s*\(", text))
        self.assertGreater(len(declared), 20)
        missing = sorted(declared - exported())
        self.assertEqual(missing, [], "declared CJ_API but not exported")

    def test_error_codes_documented(self):
        hdr = open(os.path.join(SRC, "include/chatjournal/error.h")).read()
        codes = re.findall(r"\b(CJ_E[A-Z]+)\s*=\s*(-\d+)", hdr)
        self.assertGreater(len(codes), 10)
        doc = open(os.path.join(SRC, "docs/errors.md")).read()
        for name, value in codes:
            self.assertRegex(doc, r"\|\s*`%s`\s*\|\s*%s\s*\|" % (name, value),
                             "%s (%s) missing from docs/errors.md" % (name, value))

    def test_cli_commands_documented(self):
        out = subprocess.run([BIN, "--help"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0)
        cmds = re.findall(r"^\s{2,}([a-z]+)\s{2,}", out.stdout, re.M)
        self.assertIn("append", cmds)
        doc = open(os.path.join(SRC, "docs/cli.md")).read()
        for c in cmds:
            self.assertRegex(doc, r"(?m)^#+ .*\b%s\b" % c, "command %s not in docs/cli.md" % c)


if __name__ == "__main__":
    unittest.main(verbosity=2)
