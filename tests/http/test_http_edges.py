#!/usr/bin/env python3
"""Protocol and auth edges of `chatjournal serve` (the issue's points 5, 9,
10, 11 and 13; docs/http.md), through the real binary and raw sockets:

- framing a proxy could read differently (request smuggling): two
  Content-Length headers, Content-Length with Transfer-Encoding, an
  encoding other than chunked: 400 with a JSON error, nothing stored;
- an encoded NUL: /v1/stats%00junk is 404 (not stats), in a query 400;
- what libmicrohttpd 0.9.75 refuses itself (431, 414, 505, a malformed
  header line): its status, with its own fixed body (the library offers no
  hook to replace it); every error of ours is JSON;
- a revoked token stops working within a second, while serving;
- /metrics shows only the caller's store; /healthz, without a token, only
  a status (and a reason when degraded);
- X-Forwarded-For is believed from --trusted-proxies only, in the log
  line's client and for the per-address cap (counted per proxied request);
- request ids: a client's X-Request-Id is echoed (response header and log
  line), an unusable one is replaced, every response carries one;
- slow queries: with --slow-query-ms 0 each query is logged with route,
  store, scope and duration, never the search text, and counted in /metrics;
- a damaged projection: serve refuses to start, saying to run
  'chatjournal replay'; with --skip-start-check a query that meets the
  damage gets a JSON 500 saying so and /healthz turns degraded;
- a full journal (CJ_EFULL: a tiny journal.map_ceiling) is 507.
"""
import http.client
import json
import os
import re
import select
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

from httptest import (BIN, HttpCase, Server, call, log, message, raw_exchange, request_bytes,
                      serve_two_stores)


class TestFraming(HttpCase):
    def test_smuggling_and_nul(self):
        tok = self.token.encode()
        ev = json.dumps(message("smug", "hidden")).encode()
        head = (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok +
                b"\r\nContent-Type: application/json\r\n")
        cases = [
            ("two different Content-Length", head + b"Content-Length: %d\r\nContent-Length: 5\r\n"
             b"\r\n" % len(ev) + ev),
            ("two equal Content-Length", head + b"Content-Length: %d\r\nContent-Length: %d\r\n"
             b"\r\n" % (len(ev), len(ev)) + ev),
            ("Content-Length and Transfer-Encoding", head + b"Content-Length: %d\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n" % len(ev) + b"%x\r\n" % len(ev) + ev +
             b"\r\n0\r\n\r\n"),
            ("Transfer-Encoding gzip", head + b"Transfer-Encoding: gzip, chunked\r\n\r\n" +
             b"%x\r\n" % len(ev) + ev + b"\r\n0\r\n\r\n"),
            ("two Transfer-Encoding", head + b"Transfer-Encoding: chunked\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(ev) + ev + b"\r\n0\r\n\r\n"),
        ]
        for label, data in cases:
            with self.subTest(label):
                st, headers, body = raw_exchange(self.server, data)
                self.assertEqual(st, 400, f"{label}: {body[:200]!r}")
                self.assertEqual(headers["content-type"], "application/json")
                self.assertIn("error", json.loads(body))
        st, _, rows = call(self.server, "GET", "/v1/threads/smug/messages", self.token)
        self.assertEqual((st, rows), (200, []), "a refused request stored something")
        # An encoded NUL: /v1/stats%00junk names no route.
        st, r, err = call(self.server, "GET", "/v1/stats%00junk", self.token)
        self.assertEqual(st, 404, err)
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        st, _, err = call(self.server, "GET", "/v1/search?q=a%00b", self.token)
        self.assertEqual(st, 400, err)
        st, _, stats = call(self.server, "GET", "/v1/stats", self.token)
        self.assertEqual(st, 200)
        log("http/framing: smuggling cases 400 JSON; %00 in the path 404, in the query 400")

    def test_what_libmicrohttpd_refuses_itself(self):
        tok = self.token
        cases = [
            ("header block over 64 KiB", request_bytes(tok, b"{}", extra=b"X-Pad: " +
                                                       b"a" * 70000 + b"\r\n"), {431}),
            ("header block over 16 KiB (the connection pool)",
             request_bytes(tok, b"{}", extra=b"X-Pad: " + b"a" * 17000 + b"\r\n"), {431}),
            ("URL over 64 KiB", request_bytes(tok, b"", method=b"GET", path=b"/v1/threads/" +
                                              b"t" * 100000 + b"/messages"), {414, 431}),
            ("HTTP/3.0", b"GET /v1/stats HTTP/3.0\r\nHost: x\r\n\r\n", {505}),
            ("header line without a colon", b"GET /v1/stats HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
             {400}),
            ("Content-Length not a number", b"POST /v1/events HTTP/1.1\r\nHost: x\r\n"
             b"Content-Length: 12x\r\n\r\n", {400}),
        ]
        seen = {}
        for label, data, allowed in cases:
            with self.subTest(label):
                st, headers, body = raw_exchange(self.server, data)
                self.assertTrue(st in allowed or st == "closed", f"{label}: {st} {body[:200]!r}")
                seen[label] = (st, headers.get("content-type") if headers else None)
                self.assertTrue(self.server.alive())
        # ... while an 8 KiB header (what common proxies allow) still passes.
        ev = json.dumps({"type": "message", "thread": "pad", "role": "user",
                         "content": "padded"}).encode()
        st, _, body = raw_exchange(self.server, request_bytes(tok, ev, extra=b"X-Pad: " +
                                                              b"a" * 8192 + b"\r\n"))
        self.assertEqual(st, 200, body[:200])
        log(f"http/mhd-refusals (libmicrohttpd's own bodies): {seen}")


class TestTokens(HttpCase):
    def test_revoke_takes_effect_within_a_second(self):
        r = subprocess.run([BIN, "token", "add", str(self.store), "--label", "bot"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        tok = r.stdout.decode().strip()
        t0 = time.monotonic()
        while call(self.server, "GET", "/v1/stats", tok)[0] != 200:
            self.assertLess(time.monotonic() - t0, 1.0, "a new token not granted within 1 s")
            time.sleep(0.02)
        added = time.monotonic() - t0
        r = subprocess.run([BIN, "token", "revoke", str(self.store), tok[4:20]],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        t0 = time.monotonic()
        while True:
            st = call(self.server, "GET", "/v1/stats", tok)[0]
            took = time.monotonic() - t0
            if st == 401:
                break
            self.assertEqual(st, 200)
            self.assertLess(took, 1.0, "a revoked token still works after 1 s")
            time.sleep(0.02)
        self.assertEqual(call(self.server, "GET", "/v1/stats", self.token)[0], 200)
        log(f"http/tokens: added token granted after {added * 1000:.0f} ms, revoked token "
            f"refused after {took * 1000:.0f} ms, while serving")


class TestScoping(unittest.TestCase):
    def test_metrics_and_healthz_show_only_the_callers_store(self):
        with tempfile.TemporaryDirectory(prefix="cjtest-http.", dir=os.environ.get("TMPDIR")) as d:
            srv, tok_a, tok_b = serve_two_stores(d)
            try:
                for i in range(3):
                    self.assertEqual(call(srv, "POST", "/v1/events", tok_a,
                                          message("m", f"a{i}"))[0], 200)
                st, _, text = call(srv, "GET", "/metrics", tok_b)
                self.assertEqual(st, 200)
                text = text.decode()
                self.assertIn('chatjournal_journal_last_seq{store="bravo-store"} 0', text)
                self.assertNotIn("alpha", text)
                st, _, text = call(srv, "GET", "/metrics", tok_a)
                self.assertIn('chatjournal_journal_last_seq{store="alpha-store"} 3', text.decode())
                self.assertNotIn("bravo", text.decode())
                st, _, h = call(srv, "GET", "/healthz")
                self.assertEqual((st, h), (200, {"status": "ok"}))
                st, _, h = call(srv, "GET", "/healthz", tok_a)
                self.assertEqual((st, h), (200, {"status": "ok"}))
                log("http/scoping: /metrics of each token names its store only; /healthz: status only")
            finally:
                srv.kill()


class TestProxies(HttpCase):
    server_args = ("--trusted-proxies", "127.0.0.3,10.0.0.0/8", "--max-per-ip", 2)

    def records(self, rid):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            got = [r for r in self.server.records if r.get("request_id") == rid and "status" in r]
            if got:
                return got[0]
            time.sleep(0.02)
        self.fail(f"no log line for request {rid}")

    def test_forwarded_for_from_trusted_proxies_only(self):
        xff = {"X-Forwarded-For": "198.51.100.7, 10.1.2.3"}
        # From a trusted proxy: the client is the rightmost untrusted entry.
        st, r, _ = call(self.server, "GET", "/v1/stats", self.token,
                        headers={**xff, "X-Request-Id": "via-proxy"}, source="127.0.0.3")
        self.assertEqual(st, 200)
        self.assertEqual(self.records("via-proxy")["client"], "198.51.100.7")
        # From anyone else: the header is ignored.
        st, r, _ = call(self.server, "GET", "/v1/stats", self.token,
                        headers={**xff, "X-Request-Id": "direct"}, source="127.0.0.2")
        self.assertEqual(st, 200)
        self.assertEqual(self.records("direct")["client"], "127.0.0.2")
        # The per-address cap (2 here) counts the proxy's clients per request in
        # progress, not the proxy's connections: 4 connections from the proxy
        # are fine; a third request in progress from one client is 503.
        held = []
        for i in range(3):
            s = socket.socket()
            s.bind(("127.0.0.3", 0))
            s.connect((self.server.host, self.server.port))
            s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                      self.token.encode() + b"\r\nX-Forwarded-For: 203.0.113.5\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            held.append(s)
        # Two event loops may take the heads in any order: exactly one of
        # the three is refused, the two others wait for their bodies.
        answered, deadline = {}, time.monotonic() + 5
        while not answered and time.monotonic() < deadline:
            ready, _, _ = select.select(held, [], [], 0.1)
            for s in ready:
                answered[s] = s.recv(4096)
        time.sleep(0.3)
        ready, _, _ = select.select([s for s in held if s not in answered], [], [], 0)
        self.assertEqual(len(answered), 1, answered)
        self.assertEqual(ready, [], "more than one request was refused")
        third = list(answered.values())[0]
        self.assertTrue(third.startswith(b"HTTP/1.1 503"), third[:200])
        st, _, _ = call(self.server, "GET", "/v1/stats", self.token,
                        headers={"X-Forwarded-For": "203.0.113.6"}, source="127.0.0.3")
        self.assertEqual(st, 200, "another client behind the proxy was refused")
        # Direct clients are capped per connection: a third from 127.0.0.2 is closed.
        direct = []
        for i in range(3):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.connect((self.server.host, self.server.port))
            direct.append(s)
        # Whichever of the three came last to the accept policy is closed.
        time.sleep(0.5)
        closed = 0
        for s in direct:
            s.setblocking(False)
            try:
                closed += s.recv(1) == b""
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed += 1
        self.assertEqual(closed, 1, "the cap of 2 connections from one address did not hold")
        for s in held + direct:
            s.close()
        log("http/proxies: X-Forwarded-For believed from 127.0.0.3 only; per-address cap 2 "
            "counts proxied requests per client and direct connections per address")


class TestRequestIds(HttpCase):
    server_args = ("--slow-query-ms", 0)

    def test_request_ids_and_slow_queries(self):
        st, r, _ = call(self.server, "GET", "/v1/stats", self.token,
                        headers={"X-Request-Id": "abc-123.x"})
        self.assertEqual(r.getheader("X-Request-Id"), "abc-123.x")
        for bad in ("has space", "x" * 65, "semi;colon"):
            st, r, _ = call(self.server, "GET", "/v1/stats", self.token, headers={"X-Request-Id": bad})
            self.assertRegex(r.getheader("X-Request-Id"), r"^[0-9a-f]{16}$")
        st, r, _ = call(self.server, "GET", "/v1/nothing")  # an error carries one too
        self.assertEqual(st, 401)
        self.assertRegex(r.getheader("X-Request-Id"), r"^[0-9a-f]{16}$")
        # Slow queries (threshold 0 ms: every query).
        seq = call(self.server, "POST", "/v1/events", self.token, message("T9", "secret words"))[2]["seq"]
        st, r, rows = call(self.server, "GET", f"/v1/search?q=secret&thread=T9&min_seq={seq}",
                           self.token, headers={"X-Request-Id": "slow-1"})
        self.assertEqual(st, 200, rows)
        deadline = time.monotonic() + 5
        slow = []
        while not slow and time.monotonic() < deadline:
            slow = [x for x in self.server.records if x.get("event") == "slow_query" and
                    x.get("request_id") == "slow-1"]
            time.sleep(0.02)
        self.assertEqual(len(slow), 1, self.server.records[-5:])
        self.assertEqual(slow[0]["route"], "/v1/search")
        self.assertEqual(slow[0]["scope"], {"thread": "T9"})
        self.assertIn("ms", slow[0])
        self.assertNotIn("secret", json.dumps(slow[0]))
        line = [x for x in self.server.records if x.get("request_id") == "abc-123.x"
                and "status" in x]
        self.assertEqual(len(line), 1)
        _, _, text = call(self.server, "GET", "/metrics", self.token)
        self.assertRegex(text.decode(), r'chatjournal_http_slow_queries_total\{route="/v1/search"\} [1-9]')
        for rec in self.server.records:
            self.assertNotIn("cjt_", json.dumps(rec))
        log(f"http/request-ids: echoed, replaced when unusable; slow query line: {slow[0]}")


def damage(store):
    """Overwrite the root page of the table the history query reads (a
    thread's newest messages: messages_tail, 009_messages_tail.sql)."""
    db = sqlite3.connect(f"file:{store}/chat.sqlite?mode=ro", uri=True)
    page = db.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'messages_tail'"
                      ).fetchone()[0]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with open(f"{store}/chat.sqlite", "r+b") as f:
        f.seek((page - 1) * size)
        f.write(b"\x5a" * size)


class TestDamagedProjection(HttpCase):
    def test_start_check_and_query_time_damage(self):
        for i in range(50):
            self.assertEqual(call(self.server, "POST", "/v1/events", self.token,
                                  message(f"T{i % 3}", f"before the damage {i}"))[0], 200)
        self.assertEqual(self.server.terminate(10)[0], 0)
        damage(self.store)
        t0 = time.monotonic()
        r = subprocess.run([BIN, "serve", str(self.store), "--listen", "127.0.0.1:0"],
                           capture_output=True, timeout=60)
        took = time.monotonic() - t0
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 1, err)
        self.assertIn("damaged", err)
        self.assertIn("run 'chatjournal replay'", err)
        srv = self.start("--skip-start-check")
        st, r_, body = call(srv, "GET", "/v1/threads/T1/messages", self.token)
        self.assertEqual(st, 500, body)
        self.assertEqual(r_.getheader("Content-Type"), "application/json")
        self.assertIn("run 'chatjournal replay'", body["error"])
        st, _, h = call(srv, "GET", "/healthz")
        self.assertEqual((st, h), (503, {"status": "degraded",
                                         "reason": "the projection is damaged: run 'chatjournal replay'"}))
        st, _, stats = call(srv, "GET", "/v1/stats", self.token)
        self.assertFalse(stats["health"]["ok"])
        # The conf key does what the flag does.
        self.assertEqual(srv.terminate(10)[0], 0)
        conf_path = Path(self.store) / "chatjournal.conf"
        conf = json.loads(conf_path.read_text())
        conf["http"]["start_check"] = False
        conf_path.write_text(json.dumps(conf))
        srv = self.start()
        self.assertEqual(call(srv, "GET", "/healthz")[0], 200)  # not met the damage yet
        log(f"http/damaged: start refused in {took:.2f} s ({err.strip()!r}); with "
            f"--skip-start-check a damaged read is a JSON 500 and /healthz is {h}")


class TestSettings(unittest.TestCase):
    """http.* keys of chatjournal.conf: checked at open, the strictest of
    several stores in force (with a note), a flag over them all."""

    def test_conf_keys_strictest_and_flags(self):
        with tempfile.TemporaryDirectory(prefix="cjtest-http.", dir=os.environ.get("TMPDIR")) as d:
            a, b = Path(d) / "a", Path(d) / "b"
            for s, ms in ((a, 5000), (b, 7000)):
                self.assertEqual(subprocess.run([BIN, "init", str(s)], capture_output=True).returncode, 0)
                conf = json.loads((s / "chatjournal.conf").read_text())
                self.assertEqual(conf["http"]["head_timeout_ms"], 10000)  # init spells it out
                conf["http"]["head_timeout_ms"] = ms
                conf["http"]["trusted_proxies"] = ["10.0.0.0/8"] if s == a else []
                (s / "chatjournal.conf").write_text(json.dumps(conf))

            def settings(*args):
                srv = Server(a, *args, stores=[b])
                try:
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline:
                        got = [r for r in srv.records if r.get("event") == "settings"]
                        if got:
                            return got[0]
                        time.sleep(0.02)
                    self.fail(f"no settings line: {srv.notes}")
                finally:
                    srv.kill()

            got = settings()
            self.assertEqual(got["head_timeout_ms"], 5000)
            self.assertEqual(got["trusted_proxies"], [])  # only what every store trusts
            self.assertIn("strictest", got.get("note", ""))
            got = settings("--head-timeout-ms", 9000, "--trusted-proxies", "192.0.2.1")
            self.assertEqual(got["head_timeout_ms"], 9000)
            self.assertEqual(got["trusted_proxies"], ["192.0.2.1/32"])
            # A typo in the http section is refused at start, naming the key.
            conf = json.loads((a / "chatjournal.conf").read_text())
            conf["http"]["head_timeout"] = 1
            (a / "chatjournal.conf").write_text(json.dumps(conf))
            r = subprocess.run([BIN, "serve", str(a), "--listen", "127.0.0.1:0"],
                               capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn("unknown setting http.head_timeout", r.stderr.decode())
            log("http/settings: strictest of two stores (5000 of 5000/7000, no shared proxy), "
                "flags over both, a typo refused")


class TestJournalFull(unittest.TestCase):
    def test_full_journal_is_507(self):
        with tempfile.TemporaryDirectory(prefix="cjtest-http.", dir=os.environ.get("TMPDIR")) as d:
            store = Path(d) / "s"
            self.assertEqual(subprocess.run([BIN, "init", str(store)], capture_output=True).returncode, 0)
            conf = json.loads((store / "chatjournal.conf").read_text())
            conf["journal"]["map_initial"] = 1 << 20
            conf["journal"]["map_ceiling"] = 2 << 20
            (store / "chatjournal.conf").write_text(json.dumps(conf))
            srv = Server(store)
            try:
                tok = srv.token()
                statuses = []
                for i in range(12):
                    st, _, body = call(srv, "POST", "/v1/events", tok,
                                       message("big", f"{i} " + "x" * 400000))
                    statuses.append(st)
                    if st != 200:
                        break
                self.assertEqual(statuses[-1], 507, (statuses, body))
                self.assertIn("full", body["error"])
                log(f"http/full: statuses {statuses}; then {body}")
            finally:
                srv.kill()


if __name__ == "__main__":
    import sys
    argv = [sys.argv[0]] + [x for x in sys.argv[1:] if x != BIN]
    unittest.main(argv=argv, verbosity=2)
