#!/usr/bin/env python3
"""A raw-socket fuzzer for the request head of `chatjournal serve`: what
libmicrohttpd parses and what the service checks before any route runs
(api/http/head.c, request.c, routes.c: framing, request ids, X-Forwarded-For,
the route, the token, the body's limit).

Seeded random mutations of valid requests (byte flips, inserted and deleted
runs, CRLF turned LF, duplicated and dropped header lines, NUL and
percent-encoded bytes, odd methods and versions, framing headers, huge and
repeated values, truncation) are sent over new connections from 127.0.0.2
(a trusted proxy for this server, so X-Forwarded-For is parsed too) by 16
threads for CJ_HTTP_FUZZ_S seconds (CI: 20; soak: 600). Every answer must be
a well-formed status line with a 2xx or 4xx status (or 505, libmicrohttpd's
own), a JSON body when the content type says so, and our X-Request-Id on
every JSON answer; or the connection closes, or (an incomplete head) no
answer within 0.5 s. The server must never die (or report from a sanitizer),
and a normal client is served afterwards. CJ_HTTP_SEED replays a run.
"""
import json
import os
import random
import re
import socket
import threading
import time
import unittest

from httptest import BIN, HttpCase, log, message

FUZZ_S = float(os.environ.get("CJ_HTTP_FUZZ_S", "20"))
SEED = int(os.environ.get("CJ_HTTP_SEED") or time.time_ns() % 1000000007)


def corpus(token):
    ev = json.dumps(message("fz", "fuzzed")).encode()
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n"
    return [
        b"GET /v1/stats HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + auth + b"X-Request-Id: fuzz-1\r\n\r\n",
        b"GET /v1/threads/fz/messages?limit=5&after=0&min_seq=1 HTTP/1.1\r\nHost: x\r\n" + auth +
        b"X-Forwarded-For: 198.51.100.1, 127.0.0.2\r\n\r\n",
        b"GET /v1/search?q=fuzz%20ed&thread=fz&limit=3 HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
        b"GET /v1/threads/fz/config?user=u HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
        b"GET /v1/events?after=0&limit=3&type=message,metric&thread=fz HTTP/1.1\r\nHost: x\r\n" +
        auth + b"\r\n",
        b"GET /v1/blobs/" + b"0" * 32 + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(ev) + ev,
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(ev) + ev + b"\r\n0\r\n\r\n",
        b"PUT /v1/blobs HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 4\r\n\r\nblob",
        b"GET /v1/stats HTTP/1.0\r\n" + auth + b"\r\n",
        # the read API (docs/http.md, "Reads")
        b"GET /v1/users/u%201/messages?server=s&limit=2&before=9&after=0 HTTP/1.1\r\nHost: x\r\n" +
        auth + b"\r\n",
        b"GET /v1/threads?user=u&server=s&limit=1&after=1000.2 HTTP/1.1\r\nHost: x\r\n" + auth +
        b"\r\n",
        b"GET /v1/threads/fz HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
        b"GET /v1/users/u HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
        b"GET /v1/costs?user=u&thread=fz&from=2026-01-01T00:00:00Z&to=99 HTTP/1.1\r\nHost: x\r\n" +
        auth + b"\r\n",
        b"GET /v1/metrics?name=n&since=0&limit=3&after=1.1 HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
        b"GET /v1/settings?category=c HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
    ]


PIECES = [b"\x00", b"%00", b"%ff", b"\r\n", b"\n", b"\r", b" ", b":", b",", b"\t", b"\x80",
          b"Content-Length: 5\r\n", b"Content-Length: 99999999999\r\n",
          b"Transfer-Encoding: chunked\r\n", b"Transfer-Encoding: identity\r\n",
          b"X-Forwarded-For: ::1, 10.0.0.1, garbage\r\n", b"X-Request-Id: " + b"r" * 80 + b"\r\n",
          b"Authorization: Bearer cjt_0000000000000000_" + b"0" * 64 + b"\r\n",
          b"Expect: 100-continue\r\n", b"Connection: close\r\n", b"HTTP/1.1", b"HTTP/9.9", b"?",
          b"/../", b"%", b"a" * 5000]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            data[pos:pos] = rng.choice(PIECES)
        elif op == 2 and data:
            del data[pos:pos + rng.randint(1, 16)]
        elif op == 3:
            data = bytearray(bytes(data).replace(b"\r\n", b"\n", rng.randint(1, 3)))
        elif op == 4:
            lines = bytes(data).split(b"\r\n")
            if len(lines) > 2:
                i = rng.randrange(1, len(lines) - 1)
                lines.insert(i, lines[i])
                data = bytearray(b"\r\n".join(lines))
        elif op == 5:
            lines = bytes(data).split(b"\r\n")
            if len(lines) > 2:
                del lines[rng.randrange(1, len(lines) - 1)]
                data = bytearray(b"\r\n".join(lines))
        elif op == 6:
            method = rng.choice([b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS",
                                 b"PATCH", b"CONNECT", b"G\x00T", b"get", b"X" * 300])
            sp = bytes(data).find(b" ")
            if sp > 0:
                data[:sp] = method
        elif op == 7:
            data = data[:pos]
        else:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    return bytes(data)


STATUS_RE = re.compile(rb"^HTTP/1\.[01] (\d{3}) [^\r\n]*\r\n")


def exchange(server, data, half_close, timeout=0.5):
    """('closed'|'timeout'|status, headers, body). A HEAD answer has no body."""
    head_only = data.startswith(b"HEAD ")
    s = socket.socket()
    s.settimeout(timeout)
    s.bind(("127.0.0.2", 0))
    try:
        s.connect((server.host, server.port))
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        buf = b""
        while True:
            try:
                piece = s.recv(65536)
            except socket.timeout:
                # Only interim 100 Continue answers so far: the server waits
                # for the body the request declared (a mutation cut it short),
                # as it should. That is a timeout, not a broken answer.
                rest = buf
                while rest.startswith(b"HTTP/1.1 100 ") and b"\r\n\r\n" in rest:
                    rest = rest.partition(b"\r\n\r\n")[2]
                return ("timeout" if not rest else "partial"), None, buf
            except OSError:
                break
            if not piece:
                break
            buf += piece
            s.settimeout(5.0)  # an answer has begun: let it finish, even on a busy machine
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep and head.startswith(b"HTTP/1.1 100 "):
                continue  # interim answer: wait for the final one
            if sep:
                m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
                if head_only or (m and len(body) >= int(m.group(1))):
                    break
    finally:
        s.close()
    # An interim 100 Continue may come first; answers to pipelined requests
    # may follow: only the first final answer counts.
    while buf.startswith(b"HTTP/1.1 100 ") and b"\r\n\r\n" in buf:
        buf = buf.partition(b"\r\n\r\n")[2]
    if not buf:
        return "closed", None, b""
    m = STATUS_RE.match(buf)
    if not m:
        return "garbage", None, buf
    head, _, body = buf.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode(errors="replace")] = v.strip().decode(errors="replace")
    n = int(headers.get("content-length", len(body)) or 0)
    return int(m.group(1)), headers, b"" if head_only else body[:n]


class TestHeadFuzz(HttpCase):
    server_args = ("--trusted-proxies", "127.0.0.2", "--slow-query-ms", 0,
                   "--head-timeout-ms", 2000)

    def test_mutated_heads(self):
        base = corpus(self.token)
        stop = time.monotonic() + FUZZ_S
        outcomes, problems, lock = {}, [], threading.Lock()
        sent = [0]

        def run(k):
            rng = random.Random(SEED * 31 + k)
            while time.monotonic() < stop and self.server.alive():
                data = mutate(rng, rng.choice(base))
                st, headers, body = exchange(self.server, data, rng.random() < 0.3)
                bad = None
                if st == "garbage" or st == "partial":
                    bad = f"not an HTTP answer: {body[:120]!r}"
                elif isinstance(st, int):
                    if not (200 <= st < 300 or 400 <= st < 500 or st == 505):
                        bad = f"status {st}: {body[:200]!r}"
                    elif headers.get("content-type") == "application/json" and \
                            not data.lstrip(b"\r\n").startswith(b"HEAD "):
                        # (a HEAD answer has no body; empty lines may
                        # precede a request line, RFC 9112 2.2)
                        try:
                            json.loads(body)
                        except ValueError:
                            bad = f"JSON content type, body not JSON: {body[:200]!r}"
                        if st != 505 and not headers.get("x-request-id"):
                            bad = "a JSON answer without X-Request-Id"
                with lock:
                    sent[0] += 1
                    key = str(st)
                    outcomes[key] = outcomes.get(key, 0) + 1
                    if bad and len(problems) < 20:
                        problems.append((bad, data[:300]))

        ts = [threading.Thread(target=run, args=(k,)) for k in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(FUZZ_S + 60)
        log(f"http/fuzz: seed {SEED}: {sent[0]} mutated heads in {FUZZ_S:.0f} s: "
            f"{dict(sorted(outcomes.items()))}")
        self.assertTrue(self.server.alive(), f"the server died (seed {SEED}): {self.server.notes[-5:]}")
        self.assertEqual(problems, [], f"seed {SEED}")
        self.assert_serves(self.server, "head fuzzing")


if __name__ == "__main__":
    import sys
    argv = [sys.argv[0]] + [x for x in sys.argv[1:] if x != BIN]
    unittest.main(argv=argv, verbosity=2)
