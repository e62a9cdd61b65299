#!/usr/bin/env python3
"""Black-box tests of the `chatjournal` program (tests/cli).

Runs the binary named by $CJ_BIN the way a user would, and checks exit codes,
the exact output promised by docs/cli.md, file modes,
and what really got stored (through `stats --json`). Standard library only.
"""
import datetime
import json
import shutil
import os
import re
import sqlite3
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import clitest

BIN = os.environ.get("CJ_BIN", "")
SRC = Path(__file__).resolve().parents[2]

MIB = 1 << 20


def msg(thread="t1", role="user", content="hello", **extra):
    ev = {"type": "message", "thread": thread, "role": role, "content": content}
    ev.update(extra)
    return json.dumps(ev)


def jsonl(*lines):
    return ("\n".join(lines) + "\n").encode()


def ts_ms(text):
    """RFC 3339 UTC 'YYYY-MM-DDTHH:MM:SSZ' to integer milliseconds."""
    dt = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    return int(dt.replace(tzinfo=datetime.timezone.utc).timestamp()) * 1000


def expected_message(seq, ev):
    """The row history/search --json give for a stored message event."""
    row = {"seq": seq, "type": "message"}
    for k in ("thread", "role", "content", "user", "server", "channel", "message_ts",
              "metadata", "id"):
        if k in ev:
            row[k] = ev[k]
    row["ts_ms"] = ts_ms(ev["ts"])
    row["ts"] = ev["ts"][:-1] + ".000Z"
    return row


TOKEN_RE = re.compile(r"cjt_[0-9a-f]{16}_[0-9a-f]{64}")


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

    def catch_up(self, store):
        """Bring the projection up to the journal: read-only commands never
        advance it, and `append` may close before its materializer ran."""
        last = self.stats(store)["last_seq"]
        self.assertEqual(self.ok("replay", store),
                         f"replayed {last} event{'' if last == 1 else 's'} "
                         f"into {store}/chat.sqlite\n")
        self.assertEqual(self.stats(store)["lag"], 0)

    def store_with(self, *events, name="store"):
        """A new store holding these events (dicts), projection caught up."""
        store = self.new_store(name)
        if events:
            self.ok("append", store, stdin=jsonl(*map(json.dumps, events)))
        self.catch_up(store)
        return store

    def set_projection_position(self, store, older):
        """Put back an older copy of chat.sqlite (nothing else running), so
        the projection lags the journal by a known amount."""
        for ext in ("-wal", "-shm"):
            p = Path(str(store / "chat.sqlite") + ext)
            if p.exists():
                p.unlink()
        (store / "chat.sqlite").write_bytes(older)


class TestHelpAndUsage(CliCase):
    COMMANDS = ["init", "append", "serve", "history", "search", "replay", "verify",
                "vacuum", "stats", "token", "bench"]

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
        for c in ("serve", "history", "search", "replay", "verify", "vacuum"):
            err = self.fails(c, code=2)
            self.assertTrue(err.startswith(f"chatjournal: {c}: missing argument"), err)
        self.fails("history", "store", code=2)
        self.fails("search", "store", code=2)
        err = self.fails("token", code=2)
        self.assertIn("missing subcommand", err)
        err = self.fails("token", "frob", "x", code=2)
        self.assertIn("unknown subcommand 'frob'", err)
        self.fails("token", "add", code=2)
        self.fails("token", "revoke", "store", code=2)

    def test_subcommand_help(self):
        for sub in ("add", "list", "revoke"):
            out = self.ok("token", sub, "--help")
            self.assertTrue(out.startswith(f"usage: chatjournal token {sub} STORE"), out)

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
        want = {"appended": 2, "last_seq": 2, "duplicates": 0, "deleted_duplicates": 0}
        self.assertEqual(json.loads(out), want)
        out = self.ok("append", store, f, "--json")
        self.assertEqual(json.loads(out), dict(want, last_seq=4))

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
        self.assertEqual(json.loads(out), {"appended": 5000, "last_seq": 5000, "duplicates": 0,
                                           "deleted_duplicates": 0})

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
        self.assertEqual(self.ok("append", store, f),
                         "appended 3 events, last sequence 3 (3 duplicates, 0 of deleted events)\n")
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
    PROJECTION_KEYS = ["messages", "threads", "users", "servers", "images",
                       "messages_today", "timezone", "day_start", "position", "lag",
                       "projection_bytes", "journal_bytes"]

    def test_json_keys_and_values(self):
        store = self.new_store()
        self.ok("append", store, stdin=jsonl(msg(id="x"), msg(), msg(id="y")))
        out = self.ok("stats", store, "--json")
        st = json.loads(out)
        # The journal's keys first, as before; the projection's after them.
        self.assertEqual(list(st), self.KEYS + self.PROJECTION_KEYS)
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

    def test_projection_figures(self):
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        store = self.store_with(
            {"type": "user", "user": "U1", "username": "ada"},
            {"type": "message", "thread": "T1", "role": "user", "content": "a", "user": "U1",
             "server": "S1", "ts": "2020-01-01T00:00:00Z"},
            {"type": "message", "thread": "T2", "role": "user", "content": "b", "server": "S2",
             "ts": today},
            {"type": "image", "thread": "T1", "url": "https://example.invalid/x.png"})
        st = self.stats(store)
        self.assertEqual({k: st[k] for k in ["messages", "threads", "users", "servers", "images",
                                             "messages_today", "position", "lag"]},
                         {"messages": 2, "threads": 2, "users": 1, "servers": 2, "images": 1,
                          "messages_today": 1, "position": 4, "lag": 0})
        self.assertEqual(st["journal_bytes"], st["file_size"])
        self.assertEqual(st["projection_bytes"],
                         sum(p.stat().st_size for p in store.glob("chat.sqlite*")
                             if p.name in ("chat.sqlite", "chat.sqlite-wal")))

    def test_lag_note(self):
        # A read-only command never advances the projection: with an older
        # chat.sqlite put back, stats shows the lag and says so (text only).
        store = self.store_with({"type": "message", "thread": "T", "role": "user",
                                 "content": "one"})
        older = (store / "chat.sqlite").read_bytes()
        self.ok("append", store, stdin=jsonl(msg(), msg()))
        self.set_projection_position(store, older)
        st = self.stats(store)
        self.assertEqual((st["position"], st["last_seq"], st["lag"]), (1, 3, 2))
        r = self.run_cj("stats", store)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout.decode(), r"(?m)^lag +2$")
        self.assertEqual(r.stderr.decode(),
                         "chatjournal: stats: note: the projection is 2 events behind the "
                         "journal (applied up to 1 of 3); it catches up while the store is "
                         "open read-write ('chatjournal serve'), or run 'chatjournal replay "
                         "STORE'\n")

    def test_text(self):
        store = self.new_store()
        self.ok("append", store, stdin=jsonl(msg(), msg()))
        self.catch_up(store)
        out = self.ok("stats", store)
        self.assertRegex(out, r"(?m)^messages +2$")
        self.assertRegex(out, r"(?m)^position +2$")
        self.assertRegex(out, r"(?m)^lag +0$")
        self.assertRegex(out, r"(?m)^events +2$")
        self.assertRegex(out, r"(?m)^last sequence +2$")
        self.assertRegex(out, r"(?m)^map size +64\.0 MiB \(67108864 bytes\)$")
        self.assertRegex(out, r"(?m)^map ceiling +64\.0 GiB \(68719476736 bytes\)$")

    def test_messages_today_in_a_time_zone(self):
        # Messages just before and after the last midnight in Berlin and in
        # UTC: each zone counts from its own midnight.
        from zoneinfo import ZoneInfo
        now = datetime.datetime.now(datetime.timezone.utc)
        def midnight(zone):
            local = now.astimezone(zone)
            return local.replace(hour=0, minute=0, second=0, microsecond=0)
        utc0, berlin0 = midnight(datetime.timezone.utc), midnight(ZoneInfo("Europe/Berlin"))
        times = sorted({t + d for t in (utc0, berlin0)
                        for d in (datetime.timedelta(minutes=-1), datetime.timedelta(minutes=1))})
        store = self.store_with(*[{"type": "message", "thread": "T", "role": "user",
                                   "content": "m", "ts": int(t.timestamp() * 1000)}
                                  for t in times])
        for args, zone, start in (((), "UTC", utc0),
                                  (("--tz", "Europe/Berlin"), "Europe/Berlin", berlin0)):
            st = json.loads(self.ok("stats", store, "--json", *args))
            self.assertEqual(st["timezone"], zone)
            self.assertEqual(st["day_start"], start.astimezone(datetime.timezone.utc)
                             .strftime("%Y-%m-%dT%H:%M:%S.000Z"))
            self.assertEqual(st["messages_today"], sum(1 for t in times if t >= start), zone)
        out = self.ok("stats", store, "--tz", "Europe/Berlin")
        self.assertRegex(out, r"(?m)^messages today +\d+ \(since [0-9T:.-]+Z, Europe/Berlin\)$")
        err = self.fails("stats", store, "--tz", "Not/AZone", code=2)
        self.assertIn("chatjournal: stats: --tz: 'Not/AZone' is not a time zone of the tz "
                      "database (like Europe/Berlin or UTC)\n", err)

    def test_not_a_store(self):
        err = self.fails("stats", self.dir)
        self.assertTrue(err.startswith("chatjournal: stats: cannot open store "), err)


SAMPLE = [
    {"type": "user", "user": "U1", "username": "ada", "config": {"model": "small"}},
    {"type": "message", "id": "m1", "thread": "T1", "role": "user",
     "content": "Hello, can you draw a lighthouse?", "user": "U1", "server": "S1",
     "channel": "C1", "ts": "2026-11-22T10:00:00Z"},
    {"type": "message", "id": "m2", "thread": "T1", "role": "assistant",
     "content": "Here is a lighthouse at dusk.\nSecond line\ttab", "server": "S1",
     "ts": "2026-11-22T10:00:05Z", "metadata": {"k": [1, 2]}},
    {"type": "message", "thread": "T2", "role": "user", "content": "other thread lighthouse",
     "user": "U2", "server": "S2", "ts": "2026-11-22T10:01:00Z", "message_ts": "171.5"},
    {"type": "message", "thread": "T1", "role": "user", "content": "and a boat",
     "user": "U2", "server": "S2", "ts": "2026-11-22T10:02:00Z"},
    {"type": "image", "thread": "T1", "url": "https://example.invalid/l.png",
     "kind": "generated", "prompt": "a lighthouse at dusk", "analysis": "white tower",
     "ts": "2026-11-22T10:03:00Z"},
]


class TestHistory(CliCase):
    def test_json_exact(self):
        store = self.store_with(*SAMPLE)
        out = self.ok("history", store, "T1", "--json")
        self.assertEqual(out.count("\n"), 1)
        self.assertEqual(json.loads(out), [expected_message(2, SAMPLE[1]),
                                           expected_message(3, SAMPLE[2]),
                                           expected_message(5, SAMPLE[4])])
        self.assertEqual(json.loads(self.ok("history", store, "T2", "--json")),
                         [expected_message(4, SAMPLE[3])])
        self.assertEqual(self.ok("history", store, "nope", "--json"), "[]\n")

    def test_paging_and_scope(self):
        store = self.store_with(*SAMPLE)

        def seqs(*args):
            return [m["seq"] for m in json.loads(self.ok("history", store, "T1", *args))]
        self.assertEqual(seqs("--json", "--limit", "2"), [3, 5])
        self.assertEqual(seqs("--limit=1", "--before", "5", "--json"), [3])
        self.assertEqual(seqs("--json", "--after", "2"), [3, 5])
        self.assertEqual(seqs("--json", "--after", "2", "--limit", "1"), [3])
        self.assertEqual(seqs("--json", "--user", "U2"), [5])
        self.assertEqual(seqs("--json", "--server", "S1"), [2, 3])
        self.assertEqual(seqs("--json", "--user", "U1", "--server", "S2"), [])

    def test_text(self):
        store = self.store_with(*SAMPLE)
        self.assertEqual(self.ok("history", store, "T1"),
                         "2  2026-11-22T10:00:00.000Z  user       U1: Hello, can you draw a "
                         "lighthouse?\n"
                         "3  2026-11-22T10:00:05.000Z  assistant  -: Here is a lighthouse at "
                         "dusk.\\nSecond line\\ttab\n"
                         "5  2026-11-22T10:02:00.000Z  user       U2: and a boat\n")

    def test_text_escapes_terminal_controls(self):
        store = self.store_with({"type": "message", "thread": "T", "role": "user",
                                 "content": "a\x1b[31mred\x07\r\u009bz",
                                 "ts": "2026-01-01T00:00:00Z"})
        self.assertEqual(self.ok("history", store, "T"),
                         "1  2026-01-01T00:00:00.000Z  user       -: "
                         "a\\x1b[31mred\\x07\\r\\u009bz\n")

    def test_lag_note(self):
        store = self.store_with(SAMPLE[1])
        older = (store / "chat.sqlite").read_bytes()
        self.ok("append", store, stdin=jsonl(json.dumps(SAMPLE[2])))
        self.set_projection_position(store, older)
        r = self.run_cj("history", store, "T1")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout.decode().count("\n"), 1)
        self.assertEqual(r.stderr.decode(),
                         "chatjournal: history: note: the projection is 1 event behind the "
                         "journal (applied up to 1 of 2); it catches up while the store is "
                         "open read-write ('chatjournal serve'), or run 'chatjournal replay "
                         "STORE'\n")
        # --json: the data only, no note.
        self.assertEqual(len(json.loads(self.ok("history", store, "T1", "--json"))), 1)

    def test_read_only_open(self):
        # A read-only command leaves the projection where it was.
        store = self.store_with(SAMPLE[1])
        older = (store / "chat.sqlite").read_bytes()
        self.ok("append", store, stdin=jsonl(json.dumps(SAMPLE[2])))
        self.set_projection_position(store, older)
        self.run_cj("history", store, "T1")
        self.assertEqual(self.stats(store)["lag"], 1)

    def test_bad_options(self):
        store = self.new_store()
        for args in (["--limit", "0"], ["--limit", "1001"], ["--limit", "x"],
                     ["--before", "-1"], ["--before", "0"], ["--after", "1e3"]):
            err = self.fails("history", store, "T1", *args, code=2)
            self.assertIn(f"option '{args[0]}' needs an integer", err)

    def test_not_a_store(self):
        err = self.fails("history", self.dir, "T1")
        self.assertTrue(err.startswith("chatjournal: history: cannot open store "), err)


class TestSearch(CliCase):
    def test_json_exact(self):
        store = self.store_with(*SAMPLE)
        out = self.ok("search", store, "lighthouse", "--json")
        # Newest first, across threads.
        self.assertEqual(json.loads(out), [expected_message(4, SAMPLE[3]),
                                           expected_message(3, SAMPLE[2]),
                                           expected_message(2, SAMPLE[1])])
        out = self.ok("search", "--thread", "T1", store, "lighthouse", "--limit", "1", "--json")
        self.assertEqual(json.loads(out), [expected_message(3, SAMPLE[2])])
        out = self.ok("search", store, "light*", "--user", "U2", "--json")
        self.assertEqual([m["seq"] for m in json.loads(out)], [4])
        out = self.ok("search", store, "lighthouse", "--server", "S1", "--json")
        self.assertEqual([m["seq"] for m in json.loads(out)], [3, 2])
        self.assertEqual(self.ok("search", store, "nothing", "--json"), "[]\n")

    def test_every_word_must_match(self):
        store = self.store_with(*SAMPLE)
        out = self.ok("search", store, "lighthouse dusk", "--json")
        self.assertEqual([m["seq"] for m in json.loads(out)], [3])

    def test_images(self):
        store = self.store_with(*SAMPLE)
        out = json.loads(self.ok("search", store, "tower", "--images", "--json"))
        self.assertEqual(len(out), 1)
        img = out[0]
        self.assertEqual({k: img[k] for k in ("seq", "type", "thread", "url", "kind", "prompt",
                                                 "analysis", "has_thumbnail", "ts")},
                         {"seq": 6, "type": "image", "thread": "T1",
                          "url": "https://example.invalid/l.png", "kind": "generated",
                          "prompt": "a lighthouse at dusk", "analysis": "white tower",
                          "has_thumbnail": False, "ts": "2026-11-22T10:03:00.000Z"})
        self.assertEqual(self.ok("search", store, "tower", "--images"),
                         "6  2026-11-22T10:03:00.000Z  T1  image      generated: "
                         "https://example.invalid/l.png  prompt: a lighthouse at dusk  "
                         "analysis: white tower\n")

    def test_text(self):
        store = self.store_with(*SAMPLE)
        self.assertEqual(self.ok("search", store, "boat"),
                         "5  2026-11-22T10:02:00.000Z  T1  user       U2: and a boat\n")

    def test_fts_syntax_is_text(self):
        store = self.store_with(
            {"type": "message", "thread": "T", "role": "user", "content": "cats OR dogs",
             "ts": "2026-01-01T00:00:00Z"},
            {"type": "message", "thread": "T", "role": "user", "content": "only cats",
             "ts": "2026-01-01T00:00:01Z"})
        # "OR" is a word to find, not an operator: only the first matches.
        out = self.ok("search", store, "cats OR", "--json")
        self.assertEqual([m["seq"] for m in json.loads(out)], [1])

    def test_hostile_text(self):
        store = self.store_with(*SAMPLE)
        hostile = ['"', '""', "'", "*", "**", "a*b*", "NEAR(a b)", "content:light", "^x",
                   "(", ")", "AND", "OR OR", "-x", "{x}", "[x]", "a\"b", "\\", ";",
                   "'; DROP TABLE messages; --", "\u00e9t\u00e9", "\U0001F600", "x" * 4096,
                   "x" * 5000, "a " * 40, "\t\n", "\x01\x02", "null", "%", "_"]
        for text in hostile:
            r = self.run_cj("search", store, "--json", "--", text)
            err = r.stderr.decode(errors="replace")
            self.assertIn(r.returncode, (0, 1), (text, err))
            if r.returncode == 0:
                self.assertIsInstance(json.loads(r.stdout), list)
                self.assertEqual(err, "")
            else:
                self.assertEqual(err.count("\n"), 1, (text, err))
                self.assertTrue(err.startswith("chatjournal: search: "), err)
                self.assertEqual(r.stdout, b"")
        # Invalid UTF-8 on the command line.
        r = subprocess.run([BIN, "search", str(store), b"caf\xe9"], capture_output=True,
                           timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode(errors="replace").count("\n"), 1)
        # The store is untouched.
        self.assertEqual(self.stats(store)["messages"], 4)

    def test_empty_text(self):
        store = self.store_with(*SAMPLE)
        for text in ("", "   "):
            err = self.fails("search", store, text)
            self.assertEqual(err, "chatjournal: search: search text is empty\n")

    def test_bad_limit(self):
        err = self.fails("search", "s", "x", "--limit", "0", code=2)
        self.assertIn("option '--limit' needs an integer from 1 to 1000", err)


class TestReplay(CliCase):
    def test_in_place(self):
        store = self.new_store()
        self.ok("append", store, stdin=jsonl(*map(json.dumps, SAMPLE)))
        self.assertEqual(self.ok("replay", store),
                         f"replayed 6 events into {store}/chat.sqlite\n")
        st = self.stats(store)
        self.assertEqual((st["position"], st["lag"], st["messages"], st["images"]),
                         (6, 0, 4, 1))
        self.assertEqual(stat.S_IMODE((store / "chat.sqlite").stat().st_mode), 0o600)

    def test_empty_store(self):
        store = self.new_store()
        self.assertEqual(self.ok("replay", store), f"replayed 0 events into {store}/chat.sqlite\n")
        self.assertEqual(self.ok("history", store, "T1", "--json"), "[]\n")

    def test_out(self):
        store = self.store_with(*SAMPLE)
        out = self.dir / "copy.sqlite"
        self.assertEqual(self.ok("replay", store, "--out", out),
                         f"replayed 6 events into {out}\n")
        with sqlite3.connect(f"file:{out}?mode=ro", uri=True) as db:
            self.assertEqual(db.execute("SELECT seq FROM journal_position").fetchone(), (6,))
            self.assertEqual(db.execute("SELECT count(*) FROM messages").fetchone(), (4,))
        db.close()
        err = self.fails("replay", store, "--out", out)
        self.assertEqual(err, f"chatjournal: replay: {out} already exists: choose a new file\n")
        err = self.fails("replay", store, "--out", store / "chat.sqlite")
        self.assertIn("is the store's own projection", err)
        self.assertFalse(list(self.dir.glob("copy.sqlite.replay-tmp*")))

    def test_projection_ahead(self):
        # A projection ahead of its journal (a wrong restore) makes every
        # read-write open fail; replay still repairs it.
        big = self.store_with(*SAMPLE, name="big")
        small = self.store_with(SAMPLE[1], name="small")
        self.set_projection_position(small, (big / "chat.sqlite").read_bytes())
        err = self.fails("append", small, stdin=jsonl(msg()))
        self.assertIn("ahead of the journal", err)
        self.assertEqual(self.ok("replay", small), f"replayed 1 event into {small}/chat.sqlite\n")
        self.assertEqual(json.loads(self.ok("history", small, "T1", "--json")),
                         [expected_message(1, SAMPLE[1])])

    def test_unreadable_projection(self):
        store = self.store_with(*SAMPLE)
        self.set_projection_position(store, b"this is not a database" * 1000)
        self.assertEqual(self.ok("replay", store), f"replayed 6 events into {store}/chat.sqlite\n")
        self.assertEqual(self.stats(store)["messages"], 4)

    def test_not_a_store(self):
        err = self.fails("replay", self.dir / "nope")
        self.assertTrue(err.startswith("chatjournal: replay: cannot open store "), err)


class TestVerify(CliCase):
    @unittest.skipUnless(shutil.which("mdb_load"), "lmdb-utils not installed")
    def test_impossible_commit_time(self):
        # The commits table has no checksums: verify checks its entries are
        # possible. A commit time rewritten into the far future is caught.
        store = self.store_with(*SAMPLE)
        self.ok("verify", store)
        journal = str(store / "journal")
        dump = subprocess.run(["mdb_dump", "-s", "commits", journal], capture_output=True,
                              text=True, check=True).stdout.splitlines()
        end = dump.index("DATA=END")
        key = dump[end - 2]
        dump[end - 1] = " 7fffffffffffffff"
        subprocess.run(["mdb_load", "-s", "commits", journal], input="\n".join(dump) + "\n",
                       text=True, check=True, capture_output=True)
        r = self.run_cj("verify", store)
        self.assertEqual(r.returncode, 1, r.stdout)
        seq = int(key.strip(), 16)
        self.assertIn(f"the commits table's entry", r.stdout.decode())
        self.assertIn(f"(sequence {seq}, time {0x7fffffffffffffff}) has a time outside the "
                      "journal's life", r.stdout.decode())

    def test_ok(self):
        store = self.store_with(*SAMPLE)
        out = self.ok("verify", store)
        lines = out.splitlines()
        self.assertEqual(len(lines), 3)
        self.assertRegex(lines[0], r"^journal     ok \(6 records, 2 ids, 0 blobs checked; "
                                   r"\d+ pages walked\)$")
        self.assertEqual(lines[1], "projection  ok (integrity_check, FTS5 integrity-check, messages_tail, foreign keys)")
        self.assertRegex(lines[2], r"^state       ok \(a replay up to position 6 equals the live "
                                   r"projection, hash [0-9a-f]{32}\)$")
        self.assertEqual(sorted(p.name for p in store.iterdir() if "verify" in p.name), [])

    def test_json(self):
        store = self.store_with(*SAMPLE)
        v = json.loads(self.ok("verify", store, "--json"))
        self.assertRegex(v["state"]["live_hash"], r"^[0-9a-f]{32}$")
        self.assertGreater(v["journal"]["pages"], 2)
        self.assertEqual(v, {
            "journal": {"checked": 6, "first_bad": 0, "ids_checked": 2, "ids_bad": 0,
                        "blobs_checked": 0, "bad_blob": None, "pages": v["journal"]["pages"],
                        "bad_page": 0, "ok": True},
            "projection": {"report": "ok", "ok": True},
            "state": {"position": 6, "live_hash": v["state"]["live_hash"],
                      "replay_hash": v["state"]["live_hash"], "equal": True,
                      "first_difference": None, "ok": True},
            "ok": True})

    def test_lagging_projection_is_ok(self):
        # verify compares with a replay up to the position the projection has
        # applied, so a projection that merely lags is sound.
        store = self.store_with(*SAMPLE[:3])
        older = (store / "chat.sqlite").read_bytes()
        self.ok("append", store, stdin=jsonl(*map(json.dumps, SAMPLE[3:])))
        self.set_projection_position(store, older)
        v = json.loads(self.ok("verify", store, "--json"))
        self.assertEqual((v["ok"], v["journal"]["checked"], v["state"]["position"]),
                         (True, 6, 3))

    def test_nothing_applied_yet(self):
        store = self.store_with(*SAMPLE)
        empty = self.new_store("empty")
        self.set_projection_position(store, (empty / "chat.sqlite").read_bytes())
        v = json.loads(self.ok("verify", store, "--json"))
        self.assertEqual((v["ok"], v["state"]["position"], v["state"]["equal"]), (True, 0, True))
        self.assertEqual(sorted(p.name for p in store.iterdir() if "verify" in p.name), [])

    def test_empty_store(self):
        v = json.loads(self.ok("verify", self.new_store(), "--json"))
        self.assertEqual((v["ok"], v["journal"]["checked"], v["state"]["position"]), (True, 0, 0))

    def test_changed_projection_fails_and_replay_repairs(self):
        store = self.store_with(*SAMPLE)
        # Nothing else runs: change the projection behind the materializer's back.
        db = sqlite3.connect(store / "chat.sqlite")
        db.execute("DELETE FROM messages WHERE seq = 5")
        db.commit()
        db.close()
        r = self.run_cj("verify", store)
        self.assertEqual(r.returncode, 1)
        out = r.stdout.decode()
        # The FTS index still holds the deleted row: FTS5's content check
        # (integrity-check with rank 1) fails too, and the state differs.
        self.assertEqual(r.stderr.decode(),
                         f"chatjournal: verify: {store}: FAILED (projection, state)\n")
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("journal     ok (6 records, "), lines[0])
        self.assertTrue(lines[1].startswith("projection  FAILED"), lines[1])
        self.assertRegex(lines[2], r"^state       FAILED: a replay up to position 6 differs from "
                                   r"the live projection \(live hash [0-9a-f]{32}, replay hash "
                                   r"[0-9a-f]{32}\): table messages: row only in the second "
                                   r"projection: seq=5, ")
        r = self.run_cj("verify", store, "--json")
        self.assertEqual(r.returncode, 1)
        v = json.loads(r.stdout)
        self.assertEqual((v["ok"], v["journal"]["ok"], v["projection"]["ok"], v["state"]["ok"],
                          v["state"]["equal"]), (False, True, False, False, False))
        self.assertNotEqual(v["state"]["live_hash"], v["state"]["replay_hash"])
        self.assertTrue(v["state"]["first_difference"].startswith(
            "table messages: row only in the second projection: seq=5, "),
            v["state"]["first_difference"])
        self.assertEqual(sorted(p.name for p in store.iterdir() if "verify" in p.name), [])
        # replay repairs it
        self.ok("replay", store)
        self.assertTrue(json.loads(self.ok("verify", store, "--json"))["ok"])

    def test_added_row_is_found(self):
        store = self.store_with(*SAMPLE)
        db = sqlite3.connect(store / "chat.sqlite")
        db.execute("INSERT INTO metrics (seq, name, value, ts_ms, ts) "
                   "VALUES (99, 'x', 1, 0, '1970-01-01T00:00:00.000Z')")
        db.commit()
        db.close()
        r = self.run_cj("verify", store, "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        v = json.loads(r.stdout)
        self.assertTrue(v["state"]["first_difference"].startswith(
            "table metrics: row only in the first projection: seq=99"), v)

    def test_unreadable_projection(self):
        store = self.store_with(*SAMPLE)
        self.set_projection_position(store, b"garbage" * 5000)
        r = self.run_cj("verify", store, "--json")
        self.assertEqual(r.returncode, 1)
        v = json.loads(r.stdout)
        self.assertEqual((v["journal"]["ok"], v["projection"]["ok"], v["state"]["ok"]),
                         (True, False, False))
        self.assertEqual(r.stderr.decode(),
                         f"chatjournal: verify: {store}: FAILED (projection, state)\n")

    def test_projection_ahead(self):
        big = self.store_with(*SAMPLE, name="big")
        small = self.store_with(SAMPLE[1], name="small")
        self.set_projection_position(small, (big / "chat.sqlite").read_bytes())
        r = self.run_cj("verify", small, "--json")
        self.assertEqual(r.returncode, 1)
        v = json.loads(r.stdout)
        self.assertIn("ahead of the journal (position 6, journal ends at 1)", v["state"]["error"])

    def test_not_a_store(self):
        err = self.fails("verify", self.dir / "nope")
        self.assertTrue(err.startswith("chatjournal: verify: cannot open store "), err)


class TestVacuum(CliCase):
    def test_vacuum(self):
        store = self.store_with(*SAMPLE)
        # Free pages that change no state: a table filled, then dropped.
        db = sqlite3.connect(store / "chat.sqlite")
        db.execute("CREATE TABLE bloat (x BLOB)")
        db.executemany("INSERT INTO bloat VALUES (?)", [(b"x" * 4000,) for _ in range(500)])
        db.commit()
        db.execute("DROP TABLE bloat")
        db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        self.assertTrue(json.loads(self.ok("verify", store, "--json"))["ok"])
        before = self.stats(store)["projection_bytes"]
        self.assertGreater(before, 2_000_000)
        out = self.ok("vacuum", store)
        m = re.fullmatch(r"vacuumed (\S+): .*\((\d+) bytes\) before, (.*) after\n", out)
        self.assertTrue(m, out)
        self.assertEqual(m.group(1), f"{store}/chat.sqlite")
        self.assertEqual(int(m.group(2)), before)
        after = self.stats(store)["projection_bytes"]
        self.assertLess(after, 1_000_000)
        self.assertTrue(m.group(3).endswith(f"({after} bytes)"), out)
        self.assertTrue(json.loads(self.ok("verify", store, "--json"))["ok"])
        self.assertEqual(self.stats(store)["messages"], 4)

    def test_not_a_store(self):
        err = self.fails("vacuum", self.dir / "nope")
        self.assertTrue(err.startswith("chatjournal: vacuum: cannot open store "), err)


class TestCompact(CliCase):
    def test_compact_erases_and_counts(self):
        store = self.new_store()
        f = self.write("in.jsonl", jsonl(
            msg(id="a", thread="T1", content="zebracanary private words"),
            msg(id="b", thread="T2", content="kept words")))
        self.ok("append", store, f)
        self.ok("append", store, stdin=jsonl(json.dumps({"type": "delete_thread", "thread": "T1"})))
        self.catch_up(store)
        dry = json.loads(self.ok("compact", store, "--dry-run", "--json"))
        self.assertEqual((dry["dry_run"], dry["messages"], dry["records"]), (True, 1, 1))
        self.assertTrue(any(b"zebracanary" in p.read_bytes() for p in store.rglob("*") if p.is_file()))
        out = self.ok("compact", store)
        self.assertTrue(out.startswith(f"compacted {store} (position 3)\n"), out)
        self.assertIn("records     1 redacted (1 messages, 0 images, 0 settings, 0 edits;", out)
        self.assertIn("(scrubbed)", out)
        self.assertFalse([p for p in store.rglob("*") if p.is_file() and b"zebracanary" in p.read_bytes()])
        self.assertTrue(json.loads(self.ok("verify", store, "--json"))["ok"])
        again = json.loads(self.ok("compact", store, "--json"))
        self.assertEqual(again["records"], 0)
        # Re-appending the deleted event says what happened.
        self.assertEqual(self.ok("append", store, f),
                         "appended 2 events, last sequence 2 (2 duplicates, 1 of deleted events)\n")
        out = json.loads(self.ok("append", store, f, "--json"))
        self.assertEqual(out, {"appended": 2, "last_seq": 2, "duplicates": 2, "deleted_duplicates": 1})

    def test_not_a_store(self):
        err = self.fails("compact", self.dir / "nope")
        self.assertTrue(err.startswith("chatjournal: compact: cannot open store "), err)


class TestToken(CliCase):
    def test_add_list_revoke(self):
        store = self.new_store()
        tok = self.ok("token", "add", store, "--label", "bot one")
        self.assertRegex(tok, r"^cjt_[0-9a-f]{16}_[0-9a-f]{64}\n$")
        ro = self.ok("token", "add", "--read-only", store)
        self.assertRegex(ro, r"^cjt_[0-9a-f]{16}_[0-9a-f]{64}\n$")
        self.assertNotEqual(tok, ro)
        tid, rid = tok[4:20], ro[4:20]
        self.assertEqual(stat.S_IMODE((store / "tokens.json").stat().st_mode), 0o600)
        # The file keeps hashes only.
        self.assertNotIn(tok.strip(), (store / "tokens.json").read_text())

        listed = json.loads(self.ok("token", "list", store, "--json"))
        self.assertEqual([(t["id"], t["access"], t.get("label"), t["revoked"]) for t in listed],
                         [(tid, "write", "bot one", False), (rid, "read", None, False)])
        for t in listed:
            self.assertEqual(set(t), {"access", "created", "id", "revoked"} |
                             ({"label"} if "label" in t else set()))
        text = self.ok("token", "list", store)
        self.assertRegex(text, rf"(?m)^{tid}  write  \S+Z  bot one$")
        self.assertRegex(text, rf"(?m)^{rid}  read   \S+Z  -$")
        for out in (text, json.dumps(listed)):
            self.assertNotIn(tok.strip()[21:], out)
            self.assertNotIn("sha256", out)

        r = self.run_cj("token", "revoke", store, tid)
        self.assertEqual((r.returncode, r.stdout.decode()), (0, f"revoked token {tid}\n"))
        # The whole token is accepted as well.
        self.assertEqual(self.run_cj("token", "revoke", store, ro.strip()).stdout.decode(),
                         f"revoked token {rid}\n")
        listed = json.loads(self.ok("token", "list", store, "--json"))
        self.assertEqual([t["revoked"] for t in listed], [True, True])
        self.assertRegex(self.ok("token", "list", store), rf"(?m)^{tid} .*  revoked$")

    def test_revoke_unknown(self):
        store = self.new_store()
        err = self.fails("token", "revoke", store, "0123456789abcdef")
        self.assertEqual(err, "chatjournal: token: no token with id 0123456789abcdef\n")

    def test_empty_list(self):
        store = self.new_store()
        self.assertEqual(self.ok("token", "list", store), "")
        self.assertEqual(self.ok("token", "list", store, "--json"), "[]\n")

    def test_bad_label(self):
        store = self.new_store()
        r = subprocess.run([BIN, "token", "add", str(store), "--label", b"bad\xff"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"label is not valid UTF-8", r.stderr)
        self.assertEqual(r.stdout, b"")
        self.fails("token", "add", store, "--label", "x" * 201, code=2)
        self.assertFalse((store / "tokens.json").exists())

    def test_not_a_store(self):
        err = self.fails("token", "add", self.dir / "nope")
        self.assertTrue(err.startswith("chatjournal: token: "), err)
        self.assertIn("not a chatjournal store", err)
        self.fails("token", "list", self.dir / "nope")


class TestServeUsage(CliCase):
    def test_tokens_option_refused(self):
        err = self.fails("serve", "store", "--tokens", "t.json", code=2)
        self.assertIn("tokens live in each store, in STORE/tokens.json", err)
        self.assertIn("usage: chatjournal serve STORE...", err)

    def test_bad_options(self):
        self.fails("serve", "store", "--max-body", "0", code=2)
        self.fails("serve", "store", "--rate", "x", code=2)

    def test_store_given_twice(self):
        store = self.new_store()
        err = self.fails("serve", store, f"{store}/", "--listen", "127.0.0.1:0")
        self.assertIn("is given twice", err)

    def test_not_a_store(self):
        err = self.fails("serve", self.dir / "nope", "--listen", "127.0.0.1:0")
        self.assertTrue(err.startswith("chatjournal: serve: "), err)

    def test_bad_listen_keeps_no_unseen_token(self):
        store = self.new_store()
        err = self.fails("serve", store, "--listen", "nonsense")
        self.assertTrue(err.startswith("chatjournal: serve: listen: "), err)
        self.assertFalse(TOKEN_RE.search(err))
        # The first token was never shown, so it is not kept either.
        self.assertFalse((store / "tokens.json").exists())


if __name__ == "__main__":
    sys.exit(clitest.main("cli", sys.modules[__name__]))
