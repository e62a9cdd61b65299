#!/usr/bin/env python3
"""tests/sink/test_sink.py — `chatjournal sink` against a throwaway PostgreSQL
server (tests/sink/pgtmp.py), black box.

- A fleet: 4 stores with overlapping thread and user names, each with a
  workload of every event type (deletions of every kind included, blobs),
  sunk into ONE database: each store's rows in PostgreSQL equal its own
  SQLite projection (`chatjournal sink verify`: per-table canonical hashes),
  and the stores' rows are told apart by store_id.
- Following: a running sink applies new events within a bound and stops
  cleanly on SIGTERM.
- The checker can fail: a changed row, a changed count, a missing row in
  PostgreSQL are each reported as "differs" (negative controls).
- Errors: a bad DSN, an unreachable server (gives up), a schema of a newer
  version, a foreign "chatjournal" schema, a store id of another journal,
  usage errors, --help.
- kill -9 of the sink at random moments (CJ_SINK_CRASH_CYCLES, default 50)
  and PostgreSQL restarts (CJ_SINK_PG_RESTARTS, default 5, fast and
  immediate) while a workload appends: afterwards nothing is lost or
  doubled (the comparison is equal, the position is the journal's end).
  Negative control: the same loop with the position committed in a
  separate transaction (CJ_SINK_TEST_SPLIT_POSITION=1) must be caught
  (a duplicate key stops the sink, or the comparison differs) within
  CJ_SINK_CONTROL_CYCLES (default 60) cycles.

Usage: test_sink.py CHATJOURNAL SINK_WORKLOAD. Skipped (exit 77) only when
Debian's PostgreSQL binaries are absent. Env: CJ_SINK_SEED (printed).
"""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtmp import PgTmp  # noqa: E402

BIN, WORKLOAD = sys.argv[1], sys.argv[2]
del sys.argv[1:3]
SEED = int(os.environ.get("CJ_SINK_SEED", str(int(time.time()) % 100000)))
PG = None


def run(*args, check=True, timeout=300, env=None):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (" ".join(args), r.returncode, r.stdout,
                                                      r.stderr))
    return r


class Store:
    def __init__(self, root, name):
        self.path = os.path.join(root, name)
        run(BIN, "init", self.path)

    def workload(self, seed, count, rate=0):
        out = run(WORKLOAD, self.path, str(seed), str(count), str(rate)).stdout
        return int(re.search(r"last (\d+)", out).group(1))

    def sink_once(self, store_id, env=None, check=True):
        return run(BIN, "sink", "postgres", self.path, "--dsn", PG.dsn, "--store-id", store_id,
                   "--once", check=check, env=env)

    def verify(self, store_id, check=True):
        return run(BIN, "sink", "verify", self.path, "--dsn", PG.dsn, "--store-id", store_id,
                   check=check)


def tables(report):
    """{table: (rows, hash)} of a verify report."""
    out = {}
    for line in report.splitlines():
        parts = line.split()
        if len(parts) >= 3 and not line.startswith("position"):
            out[parts[0]] = (int(parts[1]), parts[2])
    return out


class SinkTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="cjtest-sink.", dir=os.environ.get("TMPDIR", "/tmp"))

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)


class Fleet(SinkTest):
    def test_four_stores_one_database(self):
        stores = [Store(self.root, "host%d" % i) for i in range(4)]
        reports = []
        for i, st in enumerate(stores):
            st.workload(SEED + i, 800)
            out = st.sink_once("fleet-%d" % i)
            self.assertIn("caught up at position 800", out.stderr)
        for i, st in enumerate(stores):
            r = st.verify("fleet-%d" % i)
            self.assertIn("position postgresql 800 sqlite 800", r.stdout)
            self.assertNotIn("differs", r.stdout)
            reports.append(tables(r.stdout))
        # Every table has rows somewhere in the fleet, and the stores' rows
        # differ (store_id keeps them apart although names overlap).
        for t in reports[0]:
            self.assertGreater(sum(rep[t][0] for rep in reports), 0, t)
        self.assertEqual(len({rep["messages"][1] for rep in reports}), 4)
        # The same names live in several stores at once.
        n = PG.psql("SELECT count(DISTINCT store_id) FROM chatjournal.threads WHERE thread = 'T1'")
        self.assertGreaterEqual(int(n), 2)
        # The FTS query documented in docs/scale-out.md works and stays in scope.
        hits = PG.psql("SELECT count(*) FROM chatjournal.messages WHERE store_id = 'fleet-0'"
                       " AND fts @@ websearch_to_tsquery('simple', 'lighthouse')")
        # Every message with text says "lighthouse" (edits too); messages of
        # files or tool calls only have none (content NULL, no tsvector).
        texts = PG.psql("SELECT count(content) FROM chatjournal.messages WHERE store_id = 'fleet-0'")
        self.assertEqual(int(hits), int(texts))
        self.assertGreater(int(texts), 0)

    def test_follow_then_sigterm(self):
        st = Store(self.root, "follow")
        st.workload(SEED + 10, 50)
        p = subprocess.Popen([BIN, "sink", "postgres", st.path, "--dsn", PG.dsn, "--store-id",
                              "follow"], stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(self.wait_position("follow", 50, 30), 50)
            t0 = time.monotonic()
            st.workload(SEED + 11, 100)  # returns once the journal has them
            appended = time.monotonic()
            self.assertEqual(self.wait_position("follow", 150, 30), 150)
            lag = time.monotonic() - appended
            print("follow: 100 events applied %.3f s after the workload ended (%.2f s in all)"
                  % (lag, time.monotonic() - t0))
            self.assertLess(lag, 10.0)
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0, err)
            self.assertIn("stopped at position 150", err)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(st.verify("follow").returncode, 0)

    def wait_position(self, store_id, want, seconds):
        deadline = time.monotonic() + seconds
        pos = -1
        while time.monotonic() < deadline:
            out = PG.psql("SELECT seq FROM chatjournal.sink_position WHERE store_id = '%s'" % store_id)
            pos = int(out or -1)
            if pos >= want:
                return pos
            time.sleep(0.02)
        return pos


class NegativeControls(SinkTest):
    """The comparison is not vacuous: each change to PostgreSQL's rows is seen."""

    def test_changed_rows_are_reported(self):
        st = Store(self.root, "neg")
        st.workload(SEED + 20, 600)
        # Whatever the seed deleted: an edited message with a reaction.
        events = [
            '{"type":"message","thread":"Tn","role":"user","content":"x","id":"neg-1"}',
            '{"type":"edit_message","thread":"Tn","target":"neg-1","content":"y","editor":"U1"}',
            '{"type":"reaction","thread":"Tn","target":"neg-1","emoji":"eyes","user":"U1"}',
        ]
        subprocess.run([BIN, "append", st.path, "-"], input="\n".join(events) + "\n",
                       capture_output=True, text=True, check=True)
        run(WORKLOAD, st.path, "1", "0")  # the SQLite projection has them
        st.sink_once("neg")
        self.assertEqual(st.verify("neg").returncode, 0)
        changes = [
            ("messages", "UPDATE chatjournal.messages SET content = content || 'x'"
                         " WHERE store_id = 'neg' AND seq = (SELECT max(seq) FROM"
                         " chatjournal.messages WHERE store_id = 'neg' AND content IS NOT NULL)",
             "UPDATE chatjournal.messages SET content = left(content, -1)"
             " WHERE store_id = 'neg' AND seq = (SELECT max(seq) FROM chatjournal.messages"
             " WHERE store_id = 'neg' AND content IS NOT NULL)"),
            ("threads", "UPDATE chatjournal.threads SET message_count = message_count + 1"
                        " WHERE store_id = 'neg'",
             "UPDATE chatjournal.threads SET message_count = message_count - 1"
             " WHERE store_id = 'neg'"),
            ("reactions", "UPDATE chatjournal.reactions SET emoji = emoji || 'x'"
                          " WHERE store_id = 'neg'",
             "UPDATE chatjournal.reactions SET emoji = left(emoji, -1) WHERE store_id = 'neg'"),
            ("settings", "UPDATE chatjournal.settings SET value = '{\"x\": 1}'"
                         " WHERE store_id = 'neg' AND key = (SELECT min(key) FROM"
                         " chatjournal.settings WHERE store_id = 'neg')", None),
            ("metrics", "DELETE FROM chatjournal.metrics WHERE store_id = 'neg' AND seq ="
                        " (SELECT min(seq) FROM chatjournal.metrics WHERE store_id = 'neg')", None),
            ("message_edits", "UPDATE chatjournal.message_edits SET editor = 'someone else'"
                              " WHERE store_id = 'neg' AND seq = (SELECT min(seq) FROM"
                              " chatjournal.message_edits WHERE store_id = 'neg')", None),
        ]
        left = []  # changes not undone stay different (listed in table order)
        for table, change, undo in changes:
            PG.psql(change)
            r = st.verify("neg", check=False)
            self.assertEqual(r.returncode, 1, table)
            bad = [l.split()[0] for l in r.stdout.splitlines() if "differs" in l]
            self.assertEqual(bad, left + [table], r.stdout)
            if not undo:
                left.append(table)
            else:
                PG.psql(undo)
                self.assertEqual(st.verify("neg", check=False).returncode, 0, table)

    def test_json_key_order_is_not_a_difference(self):
        st = Store(self.root, "order")
        st.workload(SEED + 21, 300)
        st.sink_once("order")
        # jsonb keeps its own key order whatever we write: the comparison
        # must read JSON canonically (sorted keys) on both sides.
        n = PG.psql("SELECT count(*) FROM chatjournal.config_changes WHERE store_id = 'order'"
                    " AND new_value::text LIKE '{%, %}'")
        self.assertGreater(int(n), 0)
        self.assertEqual(st.verify("order").returncode, 0)


class Errors(SinkTest):
    def test_usage_and_help(self):
        r = run(BIN, "sink", "postgres", "--help")
        self.assertIn("usage: chatjournal sink postgres STORE --dsn DSN", r.stdout)
        r = run(BIN, "sink", "postgres", self.root, check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--dsn is required", r.stderr)
        r = run(BIN, "sink", "frobnicate", check=False)
        self.assertEqual(r.returncode, 2)
        r = run(BIN, "sink", "postgres", self.root, "--dsn", PG.dsn, "--load", "mail", check=False)
        self.assertEqual(r.returncode, 2)

    def test_bad_dsn(self):
        st = Store(self.root, "e1")
        r = run(BIN, "sink", "postgres", st.path, "--dsn", "host=/tmp port", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"bad DSN: .*")
        r = run(BIN, "sink", "postgres", st.path, "--dsn", "nosuchkey=1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad DSN", r.stderr)

    def test_wrong_database_user(self):
        st = Store(self.root, "e2")
        r = run(BIN, "sink", "postgres", st.path, "--dsn", PG.dsn + " dbname=nosuchdb", "--once",
                check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("nosuchdb", r.stderr)

    def test_unreachable_gives_up(self):
        st = Store(self.root, "e3")
        st.workload(SEED + 30, 5)
        sock = tempfile.mkdtemp(dir=self.root)
        r = run(BIN, "sink", "postgres", st.path, "--dsn", "host=%s port=1" % sock, "--once",
                "--give-up", "1s", check=False, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("gave up after 1000 ms without PostgreSQL", r.stderr)
        self.assertIn("retrying in", r.stderr)

    def test_schema_of_a_newer_version(self):
        st = Store(self.root, "e4")
        st.workload(SEED + 31, 5)
        st.sink_once("e4")
        PG.psql("UPDATE chatjournal.schema_version SET version = 99")
        try:
            r = st.sink_once("e4", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("schema chatjournal is at version 99, written by a newer sink", r.stderr)
        finally:
            PG.psql("UPDATE chatjournal.schema_version SET version = 2")

    def test_foreign_schema(self):
        PG.psql("DROP DATABASE IF EXISTS other")
        PG.psql("CREATE DATABASE other")
        other = PG.dsn.replace("dbname=postgres", "dbname=other")
        subprocess.run([os.path.join(PG.bin, "psql"), "-X", "-q", "-d", other, "-c",
                        "CREATE SCHEMA chatjournal; CREATE TABLE chatjournal.x (a int)"], check=True)
        st = Store(self.root, "e5")
        r = run(BIN, "sink", "postgres", st.path, "--dsn", other, "--once", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("a schema named chatjournal that the sink did not create", r.stderr)

    def test_store_id_of_another_journal(self):
        a, b = Store(self.root, "a"), Store(self.root, "b")
        a.workload(SEED + 32, 20)
        b.workload(SEED + 33, 30)
        a.sink_once("shared-id")
        r = b.sink_once("shared-id", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("PostgreSQL holds another journal under this store id", r.stderr)
        # A store behind PostgreSQL's position (a restored store) is refused too.
        c = Store(self.root, "c")
        r = run(BIN, "sink", "postgres", c.path, "--dsn", PG.dsn, "--store-id", "shared-id",
                "--once", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("PostgreSQL is ahead of the journal (position 20, the journal ends at 0)",
                      r.stderr)


class Upgrade(SinkTest):
    """A sink database at schema 1 (tests/data/sink-schema-1.sql, written by the
    sink before event schema 0.3, store ids old-a and old-b) is migrated to
    schema 2: every store's rows are emptied and its position set to 0, and
    the sink re-applies its journal (docs/scale-out.md, "Schema versions")."""

    def test_schema_1_database_upgrades(self):
        data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
        PG.psql("DROP DATABASE IF EXISTS v1")
        PG.psql("CREATE DATABASE v1")
        dsn = PG.dsn.replace("dbname=postgres", "dbname=v1")
        subprocess.run([os.path.join(PG.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                        dsn, "-f", os.path.join(data, "sink-schema-1.sql")], check=True,
                       capture_output=True)

        def q(sql):
            return subprocess.run([os.path.join(PG.bin, "psql"), "-X", "-q", "-A", "-t", "-d", dsn,
                                   "-c", sql], check=True, capture_output=True,
                                  text=True).stdout.strip()
        self.assertEqual(q("SELECT version FROM chatjournal.schema_version"), "1")
        self.assertEqual(q("SELECT string_agg(store_id || ':' || seq, ' ' ORDER BY store_id)"
                           " FROM chatjournal.sink_position"), "old-a:18 old-b:18")
        store = os.path.join(self.root, "store")
        shutil.copytree(os.path.join(data, "store-main-717fc9f"), store)
        r = run(BIN, "sink", "postgres", store, "--dsn", dsn, "--store-id", "old-a", "--once")
        self.assertIn("schema chatjournal migrated from version 1 to 2", r.stderr)
        self.assertIn("sink old-a: connected; position 0", r.stderr)
        self.assertIn("caught up at position 18", r.stderr)
        self.assertEqual(q("SELECT version FROM chatjournal.schema_version"), "2")
        # old-b was reset too: no rows, position 0, until its own sink runs.
        self.assertEqual(q("SELECT seq FROM chatjournal.sink_position WHERE store_id = 'old-b'"), "0")
        self.assertEqual(q("SELECT count(*) FROM chatjournal.messages WHERE store_id = 'old-b'"), "0")
        # The fixture's SQLite projection is at schema 3: verify says so.
        v = run(BIN, "sink", "verify", store, "--dsn", dsn, "--store-id", "old-a", check=False)
        self.assertEqual(v.returncode, 1)
        self.assertIn("is at schema version 3, the sink compares with versions 4 to 9 (open the store"
                      " read-write with this build once, e.g. chatjournal vacuum", v.stderr)
        # Every projection schema this build writes is one the sink reads:
        # a new migration must be looked at in sink/compare.c and rows.c
        # (006 adds scrub_state, the scrub's own flag, 007 and 008 messages.extras,
        # derived from reactions, attachments and the other columns, 009
        # messages_tail, a copy of rows of messages: nothing to compare).
        migrations = sorted(os.listdir(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "..", "..", "materializer", "migrations")))
        self.assertEqual(len([m for m in migrations if m.endswith(".sql")]), 9, migrations)
        run(WORKLOAD, store, "1", "0")  # opens the store (the newest schema) and waits for the projection
        v = run(BIN, "sink", "verify", store, "--dsn", dsn, "--store-id", "old-a")
        self.assertIn("position postgresql 18 sqlite 18", v.stdout)
        self.assertNotIn("differs", v.stdout)
        # The new columns and tables are there and take 0.3 events.
        events = [
            '{"type":"message","thread":"T9","role":"user","content":"first","id":"n1","ts":1}',
            '{"type":"edit_message","thread":"T9","target":"n1","content":"second lighthouse"}',
            '{"type":"reaction","thread":"T9","target":"n1","emoji":"eyes","user":"U1"}',
        ]
        p = subprocess.run([BIN, "append", store, "-"], input="\n".join(events) + "\n",
                           capture_output=True, text=True, check=True)
        run(BIN, "sink", "postgres", store, "--dsn", dsn, "--store-id", "old-a", "--once")
        self.assertEqual(q("SELECT content || '|' || (edited_ts IS NOT NULL) FROM"
                           " chatjournal.messages WHERE store_id = 'old-a' AND id = 'n1'"),
                         "second lighthouse|true")
        self.assertEqual(q("SELECT count(*) FROM chatjournal.messages WHERE store_id = 'old-a'"
                           " AND fts @@ to_tsquery('simple', 'lighthouse') AND id = 'n1'"), "1")
        run(WORKLOAD, store, "1", "0")  # waits for the SQLite projection
        v = run(BIN, "sink", "verify", store, "--dsn", dsn, "--store-id", "old-a")
        self.assertNotIn("differs", v.stdout)
        self.assertIn("message_edits 1 ", v.stdout)
        self.assertIn("reactions 1 ", v.stdout)


class Crash(SinkTest):
    """kill -9 and PostgreSQL restarts while events arrive."""

    def loop(self, store_id, cycles, restarts, split):
        st = Store(self.root, store_id)
        rng = random.Random(SEED)
        env = dict(os.environ)
        if split:
            env["CJ_SINK_TEST_SPLIT_POSITION"] = "1"
        # The appender: a steady 400 events/s of every type for the whole loop.
        app = subprocess.Popen([WORKLOAD, st.path, str(SEED + 40), "100000", "400"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        restart_at = set(rng.sample(range(1, cycles), min(restarts, cycles - 1)))
        kills = restarted = 0
        caught = None
        try:
            time.sleep(0.3)
            for c in range(cycles):
                p = subprocess.Popen([BIN, "sink", "postgres", st.path, "--dsn", PG.dsn,
                                      "--store-id", store_id, "--batch", str(rng.randint(1, 40))],
                                     stderr=subprocess.PIPE, text=True, env=env)
                if c in restart_at:
                    time.sleep(rng.uniform(0.05, 0.3))
                    PG.restart("immediate" if restarted % 2 else "fast")
                    restarted += 1
                time.sleep(rng.uniform(0.05, 0.4))
                if p.poll() is not None:
                    err = p.stderr.read()
                    if split:
                        caught = "cycle %d: the sink stopped: %s" % (c, err.strip().splitlines()[-1])
                        break
                    self.fail("cycle %d: the sink stopped by itself (%d): %s" % (c, p.returncode, err))
                p.kill()
                p.wait()
                p.stderr.close()
                kills += 1
        finally:
            app.kill()
            app.wait()
        if caught:
            return st, kills, restarted, caught
        # Catch up (the journal's end now) and compare.
        r = st.sink_once(store_id, env=env, check=False)
        if r.returncode != 0:
            if split:
                return st, kills, restarted, "catch-up: " + r.stderr.strip().splitlines()[-1]
            self.fail("catch-up failed: " + r.stderr)
        # The SQLite projection of the store catches up too (its own materializer).
        run(WORKLOAD, st.path, str(SEED + 41), "0")
        v = st.verify(store_id, check=False)
        if v.returncode != 0:
            if split:
                return st, kills, restarted, "verify: " + v.stdout
            self.fail("after %d kills and %d restarts: %s%s" % (kills, restarted, v.stdout, v.stderr))
        return st, kills, restarted, None

    def test_kill9_and_restarts_lose_nothing(self):
        cycles = int(os.environ.get("CJ_SINK_CRASH_CYCLES", "50"))
        restarts = int(os.environ.get("CJ_SINK_PG_RESTARTS", "5"))
        t0 = time.monotonic()
        st, kills, restarted, caught = self.loop("crash", cycles, restarts, split=False)
        self.assertIsNone(caught)
        self.assertEqual(kills, cycles)
        self.assertEqual(restarted, min(restarts, cycles - 1))
        pos = int(PG.psql("SELECT seq FROM chatjournal.sink_position WHERE store_id = 'crash'"))
        print("crash: %d kill -9, %d PostgreSQL restarts, %d events: equal (seed %d, %.1f s)"
              % (kills, restarted, pos, SEED, time.monotonic() - t0))
        self.assertGreater(pos, 1000)

    def test_negative_control_split_position(self):
        cycles = int(os.environ.get("CJ_SINK_CONTROL_CYCLES", "60"))
        st, kills, restarted, caught = self.loop("split", cycles, 0, split=True)
        print("negative control: caught after %d kills: %s" % (kills, (caught or "")[:300]))
        self.assertIsNotNone(caught, "a sink committing its position apart from its rows was "
                                     "not caught in %d kill cycles" % cycles)


def main():
    global PG
    why = PgTmp.skip_reason()
    if why:
        print("SKIP: " + why)
        return 77
    print("seed %d" % SEED)
    PG = PgTmp()
    try:
        suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
        result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    finally:
        PG.stop()
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
