#!/usr/bin/env python3
"""Leftovers of a killed replay or verify, cleaned at the next read-write
open (tests/cli; docs/operations.md, "Leftovers").

- Fake leftovers: chat.sqlite.replay-tmp with its -wal/-shm/-journal, and
  verify's files (verify-PID.sqlite and its sidecars, verify-PID.store/) of
  a dead PID and of a live one. A read-only open leaves everything; a
  read-write open removes the replay file and the dead PID's files, keeps
  the live PID's and files that only look alike. A read-write open beside a
  server (which holds the materializer lock) leaves the replay file alone.
- Real ones: `chatjournal replay` and `chatjournal verify` killed with
  SIGKILL while they write their temporary file; the next read-write open
  removes it.

Standard library only; CJ_BIN names the binary.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import clitest

BIN = os.environ.get("CJ_BIN", "")


def run_cj(*args, stdin=b""):
    return subprocess.run([BIN, *map(str, args)], input=stdin, capture_output=True, timeout=300)


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


class Leftovers(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cjtest-leftovers.")
        self.store = os.path.join(self.dir, "store")
        self.assertEqual(run_cj("init", self.store).returncode, 0)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.store, name)

    def touch(self, *names):
        for n in names:
            with open(self.path(n), "wb") as f:
                f.write(b"x" * 100)

    def fake_verify_files(self, pid):
        names = [f"verify-{pid}.sqlite", f"verify-{pid}.sqlite-wal",
                 f"verify-{pid}.sqlite-shm", f"verify-{pid}.sqlite.replay-tmp"]
        self.touch(*names)
        os.makedirs(self.path(f"verify-{pid}.store/journal"))
        self.touch(f"verify-{pid}.store/journal/data.mdb")
        return names + [f"verify-{pid}.store"]

    def present(self, names):
        return [n for n in names if os.path.lexists(self.path(n))]

    def rw_open(self):
        r = run_cj("append", self.store)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_fake_leftovers(self):
        replay = ["chat.sqlite.replay-tmp", "chat.sqlite.replay-tmp-wal",
                  "chat.sqlite.replay-tmp-shm", "chat.sqlite.replay-tmp-journal"]
        self.touch(*replay)
        dead = self.fake_verify_files(dead_pid())
        live_proc = subprocess.Popen(["sleep", "60"])
        try:
            live = self.fake_verify_files(live_proc.pid)
            alike = ["verify-notes.txt", "verify-0.sqlite", f"verify-{dead_pid()}.txt",
                     "chat.sqlite.replay-tmp.old"]
            self.touch(*alike)
            everything = replay + dead + live + alike
            self.assertEqual(run_cj("stats", self.store).returncode, 0)
            self.assertEqual(self.present(everything), everything, "a read-only open removed")
            self.rw_open()
            self.assertEqual(self.present(everything), live + alike)
        finally:
            live_proc.kill()
            live_proc.wait()
        # The live PID is gone now: the next read-write open takes its files too.
        self.rw_open()
        self.assertEqual(self.present(live + alike), alike)

    def test_replay_file_kept_beside_the_materializer(self):
        proc = subprocess.Popen([BIN, "serve", self.store, "--listen", "127.0.0.1:0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for raw in proc.stderr:
                if raw.startswith(b"listening on"):
                    break
            self.touch("chat.sqlite.replay-tmp")
            dead = self.fake_verify_files(dead_pid())
            self.rw_open()  # passive: serve holds the materializer lock
            self.assertEqual(self.present(["chat.sqlite.replay-tmp"] + dead),
                             ["chat.sqlite.replay-tmp"])
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
        self.rw_open()
        self.assertEqual(self.present(["chat.sqlite.replay-tmp"]), [])

    def kill_when(self, args, names_fn):
        """Run args, SIGKILL it once one of names_fn() exists; True if so."""
        proc = subprocess.Popen([BIN, *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if self.present(names_fn(proc.pid)):
                    proc.kill()
                    proc.wait()
                    return True
                time.sleep(0.001)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return False

    def big_store(self):
        lines = "".join(json.dumps({"type": "message", "thread": f"T{i % 20}", "role": "user",
                                    "content": f"event {i} " * 8}) + "\n"
                        for i in range(30000))
        r = run_cj("append", self.store, stdin=lines.encode())
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_killed_replay_and_verify(self):
        self.big_store()
        killed = self.kill_when(["replay", self.store], lambda pid: ["chat.sqlite.replay-tmp"])
        self.assertTrue(killed, "replay ended before its file was seen")
        self.assertEqual(self.present(["chat.sqlite.replay-tmp"]), ["chat.sqlite.replay-tmp"])
        self.rw_open()
        self.assertEqual(self.present(["chat.sqlite.replay-tmp"]), [])

        pids = []

        def verify_names(pid):
            pids.append(pid)
            return [f"verify-{pid}.sqlite.replay-tmp", f"verify-{pid}.sqlite"]
        killed = self.kill_when(["verify", self.store], verify_names)
        self.assertTrue(killed, "verify ended before its file was seen")
        left = [n for n in os.listdir(self.store) if n.startswith(f"verify-{pids[-1]}.")]
        self.assertNotEqual(left, [])
        self.assertEqual(run_cj("history", self.store, "T1").returncode, 0)
        self.assertEqual(self.present(left), left, "a read-only open removed")
        self.rw_open()
        self.assertEqual([n for n in os.listdir(self.store) if n.startswith("verify-")], [])
        self.assertTrue(json.loads(run_cj("verify", self.store, "--json").stdout)["ok"])


if __name__ == "__main__":
    sys.exit(clitest.main("cli-leftovers", sys.modules[__name__]))
