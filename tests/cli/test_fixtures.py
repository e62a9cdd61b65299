#!/usr/bin/env python3
"""Stores written by earlier releases still open, upgrade and verify.

tests/data/store-0.1.0/ was written by release 0.1.0 (its README says what it
holds). On a copy, this build must: read it read-only as it is; open it
read-write (the journal's format goes from 1 to 3, gaining the commits table;
the projection's schema is migrated forward: PRAGMA user_version becomes this
build's); keep every event and row (messages, blob, masked
setting, deletions still in effect); pass `verify` (a replay by this build
equals the migrated live projection); accept new appends. Standard library
only; CJ_BIN names the binary.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402

BIN = os.environ.get("CJ_BIN", "")
DATA = Path(os.environ.get("CJ_TEST_DATA", Path(__file__).resolve().parent.parent / "data"))
MIGRATIONS = Path(__file__).resolve().parent.parent.parent / "materializer" / "migrations"


def run(*args, check=True):
    r = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=120,
                       input="")
    if check and r.returncode != 0:
        raise AssertionError(f"chatjournal {' '.join(map(str, args))}: exit {r.returncode}: "
                             f"{r.stderr}")
    return r


class StoreFixture(unittest.TestCase):
    """A private copy of tests/data/FIXTURE, with the modes a store wants."""
    FIXTURE = ""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cj-fixture-")
        self.store = Path(self.tmp.name) / "store"
        # git keeps no modes: a checkout is 0644/0755, the store wants 0600/0700.
        shutil.copytree(DATA / self.FIXTURE, self.store)
        for root, dirs, files in os.walk(self.store):
            os.chmod(root, 0o700)
            for f in files:
                os.chmod(os.path.join(root, f), 0o600)

    def tearDown(self):
        self.tmp.cleanup()

    def sql(self, query):
        db = sqlite3.connect(f"file:{self.store / 'chat.sqlite'}?mode=ro", uri=True)
        try:
            return db.execute(query).fetchall()
        finally:
            db.close()


class Release010(StoreFixture):
    FIXTURE = "store-0.1.0"

    def test_opens_upgrades_and_verifies(self):
        self.assertEqual(self.sql("PRAGMA user_version"), [(1,)])
        stats = json.loads(run("stats", self.store, "--json").stdout)
        self.assertEqual(stats["last_seq"], 21)
        self.assertEqual(stats["position"], 21)
        self.assertEqual(stats["blobs"], 1)

        # A read-write open migrates the projection and materializes appends.
        ev = {"type": "message", "thread": "T2", "role": "user", "content": "after the upgrade"}
        r = subprocess.run([BIN, "append", str(self.store), "--json", "-"],
                           input=json.dumps(ev) + "\n", capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"appended": 1, "last_seq": 22, "duplicates": 0,
                                                "deleted_duplicates": 0})
        migrations = len(list(MIGRATIONS.glob("[0-9][0-9][0-9]_*.sql")))
        self.assertGreaterEqual(migrations, 2)
        self.assertEqual(self.sql("PRAGMA user_version"), [(migrations,)])
        self.assertEqual(self.sql("SELECT count(*) FROM damaged_records"), [(0,)])
        # The journal was upgraded to format 4: format_version 4 and a commits
        # table holding the new group commit (lmdb-utils reads it as is).
        meta = subprocess.run(["mdb_dump", "-s", "meta", str(self.store / "journal")],
                              capture_output=True, text=True, check=True).stdout.split()
        self.assertEqual(meta[meta.index("666f726d61745f76657273696f6e") + 1], "00000004")
        # commits_from: the 21 events of 0.1.0 have no commit time, from 22 on they do.
        self.assertEqual(meta[meta.index(b"commits_from".hex()) + 1], "%016x" % 22)
        commits = subprocess.run(["mdb_stat", "-s", "commits", str(self.store / "journal")],
                                 capture_output=True, text=True, check=True).stdout
        self.assertIn("Entries: 1", commits)

        v = json.loads(run("verify", self.store, "--json").stdout)
        self.assertTrue(v["ok"], v)
        self.assertEqual(v["state"]["position"], 22)

        # The 0.1.0 events are all there, deletions still in effect.
        hist = json.loads(run("history", self.store, "T2", "--json").stdout)
        self.assertEqual([m["content"] for m in hist],
                         ["Bonjour, ça va? 日本語のテキスト", "Très bien", "after the upgrade"])
        self.assertEqual(json.loads(run("history", self.store, "T4", "--json").stdout), [])
        self.assertEqual(self.sql("SELECT count(*) FROM messages m JOIN users u USING (user_rowid)"
                                  " WHERE u.user = 'U3'"), [(0,)])
        self.assertEqual(self.sql("SELECT value FROM settings WHERE key = 'api.key'"),
                         [('"***"',)])
        self.assertEqual(self.sql("SELECT size, mime_type FROM blobs"), [(33, "image/png")])
        found = json.loads(run("search", self.store, "lighthouse", "--json").stdout)
        self.assertEqual({m["seq"] for m in found}, {3, 4})

    def test_compacts(self):
        # The 0.1.0 store's deletions (clear_history of U3, delete_thread of
        # T4) and its sensitive setting are erased from every file by
        # compact; the state hash is still the one 0.1.0 computed.
        gone = [b"to be cleared", b"to be deleted with its thread", b"sk-fixture-secret"]
        kept = [b"Bonjour", b"lighthouse"]

        def found(needle):
            return [str(p) for p in self.store.rglob("*") if p.is_file() and needle in p.read_bytes()]

        for g in gone:
            self.assertTrue(found(g), g)  # the scan sees them before
        db = self.store / "chat.sqlite"
        inode = db.stat().st_ino
        r = json.loads(run("compact", self.store, "--json").stdout)
        self.assertEqual((r["messages"], r["images"], r["settings"]), (2, 0, 1), r)
        for g in gone:
            self.assertEqual(found(g), [], g)
        # A file written before migration 006 may hold deleted bytes in any
        # page: its first scrub is a new file (another inode), marked zeroed,
        # so that the next compaction scrubs it in place.
        self.assertNotEqual(db.stat().st_ino, inode)
        self.assertEqual(self.sql("SELECT zeroed FROM scrub_state"), [(1,)])
        for k in kept:
            self.assertTrue(found(k), k)
        v = json.loads(run("verify", self.store, "--json").stdout)
        self.assertTrue(v["ok"], v)
        # 0.1.0 computed 4a53b80b48ec9e164471ba86c9c47408; the schema of 0.3
        # (004_chat_model.sql) has more tables and columns to hash, and
        # 007_message_extras.sql one more column (e6ca2068... before it),
        # 009_messages_tail.sql one more table (62ae0a3a... before it).
        self.assertEqual(v["state"]["live_hash"], "d27fbe33e861e3c76280140056bfb398")

    def test_backup_after_upgrade_and_restore(self):
        # Release 0.1.0 had no backup command: no 0.1.0 backup exists. Its
        # store is upgraded on a copy (a read-write open), backed up by this
        # build, verified and restored.
        run("append", self.store, "-", check=True)  # no event: the open upgrades
        m = json.loads(run("backup", self.store, "--json").stdout)
        self.assertEqual(m["journal"], {"last_seq": 21, "format_version": 4})
        migrations = len(list(MIGRATIONS.glob("[0-9][0-9][0-9]_*.sql")))
        self.assertEqual(m["projection"], {"position": 21, "schema_version": migrations})
        self.assertTrue(json.loads(run("backup", "verify", m["path"], "--json").stdout)["ok"])
        dest = Path(self.tmp.name) / "restored"
        run("restore", m["path"], dest)
        self.assertTrue(json.loads(run("verify", dest, "--json").stdout)["ok"])
        hist = json.loads(run("history", dest, "T2", "--json").stdout)
        self.assertEqual([h["content"] for h in hist], ["Bonjour, ça va? 日本語のテキスト", "Très bien"])
        self.assertEqual(json.loads(run("history", dest, "T4", "--json").stdout), [])
        # Its events were committed before format 2: no commit time to cut at.
        r = run("restore", m["path"], Path(self.tmp.name) / "by-time", "--until",
                "2030-01-01T00:00:00Z", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("records no commit times", r.stderr)
        cut = Path(self.tmp.name) / "by-seq"
        run("restore", m["path"], cut, "--until", "10")
        v = json.loads(run("verify", cut, "--json").stdout)
        self.assertTrue(v["ok"], v)
        self.assertEqual(v["state"]["position"], 10)
        self.assertEqual([h["seq"] for h in json.loads(run("history", cut, "T2", "--json").stdout)],
                         [9, 10])

    def test_backup_of_the_old_store_as_it_is(self):
        # A read-only backup leaves the 0.1.0 journal and schema as they are;
        # the restored store upgrades at its first read-write open.
        m = json.loads(run("backup", self.store, "--json").stdout)
        self.assertEqual(m["journal"], {"last_seq": 21, "format_version": 1})
        self.assertEqual(m["projection"], {"position": 21, "schema_version": 1})
        self.assertTrue(json.loads(run("backup", "verify", m["path"], "--json").stdout)["ok"])
        dest = Path(self.tmp.name) / "restored"
        run("restore", m["path"], dest)
        self.assertTrue(json.loads(run("verify", dest, "--json").stdout)["ok"])
        run("append", dest, "-")
        self.assertTrue(json.loads(run("verify", dest, "--json").stdout)["ok"])

    def test_backup_fixture_of_layout_1(self):
        # tests/data/backup-1 was written by the first build with backups
        # (layout 1): every later build restores and verifies it.
        bk = Path(self.tmp.name) / "backup-1"
        shutil.copytree(DATA / "backup-1", bk)
        for root, dirs, files in os.walk(bk):
            os.chmod(root, 0o700)
            for f in files:
                os.chmod(os.path.join(root, f), 0o600)
        name = next(p for p in bk.iterdir() if p.is_dir())
        v = json.loads(run("backup", "verify", name, "--json").stdout)
        self.assertTrue(v["ok"], v)
        self.assertEqual(v["last_seq"], 21)
        dest = Path(self.tmp.name) / "restored"
        run("restore", name, dest)
        self.assertTrue(json.loads(run("verify", dest, "--json").stdout)["ok"])
        found = json.loads(run("search", dest, "lighthouse", "--json").stdout)
        self.assertEqual({m["seq"] for m in found}, {3, 4})
        # Its journal is format 2 with commits_from 22: the upgrade to 4 at the
        # first read-write open keeps it (events 1..21 have no commit time).
        run("append", dest, "-")
        meta = subprocess.run(["mdb_dump", "-s", "meta", str(dest / "journal")],
                              capture_output=True, text=True, check=True).stdout.split()
        self.assertEqual(meta[meta.index(b"format_version".hex()) + 1], "00000004")
        self.assertEqual(meta[meta.index(b"commits_from".hex()) + 1], "%016x" % 22)

    def test_replay_of_the_old_journal(self):
        out = Path(self.tmp.name) / "replayed.sqlite"
        run("replay", self.store, "--out", out)
        db = sqlite3.connect(f"file:{out}?mode=ro", uri=True)
        try:
            self.assertEqual(db.execute("SELECT seq FROM journal_position").fetchall(), [(21,)])
            self.assertEqual(db.execute("SELECT seq FROM messages ORDER BY seq").fetchall(),
                             [(3,), (4,), (9,), (10,)])
        finally:
            db.close()


class StoreBeforeChatModel(StoreFixture):
    """tests/data/store-main-717fc9f: journal format 3 (with tombstones),
    projection schema 3, written by the last build before event schema 0.3."""
    FIXTURE = "store-main-717fc9f"

    def append(self, *events, check=True):
        r = subprocess.run([BIN, "append", str(self.store), "--json", "-"],
                           input="".join(json.dumps(e) + "\n" for e in events),
                           capture_output=True, text=True, timeout=60)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_upgrades_rebuilds_and_takes_the_new_events(self):
        self.assertEqual(self.sql("PRAGMA user_version"), [(3,)])
        self.assertEqual(json.loads(run("stats", self.store, "--json").stdout)["last_seq"], 18)
        # The first read-write open migrates (schema 4: the projection is
        # re-applied from the journal, tombstones included) and upgrades the
        # journal to format 4.
        self.append({"type": "edit_message", "thread": "T2", "target": "m7",
                     "content": "after the deletions (edited)", "editor": "U2",
                     "ts": "2025-03-04T00:00:00Z"},
                    {"type": "reaction", "thread": "T1", "target": "m1", "emoji": "wave",
                     "user": "U2", "ts": "2025-03-04T00:00:01Z"},
                    {"type": "delete_message", "thread": "T1", "target": "m2",
                     "ts": "2025-03-04T00:00:02Z"})
        self.assertEqual(self.sql("PRAGMA user_version"),
                         [(len(list(MIGRATIONS.glob("[0-9][0-9][0-9]_*.sql"))),)])
        meta = subprocess.run(["mdb_dump", "-s", "meta", str(self.store / "journal")],
                              capture_output=True, text=True, check=True).stdout.split()
        self.assertEqual(meta[meta.index("666f726d61745f76657273696f6e") + 1], "00000004")
        v = json.loads(run("verify", self.store, "--json").stdout)
        self.assertTrue(v["ok"], v)
        self.assertEqual(v["state"]["position"], 21)

        # Every row of the old store is back, deletions still in effect.
        t1 = json.loads(run("history", self.store, "T1", "--json").stdout)
        self.assertEqual([(m["seq"], m["role"], m.get("content")) for m in t1],
                         [(4, "user", "the lighthouse keeper waves"), (6, "tool", '{"temp":21}')])
        self.assertEqual(t1[0]["reactions"], {"wave": 1})
        t2 = json.loads(run("history", self.store, "T2", "--json").stdout)
        self.assertEqual([(m["content"], m.get("edited_ts")) for m in t2],
                         [("Grüße aus Köln, 日本語", None),
                          ("after the deletions (edited)", "2025-03-04T00:00:00.000Z")])
        self.assertEqual(json.loads(run("history", self.store, "T4", "--json").stdout), [])
        self.assertEqual(json.loads(run("history", self.store, "T3", "--json").stdout), [])
        # The time zone 0.3 refuses at append stays what the stored event said.
        # first_seen is the earliest event time (0.3): U1's backdated message
        # of 2024-01-01 (purged since, a tombstone now) was appended after
        # U1's profile of 2025-03-01; the old rule kept the latter.
        self.assertEqual(self.sql("SELECT user, timezone, first_seen FROM users ORDER BY user"),
                         [("U1", "Europe/Paris", "2024-01-01T00:00:00.000Z"),
                          ("U2", "Not/AZone", "2025-03-01T09:00:01.000Z")])
        self.assertEqual(self.sql("SELECT value FROM settings WHERE key = 'api.key'"), [('"***"',)])
        self.assertEqual(self.sql("SELECT size FROM blobs"), [(32,)])
        r = self.append({"type": "user", "user": "U2", "timezone": "Not/AZone"}, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("field 'timezone': 'Not/AZone' is not a time zone of the tz database",
                      r.stderr)

        # Compaction redacts the deleted message and the pre-edit text.
        # Compaction redacts the deleted message (m2) and the pre-edit text of
        # m7 (a partial tombstone: the rest of the message stays).
        before = (self.store / "journal" / "data.mdb").read_bytes()
        self.assertIn(b"ahoy from the tower", before)
        r = json.loads(run("compact", self.store, "--json").stdout)
        self.assertEqual((r["messages"], r["edits"]), (1, 1), r)
        # the store's own files (events.jsonl and the README beside them hold the text)
        after = b"".join(p.read_bytes() for p in self.store.rglob("*") if p.is_file()
                         and (p.parent.name == "journal" or p.name.startswith("chat.sqlite")))
        self.assertFalse(b"ahoy from the tower" in after, "a deleted message's text survived")
        self.assertTrue(b"after the deletions (edited)" in after)
        self.assertEqual(after.count(b"after the deletions"),
                         after.count(b"after the deletions (edited)"), "pre-edit text survived")
        v = json.loads(run("verify", self.store, "--json").stdout)
        self.assertTrue(v["ok"], v)
        self.assertEqual(self.sql("SELECT old_content, content FROM message_edits"),
                         [("", "after the deletions (edited)")])


if __name__ == "__main__":
    sys.exit(clitest.main("fixtures", sys.modules[__name__]))
