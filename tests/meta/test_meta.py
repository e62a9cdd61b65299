#!/usr/bin/env python3
"""Meta-tests: facts about the tree that no unit test sees.

- every symbol the core and HTTP libraries export starts with cj_;
- every public function declared in include/chatjournal/*.h is exported by
  its library (http.h by libchatjournal-http, every other header by
  libchatjournal);
- the core library does not link libmicrohttpd; the HTTP library does;
- docs/errors.md lists every CJ_E* code of include/chatjournal/error.h with its value;
- docs/cli.md documents every command `chatjournal --help` lists;
- the repository stands alone: no file cites the team's briefing documents
  (the names OUTSIDE matches), and every relative link in a Markdown file
  names a file of the repository.
Usage: test_meta.py SOURCE_ROOT LIBCHATJOURNAL_SO LIBCHATJOURNAL_HTTP_SO CHATJOURNAL_BIN
       LIBCHATJOURNAL_SINK_SO LIBCHATJOURNAL_EXPORT_SO LIBCHATJOURNAL_IMPORT_SO
"""
import os
import re
import subprocess
import sys
import unittest

SRC, LIB, HTTP_LIB, BIN, SINK_LIB, EXPORT_LIB, IMPORT_LIB = sys.argv[1:8]
del sys.argv[1:8]
HTTP_HEADERS = {"http.h"}
SINK_HEADERS = {"sink.h"}
EXPORT_HEADERS = {"export.h"}
IMPORT_HEADERS = {"import.h"}
OWN_LIBRARY = HTTP_HEADERS | SINK_HEADERS | EXPORT_HEADERS | IMPORT_HEADERS  # headers of libraries of their own


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRVW":
            names.add(parts[2])
    return names


def needed(lib):
    out = subprocess.run(["readelf", "-d", lib], check=True, capture_output=True,
                         text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def declared(headers):
    names = set()
    inc = os.path.join(SRC, "include", "chatjournal")
    for name in sorted(os.listdir(inc)):
        if (name not in OWN_LIBRARY) if headers is None else (name in headers):
            names |= set(re.findall(r"CJ_API\s+[^;(]*?\b(cj_\w+)\s*\(",
                                    read(os.path.join(inc, name))))
    return names


class Meta(unittest.TestCase):
    def test_exports_prefixed(self):
        for lib, least in ((LIB, 20), (HTTP_LIB, 1)):
            names = exported(lib)
            self.assertGreaterEqual(len(names), least, lib)
            bad = sorted(n for n in names if not n.startswith("cj_"))
            self.assertEqual(bad, [], "%s exports symbols without the cj_ prefix" % lib)

    def test_public_functions_exported(self):
        core = declared(None)
        self.assertGreater(len(core), 20)
        self.assertEqual(sorted(core - exported(LIB)), [],
                         "declared CJ_API but not exported by libchatjournal")
        http = declared(HTTP_HEADERS)
        self.assertIn("cj_http_serve", http)
        self.assertEqual(sorted(http - exported(HTTP_LIB)), [],
                         "declared in http.h but not exported by libchatjournal-http")
        self.assertEqual(sorted(http & exported(LIB)), [],
                         "the core library exports the HTTP service")
        sink = declared(SINK_HEADERS)
        self.assertIn("cj_sink_run", sink)
        self.assertEqual(sorted(sink - exported(SINK_LIB)), [],
                         "declared in sink.h but not exported by libchatjournal-sink")
        bad = sorted(n for n in exported(SINK_LIB) if not n.startswith("cj_"))
        self.assertEqual(bad, [], "libchatjournal-sink exports symbols without the cj_ prefix")
        export = declared(EXPORT_HEADERS)
        self.assertIn("cj_export_openai_messages", export)
        self.assertEqual(sorted(export - exported(EXPORT_LIB)), [],
                         "declared in export.h but not exported by libchatjournal-export")
        self.assertEqual(sorted(n for n in exported(EXPORT_LIB) if not n.startswith("cj_")), [],
                         "libchatjournal-export exports symbols without the cj_ prefix")
        self.assertEqual(sorted(export & exported(LIB)), [], "the core library exports exports")
        imp = declared(IMPORT_HEADERS)
        self.assertIn("cj_import_run", imp)
        self.assertEqual(sorted(imp - exported(IMPORT_LIB)), [],
                         "declared in import.h but not exported by libchatjournal-import")
        bad = sorted(n for n in exported(IMPORT_LIB) if not n.startswith("cj_"))
        self.assertEqual(bad, [], "libchatjournal-import exports symbols without the cj_ prefix")

    def test_core_does_not_link_microhttpd(self):
        self.assertFalse([n for n in needed(LIB) if "microhttpd" in n], needed(LIB))
        self.assertTrue([n for n in needed(HTTP_LIB) if "microhttpd" in n], needed(HTTP_LIB))
        self.assertFalse([s for s in exported(LIB) if s.startswith("MHD_")])

    def test_umbrella_leaves_http_out(self):
        umbrella = read(os.path.join(SRC, "include/chatjournal/chatjournal.h"))
        self.assertNotRegex(umbrella, r'#include\s+"http\.h"')
        self.assertRegex(umbrella, r'#include\s+"token\.h"')

    def test_error_codes_documented(self):
        hdr = read(os.path.join(SRC, "include/chatjournal/error.h"))
        codes = re.findall(r"\b(CJ_E[A-Z]+)\s*=\s*(-\d+)", hdr)
        self.assertGreater(len(codes), 10)
        doc = read(os.path.join(SRC, "docs/errors.md"))
        for name, value in codes:
            self.assertRegex(doc, r"\|\s*`%s`\s*\|\s*%s\s*\|" % (name, value),
                             "%s (%s) missing from docs/errors.md" % (name, value))

    def test_cli_commands_documented(self):
        out = subprocess.run([BIN, "--help"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0)
        cmds = re.findall(r"^\s{2,}([a-z]+)\s{2,}", out.stdout, re.M)
        self.assertIn("append", cmds)
        doc = read(os.path.join(SRC, "docs/cli.md"))
        for c in cmds:
            self.assertRegex(doc, r"(?m)^#+ .*\b%s\b" % c, "command %s not in docs/cli.md" % c)


OUTSIDE = re.compile(r"\bSPEC\b|\bRELIABILITY\.md|\bPERFORMANCE\.md|\bSTYLE\.md|\.\./shared\b|/work/shared")
TEXT_EXT = (".c", ".h", ".py", ".sh", ".md", ".build", ".sql", ".txt", ".yaml", ".json", ".ts", ".js")


def tracked():
    out = subprocess.run(["git", "-C", SRC, "ls-files"], capture_output=True, text=True)
    if out.returncode != 0:  # not a git checkout (a tarball): walk the tree
        for top, dirs, files in os.walk(SRC):
            dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
            for f in files:
                yield os.path.relpath(os.path.join(top, f), SRC)
        return
    yield from out.stdout.split()


class SelfContained(unittest.TestCase):
    def test_no_citation_of_the_briefing(self):
        bad = []
        for rel in tracked():
            if not rel.endswith(TEXT_EXT) or rel.startswith("tests/fuzz/corpus/"):
                continue
            path = os.path.join(SRC, rel)
            if not os.path.isfile(path):
                continue
            for n, line in enumerate(read(path).splitlines(), 1):
                if OUTSIDE.search(line) and rel != "tests/meta/test_meta.py":
                    bad.append("%s:%d: %s" % (rel, n, line.strip()[:100]))
        self.assertEqual(bad, [], "files citing documents outside the repository")

    def test_markdown_links_resolve(self):
        bad = []
        for rel in tracked():
            if not rel.endswith(".md"):
                continue
            text = read(os.path.join(SRC, rel))
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
                if re.match(r"[a-z]+:", target) or re.search(r"[\\|]", target):
                    continue  # http:, https:, mailto:, or not a link (a regex in a table)
                if not os.path.exists(os.path.normpath(os.path.join(SRC, os.path.dirname(rel), target))):
                    bad.append("%s -> %s" % (rel, target))
        self.assertEqual(bad, [], "Markdown links to files that do not exist")


if __name__ == "__main__":
    unittest.main(verbosity=2)
