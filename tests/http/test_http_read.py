#!/usr/bin/env python3
"""The read API of `chatjournal serve` (docs/http.md, "Reads"), through the
real binary: exact rows of a user's conversation, threads by activity, one
thread, one user, costs, metrics and settings (masked); paging by the Link
header until it stops, in both directions; after=0 is the oldest page;
unknown or repeated query parameters are 400 naming them on EVERY route of
the router's table (read from api/http/routes.c, so a new route is covered
without a change here); hostile values (huge, negative, NUL, 1 MB); a token
of another store sees nothing of this one; a one-key config update through
config_patch.
"""
import json
import os
import re
import tempfile
import unittest
import urllib.parse

from httptest import BIN, HttpCase, call, log, raw_exchange, route_table, serve_two_stores

DAY = 86400000

# seq = index + 1 (one batch into an empty store)
EVENTS = [
    {"type": "user", "user": "u1", "display_name": "Ann", "timezone": "Europe/Paris",
     "is_bot": False, "ts": 1000},                                                    # 1
    {"type": "message", "thread": "t1", "role": "user", "content": "hello there\nsecond",
     "user": "u1", "server": "s1", "ts": 1000},                                       # 2
    {"type": "message", "thread": "t1", "role": "assistant", "content": "hi", "user": "u1",
     "server": "s1", "ts": 2000,
     "cost": {"model": "m1", "input_tokens": 10, "output_tokens": 5, "usd": 0.5}},   # 3
    {"type": "message", "thread": "t2", "role": "user", "content": "other", "user": "u1",
     "server": "s2", "ts": 3000,
     "cost": {"model": "m2", "input_tokens": 1, "output_tokens": 2, "usd": 0.25}},   # 4
    {"type": "message", "thread": "t3", "role": "user", "content": "by u2", "user": "u2",
     "server": "s1", "ts": 4000,
     "cost": {"model": "m1", "input_tokens": 100, "output_tokens": 50, "usd": 1.0}},  # 5
    {"type": "message", "thread": "t1", "role": "user", "content": "again", "user": "u1",
     "server": "s1", "ts": DAY + 5000},                                               # 6
    {"type": "thread", "thread": "t2", "title": "Second thread", "topic": "misc",
     "ts": 3500},                                                                     # 7
    {"type": "metric", "name": "lat", "value": 1.5, "unit": "ms", "ts": 5000},        # 8
    {"type": "metric", "name": "lat", "value": 2.5, "ts": 6000},                      # 9
    {"type": "metric", "name": "other", "value": 7, "ts": 5500},                      # 10
    {"type": "setting", "key": "openai_api_key", "value": "sk-SECRET1", "category": "llm"},  # 11
    {"type": "setting", "key": "max_tokens", "value": 100, "category": "llm"},       # 12
    {"type": "setting", "key": "slackBotToken", "value": "xoxb-SECRET2", "category": "slack"},  # 13
    {"type": "setting", "key": "greeting", "value": "SECRET3", "sensitive": True,
     "category": "slack"},                                                            # 14
    {"type": "setting", "key": "db.password", "value": "SECRET4"},                   # 15
]


def seqs(rows):
    return [r["seq"] for r in rows]


def next_link(resp):
    """The URL of rel="next", or None."""
    h = resp.getheader("Link")
    if h is None:
        return None
    m = re.fullmatch(r'<([^>]*)>; rel="next"', h)
    if not m:
        raise AssertionError(f"malformed Link header {h!r}")
    return m.group(1)


class ReadCase(HttpCase):
    def setUp(self):
        super().setUp()
        st, _, body = self.get_ok_post()
        self.assertEqual(body["seqs"], list(range(1, len(EVENTS) + 1)))
        self.last = body["last_seq"]

    def get_ok_post(self):
        st, resp, body = call(self.server, "POST", "/v1/events", self.token, EVENTS)
        self.assertEqual(st, 200, body)
        return st, resp, body

    def get(self, path, token=None):
        sep = "&" if "?" in path else "?"
        return call(self.server, "GET", f"{path}{sep}min_seq={self.last}", token or self.token)

    def ok(self, path):
        st, resp, body = self.get(path)
        self.assertEqual(st, 200, f"{path}: {body!r}")
        return resp, body

    def walk(self, path):
        """Every page from path on, following Link: (pages of seqs, rows)."""
        pages, rows = [], []
        while path is not None:
            resp, body = self.ok(path)
            pages.append([r.get("seq", r.get("thread")) for r in body])
            rows.extend(body)
            path = next_link(resp)
            self.assertLess(len(pages), 50, "Link never stops")
        return pages, rows


class TestUserMessages(ReadCase):
    def test_rows_scopes_and_paging(self):
        _, rows = self.ok("/v1/users/u1/messages")
        self.assertEqual(seqs(rows), [2, 3, 4, 6])
        self.assertEqual([(r["thread"], r["role"], r["content"], r["server"]) for r in rows[:2]],
                         [("t1", "user", "hello there\nsecond", "s1"), ("t1", "assistant", "hi", "s1")])
        self.assertEqual(rows[0]["display_name"], "Ann")
        self.assertEqual(seqs(self.ok("/v1/users/u1/messages?server=s1")[1]), [2, 3, 6])
        self.assertEqual(seqs(self.ok("/v1/users/u1/messages?server=s2")[1]), [4])
        self.assertEqual(seqs(self.ok("/v1/users/u2/messages")[1]), [5])
        self.assertEqual(self.ok("/v1/users/nobody/messages")[1], [])
        # the newest page first, then older pages by Link (before=)
        resp, page = self.ok("/v1/users/u1/messages?limit=3")
        self.assertEqual(seqs(page), [3, 4, 6])
        self.assertEqual(next_link(resp), "/v1/users/u1/messages?limit=3&before=3")
        pages, _ = self.walk("/v1/users/u1/messages?limit=1")
        self.assertEqual(pages, [[6], [4], [3], [2]])
        # after=0: the oldest page, then newer pages by Link (after=)
        pages, _ = self.walk("/v1/users/u1/messages?limit=3&after=0")
        self.assertEqual(pages, [[2, 3, 4], [6]])
        pages, _ = self.walk("/v1/users/u1/messages?server=s1&limit=2&after=0")
        self.assertEqual(pages, [[2, 3], [6]])
        resp, page = self.ok("/v1/users/u1/messages?limit=4")
        self.assertIsNone(next_link(resp), "a page holding the last row has no next")
        log("http/read: user messages exact, Link paging both ways")

    def test_thread_history_has_link_too(self):
        pages, _ = self.walk("/v1/threads/t1/messages?limit=2&after=0")
        self.assertEqual(pages, [[2, 3], [6]])
        pages, _ = self.walk("/v1/threads/t1/messages?limit=2")
        self.assertEqual(pages, [[3, 6], [2]])

    def test_ids_that_need_encoding(self):
        odd = "u 1/x?&é"
        ev = [{"type": "message", "thread": "t/odd", "role": "user", "content": f"m{i}",
               "user": odd, "server": "s&1"} for i in range(3)]
        st, _, body = call(self.server, "POST", "/v1/events", self.token, ev)
        self.assertEqual(st, 200, body)
        self.last = body["last_seq"]
        q = urllib.parse.quote(odd, safe="")
        pages, rows = self.walk(f"/v1/users/{q}/messages?server=s%261&limit=2&after=0")
        self.assertEqual(pages, [[16, 17], [18]])
        self.assertEqual({r["user"] for r in rows}, {odd})
        pages, _ = self.walk("/v1/threads/t%2Fodd/messages?limit=2&after=0")
        self.assertEqual(pages, [[16, 17], [18]])


class TestListings(ReadCase):
    def test_threads_by_activity(self):
        _, rows = self.ok("/v1/threads")
        self.assertEqual([r["thread"] for r in rows], ["t1", "t3", "t2"])
        t1, t3, t2 = rows
        self.assertEqual((t1["title"], t1["title_set"], t1["message_count"], t1["server"],
                          t1["created_ms"], t1["last_activity_ms"]),
                         ("hello there", False, 3, "s1", 1000, DAY + 5000))
        self.assertEqual((t2["title"], t2["title_set"], t2["topic"], t2["message_count"]),
                         ("Second thread", True, "misc", 1))
        self.assertEqual(t3["image_count"], 0)
        pages, _ = self.walk("/v1/threads?limit=1")
        self.assertEqual(pages, [["t1"], ["t3"], ["t2"]])
        self.assertEqual([r["thread"] for r in self.ok("/v1/threads?server=s1")[1]], ["t1", "t3"])
        _, mine = self.ok("/v1/threads?user=u1")
        self.assertEqual([(r["thread"], r["user_message_count"]) for r in mine],
                         [("t1", 3), ("t2", 1)])
        pages, _ = self.walk("/v1/threads?user=u1&limit=1")
        self.assertEqual(pages, [["t1"], ["t2"]])
        self.assertEqual(self.ok("/v1/threads?user=nobody")[1], [])
        for bad in ("x", "1.", ".1", "1.2.3", "-1.2", "99999999999999999999.1"):
            st, _, body = self.get("/v1/threads?after=" + urllib.parse.quote(bad))
            self.assertEqual((st, body.get("field")), (400, "after"), bad)

    def test_thread_and_user(self):
        _, t = self.ok("/v1/threads/t2")
        self.assertEqual({k: t[k] for k in ("thread", "server", "title", "topic", "message_count")},
                         {"thread": "t2", "server": "s2", "title": "Second thread", "topic": "misc",
                          "message_count": 1})
        st, _, body = self.get("/v1/threads/nope")
        self.assertEqual((st, body["field"]), (404, "thread"))
        _, u = self.ok("/v1/users/u1")
        self.assertEqual({k: u[k] for k in ("user", "display_name", "is_bot", "timezone",
                                            "first_seen_ms", "last_seen_ms", "message_count",
                                            "thread_count")},
                         {"user": "u1", "display_name": "Ann", "is_bot": False,
                          "timezone": "Europe/Paris", "first_seen_ms": 1000,
                          "last_seen_ms": DAY + 5000, "message_count": 4, "thread_count": 2})
        st, _, body = self.get("/v1/users/nope")
        self.assertEqual((st, body["field"]), (404, "user"))

    def test_costs(self):
        _, c = self.ok("/v1/costs")
        self.assertEqual(c["total"], {"messages": 3, "input_tokens": 111, "output_tokens": 57,
                                      "usd": 1.75})
        self.assertEqual(c["by_day"], [{"day": "1970-01-01", "messages": 3, "input_tokens": 111,
                                        "output_tokens": 57, "usd": 1.75}])
        self.assertEqual([(m["model"], m["usd"]) for m in c["by_model"]], [("m1", 1.5), ("m2", 0.25)])
        self.assertEqual([(t["thread"], t["usd"]) for t in c["by_thread"]],
                         [("t3", 1.0), ("t1", 0.5), ("t2", 0.25)])
        self.assertEqual(self.ok("/v1/costs?user=u1")[1]["total"]["usd"], 0.75)
        self.assertEqual(self.ok("/v1/costs?thread=t1")[1]["total"]["messages"], 1)
        self.assertEqual(self.ok("/v1/costs?from=2000&to=4000")[1]["total"]["usd"], 0.75)
        self.assertEqual(self.ok("/v1/costs?from=1970-01-01T00:00:03Z")[1]["total"]["usd"], 1.25)
        self.assertEqual(self.ok("/v1/costs?user=nobody")[1]["total"],
                         {"messages": 0, "input_tokens": 0, "output_tokens": 0, "usd": 0.0})
        for q, field in (("from=yesterday", "from"), ("to=-5", "to"), ("from=5&to=4", "from")):
            st, _, body = self.get("/v1/costs?" + q)
            self.assertEqual((st, body.get("field")), (400, field), q)

    def test_metrics(self):
        _, m = self.ok("/v1/metrics")
        self.assertEqual([(r["seq"], r["name"], r["value"]) for r in m],
                         [(8, "lat", 1.5), (10, "other", 7), (9, "lat", 2.5)])
        self.assertEqual(m[0]["unit"], "ms")
        pages, _ = self.walk("/v1/metrics?name=lat&limit=1")
        self.assertEqual(pages, [[8], [9]])
        pages, _ = self.walk("/v1/metrics?limit=2")
        self.assertEqual(pages, [[8, 10], [9]])
        self.assertEqual(seqs(self.ok("/v1/metrics?since=5500")[1]), [10, 9])
        self.assertEqual(seqs(self.ok("/v1/metrics?name=lat&since=1970-01-01T00:00:05.001Z")[1]), [9])

    def test_settings_masked(self):
        st, resp, body = self.get("/v1/settings")
        self.assertEqual(st, 200)
        by_key = {s["key"]: (s["value"], s["masked"]) for s in body}
        self.assertEqual(by_key, {"openai_api_key": ("***", True), "max_tokens": (100, False),
                                  "slackBotToken": ("***", True), "greeting": ("***", True),
                                  "db.password": ("***", True)})
        raw = json.dumps(body)
        self.assertNotIn("SECRET", raw)
        self.assertEqual([s["key"] for s in self.ok("/v1/settings?category=slack")[1]],
                         ["greeting", "slackBotToken"])
        self.assertEqual(self.ok("/v1/settings?category=none")[1], [])


def concrete(pattern):
    return (pattern.replace("{thread}", "t1").replace("{user}", "u1")
            .replace("{hash}", "0" * 32))


# The change feed's filters may repeat (type=a&type=b: either), its own
# parameter checks say so (api/http/feed_args.c); tests/http/test_http_feed.py
# covers them.
REPEATABLE = {("/v1/events", "type"), ("/v1/events", "thread"),
              ("/v1/events/stream", "type"), ("/v1/events/stream", "thread")}


class TestParameters(ReadCase):
    def test_unknown_and_repeated_parameters_on_every_route(self):
        routes = route_table()
        for pattern, method, params in routes:
            path = concrete(pattern)
            body = {"type": "message", "thread": "p", "role": "user", "content": "x"} \
                if method == "POST" else None
            for q, field in (("kind=x", "kind"), ("cursor=1", "cursor"), ("url=u", "url"),
                             ("bogus", "bogus"), ("LIMIT=1", "LIMIT")):
                st, resp, got = call(self.server, method, f"{path}?{q}", self.token, body)
                self.assertEqual((st, got.get("field") if isinstance(got, dict) else got),
                                 (400, field), f"{method} {path}?{q}")
                self.assertIn(f"'{field}'", got["error"])
            for p in sorted(params):
                if (pattern, p) in REPEATABLE:
                    continue
                st, _, got = call(self.server, method, f"{path}?{p}=1&{p}=2", self.token, body)
                self.assertEqual((st, got.get("field")), (400, p), f"{method} {path} {p} twice")
        # nothing was stored by the refused POSTs
        st, _, stats = call(self.server, "GET", "/v1/stats", self.token)
        self.assertEqual(stats["last_seq"], self.last)
        log(f"http/read: unknown and repeated parameters refused on all {len(routes)} routes")

    def test_hostile_values(self):
        cases = [
            ("/v1/users/u1/messages?limit=1000000", 400, "limit"),
            ("/v1/users/u1/messages?limit=-1", 400, "limit"),
            ("/v1/users/u1/messages?before=-5", 400, "before"),
            ("/v1/users/u1/messages?after=18446744073709551616", 400, "after"),
            ("/v1/threads?limit=1001", 400, "limit"),
            ("/v1/metrics?since=99999999999999999999", 400, "since"),
            ("/v1/metrics?after=1.2x", 400, "after"),
            ("/v1/search?q=x&images=maybe", 400, "images"),
        ]
        for path, status, field in cases:
            st, _, body = self.get(path)
            self.assertEqual((st, body.get("field")), (status, field), path)
        # a NUL in a value, in a name
        tok = self.token.encode()
        for q in (b"server=a%00b", b"li%00mit=1"):
            st, _, _ = raw_exchange(self.server, b"GET /v1/users/u1/messages?" + q +
                                    b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok +
                                    b"\r\nConnection: close\r\n\r\n")
            self.assertEqual(st, 400, q)
        # a 1 MB value: refused by libmicrohttpd (414/431) or by us (400), never served
        big = "a" * (1 << 20)
        for path in (f"/v1/users/u1/messages?server={big}", f"/v1/threads?after={big}",
                     f"/v1/users/{big}/messages", f"/v1/settings?category={big}"):
            st, _, _ = raw_exchange(self.server, f"GET {path} HTTP/1.1\r\nHost: x\r\n"
                                    f"Authorization: Bearer {self.token}\r\n"
                                    f"Connection: close\r\n\r\n".encode())
            self.assertIn(st, (400, 414, 431, "closed"), path[:40])
        # a long (but accepted) user id is just unknown
        st, _, body = self.get("/v1/users/" + "u" * 1000)
        self.assertEqual(st, 404)
        st, _, body = self.get("/v1/users/" + "u" * 2000)
        self.assertEqual((st, body.get("field")), (400, "user"))
        self.assertTrue(self.server.alive())

    def test_one_key_config_update(self):
        base = {"type": "thread_config", "thread": "t1", "config": {"model": "a", "temp": 1}}
        for ev in (base, {"type": "thread_config", "thread": "t1", "config_patch": {"temp": 0.5}},
                   {"type": "user", "user": "u1", "config_patch": {"lang": "fr"}}):
            st, _, body = call(self.server, "POST", "/v1/events", self.token, ev)
            self.assertEqual(st, 200, body)
            self.last = body["seq"]
        _, cfg = self.ok("/v1/threads/t1/config?user=u1")
        self.assertEqual(cfg, {"model": "a", "temp": 0.5, "lang": "fr"})
        st, _, body = call(self.server, "POST", "/v1/events", self.token,
                           {"type": "thread_config", "thread": "t1", "config_patch": {"model": None}})
        self.last = body["seq"]
        self.assertEqual(self.ok("/v1/threads/t1/config")[1], {"temp": 0.5})
        self.assertEqual(self.ok("/v1/threads/t1")[1]["config"], {"temp": 0.5})


class TestScope(unittest.TestCase):
    def test_a_token_of_another_store_sees_nothing(self):
        with tempfile.TemporaryDirectory(prefix="cjtest-http.", dir=os.environ.get("TMPDIR")) as d:
            srv, tok_a, tok_b = serve_two_stores(d)
            try:
                st, _, body = call(srv, "POST", "/v1/events", tok_a, EVENTS)
                self.assertEqual(st, 200, body)
                last = body["last_seq"]
                st, _, rows = call(srv, "GET", f"/v1/users/u1/messages?min_seq={last}", tok_a)
                self.assertEqual(seqs(rows), [2, 3, 4, 6])  # the control: store A has them
                empty = {"/v1/users/u1/messages": [], "/v1/threads": [], "/v1/threads?user=u1": [],
                         "/v1/metrics": [], "/v1/settings": [],
                         "/v1/costs": {"total": {"messages": 0, "input_tokens": 0,
                                                 "output_tokens": 0, "usd": 0.0},
                                       "by_day": [], "by_model": [], "by_thread": []}}
                for path, want in empty.items():
                    st, _, got = call(srv, "GET", path, tok_b)
                    self.assertEqual((st, got), (200, want), path)
                for path in ("/v1/users/u1", "/v1/threads/t1"):
                    self.assertEqual(call(srv, "GET", path, tok_b)[0], 404, path)
            finally:
                srv.kill()


if __name__ == "__main__":
    import sys
    argv = [sys.argv[0]] + [x for x in sys.argv[1:] if x != BIN]
    unittest.main(argv=argv, verbosity=2)
