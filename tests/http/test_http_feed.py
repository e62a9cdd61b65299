"""tests/http/test_http_feed.py — the change feed (docs/http.md, "Change
feed"): GET /v1/events pages (order, next_after/last_seq, filters,
tombstones, refusals naming the parameter) and GET /v1/events/stream
(frames, Last-Event-ID, keep-alives, the slow consumer cut off with a
resume frame, the stop), and the exactly-once proof: consumers (one of
them deliberately slow) across kill -9 of `serve`, each resuming from its
last id, each receive every event of the journal once, in order.

CJ_FEED_CONSUMERS (10) and CJ_FEED_EVENTS (3000) size the kill -9 test;
CJ_FEED_KILLS (2) is how often serve is killed in it."""
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

from httptest import BIN, Client, HttpCase, Server, log, message

CONSUMERS = int(os.environ.get("CJ_FEED_CONSUMERS", "10"))
EVENTS = int(os.environ.get("CJ_FEED_EVENTS", "3000"))
KILLS = int(os.environ.get("CJ_FEED_KILLS", "2"))
STALL_MS = 300
PING_MS = 200


class Stream:
    """One GET /v1/events/stream: frames parsed as they arrive. rcvbuf: a
    small socket receive buffer (the slow consumer)."""

    def __init__(self, server, token, query="", last_event_id=None, rcvbuf=None, timeout=30):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.settimeout(timeout)
            s.connect((server.host, server.port))
        except OSError:
            s.close()
            raise
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
        self.conn.sock = s
        headers = {"Authorization": "Bearer " + token}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/v1/events/stream" + query, headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
        self.buf = b""
        self.ended = False

    def error_body(self):
        return json.loads(self.resp.read())

    def frame(self, amt=65536):
        """The next frame as a dict {"id","event","data","comment"}, or None
        at the end of the stream (raises on a broken connection)."""
        while b"\n\n" not in self.buf:
            chunk = self.resp.read1(amt)
            if not chunk:
                self.ended = True
                if self.buf:
                    raise AssertionError(f"stream ended inside a frame: {self.buf[:200]!r}")
                return None
            self.buf += chunk
        raw, _, self.buf = self.buf.partition(b"\n\n")
        f = {}
        for line in raw.decode().split("\n"):
            if line.startswith(":"):
                f["comment"] = line[1:].strip()
                continue
            k, _, v = line.partition(": ")
            if k in f:
                raise AssertionError(f"field {k!r} twice in a frame: {raw!r}")
            f[k] = v
        if "data" in f:
            f["data"] = json.loads(f["data"])
        return f

    def events_until(self, n, timeout=30):
        """The next n event frames (keep-alives skipped)."""
        out, deadline = [], time.monotonic() + timeout
        while len(out) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(out)} of {n} events within {timeout} s")
            f = self.frame()
            if f is None:
                raise AssertionError(f"stream ended after {len(out)} of {n} events")
            if "comment" not in f:
                out.append(f)
        return out

    def close(self):
        self.conn.close()


def feed(client, query):
    st, body = client.request("GET", "/v1/events" + query)
    return st, body


class FeedCase(HttpCase):
    server_args = ("--stream-ping-ms", str(PING_MS), "--stream-stall-ms", str(STALL_MS))

    def append(self, events, server=None):
        c = self.client(server)
        st, body = c.request("POST", "/v1/events", events)
        c.close()
        self.assertEqual(st, 200, body)
        return body["seqs"]

    def stream(self, query="", **kw):
        s = Stream(self.server, self.token, query, **kw)
        self.addCleanup(s.close)
        return s


class TestPage(FeedCase):
    def test_pages_in_order_with_next_after_and_last_seq(self):
        evs = [message("a" if i % 3 else "b", f"m{i}", id=f"id-{i}", ts=1700000000000 + i)
               for i in range(25)]
        seqs = self.append(evs)
        self.assertEqual(seqs, list(range(1, 26)))
        c = self.client()
        got, after, pages = [], 0, 0
        while True:
            st, body = feed(c, f"?after={after}&limit=10")
            self.assertEqual(st, 200, body)
            self.assertEqual(body["last_seq"], 25)
            pages += 1
            got += body["events"]
            if not body["events"]:
                self.assertEqual(body["next_after"], after)
                break
            self.assertEqual(body["next_after"], body["events"][-1]["seq"])
            after = body["next_after"]
        self.assertEqual(pages, 4)  # 10, 10, 5, then an empty page at the end
        self.assertEqual([e["seq"] for e in got], list(range(1, 26)))
        # each event: its canonical JSON (keys sorted, ts integer ms) with seq
        self.assertEqual(got[4], {"content": "m4", "id": "id-4", "role": "user", "seq": 5,
                                  "thread": "a", "ts": 1700000000004, "type": "message"})
        st, raw = c.request("GET", "/v1/events?after=4&limit=1")
        self.assertEqual(st, 200)
        text = json.dumps(raw["events"][0], separators=(",", ":"))
        self.assertEqual(text, '{"content":"m4","id":"id-4","role":"user","seq":5,"thread":"a",'
                               '"ts":1700000000004,"type":"message"}')
        # defaults: after=0, limit=100
        st, body = feed(c, "")
        self.assertEqual((st, len(body["events"]), body["next_after"]), (200, 25, 25))
        # after = last_seq: an empty page, not an error; past it: 400 naming after
        st, body = feed(c, "?after=25")
        self.assertEqual((st, body), (200, {"events": [], "next_after": 25, "last_seq": 25}))
        st, body = feed(c, "?after=26")
        self.assertEqual(st, 400)
        self.assertEqual(body, {"error": "after 26 is beyond the journal's last sequence "
                                         "number 25", "field": "after", "last_seq": 25})
        c.close()

    def test_filters_skip_events_and_next_after_moves_past_them(self):
        self.append([message("a", "a1"), message("b", "b1"),
                     {"type": "metric", "name": "latency", "value": 1.5},
                     message("a", "a2"), {"type": "thread_config", "thread": "b",
                                          "config": {"model": "x"}},
                     message("c", "c1")])
        c = self.client()
        st, body = feed(c, "?thread=a")
        self.assertEqual(st, 200)
        self.assertEqual([(e["seq"], e["content"]) for e in body["events"]], [(1, "a1"), (4, "a2")])
        self.assertEqual((body["next_after"], body["last_seq"]), (6, 6))
        st, body = feed(c, "?thread=a&thread=b")
        self.assertEqual([e["seq"] for e in body["events"]], [1, 2, 4, 5])
        st, body = feed(c, "?type=metric,thread_config")
        self.assertEqual([(e["seq"], e["type"]) for e in body["events"]],
                         [(3, "metric"), (5, "thread_config")])
        st, body = feed(c, "?type=message&thread=b")
        self.assertEqual([e["seq"] for e in body["events"]], [2])
        # the limit counts events sent; next_after is the last one read
        st, body = feed(c, "?thread=a&limit=1")
        self.assertEqual(([e["seq"] for e in body["events"]], body["next_after"]), ([1], 1))
        st, body = feed(c, "?thread=a&limit=1&after=1")
        self.assertEqual(([e["seq"] for e in body["events"]], body["next_after"]), ([4], 4))
        st, body = feed(c, "?thread=nobody")
        self.assertEqual((body["events"], body["next_after"]), ([], 6))
        c.close()

    def test_unknown_and_malformed_parameters_are_refused_by_name(self):
        self.append([message("a", "x")])
        c = self.client()
        cases = [
            ("?after=1&bogus=2", "bogus", "unknown query parameter 'bogus' (GET /v1/events "
                                          "takes after, limit, type, thread)"),
            ("?since=1", "since", None),
            ("?after=-1", "after", "parameter 'after' must be a sequence number, an integer "
                                   "from 0 to 9223372036854775807"),
            ("?after=1x", "after", None), ("?after=", "after", None), ("?after", "after", None),
            ("?after=9223372036854775808", "after", None),
            ("?after=%2B1", "after", None), ("?after=1&after=2", "after",
                                             "parameter 'after' is given twice"),
            ("?limit=0", "limit", "parameter 'limit' must be an integer from 1 to 1000"),
            ("?limit=1001", "limit", None), ("?limit=ten", "limit", None),
            ("?type=mesage", "type", "parameter 'type': unknown event type 'mesage'"),
            ("?type=", "type", None), ("?type=message,", "type", None),
            ("?thread=", "thread", "parameter 'thread' is empty"),
            ("?thread=%FF", "thread", "parameter 'thread' is not valid UTF-8"),
        ]
        for query, field, msg in cases:
            st, body = feed(c, query)
            self.assertEqual(st, 400, f"{query}: {body!r}")
            self.assertEqual(body["field"], field, query)
            if msg:
                self.assertEqual(body["error"], msg, query)
        st, body = feed(c, "?" + "&".join(f"thread=t{i}" for i in range(63)) + "&thread=a")
        self.assertEqual((st, [e["seq"] for e in body["events"]]), (200, [1]))
        st, body = feed(c, "?" + "&".join(f"x{i}=1" for i in range(70)))
        self.assertEqual((st, body), (400, {"error": "too many query parameters (70; at most 64)"}))
        # the stream refuses what it does not take too (limit is the page's)
        s = self.stream("?limit=5")
        self.assertEqual(s.status, 400)
        self.assertEqual(s.error_body()["field"], "limit")
        s = self.stream("", last_event_id="12abc")
        self.assertEqual(s.status, 400)
        self.assertEqual(s.error_body()["field"], "Last-Event-ID")
        s = self.stream("?after=2")
        self.assertEqual(s.status, 400)
        self.assertEqual(s.error_body(), {"error": "after 2 is beyond the journal's last "
                                                   "sequence number 1", "field": "after",
                                          "last_seq": 1})
        # methods and auth
        st, body = c.request("DELETE", "/v1/events")
        self.assertEqual(st, 405)
        st, body = c.request("POST", "/v1/events/stream", {})
        self.assertEqual(st, 405)
        bad = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        bad.request("GET", "/v1/events/stream", headers={"Authorization": "Bearer cjt_nope"})
        self.assertEqual(bad.getresponse().status, 401)
        bad.close()
        self.assert_serves(self.server, "refused feed requests")
        c.close()

    def test_tombstones_are_shown_redacted(self):
        self.append([message("t", "secret words", id="m1"), message("t", "kept", id="m2")])
        self.append([{"type": "delete_message", "thread": "t", "target": "m1"}])
        # a stream before the compaction: the server keeps these frames
        before = self.stream()
        self.assertEqual(before.events_until(3)[0]["data"]["content"], "secret words")
        r = subprocess.run([BIN, "compact", str(self.store)], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        c = self.client()
        st, body = feed(c, "")
        self.assertEqual(st, 200)
        first = body["events"][0]
        self.assertEqual(first.get("redacted"), True, body)
        self.assertEqual(first["seq"], 1)
        self.assertNotIn("secret words", json.dumps(body))
        self.assertEqual([e.get("redacted", False) for e in body["events"]], [True, False, False])
        self.assertEqual(body["events"][1]["content"], "kept")
        # keys still sorted with redacted and seq inserted
        self.assertEqual(list(first), sorted(first))
        s = self.stream()  # not the frame kept from before: the record changed
        frames = s.events_until(3)
        self.assertEqual(frames[0]["data"], first)
        self.assertEqual([f["event"] for f in frames], ["message", "message", "delete_message"])
        c.close()


class TestStream(FeedCase):
    def test_catch_up_then_live_frames(self):
        self.append([message("a", "one"), message("b", "two")])
        s = self.stream()
        self.assertEqual(s.status, 200)
        self.assertEqual(s.headers["content-type"], "text/event-stream; charset=utf-8")
        self.assertEqual(s.headers["cache-control"], "no-store")
        frames = s.events_until(2)
        self.assertEqual(frames[0], {"id": "1", "event": "message",
                                     "data": frames[0]["data"]})
        self.assertEqual((frames[0]["data"]["content"], frames[0]["data"]["seq"]), ("one", 1))
        self.assertEqual([f["id"] for f in frames], ["1", "2"])
        t0 = time.monotonic()
        self.append([{"type": "metric", "name": "n", "value": 2, "ts": 5000}])
        live = s.events_until(1)[0]
        took = time.monotonic() - t0
        self.assertEqual(live, {"id": "3", "event": "metric",
                                "data": {"name": "n", "seq": 3, "ts": 5000, "type": "metric",
                                         "value": 2}})
        self.assertLess(took, 2.0)
        log(f"http/feed: a live event reached the stream {took * 1000:.1f} ms after its append")

    def test_last_event_id_resumes_and_wins_over_after(self):
        self.append([message("a", f"m{i}") for i in range(6)])
        s = self.stream("?after=1", last_event_id=4)
        self.assertEqual([f["id"] for f in s.events_until(2)], ["5", "6"])
        s = self.stream("?after=4")
        self.assertEqual([f["id"] for f in s.events_until(2)], ["5", "6"])
        s = self.stream("", last_event_id=6)
        self.append([message("a", "late")])
        self.assertEqual([f["id"] for f in s.events_until(1)], ["7"])
        s = self.stream("", last_event_id=8)
        self.assertEqual(s.status, 400)
        self.assertEqual(s.error_body()["field"], "Last-Event-ID")

    def test_idle_stream_pings_and_filtered_stream_reports_its_position(self):
        self.append([message("a", "x")])
        s = self.stream("?after=1")
        t0 = time.monotonic()
        f = s.frame()
        self.assertEqual(f, {"comment": "ping"})
        self.assertGreater(time.monotonic() - t0, PING_MS / 1000 * 0.5)
        self.assertEqual(s.frame(), {"comment": "ping"})
        # a filter that lets nothing through: the keep-alive carries the
        # position past the skipped events, as an id the consumer resumes from
        s2 = self.stream("?thread=elsewhere")
        self.append([message("a", f"y{i}") for i in range(3)])
        deadline = time.monotonic() + 10
        while True:
            f = s2.frame()
            if "comment" not in f:
                break
            self.assertLess(time.monotonic(), deadline)
        self.assertEqual(f, {"id": "4", "event": "position", "data": {"after": 4}})
        self.append([message("elsewhere", "z")])
        f = s2.events_until(1)[0]
        self.assertEqual((f["id"], f["data"]["content"]), ("5", "z"))

    def test_type_and_thread_filters(self):
        self.append([message("a", "a1"), {"type": "metric", "name": "m", "value": 1},
                     message("b", "b1"), message("a", "a2")])
        s = self.stream("?thread=a&type=message")
        self.assertEqual([(f["id"], f["data"]["content"]) for f in s.events_until(2)],
                         [("1", "a1"), ("4", "a2")])
        s = self.stream("?type=metric")
        self.assertEqual([f["id"] for f in s.events_until(1)], ["2"])

    def test_slow_consumer_is_cut_off_with_resume_and_others_are_not(self):
        """A consumer that takes nothing for stall_ms while frames wait gets a
        final resume frame with the position it has everything up to; a
        consumer reading at the same time is not disturbed."""
        big = "x" * 2000
        total = 0
        for b in range(10):
            total += len(self.append([message("s", big + str(i)) for i in range(200)]))
        slow = self.stream(rcvbuf=4096)
        fast = self.stream()
        self.assertEqual(len(fast.events_until(total)), total)
        time.sleep(STALL_MS / 1000 * 4)  # the slow one reads nothing meanwhile
        ids, last = [], None
        while True:
            f = slow.frame(1024)
            if f is None:
                break
            last = f
            if f.get("event") == "message":
                ids.append(int(f["id"]))
        self.assertEqual(last["event"], "resume", last)
        self.assertEqual(last["data"]["reason"], "slow_consumer")
        self.assertEqual(ids, list(range(1, len(ids) + 1)))
        self.assertEqual(last["data"]["after"], ids[-1])
        self.assertEqual(last["id"], str(ids[-1]))
        self.assertLess(ids[-1], total, "the slow consumer was not cut off before the end")
        # it resumes where it was cut
        again = self.stream("", last_event_id=ids[-1])
        rest = again.events_until(total - ids[-1])
        self.assertEqual([int(f["id"]) for f in rest], list(range(ids[-1] + 1, total + 1)))
        c = self.client()
        st, text = c.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertIn(b"chatjournal_feed_slow_consumers_dropped_total 1\n", text)
        c.close()
        log(f"http/feed: slow consumer cut after {ids[-1]} of {total} events, resumed")

    def test_sigterm_ends_streams_with_resume(self):
        self.append([message("a", "x"), message("a", "y")])
        s = self.stream()
        self.assertEqual([f["id"] for f in s.events_until(2)], ["1", "2"])
        # A sanitizer build on a loaded CI machine stops slowly: a bound that
        # fails in time rather than a wait that outlives the suite's timeout
        # (pings keep coming while the server runs).
        rc, took = self.server.terminate(60)
        frames, deadline = [], time.monotonic() + 30
        while time.monotonic() < deadline:
            f = s.frame()
            if f is None:
                break
            frames.append(f)
        else:
            self.fail(f"the stream did not end after SIGTERM (serve exit {rc}): {frames[-3:]}")
        self.assertEqual(rc, 0)
        self.assertEqual([f for f in frames if "comment" not in f],
                         [{"id": "2", "event": "resume",
                           "data": {"after": 2, "reason": "server_stopping"}}])
        self.assertLess(took, 5)

    def test_many_idle_streams_hold_no_worker(self):
        """More streams than workers, all parked: appends and reads are
        still answered at once (a stream costs no thread while it waits)."""
        streams = [self.stream() for _ in range(40)]  # serve runs 4 to 16 workers
        t0 = time.monotonic()
        seq = self.assert_serves(self.server, "40 idle streams")
        self.assertLess(time.monotonic() - t0, 2.0)
        for s in streams:
            f = s.events_until(1)[0]
            self.assertEqual(f["id"], str(seq))


class TestScope(FeedCase):
    def test_a_token_sees_its_own_stores_feed_only(self):
        """Two stores behind one serve: each token's page and stream hold
        its store's events only; a read-only token may follow."""
        self.server.kill()
        other = self.store.parent / "other-store"
        r = subprocess.run([BIN, "init", str(other)], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([BIN, "token", "add", str(other), "--read-only"], capture_output=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        reader = r.stdout.decode().strip()
        r = subprocess.run([BIN, "token", "add", str(other)], capture_output=True, timeout=60)
        writer = r.stdout.decode().strip()
        sv = Server(self.store, *self.server_args, stores=[other])
        self.servers.append(sv)
        self.server = sv
        self.append([message("mine", f"a{i}") for i in range(3)])
        c = Client(sv, writer)
        st, body = c.request("POST", "/v1/events", [message("theirs", "b0")])
        self.assertEqual(st, 200, body)
        c.close()
        c = Client(sv, reader)
        st, body = feed(c, "")
        c.close()
        self.assertEqual(st, 200)
        self.assertEqual([(e["seq"], e["content"]) for e in body["events"]], [(1, "b0")])
        self.assertEqual(body["last_seq"], 1)
        s = Stream(sv, reader)
        self.addCleanup(s.close)
        self.assertEqual([(f["id"], f["data"]["content"]) for f in s.events_until(1)],
                         [("1", "b0")])
        self.append([message("mine", "a3")])
        c = Client(sv, writer)
        c.request("POST", "/v1/events", [message("theirs", "b1")])
        c.close()
        self.assertEqual([(f["id"], f["data"]["content"]) for f in s.events_until(1)],
                         [("2", "b1")])
        mine = Stream(sv, self.token)
        self.addCleanup(mine.close)
        self.assertEqual([f["data"]["content"] for f in mine.events_until(4)],
                         ["a0", "a1", "a2", "a3"])


class TestExactlyOnceAcrossKill9(FeedCase):
    def test_consumers_get_every_event_once_in_order_across_kill9(self):
        """CONSUMERS streams (consumer 0 slow: a 4 KiB receive buffer and
        pauses longer than stall_ms, so it is cut off and resumes) follow
        the journal while a writer appends EVENTS events in batches and
        serve is killed -9 KILLS times and started again. Each consumer
        resumes from the last id it received (Last-Event-ID). At the end
        each has every event of the journal exactly once, in order."""
        state = {"server": self.server}
        lock = threading.Condition()
        done = threading.Event()
        got = [[] for _ in range(CONSUMERS)]
        stats = [{"connects": 0, "resumes": 0, "breaks": 0} for _ in range(CONSUMERS)]
        errors = []

        def consume(k):
            last = 0
            slow = k == 0
            while True:
                with lock:
                    sv = state["server"]
                try:
                    s = Stream(sv, self.token, last_event_id=last,
                               rcvbuf=4096 if slow else None, timeout=10)
                except (OSError, http.client.HTTPException):
                    time.sleep(0.05)
                    continue
                stats[k]["connects"] += 1
                n = 0
                try:
                    if s.status != 200:
                        errors.append(f"consumer {k}: status {s.status}")
                        return
                    while True:
                        f = s.frame(1024 if slow else 65536)
                        if f is None:
                            break
                        if f.get("event") == "resume":
                            stats[k]["resumes"] += 1
                            if f["data"]["after"] != last:
                                errors.append(f"consumer {k}: resume after "
                                              f"{f['data']['after']}, last id {last}")
                            break
                        if "comment" not in f and f.get("event") != "position":
                            seq = int(f["id"])
                            got[k].append(seq)
                            last = seq
                            n += 1
                            if slow and n % 300 == 0:
                                time.sleep(STALL_MS / 1000 * 3)
                        if done.is_set() and last >= state["final"]:
                            return
                except (OSError, http.client.HTTPException, AssertionError):
                    stats[k]["breaks"] += 1
                finally:
                    s.close()
                if done.is_set() and last >= state["final"]:
                    return

        threads = [threading.Thread(target=consume, args=(k,), daemon=True)
                   for k in range(CONSUMERS)]
        for t in threads:
            t.start()
        batch = 50
        kill_at = [EVENTS * (i + 1) // (KILLS + 1) for i in range(KILLS)]
        sent = 0
        while sent < EVENTS:
            evs = [message(f"t{(sent + i) % 7}", f"event {sent + i} " + "p" * 200,
                           id=f"ev-{sent + i}") for i in range(batch)]
            try:  # a batch refused or lost to a kill is sent again: ids make it idempotent
                c = self.client(state["server"])
                st, body = c.request("POST", "/v1/events", evs)
                c.close()
            except (OSError, http.client.HTTPException):
                st = None
            if st == 200:
                sent += batch
            if kill_at and sent >= kill_at[0]:
                kill_at.pop(0)
                time.sleep(0.2)  # the consumers are mid-stream
                self.server.kill()
                log(f"http/feed: kill -9 of serve after {sent} events")
                nsv = Server(self.store, *self.server_args)
                self.servers.append(nsv)
                with lock:
                    self.server = state["server"] = nsv
        c = self.client()
        st, body = c.request("GET", "/v1/events?after=0&limit=1")
        final = body["last_seq"]
        c.close()
        state["final"] = final
        done.set()
        for t in threads:
            t.join(120)
        self.assertEqual([t.is_alive() for t in threads], [False] * CONSUMERS)
        self.assertEqual(errors, [])
        # the journal itself, paged: the ids are each sent once (retries are idempotent)
        c = self.client()
        journal, after = [], 0
        while after < final:
            st, body = c.request("GET", f"/v1/events?after={after}&limit=1000")
            journal += [e["seq"] for e in body["events"]]
            after = body["next_after"]
        c.close()
        self.assertEqual(journal, list(range(1, final + 1)))
        self.assertGreaterEqual(final, EVENTS)
        for k in range(CONSUMERS):
            self.assertEqual(len(got[k]), len(set(got[k])), f"consumer {k}: duplicates")
            self.assertEqual(got[k], journal, f"consumer {k}: not every event once in order "
                                              f"({len(got[k])} of {len(journal)})")
        self.assertGreaterEqual(stats[0]["resumes"], 1, f"the slow consumer was never cut "
                                                       f"off: {stats[0]}")
        for k in range(CONSUMERS):  # each was cut at least once and resumed
            self.assertGreaterEqual(stats[k]["connects"], 2, f"consumer {k}: {stats[k]}")
        log(f"http/feed: {CONSUMERS} consumers x {final} events across {KILLS} kill -9: "
            f"each got every event once, in order; slow consumer {stats[0]}; "
            f"consumer 1 {stats[1]}")


if __name__ == "__main__":
    if not BIN or not os.access(BIN, os.X_OK):
        sys.exit(f"usage: {sys.argv[0]} /path/to/chatjournal (or set CJ_BIN)")
    argv = [sys.argv[0]] + [a for a in sys.argv[1:] if a != BIN]
    unittest.main(argv=argv, verbosity=2)
