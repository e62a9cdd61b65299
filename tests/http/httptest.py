"""tests/http/httptest.py — what the HTTP tests share: `chatjournal serve`
as a child process (Server), a keep-alive client (Client), raw-socket
exchanges, request builders, and HttpCase (a store and a server per test,
sanitizer reports checked at teardown). Standard library only; the binary
is the first argument of the test script, else $CJ_BIN."""
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

BIN = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else \
    os.environ.get("CJ_BIN", "")
LOAD_S = float(os.environ.get("CJ_HTTP_LOAD_S", "5"))
KILL_ROUNDS = int(os.environ.get("CJ_HTTP_KILL_ROUNDS", "5"))
TOKEN_RE = re.compile(r"cjt_[0-9a-f]{16}_[0-9a-f]{64}")
START_TIMEOUT = 30
MAX_BODY = 8 << 20


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Server:
    """`chatjournal serve STORE` as a child process. A thread drains stderr
    (one JSON line per request) and keeps the lines that are not request logs."""

    def __init__(self, store, *args, stores=(), env=None):
        self.proc = subprocess.Popen([BIN, "serve", str(store), *map(str, stores),
                                      "--listen", "127.0.0.1:0", *map(str, args)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env={**os.environ, **env} if env else None)
        self.started = time.time()
        try:  # a crash leaves a core for terminate() to explain, where the system writes one
            hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
            resource.prlimit(self.proc.pid, resource.RLIMIT_CORE, (hard, hard))
        except (OSError, ValueError):
            pass
        self.notes = []          # stderr lines that are not JSON request logs
        self.statuses = {}       # status -> count, from the request log
        self.records = []        # every JSON line (request logs, slow queries, settings)
        self.cond = threading.Condition()
        self.eof = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            m = self.wait_for(r"^listening on (127\.0\.0\.1):(\d+)$")
        except BaseException:
            self.kill()
            raise
        self.host, self.port = m.group(1), int(m.group(2))

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.cond:
                if line.startswith("{"):
                    try:
                        rec = json.loads(line)
                        self.records.append(rec)
                        if "status" in rec:
                            st = rec["status"]
                            self.statuses[st] = self.statuses.get(st, 0) + 1
                        self.cond.notify_all()
                        continue
                    except ValueError:
                        pass
                self.notes.append(line)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_for(self, pattern, timeout=START_TIMEOUT):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.notes:
                    m = rx.search(line)
                    if m:
                        return m
                if self.eof:
                    raise AssertionError(f"serve exited ({self.proc.poll()}): {self.notes}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line matching {pattern!r} in {self.notes}")
                self.cond.wait(left)

    def token(self):
        return TOKEN_RE.search(self.wait_for(r"^\s+(cjt_\S+)$").group(1)).group(0)

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.reader.join(10)
        self.proc.stderr.close()

    def terminate(self, timeout):
        """SIGTERM; (exit code, seconds) or (None, timeout) if still running."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None, timeout
        took = time.monotonic() - t0
        self.reader.join(10)
        self.proc.stderr.close()
        if rc != 0:  # what the server said last, for the failure that follows
            sys.stderr.write(f"serve exited {rc} on SIGTERM; its last lines:\n  " +
                             "\n  ".join(self.notes[-15:]) + "\n")
            self.backtrace()
        return rc, took

    def backtrace(self):
        """The threads' stacks from the core a crash left in the working
        directory (core or core.PID, written after this server started), when
        gdb is installed; the core is removed after."""
        gdb = shutil.which("gdb")
        cores = [c for c in (f"core.{self.proc.pid}", "core")
                 if os.path.exists(c) and os.path.getmtime(c) >= self.started - 1]
        if not gdb or not cores:
            return
        try:
            out = subprocess.run([gdb, "-batch", "-ex", "thread apply all bt 25", BIN, cores[0]],
                                 capture_output=True, text=True, timeout=120).stdout
            sys.stderr.write("its threads at the crash:\n" + out[-30000:] + "\n")
        except (OSError, subprocess.SubprocessError) as e:
            sys.stderr.write(f"gdb on {cores[0]}: {e}\n")
        finally:
            os.unlink(cores[0])


# ---- clients -------------------------------------------------------------

class Client:
    """One keep-alive connection; reconnects after an error."""

    def __init__(self, server, token, timeout=30):
        self.host, self.port, self.token, self.timeout = server.host, server.port, token, timeout
        self.conn = None

    def request(self, method, path, body=None, content_type="application/json"):
        """(status, parsed JSON or raw bytes). Raises OSError/HTTPException on
        a connection error (after dropping the connection)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Authorization": "Bearer " + self.token}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def call(server, method, path, token=None, body=None, headers=None, source=None):
    """(status, response, parsed JSON or bytes) over a new connection; the
    response gives the headers (response.getheader)."""
    c = http.client.HTTPConnection(server.host, server.port, timeout=15,
                                   source_address=(source, 0) if source else None)
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    try:
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, r, json.loads(raw)
        except ValueError:
            return r.status, r, raw
    finally:
        c.close()


def raw_exchange(server, data, timeout=15, shutdown_write=False):
    """Send raw bytes, read one response. ('closed', None, b'') if the server
    closed or reset the connection without answering, else (status, headers
    dict, body bytes)."""
    s = socket.create_connection((server.host, server.port), timeout=timeout)
    try:
        try:
            s.sendall(data)
            if shutdown_write:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer (and close) before reading everything
        buf = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                head, sep, body = buf.partition(b"\r\n\r\n")
                if sep:
                    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
                    if m and len(body) >= int(m.group(1)):
                        break
        except OSError:
            pass
    finally:
        s.close()
    head, sep, body = buf.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
    if not sep or not m:
        return "closed", None, buf
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode(errors="replace")
    return int(m.group(1)), headers, body


def request_bytes(token, body, content_type="application/json", extra=b"", path=b"/v1/events",
                  method=b"POST", length=None):
    n = len(body) if length is None else length
    head = (method + b" " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n")
    if content_type is not None:
        head += b"Content-Type: " + content_type.encode() + b"\r\n"
    return head + b"Content-Length: %d\r\nConnection: close\r\n" % n + extra + b"\r\n" + body


def message(thread, content, id=None, **extra):
    ev = {"type": "message", "thread": thread, "role": "user", "content": content}
    if id is not None:
        ev["id"] = id
    ev.update(extra)
    return ev


def read_thread(client, thread, min_seq=0):
    """Every message of a thread, oldest first, paging with after=."""
    rows, after = [], 0
    while True:
        path = f"/v1/threads/{thread}/messages?limit=1000&after={after}"
        if min_seq and not rows:
            path += f"&min_seq={min_seq}"
        for attempt in range(20):
            st, page = client.request("GET", path)
            if st != 503:  # min_seq not reached within the server's wait: ask again
                break
        if st != 200:
            raise AssertionError(f"GET {path}: {st} {page!r}")
        rows.extend(page)
        if len(page) < 1000:
            return rows
        after = page[-1]["seq"]


def serve_two_stores(folder, names=("alpha-store", "bravo-store")):
    """Two new stores in folder served by one `serve`: (server, token of
    the first, token of the second). The caller kills the server."""
    a, b = (Path(folder) / n for n in names)
    for s in (a, b):
        r = subprocess.run([BIN, "init", str(s)], capture_output=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"init {s}: {r.stderr!r}")
    srv = Server(a, stores=[b])
    try:
        srv.wait_for(r"more tokens: .*" + re.escape(names[1]))
        toks = list(dict.fromkeys(TOKEN_RE.findall("\n".join(srv.notes))))
        if len(toks) != 2:
            raise AssertionError(f"expected two tokens, got {len(toks)}: {srv.notes}")
    except BaseException:
        srv.kill()
        raise
    return srv, toks[0], toks[1]


ROUTES_C = Path(__file__).resolve().parents[2] / "api" / "http" / "routes.c"


def route_table():
    """The router's table (api/http/routes.c, cjh_routes): a list of
    (pattern, method, set of query parameters), read from the C source so a
    route added there is seen here without a test change."""
    src = ROUTES_C.read_text()
    table = src[src.index("const cjh_route cjh_routes[CJH_ROUTES]"):]
    table = table[:table.index("};")]
    # A parameter list may be a macro of the feed's header (feed_args.h).
    macros = dict(re.findall(r'#define\s+(CJH_\w+_PARAMS)\s+"([^"]*)"',
                             (ROUTES_C.parent / "feed_args.h").read_text()))
    rows = re.findall(r'\[CJH_R_\w+\]\s*=\s*\{\s*"([^"]*)",\s*(NULL|"[A-Z]+"),'
                      r'\s*((?:"[^"]*"\s*|CJH_\w+_PARAMS\s*)+)\}', table)
    out = []
    for pattern, method, params in rows:
        if method == "NULL":
            continue  # "unknown": no route
        for name, value in macros.items():
            params = params.replace(name, f'"{value}"')
        words = " ".join(re.findall(r'"([^"]*)"', params)).split()
        out.append((pattern, method.strip('"'), set(words)))
    if len(out) < 10:
        raise AssertionError(f"could not read the route table of {ROUTES_C}: {out}")
    return out


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


# ---- the tests -------------------------------------------------------------

class HttpCase(unittest.TestCase):
    server_args = ()   # extra `serve` arguments for the server setUp starts
    server_env = None  # extra environment variables for it

    def setUp(self):
        base = os.environ.get("TMPDIR") or None
        self.tmp = tempfile.TemporaryDirectory(prefix="cjtest-http.", dir=base)
        self.store = Path(self.tmp.name) / "store"
        r = subprocess.run([BIN, "init", str(self.store)], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.servers = []
        self.server = self.start()
        self.token = self.server.token()

    def tearDown(self):
        for s in self.servers:
            s.kill()
        self.tmp.cleanup()
        # A sanitizer build of the server reports on stderr (and aborts).
        reports = [n for s in self.servers for n in s.notes
                   if "Sanitizer" in n or "runtime error:" in n]
        self.assertEqual(reports, [], "sanitizer reports from the server")

    def start(self, *args):
        s = Server(self.store, *(args or self.server_args), env=self.server_env)
        self.servers.append(s)
        return s

    def client(self, server=None):
        return Client(server or self.server, self.token)

    def assert_serves(self, server, label):
        """A normal client still gets its append acknowledged and read back."""
        self.assertTrue(server.alive(), f"server died after {label}: {server.notes[-5:]}")
        c = self.client(server)
        content = f"still serving after {label}"
        st, body = c.request("POST", "/v1/events", message("alive", content))
        self.assertEqual(st, 200, f"after {label}: {body!r}")
        st, rows = c.request("GET", f"/v1/threads/alive/messages?limit=1&min_seq={body['seq']}")
        self.assertEqual(st, 200, rows)
        self.assertEqual([(r["seq"], r["content"]) for r in rows], [(body["seq"], content)])
        c.close()
        return body["seq"]

    def verify_acked(self, server, acked, threads, label):
        """Every acknowledged event (seq -> (id, thread, content)) is present
        once, with its seq and content; no id appears twice."""
        c = self.client(server)
        last = max(acked) if acked else 0
        by_seq = {}
        for t in sorted(threads):
            ids = {}
            for r in read_thread(c, t, last):
                self.assertNotIn(r["id"], ids,
                                 f"{label}: id {r['id']} stored twice (seqs {ids.get(r['id'])}"
                                 f" and {r['seq']})")
                ids[r["id"]] = r["seq"]
                by_seq[r["seq"]] = (r["id"], r["thread"], r["content"])
        c.close()
        missing = [s for s in sorted(acked) if s not in by_seq]
        self.assertEqual(missing, [], f"{label}: {len(missing)} acknowledged events missing "
                                      f"(first: seq {missing[:1]} = {acked.get(missing[0]) if missing else None})")
        wrong = [s for s in acked if by_seq[s] != acked[s]]
        self.assertEqual(wrong, [], f"{label}: acknowledged seqs hold something else: "
                                    f"{[(s, acked[s], by_seq[s]) for s in wrong[:3]]}")
        return len(by_seq)
