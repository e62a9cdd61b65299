#!/usr/bin/env python3
"""`chatjournal backup` and `chatjournal restore` as a user runs them
(docs/cli.md): output and --json, exit codes (0, 1 with one line on stderr,
2 for usage), modes under umask 022, list/prune/verify, a damaged file named,
refused destinations, --until by sequence number and by time, a restored
store that serves at once (`serve` answers a read with its token), and no
leftover listed. Standard library only; CJ_BIN names the binary."""
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402

BIN = os.environ.get("CJ_BIN", "")
DATA = Path(os.environ.get("CJ_TEST_DATA", Path(__file__).resolve().parent.parent / "data"))


def msg(i, thread="T1", **extra):
    ev = {"type": "message", "thread": thread, "role": "user", "content": f"message {i} lighthouse"}
    ev.update(extra)
    return json.dumps(ev)


class BackupCase(unittest.TestCase):
    def setUp(self):
        os.umask(0o022)
        self.tmp = tempfile.TemporaryDirectory(prefix="cj-backup-")
        self.dir = Path(self.tmp.name)
        self.store = self.dir / "store"
        self.ok("init", self.store)
        self.append([msg(i, id=f"m{i}") for i in range(20)])

    def tearDown(self):
        self.tmp.cleanup()

    def run_cj(self, *args, stdin=""):
        return subprocess.run([BIN, *map(str, args)], input=stdin, capture_output=True, text=True,
                              timeout=120)

    def ok(self, *args, stdin=""):
        r = self.run_cj(*args, stdin=stdin)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        return r.stdout

    def fails(self, *args, code=1):
        r = self.run_cj(*args)
        self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        lines = r.stderr.splitlines()
        if code == 1:
            self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("chatjournal: "), r.stderr)
        return r.stderr

    def append(self, lines):
        self.ok("append", self.store, "-", stdin="\n".join(lines) + "\n")

    def backup(self, *extra):
        return json.loads(self.ok("backup", self.store, "--json", *extra))

    def assert_modes(self, root):
        for top, dirs, files in os.walk(root):
            self.assertEqual(stat.S_IMODE(os.stat(top).st_mode), 0o700, top)
            for f in files:
                p = os.path.join(top, f)
                self.assertEqual(stat.S_IMODE(os.stat(p).st_mode), 0o600, p)

    # ---- backup ------------------------------------------------------------

    def test_backup_text_and_json(self):
        out = self.ok("backup", self.store)
        self.assertRegex(out, r"^backup .*/backups/\d{8}T\d{6}\.\d{3}Z-seq20: journal to "
                              r"sequence 20, projection at \d+, [\d.]+ KiB \(\d+ bytes\)\n$")
        m = self.backup()
        self.assertEqual(m["format"], "chatjournal-backup")
        self.assertEqual(m["format_version"], 1)
        self.assertEqual(m["journal"]["last_seq"], 20)
        self.assertLessEqual(m["projection"]["position"], 20)
        self.assertEqual([f["name"] for f in m["files"]],
                         ["chatjournal.conf", "chat.sqlite", "journal/data.mdb"])
        path = Path(m["path"])
        self.assertEqual(path.name, m["name"])
        self.assertEqual(json.loads((path / "MANIFEST.json").read_text())["checksum"], m["checksum"])
        self.assert_modes(self.store / "backups")
        # --to DIR, made on the way; list and verify by the folder.
        other = self.dir / "elsewhere"
        m2 = self.backup("--to", other)
        self.assertEqual(Path(m2["path"]).parent, other)
        self.assert_modes(other)
        listed = json.loads(self.ok("backup", "list", other, "--json"))
        self.assertEqual([b["path"] for b in listed], [m2["path"]])

    def test_usage(self):
        self.fails("backup", code=2)
        self.fails("backup", self.store, "--bogus", code=2)
        self.fails("backup", "list", code=2)
        self.fails("backup", "prune", self.store, "--keep-days", "x", code=2)
        self.fails("restore", "onlyone", code=2)
        self.fails("restore", "a", "b", "--until", "yesterday", code=2)
        self.fails("restore", "a", "b", "--until", "0", code=2)
        for args in (["backup", "--help"], ["backup", "list", "--help"], ["backup", "prune", "--help"],
                     ["backup", "verify", "--help"], ["restore", "--help"], ["help", "backup"]):
            out = self.ok(*args)
            self.assertTrue(out.startswith("usage: chatjournal "), args)
        self.fails("backup", self.dir / "nostore")

    # ---- list, prune, verify ---------------------------------------------------

    def test_list_prune_verify(self):
        names = [self.backup()["name"] for _ in range(3)]
        # A leftover of a dead process is not listed, and prune removes it.
        leftover = self.store / "backups" / ".tmp-backup-999999999-1"
        leftover.mkdir()
        text = self.ok("backup", "list", self.store)
        self.assertEqual([line.split()[0] for line in text.splitlines()], names)
        self.assertRegex(text.splitlines()[0], r"^\S+  \d{4}-\d\d-\d\dT\S+Z  seq 20  position \d+  ")
        listed = json.loads(self.ok("backup", "list", self.store, "--json"))
        self.assertEqual([b["name"] for b in listed], names)
        self.assertTrue(all(b["ok"] and b["last_seq"] == 20 for b in listed))
        out = self.ok("backup", "verify", listed[0]["path"])
        self.assertRegex(out, r"^files       ok \(3 files, .*\)\nstate       ok \(a replay to position "
                              r"\d+ of 20 has the projection's hash [0-9a-f]{32}\)\n$")
        v = json.loads(self.ok("backup", "verify", listed[0]["path"], "--json"))
        self.assertTrue(v["ok"] and v["equal"])
        # Retention from chatjournal.conf (7 days): nothing is that old.
        pruned = json.loads(self.ok("backup", "prune", self.store, "--json"))
        self.assertEqual(pruned, {"removed": [], "kept": names, "leftovers_removed": 1})
        self.assertFalse(leftover.exists())
        # --keep-days 0: all but the newest.
        out = self.ok("backup", "prune", self.store, "--keep-days", "0")
        self.assertEqual(out, f"removed {names[0]}\nremoved {names[1]}\nkept 1 backup\n")
        # A folder that is not a store needs --keep-days.
        err = self.fails("backup", "prune", self.store / "backups")
        self.assertIn("keep", err)

    def test_damaged_file_named(self):
        m = self.backup()
        bk = Path(m["path"])
        data = bk / "journal" / "data.mdb"
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0x10
        data.write_bytes(bytes(raw))
        r = self.run_cj("backup", "verify", bk)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"^files       FAILED: .*journal/data\.mdb: damaged")
        self.assertIn("journal/data.mdb", r.stderr)
        err = self.fails("restore", bk, self.dir / "r")
        self.assertIn("journal/data.mdb: damaged", err)
        self.assertFalse((self.dir / "r").exists())
        listed = json.loads(self.ok("backup", "list", self.store, "--json"))
        self.assertTrue(listed[0]["ok"])  # list reads manifests only
        (bk / "MANIFEST.json").write_text((bk / "MANIFEST.json").read_text().replace('"last_seq"', '"last_seX"'))
        listed = json.loads(self.ok("backup", "list", self.store, "--json"))
        self.assertFalse(listed[0]["ok"])
        self.assertIn("MANIFEST.json", listed[0]["error"])
        self.assertIn("DAMAGED", self.ok("backup", "list", self.store))

    # ---- restore ----------------------------------------------------------------

    def test_restore_whole_and_serve(self):
        token = self.ok("token", "add", self.store, "--read-only").strip()
        m = self.backup()
        self.append([msg(100)])  # after the backup: not in it
        dest = self.dir / "restored"
        out = self.ok("restore", m["path"], dest)
        self.assertTrue(out.startswith(f"restored {m['path']} into {dest}: 20 events"), out)
        self.assert_modes(dest)
        v = json.loads(self.ok("verify", dest, "--json"))
        self.assertTrue(v["ok"], v)
        hist = json.loads(self.ok("history", dest, "T1", "--json", "--limit", "100"))
        self.assertEqual(len(hist), 20)
        # Refused: a destination that is not empty (the same again).
        err = self.fails("restore", m["path"], dest)
        self.assertIn("not empty", err)
        # It serves at once, with the tokens it had.
        port = free_port()
        srv = subprocess.Popen([BIN, "serve", dest, "--listen", f"127.0.0.1:{port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            body = None
            for _ in range(100):
                try:
                    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/threads/T1/messages",
                                                 headers={"Authorization": f"Bearer {token}"})
                    body = json.loads(urllib.request.urlopen(req, timeout=5).read())
                    break
                except OSError:
                    time.sleep(0.05)
            self.assertIsNotNone(body)
            self.assertEqual(len(body["messages"] if isinstance(body, dict) else body), 20)
        finally:
            srv.terminate()
            srv.wait(timeout=30)

    def test_restore_until(self):
        m0 = None
        self.append([msg(i, thread="T2") for i in range(5)])  # 21..25
        time.sleep(0.05)
        m0 = self.backup()
        self.assertEqual(m0["journal"]["last_seq"], 25)
        r = json.loads(self.ok("restore", m0["path"], self.dir / "s10", "--until", "10", "--json"))
        self.assertEqual(r["last_seq"], 10)
        self.assertEqual(r["position"], 10)
        self.assertEqual(r["cut"], {"until_seq": 10})
        v = json.loads(self.ok("verify", self.dir / "s10", "--json"))
        self.assertTrue(v["ok"])
        self.assertEqual(v["state"]["position"], 10)
        out = self.ok("restore", m0["path"], self.dir / "s3", "--until", "3")
        self.assertIn("3 events, cut at sequence 3", out)
        # By time: the backup's creation time is after every commit in it.
        r = json.loads(self.ok("restore", m0["path"], self.dir / "t", "--until", m0["created"],
                               "--json"))
        self.assertEqual(r["last_seq"], 25)
        self.assertEqual(r["cut"]["until_seq"], 25)
        err = self.fails("restore", m0["path"], self.dir / "early", "--until", "2001-01-01T00:00:00Z")
        self.assertIn("first recorded", err)
        err = self.fails("restore", m0["path"], self.dir / "past", "--until", "26")
        self.assertIn("ends at sequence 25", err)
        self.assertFalse((self.dir / "early").exists())


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


if __name__ == "__main__":
    sys.exit(clitest.main("backup", sys.modules[__name__]))
