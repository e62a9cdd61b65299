#!/usr/bin/env python3
"""`chatjournal bench NAME --opt VALUE` refuses a value that is not a number
in range, naming the bench, the option and the value, and exits 2 before it
builds anything (bench/args.c). Standard library only; CJ_BIN names the
binary.
"""
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

BIN = os.environ.get("CJ_BIN", "")

# (bench, option, what it wants, refused values)
CASES = [
    ("append", "--events", "a count", ["0", "-1", "abc", "10x", "1e6"]),
    ("append", "--rounds", "a count", ["0", "16", "3x"]),
    ("append", "--seconds", "a number of seconds", ["0", "-1", "3601", "x", "1s"]),
    ("compact", "--events", "a count", ["0", "x", "-5"]),
    ("compact", "--rounds", "a count", ["0", "16", "2.5"]),
    ("backup", "--writers", "a count", ["0", "1000", "w"]),
    ("backup", "--seconds", "a number of seconds", ["0", "nan"]),
    ("feed", "--consumers", "a count", ["0", "257"]),
    ("feed", "--threads", "a count", ["0", "65"]),
    ("http", "--threads", "a count", ["0", "x"]),
    ("http", "--seconds", "a number of seconds", ["-2", "inf"]),
    ("import", "--rounds", "a count", ["0", "21"]),
    ("query", "--events", "a count", ["0", "12abc"]),
    ("materialize", "--events", "a count", ["none"]),
    ("sink", "--events", "a count", ["0"]),
    ("sink", "--rate", "a number of events per second", ["0", "-3", "fast"]),
    ("materialize", "--lag-seconds", "a number of seconds", ["-1", "3601", "1m"]),
]


class BenchArgs(unittest.TestCase):
    def test_refused_values(self):
        with tempfile.TemporaryDirectory(prefix="cj-bench-args-") as tmp:
            for bench, opt, wants, values in CASES:
                for v in values:
                    with self.subTest(bench=bench, opt=opt, value=v):
                        r = subprocess.run([BIN, "bench", bench, opt, v, "--dir", tmp]
                                           if bench not in ("http", "feed", "sink")
                                           else [BIN, "bench", bench, opt, v],
                                           capture_output=True, text=True, timeout=60)
                        self.assertEqual(r.returncode, 2, r.stderr)
                        self.assertIn(f"chatjournal: bench {bench}: {opt} wants {wants}", r.stderr)
                        self.assertIn(f"not '{v}'", r.stderr)
                        self.assertIn("usage:", r.stderr)
            self.assertEqual(list(Path(tmp).iterdir()), [], "a refused run left files behind")

    def test_accepted_value_runs(self):
        # the same parser lets a value in range through: the smallest compact run
        r = subprocess.run([BIN, "bench", "compact", "--quick", "--events", "200", "--rounds", "1",
                            "--json"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"rounds":1', r.stdout.replace(" ", ""))


if __name__ == "__main__":
    unittest.main()
