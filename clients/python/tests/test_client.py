#!/usr/bin/env python3
"""The Python client (clients/python) against a real `chatjournal serve`
(started by tests/clients/with_serve.py), plus its retry, paging and feed
logic against scripted fake servers. Run by meson as clients-python."""

import json
import sys
import threading
import time
import unittest
import uuid

import helpers
from helpers import FakeServer, CutProxy, client, needs, reply

import chatjournal
from chatjournal.sse import Parser


def msg(content, thread, **extra):
    ev = {"type": "message", "thread": thread, "role": "user", "content": content}
    ev.update(extra)
    return ev


class TestIds(unittest.TestCase):
    def test_uuid7_layout_and_order(self):
        t0 = time.time_ns() // 1_000_000
        ids = [chatjournal.new_id() for _ in range(20000)]  # many in one millisecond
        t1 = time.time_ns() // 1_000_000
        self.assertEqual(len(set(ids)), 20000)
        self.assertEqual(ids, sorted(ids))
        for s in (ids[0], ids[-1]):
            u = uuid.UUID(s)
            self.assertEqual(str(u), s)
            self.assertEqual(u.version, 7)
            self.assertEqual(u.variant, uuid.RFC_4122)
        self.assertGreaterEqual(int(ids[0][:8] + ids[0][9:13], 16), t0)
        # 20000 ids may borrow up to 5 ms ahead (4096 per millisecond)
        self.assertLessEqual(int(ids[-1][:8] + ids[-1][9:13], 16), t1 + 5)

    def test_threads_get_distinct_ids(self):
        out = []

        def work():
            out.append([chatjournal.new_id() for _ in range(3000)])

        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(len({i for part in out for i in part}), 12000)
        for part in out:
            self.assertEqual(part, sorted(part))


class TestSSEParser(unittest.TestCase):
    def test_frames(self):
        p = Parser()
        lines = [": ping", "id: 7", "event: message", "data: {\"a\":", "data:1}", "",
                 "", "retry: 10", "event: x", "", "id: 8\r\n", "data: z\r\n", "\r\n"]
        got = [f for f in map(p.feed, lines) if f is not None]
        self.assertEqual([(f.id, f.event, f.data) for f in got],
                         [("7", "message", "{\"a\":\n1}"), ("8", "message", "z")])


class TestErrorsUnit(unittest.TestCase):
    def test_status_classes(self):
        from chatjournal.errors import error_from_reply
        from email.message import Message
        h = Message()
        h["Retry-After"] = "2"
        h["X-Request-Id"] = "abc"
        for status, cls in ((400, chatjournal.BadRequestError),
                            (401, chatjournal.AuthenticationError),
                            (403, chatjournal.PermissionDeniedError),
                            (404, chatjournal.NotFoundError), (409, chatjournal.ConflictError),
                            (413, chatjournal.PayloadTooLargeError),
                            (429, chatjournal.RateLimitedError),
                            (503, chatjournal.UnavailableError), (507, chatjournal.ServerError),
                            (418, chatjournal.ChatjournalError)):
            e = error_from_reply(status, h, b'{"error":"bad x","field":"x","extra":1}')
            self.assertIs(type(e), cls)
            self.assertEqual((e.status, e.error, e.field, e.body, e.request_id, e.retry_after),
                             (status, "bad x", "x", {"error": "bad x", "field": "x", "extra": 1},
                              "abc", 2.0))
        e = error_from_reply(502, Message(), b"<html>proxy</html>")
        self.assertEqual((type(e), e.error, e.field, e.body),
                         (chatjournal.ServerError, "<html>proxy</html>", None, {}))


class TestAgainstServe(unittest.TestCase):
    def setUp(self):
        self.cj = client()

    def test_append_gives_a_uuid7_id_and_reads_back(self):
        ev = msg("hello there", "py-a", ts="2026-01-02T03:04:05Z", user="U1", server="S1")
        got = self.cj.append(ev)
        self.assertEqual(list(got), ["seq"])
        self.assertNotIn("id", ev)  # the caller's dict is left alone
        rows = self.cj.history("py-a", min_seq=got["seq"])
        self.assertIsInstance(rows, chatjournal.Page)
        self.assertIsNone(rows.next_url)
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual(uuid.UUID(row.pop("id")).version, 7)
        self.assertEqual(row, {"seq": got["seq"], "type": "message", "thread": "py-a",
                               "role": "user", "content": "hello there", "user": "U1",
                               "server": "S1", "ts": "2026-01-02T03:04:05.000Z",
                               "ts_ms": 1767323045000})

    def test_explicit_id_retry_is_a_duplicate(self):
        ev = msg("once", "py-dup", id="py-dup-1")
        first = self.cj.append(ev)
        self.assertEqual(self.cj.append(ev), {"seq": first["seq"], "duplicate": True})
        with self.assertRaises(chatjournal.ConflictError) as cm:
            self.cj.append(msg("other", "py-dup", id="py-dup-1"))
        self.assertEqual((cm.exception.status, cm.exception.field), (409, "id"))
        self.assertIn("py-dup-1", cm.exception.error)

    def test_append_many_and_paging(self):
        evs = [msg(f"m{i}", "py-many", ts=1767323045000 + i) for i in range(5)]
        got = self.cj.append_many(evs)
        s = got["seqs"][0]
        self.assertEqual(got, {"seqs": list(range(s, s + 5)), "last_seq": s + 4})
        rows = self.cj.history("py-many", min_seq=s + 4)
        self.assertEqual([(r["seq"], r["content"]) for r in rows],
                         [(s + i, f"m{i}") for i in range(5)])
        self.assertEqual(len({r["id"] for r in rows}), 5)
        self.assertEqual([r["seq"] for r in self.cj.history("py-many", limit=2)], [s + 3, s + 4])
        self.assertEqual([r["seq"] for r in self.cj.history("py-many", limit=2, before=s + 3)],
                         [s + 1, s + 2])
        self.assertEqual([r["seq"] for r in self.cj.history("py-many", limit=2, after=0)],
                         [s, s + 1])
        self.assertEqual([r["seq"] for r in self.cj.history("py-many", after=s + 2)],
                         [s + 3, s + 4])

    def test_search(self):
        last = self.cj.append_many([msg("pyzeppelin once", "py-s1"),
                                    msg("pyzeppelin pyzeppelin pyzeppelin", "py-s2")])["last_seq"]
        got = self.cj.search("pyzeppelin", min_seq=last)
        self.assertEqual([(m["seq"], m["thread"]) for m in got],
                         [(last, "py-s2"), (last - 1, "py-s1")])
        self.assertEqual([m["seq"] for m in self.cj.search("pyzepp*", thread="py-s1")],
                         [last - 1])
        self.assertEqual([m["seq"] for m in self.cj.search("pyzeppelin", rank="relevance")],
                         [last, last - 1])
        with self.assertRaises(chatjournal.BadRequestError) as cm:
            self.cj.search("pyzeppelin", rank="best")
        self.assertEqual(cm.exception.field, "rank")

    def test_config(self):
        seq = self.cj.append_many([
            {"type": "user", "user": "py-u", "config": {"model": "small", "lang": "en"}},
            {"type": "thread_config", "thread": "py-cfg", "config": {"model": "big"}},
        ])["last_seq"]
        self.assertEqual(self.cj.config("py-cfg", user="py-u", min_seq=seq),
                         {"model": "big", "lang": "en"})

    def test_blobs(self):
        data = bytes(range(256)) * 3
        got = self.cj.put_blob(data)
        self.assertEqual(got["size"], 768)
        self.assertRegex(got["blob"], r"^[0-9a-f]{32}$")
        self.assertEqual(self.cj.put_blob(data), got)
        self.assertEqual(self.cj.get_blob(got["blob"]), data)
        with self.assertRaises(chatjournal.NotFoundError) as cm:
            self.cj.get_blob("0" * 32)
        self.assertEqual(cm.exception.status, 404)
        with self.assertRaises(TypeError):
            self.cj.put_blob("text")

    def test_thread_names_are_escaped(self):
        t = "py odd/thread?&#"
        seq = self.cj.append(msg("odd", t))["seq"]
        self.assertEqual([r["thread"] for r in self.cj.history(t, min_seq=seq)], [t])

    def test_errors_carry_status_error_field(self):
        with self.assertRaises(chatjournal.BadRequestError) as cm:
            self.cj.append(msg("x", "py-e", role="robot"))
        e = cm.exception
        self.assertEqual((e.status, e.field), (400, "role"))
        self.assertTrue(e.error.startswith("field 'role': must be one of user, assistant"), e.error)
        self.assertRegex(e.request_id, r"^[0-9a-f]{16}$")
        with self.assertRaises(chatjournal.BadRequestError) as cm:
            self.cj.append_many([msg("x", "py-e"), {"type": "message", "thread": "py-e",
                                                     "role": "user"}])
        self.assertEqual(cm.exception.field, "content")
        self.assertTrue(cm.exception.error.startswith("event 1: field 'content'"))
        with self.assertRaises(chatjournal.PayloadTooLargeError) as cm:
            self.cj.append(msg("x" * (1 << 20) + "x", "py-e"))
        self.assertEqual((cm.exception.status, cm.exception.field), (413, "content"))
        with self.assertRaises(chatjournal.AuthenticationError) as cm:
            client(token="cjt_" + "0" * 16 + "_" + "1" * 64).stats()
        self.assertEqual((cm.exception.status, cm.exception.error),
                         (401, "unknown or revoked token"))
        with self.assertRaises(chatjournal.PermissionDeniedError) as cm:
            client(token=helpers.RO_TOKEN).append(msg("x", "py-e"))
        self.assertEqual((cm.exception.status, cm.exception.error),
                         (403, "this token is read-only"))
        self.assertEqual(self.cj.history("py-e"), [])  # nothing stored by any of them

    def test_read_only_token_reads(self):
        seq = self.cj.append(msg("ro", "py-ro"))["seq"]
        ro = client(token=helpers.RO_TOKEN)
        self.assertEqual([r["seq"] for r in ro.history("py-ro", min_seq=seq)], [seq])
        self.assertEqual(ro.stats()["last_seq"] >= seq, True)
        self.assertEqual(ro.health(), {"status": "ok"})

    def test_lost_reply_is_retried_and_stored_once(self):
        """The proxy forwards the append but drops the server's reply twice:
        the client retries with the same generated id and gets the first
        seq back (a duplicate); the thread holds one copy."""
        proxy = CutProxy(helpers.URL)
        try:
            proxy.swallow = 2
            cj = chatjournal.Client(proxy.url, token=helpers.TOKEN, retries=3, backoff=0.01)
            got = cj.append(msg("only once", "py-lost"))
            self.assertEqual(proxy.connections, 3)
            self.assertEqual(set(got), {"seq", "duplicate"})
            self.assertIs(got["duplicate"], True)
            rows = self.cj.history("py-lost", min_seq=got["seq"])
            self.assertEqual([(r["seq"], r["content"]) for r in rows], [(got["seq"], "only once")])
            # A batch too: ids are generated once, before the first attempt.
            proxy.swallow = 1
            got = cj.append_many([msg("b1", "py-lost"), msg("b2", "py-lost")])
            self.assertEqual(got["duplicates"], [0, 1])
            rows = self.cj.history("py-lost", min_seq=got["last_seq"])
            self.assertEqual([r["content"] for r in rows], ["only once", "b1", "b2"])
            # Retries are bounded: more lost replies than retries raise.
            proxy.swallow = 3
            with self.assertRaises(chatjournal.TransportError) as cm:
                chatjournal.Client(proxy.url, token=helpers.TOKEN, retries=2,
                                   backoff=0.01).stats()
            self.assertIsNone(cm.exception.status)
        finally:
            proxy.close()


class TestReadmeTour(unittest.TestCase):
    def test_python_bot_of_the_readme(self):
        """README's Python bot, up to its follow loop (the feed's own tests
        cover that), runs against the server and leaves the exchange."""
        from pathlib import Path
        readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
        tour = readme[readme.index("## A tour with the clients"):]
        code = tour[tour.index("```python\n") + 10:]
        code = code[:code.index("\nfor ev in ")]
        code = code.replace('"http://127.0.0.1:8080"', repr(helpers.URL))
        code = code.replace('"cjt_..."', repr(helpers.TOKEN)).replace('"T1"', '"py-tour"')
        self.assertEqual(code.count("py-tour"), 3)
        ns = {}
        exec(compile(code, "README.md", "exec"), ns)
        rows = client().history("py-tour", min_seq=ns["seq"] + 1)
        self.assertEqual([(r["role"], r["content"], r.get("user")) for r in rows],
                         [("user", "hello", "U1"), ("assistant", "you said: hello", None)])
        self.assertEqual(rows[1]["id"], f"reply-{ns['seq']}")


class TestRetriesAndPaging(unittest.TestCase):
    def test_503_and_429_retried_with_retry_after_then_raised(self):
        answers = []

        def handler(h):
            if len(answers) < 2:
                answers.append(1)
                status = 503 if len(answers) == 1 else 429
                reply(h, status, b'{"error":"busy","field":null}', [("Retry-After", "0.05")])
            else:
                reply(h, 200, b'{"seq":9}')

        fake = FakeServer(handler)
        try:
            t0 = time.monotonic()
            got = chatjournal.Client(fake.url, token="t", backoff=0.001).append(msg("x", "T"))
            self.assertGreaterEqual(time.monotonic() - t0, 0.1)  # both Retry-After waits
            self.assertEqual(got, {"seq": 9})
            bodies = [r for r in fake.requests]
            self.assertEqual(len(bodies), 3)
            self.assertEqual({r[2]["Authorization"] for r in bodies}, {"Bearer t"})
            answers.clear()
            with self.assertRaises(chatjournal.UnavailableError) as cm:
                chatjournal.Client(fake.url, retries=0).stats()
            self.assertEqual((cm.exception.status, cm.exception.error, cm.exception.retry_after),
                             (503, "busy", 0.05))
        finally:
            fake.close()

    def test_same_id_on_every_attempt(self):
        seen = []

        def handler(h):
            seen.append(json.loads(h.body))
            if len(seen) < 3:
                reply(h, 503, b'{"error":"busy"}')
            else:
                reply(h, 200, b'{"seqs":[1,2],"last_seq":2}')

        fake = FakeServer(handler)
        try:
            chatjournal.Client(fake.url, backoff=0.001).append_many(
                [msg("a", "T"), msg("b", "T", id="mine")])
            self.assertEqual(len(seen), 3)
            self.assertEqual(seen[0], seen[1])
            self.assertEqual(seen[0], seen[2])
            self.assertEqual(seen[0][1]["id"], "mine")
            self.assertEqual(uuid.UUID(seen[0][0]["id"]).version, 7)
        finally:
            fake.close()

    def test_400_is_not_retried(self):
        fake = FakeServer(lambda h: reply(h, 400, b'{"error":"no","field":"q"}'))
        try:
            with self.assertRaises(chatjournal.BadRequestError):
                chatjournal.Client(fake.url).search("x")
            self.assertEqual(len(fake.requests), 1)
        finally:
            fake.close()

    def test_connection_refused_is_bounded(self):
        fake = FakeServer(lambda h: None)
        url = fake.url
        fake.close()  # nothing listens there any more
        t0 = time.monotonic()
        with self.assertRaises(chatjournal.TransportError) as cm:
            chatjournal.Client(url, retries=3, backoff=0.01, max_backoff=0.05).stats()
        self.assertLess(time.monotonic() - t0, 2)
        self.assertIsNone(cm.exception.status)
        self.assertIsInstance(cm.exception.__cause__, OSError)

    def test_link_next_is_followed(self):
        def handler(h):
            if "after=2" in h.path:
                reply(h, 200, b'[{"thread":"c"}]')
            elif "evil" in h.path:
                reply(h, 200, b'[]', [("Link", '<http://elsewhere.example/v1/threads>; rel="next"')])
            else:
                reply(h, 200, b'[{"thread":"a"},{"thread":"b"}]',
                      [("Link", '</v1/threads?limit=2&after=2>; rel="next"')])

        fake = FakeServer(handler)
        try:
            cj = chatjournal.Client(fake.url, token="t")
            first = cj.threads(limit=2)
            self.assertEqual(first.next_url, fake.url + "/v1/threads?limit=2&after=2")
            self.assertEqual([t["thread"] for t in cj.iterate(first)], ["a", "b", "c"])
            self.assertEqual([r[1] for r in fake.requests],
                             ["/v1/threads?limit=2", "/v1/threads?limit=2&after=2"])
            with self.assertRaises(chatjournal.ChatjournalError):
                cj.threads(user="evil")
        finally:
            fake.close()


class TestFollowScripted(unittest.TestCase):
    """follow() against a scripted feed: a cut-off with `event: resume`, a
    connection dropped mid-frame, a ping, a duplicate after reconnecting."""

    def test_resume_and_drop(self):
        def frame(seq, typ="message"):
            return (f"id: {seq}\nevent: {typ}\ndata: " +
                    json.dumps({"seq": seq, "type": typ}) + "\n\n").encode()

        def handler(h):
            n = len(fake.requests)
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Connection", "close")
            h.end_headers()
            if n == 1:  # catch-up, then cut off as too slow
                h.wfile.write(b": ping\n\n" + frame(3) + frame(4) +
                              b'event: resume\ndata: {"after":6}\n\n' + frame(99))
            elif n == 2:  # one event, then the connection drops mid-frame
                h.wfile.write(frame(6) + frame(7) + b"id: 8\nevent: mess")
            else:  # a repeat of 7 (must not be yielded twice), then 8
                h.wfile.write(frame(7) + frame(8, "user"))
                h.wfile.flush()
                time.sleep(5)
            h.close_connection = True

        fake = FakeServer(handler)
        try:
            cj = chatjournal.Client(fake.url, token="t", backoff=0.01)
            got = []
            with cj.follow(after=2, thread="T") as f:
                for ev in f:
                    got.append(ev["seq"])
                    if ev["seq"] == 8:
                        break
                self.assertEqual(f.position, 8)
                self.assertEqual(f.reconnects, 2)
            self.assertEqual(got, [3, 4, 7, 8])
            paths = [r[1] for r in fake.requests]
            self.assertEqual(paths[0], "/v1/events/stream?thread=T&after=2")
            self.assertEqual(paths[1:], ["/v1/events/stream?thread=T"] * 2)
            self.assertNotIn("Last-Event-ID", fake.requests[0][2])
            self.assertEqual([r[2].get("Last-Event-ID") for r in fake.requests[1:]], ["6", "7"])
            self.assertEqual(fake.requests[0][2]["Accept"], "text/event-stream")
        finally:
            fake.close()

    def test_position_and_error_frames(self):
        """`event: position` moves the resume point without yielding; `event:
        error` ends the iteration with FeedError."""
        def handler(h):
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Connection", "close")
            h.end_headers()
            if len(fake.requests) == 1:
                h.wfile.write(b'id: 3\nevent: message\ndata: {"seq":3}\n\n'
                              b'id: 9\nevent: position\ndata: {"after":9}\n\n')
            else:
                h.wfile.write(b'id: 10\nevent: user\ndata: {"seq":10}\n\n'
                              b'event: error\ndata: {"error":"record 11: bad checksum","seq":11}\n\n')
            h.close_connection = True

        fake = FakeServer(handler)
        try:
            got = []
            f = chatjournal.Client(fake.url, backoff=0.01).follow(type="message")
            with self.assertRaises(chatjournal.FeedError) as cm:
                for ev in f:
                    got.append(ev["seq"])
            self.assertEqual(got, [3, 10])
            self.assertEqual((cm.exception.status, cm.exception.error, cm.exception.seq),
                             (None, "record 11: bad checksum", 11))
            self.assertEqual([r[1] for r in fake.requests], ["/v1/events/stream?type=message"] * 2)
            self.assertEqual([r[2].get("Last-Event-ID") for r in fake.requests], [None, "9"])
        finally:
            fake.close()

    def test_silent_server_is_a_lost_connection(self):
        """A stream that goes silent (no ping) and a server that never
        answers both count as lost connections after idle_timeout."""
        def handler(h):
            if len(fake.requests) == 1:
                h.send_response(200)
                h.send_header("Content-Type", "text/event-stream")
                h.end_headers()
                h.wfile.write(b'id: 1\nevent: message\ndata: {"seq":1}\n\n')
                h.wfile.flush()
            time.sleep(3)

        fake = FakeServer(handler)
        try:
            f = chatjournal.Client(fake.url, backoff=0.01).follow(after=0, idle_timeout=0.3,
                                                                  max_failures=1)
            t0 = time.monotonic()
            self.assertEqual(next(f), {"seq": 1})
            with self.assertRaises(chatjournal.TransportError):
                next(f)
            self.assertLess(time.monotonic() - t0, 2.5)
            self.assertEqual(len(fake.requests), 2)
            self.assertEqual(fake.requests[1][2].get("Last-Event-ID"), "1")
        finally:
            fake.close()

    def test_health_is_asked_once(self):
        fake = FakeServer(lambda h: reply(h, 503, b'{"status":"degraded","reason":"lag"}'))
        try:
            self.assertEqual(chatjournal.Client(fake.url).health(),
                             {"status": "degraded", "reason": "lag"})
            self.assertEqual(len(fake.requests), 1)
        finally:
            fake.close()

    def test_401_is_raised_and_failures_bounded(self):
        fake = FakeServer(lambda h: reply(h, 401, b'{"error":"unknown or revoked token"}'))
        try:
            with self.assertRaises(chatjournal.AuthenticationError):
                next(iter(chatjournal.Client(fake.url).follow(after=0)))
        finally:
            fake.close()
        fake = FakeServer(lambda h: reply(h, 503, b'{"error":"stopping"}'))
        try:
            with self.assertRaises(chatjournal.UnavailableError):
                next(chatjournal.Client(fake.url, backoff=0.001).follow(after=0, max_failures=2))
            self.assertEqual(len(fake.requests), 3)
        finally:
            fake.close()


class TestNeedsRoutes(unittest.TestCase):
    """The read API and the feed (routes of other branches: see
    tests/clients/needs_routes.txt)."""

    def setUp(self):
        self.cj = client()

    def test_list_is_current(self):
        """A listed route must still be missing: once served, its line goes."""
        import urllib.request
        import urllib.error
        stale = []
        for route, (probe, expect, branch) in helpers.listed_routes().items():
            req = urllib.request.Request(helpers.URL + probe,
                                         headers={"Authorization": "Bearer " + helpers.TOKEN})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    # a route that streams is served once it answers 200
                    served = expect != "object" or r.read(1) == b"{"
            except urllib.error.HTTPError as e:
                # 404 "thread probe: not found" is the route answering;
                # 400 (a parameter it does not take) and 405 are not
                served = e.code == 404 and b"no such route" not in e.read()
            if served:
                stale.append(route)
        self.assertEqual(stale, [], "served now: remove their lines from "
                         "tests/clients/needs_routes.txt")

    def test_follow_real_feed_across_cuts(self):
        needs(self, "/v1/events/stream")
        base = self.cj.stats()["last_seq"]
        first = self.cj.append_many([msg(f"f{i}", "py-feed") for i in range(10)])
        proxy = CutProxy(helpers.URL)
        try:
            cj = chatjournal.Client(proxy.url, token=helpers.TOKEN, backoff=0.01)
            got = []
            with cj.follow(after=base, thread="py-feed") as f:
                for ev in f:
                    got.append(ev)
                    if len(got) == 5:
                        proxy.cut()
                    if len(got) == 10:
                        later = self.cj.append_many([msg(f"g{i}", "py-feed") for i in range(5)])
                        proxy.cut()
                    if len(got) == 15:
                        break
                # events after the first cut may already sit in the client's
                # buffer; the second cut is before the last five exist
                self.assertGreaterEqual(f.reconnects, 1)
            self.assertEqual([e["seq"] for e in got], first["seqs"] + later["seqs"])
            self.assertEqual([e["content"] for e in got],
                             [f"f{i}" for i in range(10)] + [f"g{i}" for i in range(5)])
            self.assertEqual({e["type"] for e in got}, {"message"})
        finally:
            proxy.close()

    def test_follow_across_a_kill9_of_serve(self):
        """A server of its own, behind the proxy: kill -9 after 10 of 20
        events, a new server on the same store, 5 more events: the follower
        yields 1..25, each once, in order."""
        needs(self, "/v1/events/stream")
        import tempfile
        from pathlib import Path
        sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "cli"))
        from test_serve import Server, run_cj
        with tempfile.TemporaryDirectory(prefix="cj-py-kill-") as d:
            store = Path(d) / "s"
            self.assertEqual(run_cj("init", store).returncode, 0)
            token = run_cj("token", "add", store).stdout.decode().strip()
            srv = Server(store)
            proxy = CutProxy(srv.base)
            try:
                chatjournal.Client(srv.base, token=token).append_many(
                    [msg(f"k{i}", "k") for i in range(20)])
                got = []
                f = chatjournal.Client(proxy.url, token=token, backoff=0.05).follow(after=0)
                for ev in f:
                    got.append(ev)
                    if len(got) == 10:
                        srv.kill()  # SIGKILL
                        proxy.cut()
                        srv = Server(store)
                        proxy.target = ("127.0.0.1", int(srv.base.rsplit(":", 1)[1]))
                        chatjournal.Client(srv.base, token=token).append_many(
                            [msg(f"k{i}", "k") for i in range(20, 25)])
                    if len(got) == 25:
                        break
                f.close()
                self.assertEqual([e["seq"] for e in got], list(range(1, 26)))
                self.assertEqual([e["content"] for e in got], [f"k{i}" for i in range(25)])
            finally:
                proxy.close()
                srv.kill()

    def test_events_page(self):
        needs(self, "/v1/events")
        seq = self.cj.append(msg("feed page", "py-ev", ts=1767323045000, id="py-ev-1"))["seq"]
        page = self.cj.events(after=seq - 1, limit=1)
        self.assertEqual(page["events"], [{"seq": seq, "type": "message", "thread": "py-ev",
                                           "role": "user", "content": "feed page",
                                           "id": "py-ev-1", "ts": 1767323045000}])
        self.assertEqual(page["next_after"], seq)
        self.assertGreaterEqual(page["last_seq"], seq)

    def test_threads_and_thread(self):
        needs(self, "/v1/threads", "/v1/threads/{t}")
        seq = self.cj.append_many([msg("t1", "py-th-1", server="py-S"),
                                   msg("t2", "py-th-2", server="py-S")])["last_seq"]
        self.cj.history("py-th-2", min_seq=seq)
        got = self.cj.threads(server="py-S")
        self.assertEqual([t["thread"] for t in got], ["py-th-2", "py-th-1"])
        self.assertEqual(got[0]["message_count"], 1)
        one = self.cj.thread("py-th-1")
        self.assertEqual((one["thread"], one["server"], one["message_count"]),
                         ("py-th-1", "py-S", 1))
        with self.assertRaises(chatjournal.NotFoundError):
            self.cj.thread("py-th-none")
        first = self.cj.threads(server="py-S", limit=1)
        self.assertIsNotNone(first.next_url)
        self.assertEqual([t["thread"] for t in self.cj.iterate(first)], ["py-th-2", "py-th-1"])

    def test_users(self):
        needs(self, "/v1/users/{u}", "/v1/users/{u}/messages")
        seq = self.cj.append_many([
            {"type": "user", "user": "py-U", "username": "pyuser", "timezone": "Europe/Paris"},
            msg("u1", "py-ut-1", user="py-U", server="py-S2"),
            msg("u2", "py-ut-2", user="py-U", server="py-S2"),
            msg("u3", "py-ut-2", user="py-U", server="py-S3")])["seqs"]
        self.cj.history("py-ut-2", min_seq=seq[-1])
        u = self.cj.user("py-U")
        self.assertEqual((u["user"], u["username"], u["timezone"]),
                         ("py-U", "pyuser", "Europe/Paris"))
        with self.assertRaises(chatjournal.NotFoundError):
            self.cj.user("py-nobody")
        self.assertEqual([m["content"] for m in self.cj.user_messages("py-U", server="py-S2")],
                         ["u1", "u2"])
        self.assertEqual([m["seq"] for m in self.cj.user_messages("py-U")], seq[1:])

    def test_costs(self):
        needs(self, "/v1/costs")
        seq = self.cj.append(msg("priced", "py-cost", role="assistant", user="py-cu",
                                 cost={"model": "m", "input_tokens": 10, "output_tokens": 5,
                                       "usd": 0.25}))["seq"]
        self.cj.history("py-cost", min_seq=seq)
        got = self.cj.costs(thread="py-cost")
        self.assertEqual(got["total"]["usd"], 0.25)
        self.assertEqual(got["total"]["input_tokens"], 10)
        self.assertEqual(got["total"]["output_tokens"], 5)

    def test_metrics_and_settings(self):
        needs(self, "/v1/metrics", "/v1/settings")
        seq = self.cj.append_many([
            {"type": "metric", "name": "py.latency", "value": 12.5, "unit": "ms"},
            {"type": "setting", "key": "py.secret", "value": "hunter2", "category": "py",
             "sensitive": True}])["last_seq"]
        self.cj.history("none", min_seq=seq)
        m = self.cj.metrics(name="py.latency")
        self.assertEqual([(x["name"], x["value"]) for x in m], [("py.latency", 12.5)])
        s = json.dumps(self.cj.settings(category="py"))
        self.assertIn("py.secret", s)
        self.assertNotIn("hunter2", s)

    def test_openai_messages(self):
        needs(self, "/v1/threads/{t}/messages?format=openai")
        seq = self.cj.append_many([msg("hi", "py-oa"),
                                   msg("hello!", "py-oa", role="assistant")])["last_seq"]
        self.assertEqual(self.cj.openai_messages("py-oa", min_seq=seq),
                         [{"role": "user", "content": "hi"},
                          {"role": "assistant", "content": "hello!"}])


if __name__ == "__main__":
    sys.exit(helpers.run(sys.modules[__name__]))
