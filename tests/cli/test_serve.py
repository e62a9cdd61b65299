#!/usr/bin/env python3
"""Black-box tests of `chatjournal serve` (tests/cli).

Starts the binary named by $CJ_BIN as a server on a free port, reads
"listening on ADDR" and the first token from its stderr, and talks to it with
urllib the way a bot would: routes, status codes and exact bodies from
docs/http.md, then a graceful stop on SIGTERM. Standard
library only.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

import clitest

BIN = os.environ.get("CJ_BIN", "")
TOKEN_RE = re.compile(r"cjt_[0-9a-f]{16}_[0-9a-f]{64}")
START_TIMEOUT = 20
STOP_TIMEOUT = 5


def run_cj(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, timeout=120)


class Server:
    """`chatjournal serve` as a child process; stderr is read by a thread so
    that request logs can never fill the pipe."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([BIN, "serve", *map(str, args), "--listen", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            self.addr = self._wait_for(r"^listening on (127\.0\.0\.1:\d+)$").group(1)
        except BaseException:
            self.kill()
            raise
        self.base = f"http://{self.addr}"

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF
            self.cond.notify_all()

    def _wait_for(self, pattern):
        deadline = time.monotonic() + START_TIMEOUT
        rx = re.compile(pattern)
        with self.cond:
            while True:
                for line in self.lines:
                    if line is None:
                        raise AssertionError(f"serve exited: {self.lines}")
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line matching {pattern!r} in {self.lines}")
                self.cond.wait(left)

    def stderr_lines(self):
        with self.cond:
            return [line for line in self.lines if line is not None]

    def tokens_shown(self, n):
        """The first tokens shown at start, once n notices are complete (a
        notice ends with its "more tokens:" line, after "listening on")."""
        deadline = time.monotonic() + START_TIMEOUT
        with self.cond:
            while sum(1 for line in self.lines if line and line.startswith("more tokens:")) < n:
                left = deadline - time.monotonic()
                if left <= 0 or None in self.lines:
                    raise AssertionError(f"expected {n} token notices in {self.lines}")
                self.cond.wait(left)
        return sorted(set(TOKEN_RE.findall("\n".join(self.stderr_lines()))))

    def stop(self):
        """SIGTERM; returns (exit status, seconds taken)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"serve did not stop within {STOP_TIMEOUT} s")
        self.reader.join(5)
        return rc, time.monotonic() - t0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def request(base, method, path, body=None, token=None, content_type="application/json",
            raw=None):
    """(status, headers, body bytes) of one request; never raises on 4xx/5xx."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {}
    if token:
        headers["Authorization"] = "Bearer " + token
    if data is not None and content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def message(content, thread="T1", **extra):
    ev = {"type": "message", "thread": thread, "role": "user", "content": content}
    ev.update(extra)
    return ev


def row(seq, ev, ts, ts_ms):
    """The row GET .../messages gives for a stored message event."""
    out = {"seq": seq, "type": "message", "ts": ts, "ts_ms": ts_ms}
    for k in ("thread", "role", "content", "user", "server", "channel", "id", "metadata"):
        if k in ev:
            out[k] = ev[k]
    return out


class ServeCase(unittest.TestCase):
    """One server for the route tests, started the way an operator would:
    a first start creates and shows the first token; a read-only token is
    added with `token add`; a restart (tokens are read at start) serves two
    stores, the first with --max-body 1000."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cj-serve-")
        try:
            cls.start()
        except BaseException:
            cls.tmp.cleanup()
            raise

    @classmethod
    def start(cls):
        d = Path(cls.tmp.name)
        cls.store, cls.other = d / "slack", d / "discord"
        for s in (cls.store, cls.other):
            r = run_cj("init", s)
            assert r.returncode == 0, r.stderr

        first = Server(cls.store)
        try:
            shown = first.tokens_shown(1)
            assert len(shown) == 1, first.stderr_lines()
            cls.token = shown[0]
            cls.first_start_lines = first.stderr_lines()
            cls.first_stop = first.stop()
        finally:
            first.kill()
        r = run_cj("token", "add", cls.store, "--read-only", "--label", "reader")
        assert r.returncode == 0, r.stderr
        cls.ro_token = r.stdout.decode().strip()

        cls.server = Server(cls.store, cls.other, "--max-body", "1000")
        try:
            shown = cls.server.tokens_shown(1)
            assert len(shown) == 1, cls.server.stderr_lines()  # the other store's first token
            cls.other_token = shown[0]
        except BaseException:
            cls.server.kill()  # tearDownClass does not run after a failed setUpClass
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        cls.tmp.cleanup()

    def call(self, method, path, body=None, token=None, **kw):
        return request(self.server.base, method, path, body,
                       token if token is not None else self.token, **kw)

    def call_json(self, method, path, body=None, token=None, status=200, **kw):
        st, _, data = self.call(method, path, body, token, **kw)
        self.assertEqual(st, status, data)
        return json.loads(data)

    def assert_error(self, resp, status, field=None, contains=None):
        st, headers, data = resp
        self.assertEqual(st, status, data)
        self.assertEqual(headers.get("Content-Type"), "application/json")
        err = json.loads(data)
        self.assertIsInstance(err.get("error"), str)
        self.assertEqual(err.get("field"), field, err)
        if contains:
            self.assertIn(contains, err["error"])
        return err


class TestStartup(ServeCase):
    def test_first_start_shows_a_token_once(self):
        lines = self.first_start_lines
        self.assertRegex(lines[0], r"^listening on 127\.0\.0\.1:\d+$")
        addr = lines[0].split()[-1]
        text = "\n".join(lines)
        self.assertIn(f"store {self.store} had no token: created a read+write token "
                      f"(label \"initial\"), shown only this once:\n  {self.token}\n", text)
        self.assertIn(f"curl -H \"Authorization: Bearer {self.token}\" -H 'Content-Type: "
                      f"application/json' -d '{{\"type\":\"message\",\"thread\":\"T1\","
                      f"\"role\":\"user\",\"content\":\"hello\"}}' http://{addr}/v1/events",
                      text)
        self.assertEqual(self.first_stop[0], 0)
        self.assertLess(self.first_stop[1], STOP_TIMEOUT)

    def test_token_is_listed_not_shown_again(self):
        r = run_cj("token", "list", self.store, "--json")
        listed = json.loads(r.stdout)
        self.assertEqual([(t["id"], t["access"], t.get("label")) for t in listed],
                         [(self.token[4:20], "write", "initial"),
                          (self.ro_token[4:20], "read", "reader")])
        # The restart showed only the new store's token.
        self.assertNotIn(self.token, "\n".join(self.server.stderr_lines()))


class TestRoutes(ServeCase):
    def test_post_one_and_batch_then_read(self):
        t = "rt-batch"
        one = message("first", thread=t, user="U1", server="S1", ts="2026-01-02T03:04:05Z",
                      id="rt-1")
        seq = self.call_json("POST", "/v1/events", one)["seq"]
        batch = [message("second", thread=t, ts="2026-01-02T03:04:06Z"),
                 {"type": "message", "thread": t, "role": "assistant", "content": "third",
                  "ts": 1767323047000, "metadata": {"a": 1}}]
        got = self.call_json("POST", "/v1/events", batch)
        self.assertEqual(got, {"seqs": [seq + 1, seq + 2], "last_seq": seq + 2})
        msgs = self.call_json("GET", f"/v1/threads/{t}/messages?min_seq={seq + 2}")
        self.assertEqual(msgs, [
            row(seq, one, "2026-01-02T03:04:05.000Z", 1767323045000),
            row(seq + 1, batch[0], "2026-01-02T03:04:06.000Z", 1767323046000),
            row(seq + 2, batch[1], "2026-01-02T03:04:07.000Z", 1767323047000)])
        # Paging, and a read-only token reads.
        page = self.call_json("GET", f"/v1/threads/{t}/messages?limit=1&before={seq + 2}",
                              token=self.ro_token)
        self.assertEqual([m["seq"] for m in page], [seq + 1])
        # The CLI reads the same rows (read-only, beside the server).
        r = run_cj("history", self.store, t, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), msgs)

    def test_idempotent_retry(self):
        ev = message("retry me", thread="rt-idem", id="rt-idem-1")
        first = self.call_json("POST", "/v1/events", ev)
        self.assertEqual(list(first), ["seq"])
        again = self.call_json("POST", "/v1/events", ev)
        self.assertEqual(again, {"seq": first["seq"], "duplicate": True})
        msgs = self.call_json("GET", f"/v1/threads/rt-idem/messages?min_seq={first['seq']}")
        self.assertEqual([m["seq"] for m in msgs], [first["seq"]])

    def test_retry_of_a_deleted_event_says_so(self):
        a = message("gone soon", thread="rt-del", id="rt-del-1")
        b = message("stays", thread="rt-keep", id="rt-keep-1")
        seqs = self.call_json("POST", "/v1/events", [a, b])["seqs"]
        last = self.call_json("POST", "/v1/events", {"type": "delete_thread", "thread": "rt-del"})
        self.call_json("GET", f"/v1/threads/rt-del/messages?min_seq={last['seq']}")
        # One event: the original number, a duplicate of a deleted event.
        self.assertEqual(self.call_json("POST", "/v1/events", a),
                         {"seq": seqs[0], "duplicate": True, "deleted": True})
        # A batch: indexes of the repeats, and of those deleted.
        c = message("new one", thread="rt-keep", id="rt-keep-2")
        r = self.call_json("POST", "/v1/events", [a, b, c])
        self.assertEqual(r["seqs"][:2], seqs)
        self.assertEqual(r["duplicates"], [0, 1])
        self.assertEqual(r["deleted"], [0])
        self.assertEqual(r["last_seq"], r["seqs"][2])
        self.assertNotIn("duplicates", self.call_json("POST", "/v1/events", [message("x")]))

    def test_conflict(self):
        self.call_json("POST", "/v1/events", message("A", thread="rt-c", id="rt-c-1"))
        err = self.assert_error(self.call("POST", "/v1/events",
                                          message("B", thread="rt-c", id="rt-c-1")), 409, "id")
        self.assertIn("rt-c-1", err["error"])

    def test_search(self):
        seq = self.call_json("POST", "/v1/events", [
            message("the zeppelin lands", thread="rt-s1", ts="2026-01-01T00:00:00Z"),
            message("a zeppelin again", thread="rt-s2", ts="2026-01-01T00:00:01Z"),
        ])["last_seq"]
        got = self.call_json("GET", f"/v1/search?q=zeppelin&min_seq={seq}")
        self.assertEqual([(m["seq"], m["thread"], m["content"]) for m in got],
                         [(seq, "rt-s2", "a zeppelin again"),
                          (seq - 1, "rt-s1", "the zeppelin lands")])
        got = self.call_json("GET", "/v1/search?q=zepp*&thread=rt-s1")
        self.assertEqual([m["seq"] for m in got], [seq - 1])
        # FTS5 syntax is text, never a 500.
        for q in ("%22", "NEAR(a%20b)", "a%20OR", "%2A", "col%3Ax"):
            st, _, data = self.call("GET", f"/v1/search?q={q}")
            self.assertIn(st, (200, 400), (q, data))
        self.assert_error(self.call("GET", "/v1/search"), 400, "q")

    def test_search_by_relevance(self):
        seq = self.call_json("POST", "/v1/events", [
            message("walrus once", thread="rt-r"),
            message("walrus walrus walrus everywhere walrus", thread="rt-r"),
            message("walrus twice, walrus", thread="rt-r"),
        ])["last_seq"]
        recent = self.call_json("GET", f"/v1/search?q=walrus&thread=rt-r&min_seq={seq}")
        self.assertEqual([m["seq"] for m in recent], [seq, seq - 1, seq - 2])
        best = self.call_json("GET", "/v1/search?q=walrus&thread=rt-r&rank=relevance")
        self.assertEqual([m["seq"] for m in best], [seq - 1, seq, seq - 2])
        self.assertEqual(self.call_json("GET", "/v1/search?q=walrus&thread=rt-r&rank=recent"),
                         recent)
        self.assert_error(self.call("GET", "/v1/search?q=walrus&rank=best"), 400, "rank")

    def test_config(self):
        seq = self.call_json("POST", "/v1/events", [
            {"type": "user", "user": "rt-u", "config": {"model": "small", "lang": "en"}},
            {"type": "thread_config", "thread": "rt-cfg", "config": {"model": "big"}},
        ])["last_seq"]
        got = self.call_json("GET", f"/v1/threads/rt-cfg/config?user=rt-u&min_seq={seq}")
        self.assertEqual(got, {"model": "big", "lang": "en"})

    def test_stats(self):
        seq = self.call_json("POST", "/v1/events", message("count me", thread="rt-st"))["seq"]
        self.call_json("GET", f"/v1/threads/rt-st/messages?min_seq={seq}")
        st = self.call_json("GET", "/v1/stats")
        for k in ("messages", "threads", "users", "servers", "images", "messages_today",
                  "position", "last_seq", "lag", "events", "projection_bytes",
                  "journal_bytes", "blobs"):
            self.assertIn(k, st)
        self.assertGreaterEqual(st["last_seq"], seq)
        self.assertGreaterEqual(st["position"], seq)
        self.assertEqual(st["events"], st["last_seq"])

    def test_blob_round_trip(self):
        data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10
        st, _, body = self.call("PUT", "/v1/blobs", raw=data,
                                content_type="application/octet-stream")
        self.assertEqual(st, 200, body)
        got = json.loads(body)
        self.assertRegex(got["blob"], r"^[0-9a-f]{32}$")
        self.assertEqual(got["size"], len(data))
        st, headers, back = self.call("GET", f"/v1/blobs/{got['blob']}", token=self.ro_token)
        self.assertEqual((st, back), (200, data))
        self.assertEqual(headers.get("Content-Type"), "image/png")
        self.assert_error(self.call("GET", "/v1/blobs/" + "0" * 32), 404)

    def test_healthz_without_token(self):
        # Status only: no store names, no figures (issue point 9).
        st, _, body = request(self.server.base, "GET", "/healthz")
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body), {"status": "ok"})

    def test_metrics(self):
        st, headers, body = self.call("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(headers.get("Content-Type").startswith("text/plain"))
        text = body.decode()
        self.assertIn("chatjournal_http_requests_total", text)
        self.assert_error(request(self.server.base, "GET", "/metrics"), 401)

    def test_unauthorized(self):
        self.assert_error(request(self.server.base, "GET", "/v1/stats"), 401)
        self.assert_error(self.call("GET", "/v1/stats", token="cjt_" + "0" * 16 + "_" + "1" * 64),
                          401)
        self.assert_error(self.call("GET", "/v1/stats", token="nonsense"), 401)
        # The right id with a wrong secret.
        self.assert_error(self.call("GET", "/v1/stats", token=self.token[:-1] + (
            "0" if self.token[-1] != "0" else "1")), 401)

    def test_read_only_token_cannot_write(self):
        self.assert_error(self.call("POST", "/v1/events", message("no"), token=self.ro_token),
                          403)
        self.assert_error(self.call("PUT", "/v1/blobs", raw=b"x", token=self.ro_token,
                                    content_type="application/octet-stream"), 403)

    def test_token_decides_the_store(self):
        seq = self.call_json("POST", "/v1/events", message("in discord", thread="rt-iso"),
                             token=self.other_token)["seq"]
        self.assertEqual(seq, 1)
        got = self.call_json("GET", "/v1/threads/rt-iso/messages?min_seq=1",
                             token=self.other_token)
        self.assertEqual([m["content"] for m in got], ["in discord"])
        self.assertEqual(self.call_json("GET", "/v1/threads/rt-iso/messages"), [])

    def test_not_found(self):
        self.assert_error(self.call("GET", "/v1/nothing"), 404)
        # a thread id may hold '/': an unknown last segment names a thread
        # ("T1/nothing"), which this store does not have (docs/http.md)
        self.assert_error(self.call("GET", "/v1/threads/T1/nothing"), 404, "thread",
                          "no thread 'T1/nothing'")
        self.assert_error(self.call("GET", "/v1/users/"), 404)

    def test_wrong_content_type(self):
        self.assert_error(self.call("POST", "/v1/events", message("x"),
                                    content_type="text/plain"), 415)

    def test_malformed_json(self):
        self.assert_error(self.call("POST", "/v1/events", raw=b'{"type": "message",'), 400)
        self.assert_error(self.call("POST", "/v1/events", raw=b"[]"), 400)

    def test_invalid_event_names_the_field(self):
        err = self.assert_error(self.call("POST", "/v1/events", message("x", role="wizard")),
                                400, "role")
        self.assertIn("role", err["error"])
        err = self.assert_error(self.call("POST", "/v1/events",
                                          {"type": "message", "thread": "T", "role": "user"}),
                                400, "content")
        # In a batch, nothing is stored and the element is named.
        before = self.call_json("GET", "/v1/stats")["last_seq"]
        err = self.assert_error(self.call("POST", "/v1/events",
                                          [message("ok"), message("x", role="wizard")]),
                                400, "role")
        self.assertTrue(err["error"].startswith("event 1: field 'role': "), err)
        self.assertEqual(self.call_json("GET", "/v1/stats")["last_seq"], before)

    def test_body_too_large(self):
        self.assert_error(self.call("POST", "/v1/events", message("x" * 2000)), 413)
        # Blobs have their own limit, not --max-body.
        st, _, body = self.call("PUT", "/v1/blobs", raw=b"y" * 5000,
                                content_type="application/octet-stream")
        self.assertEqual(st, 200, body)

    def test_replay_and_vacuum_refused_while_serving(self):
        for cmd in ("replay", "vacuum"):
            r = run_cj(cmd, self.store)
            err = r.stderr.decode()
            self.assertEqual(r.returncode, 1, err)
            self.assertEqual(err.count("\n"), 1, err)
            self.assertIn("another process (chatjournal serve?) is materializing this store",
                          err)
        # A replay into another file is fine beside the server.
        out = Path(self.tmp.name) / "copy.sqlite"
        r = run_cj("replay", self.store, "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_verify_beside_the_server(self):
        seq = self.call_json("POST", "/v1/events", message("verify me", thread="rt-v"))["seq"]
        self.call_json("GET", f"/v1/threads/rt-v/messages?min_seq={seq}")
        r = run_cj("verify", self.store, "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(json.loads(r.stdout)["ok"])


class TestShutdown(unittest.TestCase):
    def test_sigterm_stops_cleanly_and_logs_no_token(self):
        with tempfile.TemporaryDirectory(prefix="cj-serve-") as d:
            store = Path(d) / "s"
            self.assertEqual(run_cj("init", store).returncode, 0)
            srv = Server(store)
            try:
                tokens = srv.tokens_shown(1)
                self.assertEqual(len(tokens), 1)
                token = tokens[0]
                for i in range(20):
                    st, _, body = request(srv.base, "POST", "/v1/events",
                                          message(f"m{i}", id=f"k{i}"), token)
                    self.assertEqual(st, 200, body)
                request(srv.base, "GET", "/v1/stats", token=token)
                request(srv.base, "GET", "/v1/stats", token="cjt_" + "a" * 16 + "_" + "b" * 64)
                rc, took = srv.stop()
            finally:
                srv.kill()
            self.assertEqual(rc, 0)
            self.assertLess(took, STOP_TIMEOUT)
            lines = srv.stderr_lines()
            self.assertEqual(lines[-1], "stopped: requests answered, stores closed")
            logs = [json.loads(line) for line in lines if line.startswith("{")]
            logs = [entry for entry in logs if "status" in entry]  # not the settings line
            self.assertEqual(len(logs), 22)
            self.assertTrue(all(re.fullmatch(r"[0-9a-f]{16}", e["request_id"]) for e in logs))
            self.assertEqual([entry["status"] for entry in logs].count(401), 1)
            for line in lines:
                if line.startswith("{"):
                    self.assertNotIn("cjt_", line)
                    self.assertNotIn("Bearer", line)
            # The token appears only in the startup notice: once alone, once in curl.
            self.assertEqual(sum(line.count(token) for line in lines), 2)
            # Every acknowledged append is there after the stop.
            r = run_cj("stats", store, "--json")
            self.assertEqual(json.loads(r.stdout)["last_seq"], 20)


class TestMaintenance(unittest.TestCase):
    """serve's housekeeping (docs/operations.md, "Scheduled maintenance"):
    retention at start, a backup at once with --backup-every, their JSON log
    lines; --no-maintenance does none of it; flag errors are usage errors."""

    def store_with_old_message(self, d):
        store = Path(d) / "s"
        self.assertEqual(run_cj("init", store).returncode, 0)
        conf = json.loads((store / "chatjournal.conf").read_text())
        conf.setdefault("retention", {})["messages_days"] = 30
        (store / "chatjournal.conf").write_text(json.dumps(conf))
        old = message("ancient", ts="2020-01-01T00:00:00Z")
        r = subprocess.run([BIN, "append", str(store)], input=json.dumps(old).encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return store

    def test_retention_and_backup_at_start(self):
        with tempfile.TemporaryDirectory(prefix="cj-serve-") as d:
            store = self.store_with_old_message(d)
            srv = Server(store, "--backup-every", "1h")
            try:
                srv._wait_for(r'"maintenance":"s","message":"backup: ')
                rc, _ = srv.stop()
            finally:
                srv.kill()
            self.assertEqual(rc, 0)
            logs = [json.loads(x) for x in srv.stderr_lines() if x.startswith('{"maintenance"')]
            messages = [e["message"] for e in logs]
            self.assertIn("retention: 1 purge(s) removing 1 messages, 0 images, 0 metrics; "
                          "0 idle thread(s) deleted (last event 2)", messages)
            backups = [p for p in (store / "backups").iterdir() if not p.name.startswith(".")]
            self.assertEqual(len(backups), 1)
            self.assertTrue(any(m == f"backup: {backups[0]}" for m in messages), messages)
            state = json.loads((store / "maintenance.json").read_text())
            self.assertGreater(state["backup_ms"], 0)
            self.assertEqual((store / "maintenance.json").stat().st_mode & 0o777, 0o600)
            hist = json.loads(run_cj("history", store, "T1", "--json").stdout)
            self.assertEqual(hist, [])

    def test_no_maintenance(self):
        with tempfile.TemporaryDirectory(prefix="cj-serve-") as d:
            store = self.store_with_old_message(d)
            srv = Server(store, "--no-maintenance")
            try:
                srv.tokens_shown(1)
                time.sleep(0.5)
                rc, _ = srv.stop()
            finally:
                srv.kill()
            self.assertEqual(rc, 0)
            self.assertFalse([x for x in srv.stderr_lines() if '"maintenance"' in x])
            self.assertFalse((store / "maintenance.json").exists())
            self.assertEqual(len(json.loads(run_cj("history", store, "T1", "--json").stdout)), 1)

    def test_flag_errors(self):
        with tempfile.TemporaryDirectory(prefix="cj-serve-") as d:
            store = Path(d) / "s"
            self.assertEqual(run_cj("init", store).returncode, 0)
            for args, says in ((["--backup-every", "5s"], "a minute or more"),
                               (["--backup-every", "often"], "is not a duration"),
                               (["--backup-dir", d], "needs '--backup-every'"),
                               (["--backup-every", "1h", "--no-maintenance"], "contradict")):
                r = run_cj("serve", store, *args)
                self.assertEqual(r.returncode, 2, args)
                self.assertIn(says, r.stderr.decode(), args)


if __name__ == "__main__":
    sys.exit(clitest.main("serve", sys.modules[__name__]))
