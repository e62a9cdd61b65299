#!/usr/bin/env python3
"""verify and the open-time checks beside a server taking writes (tests/cli).

A store of a few thousand events is served by `chatjournal serve`; a client
thread posts batches in bursts of 0.2-0.6 s separated by 0.5-1.5 s of quiet
(the projection moves, pauses, moves again).
Meanwhile:

- `chatjournal verify` runs CJ_VERIFY_LOAD_RUNS times. It must never report
  the projection ahead of the journal (it compares the live position with
  the journal's end read after it), its journal step (the page walk, every
  record, id and blob) must pass, and its state step must pass or report
  that the projection kept changing.
- `chatjournal stats` (a read-only open) and `chatjournal append` (a
  read-write open beside the server's materializer) run in a loop: the
  checks every open makes of the journal file (its size against the meta
  pages, the pages every open reads, a writer's free list) must never take
  the live writer's work for damage.

Standard library only; CJ_BIN names the binary.
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import clitest

BIN = os.environ.get("CJ_BIN", "")
RUNS = int(os.environ.get("CJ_VERIFY_LOAD_RUNS", "6"))
TOKEN_RE = re.compile(r"cjt_[0-9a-f]{16}_[0-9a-f]{64}")


def run_cj(*args, stdin=b""):
    return subprocess.run([BIN, *map(str, args)], input=stdin, capture_output=True, timeout=300)


def message(i, thread="T1"):
    return {"type": "message", "thread": thread, "role": "user", "content": f"event {i} " * 8}


class VerifyUnderLoad(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cjtest-verify-load.")
        self.store = os.path.join(self.dir, "store")
        self.assertEqual(run_cj("init", self.store).returncode, 0)
        lines = "".join(json.dumps(message(i, f"T{i % 20}")) + "\n" for i in range(4000))
        r = run_cj("append", self.store, stdin=lines.encode())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.proc = subprocess.Popen([BIN, "serve", self.store, "--listen", "127.0.0.1:0"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addr = self.token = None
        for raw in self.proc.stderr:
            line = raw.decode()
            m = TOKEN_RE.search(line)
            if m:
                self.token = m.group(0)
            if line.startswith("listening on "):
                self.addr = line.split()[2]
            if self.addr and self.token:
                break
        self.assertTrue(self.addr and self.token, "serve did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)

    def post(self, events):
        req = urllib.request.Request(f"http://{self.addr}/v1/events",
                                     data=json.dumps(events).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()

    def writer(self, stop, counts):
        """Bursts of posts, then quiet: verify's retries find a quiet moment
        after its first attempt saw the projection move (the old bug's
        window), even in a slow sanitizer build."""
        rng = random.Random(1)
        i = 10000
        while not stop.is_set():
            end = time.monotonic() + rng.uniform(0.2, 0.6)
            while time.monotonic() < end and not stop.is_set():
                self.post([message(i + k, f"T{rng.randrange(20)}") for k in range(50)])
                i += 50
                counts["posted"] += 50
                # At most ~2,500 events/s in a burst: a server that answers
                # faster must not grow the journal without bound (each verify
                # replays all of it).
                stop.wait(0.02)
            stop.wait(rng.uniform(0.5, 1.5))

    def opener(self, stop, problems, counts):
        ev = json.dumps(message(0, "opener")).encode() + b"\n"
        while not stop.is_set():
            for args, stdin in ((("stats", self.store), b""), (("append", self.store), ev)):
                r = run_cj(*args, stdin=stdin)
                counts["opens"] += 1
                if r.returncode != 0:
                    problems.append(f"{args[0]}: {r.stderr.decode().strip()}")

    def test_verify_beside_a_busy_server(self):
        stop = threading.Event()
        problems, counts = [], {"posted": 0, "opens": 0}
        threads = [threading.Thread(target=self.writer, args=(stop, counts)),
                   threading.Thread(target=self.opener, args=(stop, problems, counts))]
        for t in threads:
            t.start()
        outcomes = []
        try:
            for _ in range(RUNS):
                r = run_cj("verify", self.store, "--json")
                v = json.loads(r.stdout)
                state = v["state"].get("error", "")
                outcomes.append(f"ok at {v['state']['position']}" if v["ok"] else "kept changing"
                                if "kept changing" in state else state or r.stderr.decode())
                self.assertNotIn("ahead", state)
                self.assertTrue(v["journal"]["ok"], v["journal"])
                self.assertTrue(v["projection"]["ok"], v["projection"])
                self.assertTrue(v["ok"] or "kept changing" in state, v)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        print(f"verify-load: {RUNS} verify runs beside serve: {outcomes}; {counts['posted']} "
              f"events posted, {counts['opens']} opens beside it", flush=True)
        self.assertEqual(problems, [])
        self.assertGreater(counts["opens"], 0)


if __name__ == "__main__":
    sys.exit(clitest.main("cli-verify-load", sys.modules[__name__]))
