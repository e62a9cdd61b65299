"""What the Python client tests share: the server under test (from the
environment tests/clients/with_serve.py sets), the list of routes not on
main yet, a scripted fake server and a proxy that cuts connections."""

import http.server
import os
import socket
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the in-tree package
import chatjournal  # noqa: E402

URL = os.environ.get("CJ_URL", "")
TOKEN = os.environ.get("CJ_TOKEN", "")
RO_TOKEN = os.environ.get("CJ_RO_TOKEN", "")


def listed_routes():
    """{route: (probe path, expect, branch)} of tests/clients/needs_routes.txt."""
    out = {}
    path = os.environ.get("CJ_NEEDS_ROUTES")
    if not path:
        return out
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        method, route, probe, expect, branch = line.split()
        out[route] = (probe, expect, branch)
    return out


def needs(case, *routes):
    """Skip the test while one of routes is listed as not on main."""
    listed = listed_routes()
    for r in routes:
        if r in listed:
            case.skipTest(f"needs {r} (branch {listed[r][2]}; listed in "
                          "tests/clients/needs_routes.txt)")


def client(token=None, **kw):
    return chatjournal.Client(URL, token=TOKEN if token is None else token, **kw)


class FakeServer:
    """An HTTP server on 127.0.0.1 answering from a script: handler(req)
    gets the BaseHTTPRequestHandler and writes the whole reply. requests
    keeps (method, path, headers) of every request (headers: a Message,
    whose get() ignores case)."""

    def __init__(self, handler):
        self.requests = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(n) if n else b""
                outer.requests.append((self.command, self.path, self.headers))
                handler(self)

            do_GET = do_POST = do_PUT = _any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def reply(h, status, body=b"", headers=(), content_type="application/json"):
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    h.send_header("Content-Length", str(len(body)))
    for k, v in headers:
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


class CutProxy:
    """A TCP proxy to (host, port). swallow: how many of the next
    connections forward the request but never return the reply (closed once
    the server has answered: the server did the work, the client saw a lost
    connection). cut() closes every open connection now."""

    def __init__(self, target_url):
        host, port = target_url.split("//", 1)[1].rsplit(":", 1)
        self.target = (host, int(port))
        self.swallow = 0
        self.connections = 0
        self.lock = threading.Lock()
        self.open = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                swallow = self.swallow > 0
                self.swallow -= 1 if swallow else 0
            s = socket.create_connection(self.target)
            with self.lock:
                self.open += [c, s]
            threading.Thread(target=self._pipe, args=(c, s, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(s, c, swallow), daemon=True).start()

    def _pipe(self, src, dst, swallow):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if swallow:  # the server answered: drop it and hang up on the client
                    break
                dst.sendall(data)
        except OSError:
            pass
        for x in (src, dst):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()

    def cut(self):
        with self.lock:
            socks, self.open = self.open, []
        for x in socks:
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.sock.close()
        self.cut()


def run(module):
    """Run module's tests; exit status 0 when all passed (skips are listed)."""
    if not URL or not TOKEN:
        print("CJ_URL/CJ_TOKEN unset: run through tests/clients/with_serve.py", file=sys.stderr)
        return 1
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    for case, why in result.skipped:
        print(f"SKIPPED {case.id()}: {why}")
    return 0 if result.wasSuccessful() else 1
