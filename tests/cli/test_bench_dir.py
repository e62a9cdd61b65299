#!/usr/bin/env python3
"""`chatjournal bench ... --dir DIR` never deletes DIR (tests/cli).

Each benchmark makes its own scratch folder inside DIR (or inside $TMPDIR
without --dir) and removes only that: a sentinel file put in DIR beforehand
survives, and DIR holds nothing else afterwards. DIR's names have a space and
a quote, so that a removal through a shell would show. The smallest sizes the
benches accept keep this to a few seconds. Standard library only; CJ_BIN names
the binary.
"""
import json
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

BIN = os.environ.get("CJ_BIN", "")


class BenchDirCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cj-bench-dir-")
        self.use_dir("bench data")

    def use_dir(self, name):
        """DIR (a name a shell command would have to quote), with a sentinel."""
        self.data = Path(self.tmp.name) / name
        self.data.mkdir()
        self.sentinel = self.data / "sentinel"
        self.sentinel.write_text("keep me\n")

    def tearDown(self):
        self.tmp.cleanup()

    def bench(self, *args, env=None):
        r = subprocess.run([BIN, "bench", *map(str, args)], capture_output=True,
                           timeout=120, env=env)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return r

    def assert_only_sentinel(self):
        self.assertTrue(self.data.is_dir(), "the benchmark removed DIR itself")
        self.assertEqual(self.sentinel.read_text(), "keep me\n")
        self.assertEqual(sorted(p.name for p in self.data.iterdir()), ["sentinel"],
                         "the benchmark left its scratch folder behind")

    def test_materialize(self):
        self.bench("materialize", "--quick", "--events", 1, "--lag-seconds", 0, "--json",
                   "--dir", self.data)
        self.assert_only_sentinel()

    def test_query(self):
        self.bench("query", "--quick", "--events", 1, "--json", "--dir", self.data)
        self.assert_only_sentinel()

    def test_append(self):
        self.bench("append", "--quick", "--only", "batch_1", "--json", "--dir", self.data)
        self.assert_only_sentinel()

    def test_backup(self):
        self.bench("backup", "--quick", "--events", 100, "--seconds", 0.2, "--json",
                   "--dir", self.data)
        self.assert_only_sentinel()

    def test_tmpdir_without_dir(self):
        # Without --dir the scratch folder goes into $TMPDIR: same rule.
        self.use_dir("user's tmp")
        env = dict(os.environ, TMPDIR=str(self.data))
        self.bench("query", "--quick", "--events", 1, "--json", env=env)
        self.bench("http", "--quick", "--threads", 1, "--json", env=env)
        self.assert_only_sentinel()

    def test_feed(self):
        # bench feed runs a server and streams in-process; scratch in $TMPDIR
        self.use_dir("feed tmp")
        env = dict(os.environ, TMPDIR=str(self.data))
        r = self.bench("feed", "--quick", "--events", 1000, "--consumers", 3, "--seconds", 0.2,
                       "--json", env=env)
        out = json.loads(r.stdout)
        self.assertEqual((out["benchmark"], out["ok"], out["params"]["events"],
                          out["params"]["consumers"]), ("feed", True, 1000, 3))
        for k in ("iterator_events_per_s", "catch_up_1_consumer_events_per_s",
                  "catch_up_n_delivered_events_per_s", "append_alone_events_per_s",
                  "append_with_consumers_events_per_s"):
            self.assertGreater(out[k], 0, k)
        self.assert_only_sentinel()

    def test_dir_must_exist(self):
        # A missing DIR is an error, and the bench does not create it.
        missing = self.data / "missing"
        for args in (["materialize", "--quick", "--events", 1, "--lag-seconds", 0],
                     ["query", "--quick", "--events", 1],
                     ["append", "--quick", "--only", "batch_1"],
                     ["backup", "--quick", "--events", 100]):
            r = subprocess.run([BIN, "bench", *map(str, args), "--dir", str(missing)],
                               capture_output=True, timeout=120)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
            self.assertIn(b"missing", r.stderr)
            self.assertFalse(missing.exists())
        self.assert_only_sentinel()


if __name__ == "__main__":
    if not BIN or not os.access(BIN, os.X_OK):
        raise SystemExit("CJ_BIN must name the chatjournal binary")
    unittest.main(verbosity=2)
