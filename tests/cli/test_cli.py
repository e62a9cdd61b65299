#!/usr/bin/env python3
"""Black-box tests of the `chatjournal` program (tests/cli).

Runs the binary named by $CJ_BIN the way a user would, and checks exit codes,
the exact output promised by SPEC "CLI contract" and docs/cli.md, file modes,
and what really got stored (through `stats --json`). Standard library only.
"""
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

BIN = os.environ.get("CJ_BIN", "")
SRC = Path(__file__).resolve().parents[2]

MIB = 1 << 20


def msg(thread="t1", role="user", content="hello", **extra):
    ev = {"type": "message", "thread": thread, "role": role, "content": content}
    ev.update(extra)
    return json.dumps(ev)


def jsonl(*lines):
    return ("\n".join(lines) + "\n").encode()


class CliCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cj-cli-")
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def run_cj(self, *args, stdin=b""):
        return subprocess.run([BIN, *map(str, args)], input=stdin,
                              capture_output=True, timeout=120)

    def ok(self, *args, stdin=b""):
        r = self.run_cj(*args, stdin=stdin)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(r.stderr, b"")
        return r.stdout.decode()

    def fails(self, *args, stdin=b"", code=1):
        """Exit code `code`; for failures, exactly one line on stderr."""
        r = self.run_cj(*args, stdin=stdin)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, code, f"stdout={r.stdout!r} stderr={err!r}")
        if code == 1:
            self.assertEqual(err.count("\n"), 1, err)
            self.assertTrue(err.endswith("\n"), err)
        self.assertEqual(r.stdout, b"")
        return err

    def new_store(self, name="store"):
        path = self.dir / name
        self.assertEqual(self.ok("init", path), f"initialized store at {path}\n")
        return path

    def write(self, name, data):
        p = self.dir / name
        p.write_bytes(data)
        return p

    def edit_conf(self, store, section, **values):
        conf = store / "chatjournal.conf"
        data = json.loads(conf.read_text())
        data[section].update(values)
        conf.write_text(json.dumps(data, indent=2))

    def stats(self, store):
        out = self.ok("stats", store, "--json")
        self.assertEqual(out.count("\n"), 1)
        return json.loads(out)


class TestHelpAndUsage(CliCase):
    COMMANDS = ["init", "append", "stats", "bench"]

    def test_global_help(self):
        for args in (["--help"], ["-h"], ["help"]):
            out = self.ok(*args)
            self.assertTrue(out.startswith("usage: chatjournal <command>"), out)
            for c in self.COMMANDS:
                self.assertRegex(out, rf"(?m)^  {c} ")

    def test_command_help(self):
        for c in self.COMMANDS:
            for args in ([c, "--help"], [c, "-h"], ["help", c]):
                out = self.ok(*args)
                self.assertTrue(out.startswith(f"usage: chatjournal {c} "), out)

    def test_help_after_positionals(self):
        out = self.ok("append", "somewhere", "--help")
        self.assertTrue(out.startswith("usage: chatjournal append "))

    def test_version(self):
        m = re.search(r"version\s*:\s*'([^']+)'", (SRC / "meson.build").read_text())
        self.assertEqual(self.ok("--version"), f"chatjournal {m.group(1)}\n")

    def test_no_arguments(self):
        err = self.fails(code=2)
        self.assertIn("usage: chatjournal", err)

    def test_unknown_command(self):
        err = self.fails("frobnicate", code=2)
        self.assertIn("chatjournal: unknown command 'frobnicate'", err)
        err = self.fails("help", "frobnicate", code=2)
        self.assertIn("unknown command 'frobnicate'", err)

    def test_unknown_global_option(self):
        err = self.fails("--frob", code=2)
        self.assertIn("unknown option '--frob'", err)

    def test_missing_argument(self):
        err = self.fails("init", code=2)
        self.assertTrue(err.startswith("chatjournal: init: missing argument"), err)
        self.assertIn("usage: chatjournal init STORE", err)
        self.fails("append", code=2)
        self.fails("stats", code=2)

    def test_unexpected_argument(self):
        err = self.fails("init", "a", "b", code=2)
        self.assertIn("chatjournal: init: unexpected argument 'b'", err)

    def test_unknown_option(self):
        err = self.fails("stats", "x", "--bogus", code=2)
        self.assertIn("chatjournal: stats: unknown option '--bogus'", err)
        err = self.fails("stats", "x", "--json=1", code=2)
        self.assertIn("takes no value", err)

    def test_bench_forwarded(self):
        out = self.ok("bench", "--help")
        self.assertIn("bench", out)


class TestInit(CliCase):
    def test_init_twice(self):
        store = self.new_store()
        err = self.fails("init", store)
        self.assertTrue(err.startswith("chatjournal: init: "), err)
        self.assertIn("already", err)

    def test_parent_must_exist(self):
        path = self.dir / "missing" / "store"
        err = self.fails("init", path)
        self.assertTrue(err.startswith("chatjournal: init: "), err)
        self.assertIn("does not exist", err)
        self.assertFalse(path.parent.exists())

    def test_modes_under_umask_022(self):
        old = os.umask(0o022)
        try:
            store = self.new_store()
            self.ok("append", store, self.write("a.jsonl", jsonl(msg(id="m1"))))
            self.stats(store)
        finally:
            os.umask(old)
        self.assertEqual(stat.S_IMODE(store.stat().st_mode), 0o700)
        seen = 0
        for root, dirs, files in os.walk(store):
            for d in dirs:
                p = Path(root) / d
                self.assertEqual(stat.S_IMODE(p.stat().st_mode), 0o700, str(p))
                seen += 1
            for f in files:
                p = Path(root) / f
                self.assertEqual(stat.S_IMODE(p.stat().st_mode), 0o600, str(p))
                seen += 1
        self.assertGreater(seen, 0)


class TestAppend(CliCase):
    def test_from_file(self):
        store = self.new_store()
        f = self.write("in.jsonl", jsonl(msg(), msg(role="assistant", content="hi"),
                                         msg(content="third")))
        self.assertEqual(self.ok("append", store, f),
                         "appended 3 events, last sequence 3\n")
        st = self.stats(store)
        self.assertEqual((st["events"], st["last_seq"]), (3, 3))

    def test_from_stdin(self):
        store = self.new_store()
        self.assertEqual(self.ok("append", store, stdin=jsonl(msg(), msg())),
                         "appended 2 events, last sequence 2\n")
        self.assertEqual(self.ok("append", store, "-", stdin=jsonl(msg())),
                         "appended 1 event, last sequence 3\n")
        self.assertEqual(self.stats(store)["events"], 3)

    def test_json_output_and_option_order(self):
        store = self.new_store()
        f = self.write("in.jsonl", jsonl(msg(), msg()))
        out = self.ok("append", "--json", store, f)
        self.assertEqual(json.loads(out), {"appended": 2, "last_seq": 2})
        out = self.ok("append", store, f, "--json")
        self.assertEqual(json.loads(out), {"appended": 2, "last_seq": 4})

    def test_blank_lines_and_crlf(self):
        store = self.new_store()
        data = b"\n  \n" + msg().encode() + b"\r\n\r\n\t\n" + msg().encode()
        self.assertEqual(self.ok("append", store, stdin=data),
                         "appended 2 events, last sequence 2\n")

    def test_empty_input(self):
        store = self.new_store()
        self.assertEqual(self.ok("append", store, stdin=b""),
                         "appended 0 events, last sequence 0\n")
        self.ok("append", store, stdin=jsonl(msg(), msg()))
        self.assertEqual(self.ok("append", store, stdin=b"\n\n"),
                         "appended 0 events, last sequence 2\n")

    def test_bad_line_in_middle(self):
        store = self.new_store()
        data = jsonl(msg(content="one"), msg(content="two"), "",
                     msg(role="wizard"), msg(content="five"))
        err = self.fails("append", store, stdin=data)
        self.assertTrue(err.startswith("chatjournal: append: line 4: field 'role': "), err)
        st = self.stats(store)
        self.assertEqual((st["events"], st["last_seq"]), (2, 2))

    def test_missing_field(self):
        store = self.new_store()
        bad = json.dumps({"type": "message", "thread": "t", "role": "user"})
        err = self.fails("append", store, stdin=jsonl(msg(), bad))
        self.assertTrue(err.startswith("chatjournal: append: line 2: field 'content': "), err)
        self.assertEqual(self.stats(store)["last_seq"], 1)

    def test_bad_line_after_many_batches(self):
        # Several tickets are in flight when line 2501 turns out bad: exactly
        # the 2500 lines before it must be stored, none after.
        store = self.new_store()
        lines = [msg(content=f"m{i}") for i in range(2500)]
        lines.append(json.dumps({"type": "nonsense"}))
        lines += [msg(content=f"after{i}") for i in range(1500)]
        err = self.fails("append", store, self.write("big.jsonl", jsonl(*lines)))
        self.assertTrue(err.startswith("chatjournal: append: line 2501: field 'type': "), err)
        st = self.stats(store)
        self.assertEqual((st["events"], st["last_seq"]), (2500, 2500))

    def test_many_lines(self):
        store = self.new_store()
        lines = [msg(content=f"m{i}", id=f"k{i}") for i in range(5000)]
        out = self.ok("append", store, self.write("big.jsonl", jsonl(*lines)), "--json")
        self.assertEqual(json.loads(out), {"appended": 5000, "last_seq": 5000})

    def test_invalid_json(self):
        store = self.new_store()
        err = self.fails("append", store, stdin=jsonl(msg(), '{"type": "message",', msg()))
        self.assertTrue(err.startswith("chatjournal: append: line 2: "), err)
        self.assertEqual(self.stats(store)["last_seq"], 1)

    def test_not_an_object(self):
        store = self.new_store()
        err = self.fails("append", store, stdin=jsonl("[1, 2]"))
        self.assertTrue(err.startswith("chatjournal: append: line 1: "), err)
        self.assertEqual(self.stats(store)["last_seq"], 0)

    def test_invalid_utf8(self):
        store = self.new_store()
        head = b'{"type": "message", "thread": "t", "role": "user", "content": "a'
        # Stray byte, overlong '/', surrogate, truncated sequence.
        for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"):
            line = head + bad + b'"}'
            data = msg().encode() + b"\n" + line + b"\n" + msg().encode() + b"\n"
            err = self.fails("append", store, stdin=data)
            self.assertTrue(err.startswith("chatjournal: append: line 2: invalid UTF-8 "), err)
            self.assertIn(f"offset {len(head)})", err)
        # Each attempt stored its first line only.
        self.assertEqual(self.stats(store)["last_seq"], 4)

    def test_huge_line(self):
        store = self.new_store()
        huge = '{"type": "message", "thread": "t", "role": "user", "content": "' \
            + "x" * (9 * MIB) + '"}'
        err = self.fails("append", store, stdin=jsonl(msg(), huge, msg()))
        self.assertTrue(err.startswith("chatjournal: append: line 2: line longer than "), err)
        self.assertEqual(self.stats(store)["last_seq"], 1)

    def test_huge_line_without_newline(self):
        store = self.new_store()
        err = self.fails("append", store, stdin=b"x" * (9 * MIB))
        self.assertTrue(err.startswith("chatjournal: append: line 1: line longer than "), err)

    def test_content_over_limit(self):
        store = self.new_store()
        big = msg(content="x" * (2 * MIB))
        err = self.fails("append", store, stdin=jsonl(msg(), big))
        self.assertTrue(err.startswith("chatjournal: append: line 2: field 'content': "), err)
        self.assertEqual(self.stats(store)["last_seq"], 1)

    def test_store_limits_apply(self):
        # The store's own limits (chatjournal.conf), not the built-in ones,
        # decide validity and the line cap (twice the event limit, >= 1 MiB).
        store = self.new_store()
        self.edit_conf(store, "limits", max_content=100, max_event=4096)
        err = self.fails("append", store, stdin=jsonl(msg(content="x" * 100),
                                                      msg(content="x" * 101)))
        self.assertTrue(err.startswith("chatjournal: append: line 2: field 'content': "), err)
        big = msg(content="x", metadata={"a": "b" * 5000})
        err = self.fails("append", store, stdin=jsonl(big))
        self.assertTrue(err.startswith("chatjournal: append: line 1: field 'metadata': "), err)
        err = self.fails("append", store, stdin=b"x" * (MIB + 1) + b"\n")
        self.assertTrue(err.startswith(
            "chatjournal: append: line 1: line longer than 1048576 bytes"), err)
        self.assertEqual(self.stats(store)["last_seq"], 1)

    def test_store_limits_raised(self):
        # Larger limits in chatjournal.conf admit what the defaults refuse.
        store = self.new_store()
        self.edit_conf(store, "limits", max_content=3 * MIB)
        self.assertEqual(self.ok("append", store, stdin=jsonl(msg(content="x" * (2 * MIB)))),
                         "appended 1 event, last sequence 1\n")

    def test_array_line(self):
        store = self.new_store()
        err = self.fails("append", store, stdin=jsonl(msg(), "[" + msg() + "]"))
        self.assertEqual(err, "chatjournal: append: line 2: expected one JSON object, "
                              "got an array\n")
        self.assertEqual(self.stats(store)["last_seq"], 1)

    def test_journal_full_names_the_line(self):
        # A commit that fails with several tickets in flight still stops at
        # one line: everything before it stored, nothing after.
        store = self.new_store()
        self.edit_conf(store, "journal", map_initial=MIB, map_ceiling=MIB)
        lines = [msg(content=f"{i} " + "y" * 1000) for i in range(3000)]
        err = self.fails("append", store, self.write("many.jsonl", jsonl(*lines)))
        m = re.match(r"chatjournal: append: line (\d+): journal full", err)
        self.assertTrue(m, err)
        bad = int(m.group(1))
        self.assertGreater(bad, 1)
        st = self.stats(store)
        self.assertEqual((st["events"], st["last_seq"]), (bad - 1, bad - 1))

    def test_conflict_in_flight(self):
        # The conflicting line sits in the second of several batches.
        store = self.new_store()
        self.ok("append", store, stdin=jsonl(msg(id="dup", content="A")))
        lines = [msg(content=f"m{i}") for i in range(1, 3501)]
        lines[1499] = msg(id="dup", content="B")
        err = self.fails("append", store, self.write("f.jsonl", jsonl(*lines)))
        self.assertTrue(err.startswith("chatjournal: append: line 1500: field 'id': "), err)
        st = self.stats(store)
        self.assertEqual((st["events"], st["last_seq"]), (1500, 1500))

    def test_idempotent_reappend(self):
        store = self.new_store()
        f = self.write("ids.jsonl", jsonl(msg(id="a"), msg(id="b", content="x"), msg(id="c")))
        self.assertEqual(self.ok("append", store, f), "appended 3 events, last sequence 3\n")
        before = self.stats(store)
        self.assertEqual(self.ok("append", store, f), "appended 3 events, last sequence 3\n")
        after = self.stats(store)
        for k in ("events", "last_seq", "idempotency_keys"):
            self.assertEqual(after[k], before[k], k)
        self.assertEqual((after["events"], after["idempotency_keys"]), (3, 3))

    def test_conflict(self):
        store = self.new_store()
        self.ok("append", store, stdin=jsonl(msg(id="a", content="first")))
        data = jsonl(msg(id="b"), msg(id="a", content="different"), msg(id="c"))
        err = self.fails("append", store, stdin=data)
        self.assertTrue(err.startswith("chatjournal: append: line 2: "), err)
        st = self.stats(store)
        self.assertEqual((st["events"], st["last_seq"], st["idempotency_keys"]), (2, 2, 2))

    def test_no_store(self):
        err = self.fails("append", self.dir / "nope", stdin=jsonl(msg()))
        self.assertTrue(err.startswith("chatjournal: append: cannot open store "), err)

    def test_no_input_file(self):
        store = self.new_store()
        err = self.fails("append", store, self.dir / "nope.jsonl")
        self.assertTrue(err.startswith("chatjournal: append: cannot open "), err)


class TestStats(CliCase):
    KEYS = ["events", "last_seq", "blobs", "blob_bytes", "idempotency_keys",
            "map_size", "map_used", "map_ceiling", "file_size"]

    def test_json_keys_and_values(self):
        store = self.new_store()
        self.ok("append", store, stdin=jsonl(msg(id="x"), msg(), msg(id="y")))
        out = self.ok("stats", store, "--json")
        st = json.loads(out)
        self.assertEqual(list(st), self.KEYS)
        self.assertEqual(st["events"], 3)
        self.assertEqual(st["last_seq"], 3)
        self.assertEqual(st["blobs"], 0)
        self.assertEqual(st["blob_bytes"], 0)
        self.assertEqual(st["idempotency_keys"], 2)
        self.assertEqual(st["map_size"], 64 * MIB)
        self.assertEqual(st["map_ceiling"], 64 << 30)
        self.assertEqual(st["file_size"], (store / "journal" / "data.mdb").stat().st_size)
        self.assertGreater(st["map_used"], 0)
        self.assertLessEqual(st["map_used"], st["map_size"])

    def test_empty_store(self):
        st = self.stats(self.new_store())
        self.assertEqual((st["events"], st["last_seq"], st["idempotency_keys"]), (0, 0, 0))

    def test_text(self):
        store = self.new_store()
        self.ok("append", store, stdin=jsonl(msg(), msg()))
        out = self.ok("stats", store)
        self.assertRegex(out, r"(?m)^events +2$")
        self.assertRegex(out, r"(?m)^last sequence +2$")
        self.assertRegex(out, r"(?m)^map size +64\.0 MiB \(67108864 bytes\)$")
        self.assertRegex(out, r"(?m)^map ceiling +64\.0 GiB \(68719476736 bytes\)$")

    def test_not_a_store(self):
        err = self.fails("stats", self.dir)
        self.assertTrue(err.startswith("chatjournal: stats: cannot open store "), err)


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        print(f"CJ_BIN does not name an executable: {BIN!r}", file=sys.stderr)
        return 1
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    bad = len(result.failures) + len(result.errors)
    print(f"cli: {result.testsRun} tests, {result.testsRun - bad - len(result.skipped)} "
          f"passed, {len(result.failures)} failed, {len(result.errors)} errors, "
          f"{len(result.skipped)} skipped")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
