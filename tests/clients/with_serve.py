#!/usr/bin/env python3
"""tests/clients/with_serve.py — run a client test suite against a real
`chatjournal serve`: a new store in a temporary folder, a read+write and a
read-only token (`chatjournal token add`), the server on a free port
(started as tests/cli/test_serve.py does), then the command after `--` with
CJ_URL, CJ_TOKEN, CJ_RO_TOKEN, CJ_STORE and CJ_NEEDS_ROUTES (this folder's
needs_routes.txt) in its environment. Exits with the command's status, or 1
when serve does not exit 0 on SIGTERM (a sanitizer's report, say); the
server is stopped and the folder removed in every case.

    with_serve.py -- node --test clients/node/test/client.test.js"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "cli"))
from test_serve import Server, run_cj  # noqa: E402  (the repo's way to start serve)


def token(store, *flags):
    r = run_cj("token", "add", store, *flags)
    if r.returncode != 0:
        raise SystemExit(f"token add: {r.stderr.decode()}")
    return r.stdout.decode().strip()


def main(argv):
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[argv.index("--") + 1:]
    with tempfile.TemporaryDirectory(prefix="cj-clients-") as d:
        store = Path(d) / "store"
        r = run_cj("init", store)
        if r.returncode != 0:
            raise SystemExit(f"init: {r.stderr.decode()}")
        rw, ro = token(store, "--label", "clients"), token(store, "--read-only")
        server = Server(store)
        try:
            env = dict(os.environ, CJ_URL=server.base, CJ_TOKEN=rw, CJ_RO_TOKEN=ro,
                       CJ_STORE=str(store), CJ_NEEDS_ROUTES=str(HERE / "needs_routes.txt"))
            rc = subprocess.run(cmd, env=env).returncode
        finally:
            try:
                stopped, _ = server.stop()
            finally:
                server.kill()
        if stopped != 0:  # e.g. a sanitizer's report at exit
            tail = [x for x in server.stderr_lines() if not x.startswith('{"ts"')][-40:]
            print(f"serve exited with {stopped} on SIGTERM:", *tail, sep="\n", file=sys.stderr)
            return rc or 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
