#!/usr/bin/env python3
"""The read commands of `chatjournal` (docs/cli.md): history --user (a
user's conversation across threads), --after 0 as the oldest page, threads
(by activity, paged by cursor), user, costs; each with --help and --json,
exact output, usage errors (exit 2) and failures (exit 1, one line)."""
import json
import sys

import clitest
from test_cli import CliCase

DAY = 86400000
EVENTS = [
    {"type": "user", "user": "u1", "display_name": "Ann", "timezone": "Europe/Paris", "ts": 1000},
    {"type": "message", "thread": "t1", "role": "user", "content": "hello\nthere", "user": "u1",
     "server": "s1", "ts": 1000},
    {"type": "message", "thread": "t1", "role": "assistant", "content": "hi", "user": "u1",
     "server": "s1", "ts": 2000,
     "cost": {"model": "m1", "input_tokens": 10, "output_tokens": 5, "usd": 0.5}},
    {"type": "message", "thread": "t2", "role": "user", "content": "other", "user": "u1",
     "server": "s2", "ts": 3000},
    {"type": "message", "thread": "t3", "role": "user", "content": "by u2", "user": "u2",
     "server": "s1", "ts": DAY + 4000,
     "cost": {"model": "m2", "input_tokens": 1, "output_tokens": 2, "usd": 0.25}},
]


class ReadCase(CliCase):
    def setUp(self):
        super().setUp()
        self.store = self.store_with(*EVENTS)

    def jseqs(self, *args):
        return [m["seq"] for m in json.loads(self.ok(*args))]


class TestHistoryUser(ReadCase):
    def test_conversation_across_threads(self):
        s = self.store
        self.assertEqual(self.jseqs("history", s, "--user", "u1", "--json"), [2, 3, 4])
        self.assertEqual(self.jseqs("history", s, "--user", "u1", "--server", "s1", "--json"), [2, 3])
        self.assertEqual(self.jseqs("history", s, "--user", "u2", "--json"), [5])
        self.assertEqual(self.ok("history", s, "--user", "nobody", "--json"), "[]\n")
        self.assertEqual(self.jseqs("history", s, "--user", "u1", "--limit", "2", "--json"), [3, 4])
        self.assertEqual(self.jseqs("history", s, "--user", "u1", "--before", "3", "--json"), [2])
        self.assertEqual(self.ok("history", s, "--user", "u1", "--server", "s1"),
                         "2  1970-01-01T00:00:01.000Z  t1  user       u1: hello\\nthere\n"
                         "3  1970-01-01T00:00:02.000Z  t1  assistant  u1: hi\n")
        # the same rows as GET /v1/users/u1/messages: the thread form's row shape
        rows = json.loads(self.ok("history", s, "--user", "u1", "--json"))
        self.assertEqual(rows[0], json.loads(self.ok("history", s, "t1", "--json"))[0])

    def test_after_zero_is_the_oldest_page(self):
        s = self.store
        self.assertEqual(self.jseqs("history", s, "t1", "--after", "0", "--limit", "1", "--json"), [2])
        self.assertEqual(self.jseqs("history", s, "t1", "--limit", "1", "--json"), [3])
        self.assertEqual(self.jseqs("history", s, "--user", "u1", "--after", "0", "--limit", "2",
                                    "--json"), [2, 3])
        self.assertEqual(self.jseqs("history", s, "--user", "u1", "--after", "3", "--json"), [4])

    def test_usage(self):
        err = self.fails("history", self.store, code=2)
        self.assertIn("give THREAD, or --user U", err)
        err = self.fails("history", self.store, "--user", "", code=2)
        self.assertIn("give THREAD, or --user U", err)
        out = self.ok("history", "--help")
        self.assertIn("chatjournal history STORE --user U [--server S]", out)


class TestThreads(ReadCase):
    def test_listing_paging_json(self):
        s = self.store
        self.assertEqual(self.ok("threads", s),
                         "1970-01-02T00:00:04.000Z  t3  1  by u2\n"
                         "1970-01-01T00:00:03.000Z  t2  1  other\n"
                         "1970-01-01T00:00:02.000Z  t1  2  hello\n")
        r = self.run_cj("threads", s, "--limit", "2", "--json")
        self.assertEqual(r.returncode, 0)
        self.assertEqual([t["thread"] for t in json.loads(r.stdout)], ["t3", "t2"])
        note = r.stderr.decode()
        self.assertEqual(note, "chatjournal: threads: next page: --after 3000.2\n")
        cursor = note.split()[-1]
        rows = json.loads(self.ok("threads", s, "--limit", "2", "--after", cursor, "--json"))
        self.assertEqual([t["thread"] for t in rows], ["t1"])
        self.assertEqual((rows[0]["title"], rows[0]["message_count"], rows[0]["title_set"]),
                         ("hello", 2, False))
        mine = json.loads(self.ok("threads", s, "--user", "u1", "--json"))
        self.assertEqual([(t["thread"], t["user_message_count"]) for t in mine], [("t2", 1), ("t1", 2)])
        self.assertEqual([t["thread"] for t in json.loads(self.ok("threads", s, "--server", "s1",
                                                                  "--json"))], ["t3", "t1"])

    def test_errors(self):
        err = self.fails("threads", self.store, "--after", "junk")
        self.assertIn("'after' must be the cursor of the previous page", err)
        self.fails("threads", self.store, "--limit", "0", code=2)
        self.assertIn("--after CURSOR", self.ok("threads", "--help"))


class TestUserAndCosts(ReadCase):
    def test_user(self):
        s = self.store
        u = json.loads(self.ok("user", s, "u1", "--json"))
        self.assertEqual({k: u[k] for k in ("user", "display_name", "timezone", "message_count",
                                            "thread_count", "first_seen_ms", "last_seen_ms")},
                         {"user": "u1", "display_name": "Ann", "timezone": "Europe/Paris",
                          "message_count": 3, "thread_count": 2, "first_seen_ms": 1000,
                          "last_seen_ms": 3000})
        self.assertEqual(self.ok("user", s, "u1"),
                         "user: u1\ndisplay_name: Ann\ntimezone: Europe/Paris\n"
                         "first_seen: 1970-01-01T00:00:01.000Z\nlast_seen: 1970-01-01T00:00:03.000Z\n"
                         "message_count: 3\nthread_count: 2\n")
        err = self.fails("user", s, "nobody")
        self.assertEqual(err, "chatjournal: user: no user 'nobody' in this store\n")
        self.fails("user", s, code=2)
        self.assertIn("usage: chatjournal user STORE USER", self.ok("user", "--help"))

    def test_costs(self):
        s = self.store
        c = json.loads(self.ok("costs", s, "--json"))
        self.assertEqual(c["total"], {"messages": 2, "input_tokens": 11, "output_tokens": 7,
                                      "usd": 0.75})
        self.assertEqual([d["day"] for d in c["by_day"]], ["1970-01-01", "1970-01-02"])
        self.assertEqual(json.loads(self.ok("costs", s, "--user", "u2", "--json"))["total"]["usd"], 0.25)
        self.assertEqual(json.loads(self.ok("costs", s, "--thread", "t1", "--json"))["total"]["messages"], 1)
        self.assertEqual(json.loads(self.ok("costs", s, "--from", "1970-01-02T00:00:00Z",
                                            "--json"))["total"]["usd"], 0.25)
        self.assertEqual(json.loads(self.ok("costs", s, "--to", "2001", "--json"))["total"]["usd"], 0.5)
        self.assertEqual(self.ok("costs", s, "--user", "u1"),
                         "total  1  10  5  0.500000\n"
                         "by_day:\n  1970-01-01  1  10  5  0.500000\n"
                         "by_model:\n  m1  1  10  5  0.500000\n"
                         "by_thread:\n  t1  1  10  5  0.500000\n")
        err = self.fails("costs", s, "--from", "yesterday", code=2)
        self.assertIn("--from must be an RFC 3339 time", err)
        err = self.fails("costs", s, "--from", "5", "--to", "4")
        self.assertIn("'from' is after 'to'", err)
        self.assertIn("--thread T", self.ok("costs", "--help"))


if __name__ == "__main__":
    sys.exit(clitest.main("cli-read", sys.modules[__name__]))
