"""tests/sink/pgtmp.py — a throwaway PostgreSQL server for the sink's tests.

Debian's binaries (found under /usr/lib/postgresql/*/bin, newest first) run a
cluster in a temporary folder: initdb with trust authentication, pg_ctl
start with the Unix socket in that folder and a free TCP port on
127.0.0.1. PostgreSQL refuses to run as root: under root the cluster
belongs to an unprivileged user (nobody), whose processes are started
through runuser. stop() (also called at exit, and by the context manager
after a failed test) stops the server fast and removes the folder.

Usage:
    with PgTmp() as pg:            # or PgTmp.skip_reason() first
        pg.dsn                     # "host=/tmp/... port=N dbname=postgres user=cj"
        pg.restart(); pg.stop_server(); pg.start_server()
"""
import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time


def pg_bin_dir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, "initdb")) and os.path.exists(os.path.join(d, "pg_ctl")):
            return d
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgTmp:
    @staticmethod
    def skip_reason():
        if pg_bin_dir() is None:
            return ("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin "
                    "(install the Debian package 'postgresql')")
        return None

    def __init__(self):
        self.bin = pg_bin_dir()
        if self.bin is None:
            raise RuntimeError(self.skip_reason())
        self.root = tempfile.mkdtemp(prefix="cjtest-pg.", dir=os.environ.get("TMPDIR", "/tmp"))
        self.data = os.path.join(self.root, "data")
        self.sock = self.root
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = "nobody"
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o755)  # the client (root or not) reaches the socket
        self.running = False
        self._run("initdb", "-D", self.data, "-U", "cj", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\nport = %d\n"
                    "unix_socket_directories = '%s'\nfsync = off\n"
                    "synchronous_commit = on\nfull_page_writes = off\n"
                    "max_connections = 50\nshared_buffers = 64MB\n" % (self.port, self.sock))
        atexit.register(self.stop)
        self.start_server()
        self.dsn = "host=%s port=%d dbname=postgres user=cj" % (self.sock, self.port)

    def _cmd(self, name, *args):
        cmd = [os.path.join(self.bin, name)] + list(args)
        if self.user:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        return cmd

    def _run(self, name, *args):
        r = subprocess.run(self._cmd(name, *args), capture_output=True, text=True, cwd=self.root)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s" % (name, r.returncode, r.stdout, r.stderr))
        return r

    def start_server(self):
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.root, "log"), "-w",
                  "-t", "60", "start")
        self.running = True

    def stop_server(self, mode="fast"):
        if self.running:
            self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")
            self.running = False

    def restart(self, mode="fast"):
        self.stop_server(mode)
        self.start_server()

    def psql(self, sql):
        """Run sql through psql; its output (tuples only, unaligned)."""
        r = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t",
                            "-v", "ON_ERROR_STOP=1", "-d", self.dsn, "-c", sql],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("psql: %s" % r.stderr)
        return r.stdout

    def stop(self):
        try:
            if self.running:
                self.stop_server("immediate")
        except Exception:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
