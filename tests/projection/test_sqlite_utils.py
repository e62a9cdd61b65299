#!/usr/bin/env python3
"""tests/projection/test_sqlite_utils.py CHATJOURNAL_BINARY

sqlite-utils (Debian's, the analysts' tool) against a store written by the
real `chatjournal` binary: `init`, `append STORE FILE`, wait until the
projection has applied every event (`stats --json`: its "lag" when it has
one, else last_seq against journal_position read with a read-only
connection), then `sqlite-utils search` and `sqlite-utils rows` give exact
results, deleted content stays unfindable, and on a COPY of chat.sqlite
`disable-fts` then `enable-fts --create-triggers` still lets `search` find
the words. Standard library only. Exit 77 (skip) only if sqlite-utils is not
installed.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

BIN = sys.argv.pop(1) if len(sys.argv) > 1 else os.environ.get("CJ_BIN", "")
SQLITE_UTILS = shutil.which("sqlite-utils") or (
    "/usr/bin/sqlite-utils" if os.access("/usr/bin/sqlite-utils", os.X_OK) else None)

T0 = 1714557600000  # 2024-05-01T10:00:00.000Z


def ts_text(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def message(seq, thread, thread_rowid, user_rowid, role, content, ts, server=None, msg_id=None,
            metadata=None):
    """A messages row as sqlite-utils prints it (columns in table order)."""
    return {"seq": seq, "thread_rowid": thread_rowid, "user_rowid": user_rowid, "role": role,
            "content": content, "server": server, "channel": None, "message_ts": None,
            "metadata": metadata, "id": msg_id, "ts_ms": ts, "ts": ts_text(ts),
            # the columns 0.3 added (004_chat_model.sql), none of them set here
            "reply_to": None, "parent": None, "name": None, "tool_call_id": None,
            "tool_calls": None, "edited_ts_ms": None, "edited_ts": None,
            # 007_message_extras.sql: no attachments (bit 1), no reactions (bit 2)
            "extras": 0}


# The projection's own triggers: they keep messages_tail (009_messages_tail.sql).
TAIL_TRIGGERS = ["messages_tail_delete", "messages_tail_fixed", "messages_tail_insert",
                 "messages_tail_update"]

EVENTS = [
    # seq 1..8
    {"type": "message", "id": "m-1", "thread": "T1", "role": "user", "user": "U1", "server": "S1",
     "content": "the lighthouse keeper waves", "metadata": {"k": 1}, "ts": T0},
    {"type": "message", "thread": "T1", "role": "assistant",
     "content": "ahoy from the lighthouse tower", "ts": T0 + 1000},
    {"type": "message", "thread": "T2", "role": "user", "user": "U2", "server": "S1",
     "content": "nothing to see here", "ts": T0 + 2000},
    {"type": "image", "thread": "T1", "url": "https://cdn.example/a.png", "prompt": "lighthouse at dusk",
     "analysis": "a tall tower", "ts": T0 + 3000},
    {"type": "message", "thread": "T3", "role": "user", "user": "U3", "server": "S2",
     "content": "lighthouse secret plans", "ts": T0 + 4000},
    {"type": "setting", "key": "bot.name", "value": "keeper", "ts": T0 + 5000},
    {"type": "clear_history", "user": "U3", "ts": T0 + 6000},
    {"type": "message", "thread": "T2", "role": "user", "user": "U2", "server": "S1",
     "content": "lightning strikes the Lighthouse", "ts": T0 + 7000},
]

ROW1 = message(1, "T1", 1, 1, "user", "the lighthouse keeper waves", T0, server="S1", msg_id="m-1",
               metadata='{"k":1}')
ROW2 = message(2, "T1", 1, None, "assistant", "ahoy from the lighthouse tower", T0 + 1000)
ROW3 = message(3, "T2", 2, 2, "user", "nothing to see here", T0 + 2000, server="S1")
ROW8 = message(8, "T2", 2, 2, "user", "lightning strikes the Lighthouse", T0 + 7000, server="S1")


def with_rowid(row):
    return {"rowid": row["seq"], **row}


class SqliteUtilsCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cj-sqlite-utils-")
        cls.dir = Path(cls.tmp.name)
        cls.store = cls.dir / "store"
        cls.db = cls.store / "chat.sqlite"
        r = cls.run_cmd([BIN, "init", str(cls.store)])
        assert r.returncode == 0, r.stderr
        events = cls.dir / "events.jsonl"
        events.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
        r = cls.run_cmd([BIN, "append", str(cls.store), str(events), "--json"])
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert {k: out[k] for k in ("appended", "last_seq")} == {"appended": len(EVENTS), "last_seq": len(EVENTS)}, out
        cls.wait_caught_up(len(EVENTS))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def run_cmd(args, stdin=b""):
        return subprocess.run(args, input=stdin, capture_output=True, timeout=120)

    @classmethod
    def position(cls):
        con = sqlite3.connect("file:%s?mode=ro" % cls.db, uri=True, timeout=10)
        try:
            return con.execute("SELECT seq FROM journal_position WHERE id = 1").fetchone()[0]
        finally:
            con.close()

    @classmethod
    def wait_caught_up(cls, last_seq, timeout=30.0):
        """Poll `stats --json` until the projection lags by 0."""
        end = time.monotonic() + timeout
        nudges = 0
        while True:
            r = cls.run_cmd([BIN, "stats", str(cls.store), "--json"])
            assert r.returncode == 0, r.stderr
            stats = json.loads(r.stdout)
            assert stats["last_seq"] == last_seq, stats
            if "lag" in stats:
                lag = stats["lag"]
            else:
                # `stats` reports journal figures only: measure the lag
                # against the projection's own position.
                lag = stats["last_seq"] - cls.position()
            if lag == 0:
                if nudges:
                    print("note: the projection lagged after `append` exited; caught up after "
                          "%d read-write open(s) of the store" % nudges, file=sys.stderr)
                return
            if time.monotonic() > end:
                raise AssertionError("projection still %d events behind after %.0f s" % (lag, timeout))
            # Nothing materializes a store that no process holds open
            # read-write: open it read-write (append of nothing) so the
            # materializer catches up.
            if nudges < 50:
                r = cls.run_cmd([BIN, "append", str(cls.store), "-"])
                assert r.returncode == 0, r.stderr
                nudges += 1
            time.sleep(0.1)

    def sqlite_utils(self, *args):
        r = self.run_cmd([SQLITE_UTILS, *map(str, args)])
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return r.stdout.decode()

    def search(self, db, table, word, *extra):
        return json.loads(self.sqlite_utils("search", db, table, word, "-o", "seq", *extra))

    def test_search_messages(self):
        self.assertEqual(self.search(self.db, "messages", "lighthouse"),
                         [with_rowid(ROW1), with_rowid(ROW2), with_rowid(ROW8)])
        self.assertEqual(self.search(self.db, "messages", "keeper"), [with_rowid(ROW1)])
        self.assertEqual(self.search(self.db, "messages", "lightning"), [with_rowid(ROW8)])
        # sqlite-utils' own prefix syntax goes straight to FTS5.
        self.assertEqual([r["seq"] for r in self.search(self.db, "messages", "light*")], [1, 2, 8])
        # Cleared by clear_history: neither the row nor its words remain.
        self.assertEqual(self.search(self.db, "messages", "secret"), [])
        self.assertEqual(self.search(self.db, "messages", "plans"), [])

    def test_search_images(self):
        rows = self.search(self.db, "images", "dusk")
        self.assertEqual([(r["rowid"], r["seq"], r["prompt"], r["analysis"]) for r in rows],
                         [(4, 4, "lighthouse at dusk", "a tall tower")])
        self.assertEqual([r["seq"] for r in self.search(self.db, "images", "tower")], [4])

    def test_rows(self):
        rows = json.loads(self.sqlite_utils("rows", self.db, "messages", "-o", "seq"))
        self.assertEqual(rows, [ROW1, ROW2, ROW3, ROW8])
        users = json.loads(self.sqlite_utils("rows", self.db, "users", "-c", "user", "-c", "user_rowid",
                                             "-o", "user_rowid"))
        self.assertEqual(users, [{"user": "U1", "user_rowid": 1}, {"user": "U2", "user_rowid": 2},
                                 {"user": "U3", "user_rowid": 3}])

    def test_fts_tables_detected(self):
        fts = json.loads(self.sqlite_utils("tables", self.db, "--fts5"))
        self.assertEqual(sorted(t["table"] for t in fts), ["images_fts", "messages_fts"])

    def test_copy_disable_then_enable_fts(self):
        copy = self.dir / "copy.sqlite"
        src = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        dst = sqlite3.connect(str(copy))
        src.backup(dst)
        src.close()
        dst.close()
        self.sqlite_utils("disable-fts", copy, "messages")
        con = sqlite3.connect(str(copy))
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        con.close()
        self.assertNotIn("messages_fts", names)
        self.sqlite_utils("enable-fts", copy, "messages", "content", "--create-triggers")
        self.assertEqual(self.search(copy, "messages", "lighthouse"),
                         [with_rowid(ROW1), with_rowid(ROW2), with_rowid(ROW8)])
        self.assertEqual(self.search(copy, "messages", "secret"), [])
        con = sqlite3.connect(str(copy))
        triggers = sorted(r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        con.close()
        # sqlite-utils' three beside the store's own (009_messages_tail.sql)
        self.assertEqual(triggers, ["messages_ad", "messages_ai", "messages_au"] + TAIL_TRIGGERS)
        # The store's own file is untouched: same search, its triggers only.
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        own = sorted(r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        con.close()
        self.assertEqual(own, TAIL_TRIGGERS)
        self.assertEqual([r["seq"] for r in self.search(self.db, "messages", "lighthouse")], [1, 2, 8])


if __name__ == "__main__":
    if not SQLITE_UTILS:
        print("sqlite-utils is not installed: skipping", file=sys.stderr)
        sys.exit(77)
    if not BIN or not os.access(BIN, os.X_OK):
        print("usage: test_sqlite_utils.py CHATJOURNAL_BINARY", file=sys.stderr)
        sys.exit(2)
    unittest.main(verbosity=2)
