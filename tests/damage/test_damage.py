#!/usr/bin/env python3
"""tests/damage/test_damage.py — damaged journal files against every tool.

A store is made once (mkstore: events with and without ids, records and
blobs on overflow pages). Then, on fresh copies of it:

- truncation: data.mdb is cut at CJ_DAMAGE_TRUNCATIONS offsets spread over
  the file (the edges of the meta pages included). verify, history, stats,
  append and serve must each exit 1 with "journal file truncated: N bytes,
  needs M" (N the offset) and die of no signal.
- flips: CJ_DAMAGE_FLIPS times, 8 bytes at a random offset of data.mdb are
  XORed with random non-zero bytes; CJ_DAMAGE_TARGETED more flips land
  where LMDB keeps its structure: the header and node pointers of a branch
  or leaf page, or its node area (keys, node headers, small values). Whether the flip changed anything
  readable is decided outside chatjournal: `mdb_dump -a` of the copy against
  the original's (bounded in time and output; a dump that fails or differs
  is "changed"). The meta database's created_ms is left out of the
  comparison: it has no checksum, any value is valid, and nothing checks
  it. So are the two meta pages' address and map size fields (bytes 24-39
  after each one's page header): LMDB reads them only when the opener sets
  no map size of its own, as mdb_dump does and chatjournal never does
  (journal/env.c); with garbage there mdb_dump fails while every record is
  intact, so the oracle reads a copy with those bytes as they were. verify must end (CJ_DAMAGE_TIMEOUT seconds, else a hang), die of no
  signal, print no sanitizer report, and exit 1 whenever the content
  changed. Its journal check runs in a child: a signal there is reported by
  verify, and counted here. history, stats, append and serve run on the same
  copy; their outcomes are counted, not asserted (docs/reliability.md
  gives the numbers).

Environment: CJ_BIN (the chatjournal binary), CJ_DAMAGE_SEED (default:
the clock; printed), CJ_DAMAGE_TRUNCATIONS (60), CJ_DAMAGE_FLIPS (200),
CJ_DAMAGE_TARGETED (100), CJ_DAMAGE_OTHERS_EVERY (run the other tools on
every Nth flip: 1, or 2 in a sanitizer build, CJ_SANITIZE set by meson, to
stay within about 3 minutes), CJ_DAMAGE_TIMEOUT (60 s), CJ_DAMAGE_STORE (damage copies of this store
instead of a new one: LMDB's page layout depends on timing, so a seed
replays a run only on the same store; a failing run leaves its store
behind), CJ_DAMAGE_VERBOSE (print every outcome that is not ok), TMPDIR.
A soak: CJ_DAMAGE_FLIPS=5000.
Usage: test_damage.py MKSTORE
"""
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.environ.get("CJ_BIN", "")
SEED = int(os.environ.get("CJ_DAMAGE_SEED") or time.time_ns() % (1 << 31))
TRUNCATIONS = int(os.environ.get("CJ_DAMAGE_TRUNCATIONS", "60"))
FLIPS = int(os.environ.get("CJ_DAMAGE_FLIPS", "200"))
TARGETED = int(os.environ.get("CJ_DAMAGE_TARGETED", "100"))
SANITIZED = os.environ.get("CJ_SANITIZE", "none") not in ("", "none")
OTHERS_EVERY = max(1, int(os.environ.get("CJ_DAMAGE_OTHERS_EVERY", "2" if SANITIZED else "1")))
TIMEOUT = float(os.environ.get("CJ_DAMAGE_TIMEOUT", "60"))
STORE = os.environ.get("CJ_DAMAGE_STORE", "")
VERBOSE = bool(os.environ.get("CJ_DAMAGE_VERBOSE"))
TRUNCATED = re.compile(r"journal file truncated: (\d+) bytes, needs (?:at least )?(\d+)")
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")
CREATED_MS = "637265617465645f6d73"  # the meta key "created_ms", as mdb_dump prints it
EVENT = b'{"type":"message","thread":"T1","role":"user","content":"after the damage"}\n'
TOOLS = ("verify", "history", "stats", "append", "serve")

# A crash must reach us as a signal, also from a sanitizer build (which
# would otherwise turn SIGSEGV and SIGBUS into a report and exit status 1).
ENV = dict(os.environ)
ENV["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS", ""),
                                             "handle_segv=0", "handle_sigbus=0"]))


class Run:
    """One tool's outcome: ok, error (exit 1), signal, hang, sanitizer, other."""

    def __init__(self, rc, out="", err="", hang=False):
        self.rc, self.out, self.err = rc, out, err
        if hang:
            self.kind = "hang"
        elif SANITIZER.search(err):
            self.kind = "sanitizer"
        elif rc is not None and rc < 0:
            self.kind = "signal"
        else:
            self.kind = {0: "ok", 1: "error"}.get(rc, "other")

    def describe(self):
        return f"{self.kind} (rc {self.rc}): {self.err.strip()[-400:]}"


def run(args, stdin=b""):
    try:
        p = subprocess.run(args, input=stdin, capture_output=True, timeout=TIMEOUT, env=ENV)
    except subprocess.TimeoutExpired as e:
        return Run(None, (e.stdout or b"").decode(errors="replace"),
                   (e.stderr or b"").decode(errors="replace"), hang=True)
    return Run(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))


def run_serve(store):
    """serve until it listens (then SIGTERM) or exits by itself."""
    p = subprocess.Popen([BIN, "serve", store, "--listen", "127.0.0.1:0"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=ENV)
    lines, listening = [], threading.Event()

    def drain():
        for raw in p.stderr:
            line = raw.decode(errors="replace")
            lines.append(line)
            if line.startswith("listening on"):
                listening.set()
        listening.set()
    t = threading.Thread(target=drain, daemon=True)
    t.start()
    hang = not listening.wait(TIMEOUT)
    if not hang and p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
        hang = True
    t.join(5)
    return Run(rc, "", "".join(lines), hang=hang)


def run_tool(tool, store):
    if tool == "serve":
        return run_serve(store)
    args = {"verify": [BIN, "verify", store], "history": [BIN, "history", store, "T1"],
            "stats": [BIN, "stats", store], "append": [BIN, "append", store]}[tool]
    return run(args, EVENT if tool == "append" else b"")


def limit_output():
    # A dump that loops on a damaged page would write forever.
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))


def dump(journal):
    """The journal's logical content as mdb_dump -a sees it, or None if it
    cannot be read (error, signal, endless output, or no end in time)."""
    with tempfile.TemporaryFile() as f:
        try:
            p = subprocess.run(["mdb_dump", "-a", journal], stdout=f, stderr=subprocess.DEVNULL,
                               timeout=min(TIMEOUT, 20), preexec_fn=limit_output)
        except subprocess.TimeoutExpired:
            return None
        if p.returncode != 0:
            return None
        f.seek(0)
        text = f.read().decode(errors="replace")
    content, db, lines = {}, None, []
    for line in text.splitlines():
        if line.startswith("database="):
            db = line[len("database="):]
        elif line == "HEADER=END":
            lines = content.setdefault(db, [])
        elif line.startswith(" "):
            lines.append(line.strip())
    meta = content.get("meta", [])
    for i in range(0, len(meta) - 1, 2):
        if meta[i] == CREATED_MS:
            del meta[i:i + 2]
            break
    return content


class Damage:
    def __init__(self, mkstore):
        self.tmp = tempfile.mkdtemp(prefix="cjtest-damage.")
        self.pristine = os.path.join(self.tmp, "pristine")
        if STORE:
            shutil.copytree(STORE, self.pristine)
        else:
            r = subprocess.run([mkstore, self.pristine], capture_output=True, env=ENV)
            if r.returncode != 0:
                raise SystemExit(f"mkstore failed: {r.stderr.decode()}")
        self.data = os.path.join(self.pristine, "journal", "data.mdb")
        self.size = os.path.getsize(self.data)
        with open(self.data, "rb") as f:
            self.head = f.read(2 * 65536)  # both meta pages, whatever the page size
        self.psize = int.from_bytes(self.head[40:44], "little")
        self.content = dump(os.path.join(self.pristine, "journal"))
        self.failures = []

    def copy(self, name):
        dst = os.path.join(self.tmp, name)
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(self.pristine, dst)
        return dst

    def fail(self, what):
        self.failures.append(what)
        print("FAIL:", what, flush=True)

    # ---- truncation ------------------------------------------------------

    def offsets(self, rng):
        page = 4096
        edges = [0, 1, 100, 151, 152, page - 1, page, page + 151, page + 152, 2 * page - 1,
                 2 * page, 2 * page + 1, self.size - page, self.size - 1]
        edges = sorted({o for o in edges if 0 <= o < self.size})
        rest = max(0, TRUNCATIONS - len(edges))
        spread = [int(self.size * (i + rng.random()) / rest) for i in range(rest)]
        return sorted(set(edges + [min(o, self.size - 1) for o in spread]))

    def truncation(self, rng):
        offsets = self.offsets(rng)
        runs = signals = hangs = clean = 0
        t0 = time.time()
        for off in offsets:
            store = self.copy("cut")
            with open(os.path.join(store, "journal", "data.mdb"), "r+b") as f:
                f.truncate(off)
            for tool in TOOLS:
                r = run_tool(tool, store)
                runs += 1
                signals += r.kind == "signal"
                hangs += r.kind == "hang"
                m = TRUNCATED.search(r.out + r.err)
                if r.rc == 1 and m and int(m.group(1)) == off and r.kind == "error":
                    clean += 1
                else:
                    self.fail(f"truncated at {off}: {tool}: {r.describe()}")
        print(f"damage: truncation: {len(offsets)} offsets of a {self.size}-byte data.mdb x "
              f"{len(TOOLS)} tools = {runs} runs: {clean} clean errors naming the truncation, "
              f"{signals} signals, {hangs} hangs ({time.time() - t0:.1f} s)", flush=True)
        if len(offsets) < 50:
            self.fail(f"only {len(offsets)} truncation offsets")

    # ---- flips -----------------------------------------------------------

    def structure(self):
        """(start, end) byte ranges of LMDB structure in the pristine file:
        each branch or leaf page's header and node pointers, and its node
        area. LMDB 0.9.24's page header (docs/format.md): page number (8
        bytes), pad (2), flags (2), lower (2), upper (2); an overflow run's
        first page holds its length where lower and upper would be."""
        with open(self.data, "rb") as f:
            data = f.read()
        psize = self.psize
        ranges, pg = [], 2
        while (pg + 1) * psize <= len(data):
            base = pg * psize
            flags = int.from_bytes(data[base + 10:base + 12], "little")
            lower = int.from_bytes(data[base + 12:base + 14], "little")
            upper = int.from_bytes(data[base + 14:base + 16], "little")
            if flags & 4:  # an overflow run: skip its pages
                pg += max(1, int.from_bytes(data[base + 12:base + 16], "little"))
                continue
            if flags & 3 and 16 <= lower <= upper <= psize:
                ranges.append((base, base + lower))
                if upper < psize:
                    ranges.append((base + upper, base + psize))
            pg += 1
        return ranges

    # ---- a leaf page the open does not check -------------------------------

    def mid_leaf(self):
        """A leaf page in use (mdb_dump reads otherwise: free pages keep
        their old leaf flag) off the paths an open walks (history opens the
        store fine) with its first node pointer out of the page: compact and
        compact --dry-run read every record and must refuse, naming the
        damage (they segfaulted in LMDB before the scan walked the pages
        first); serve, whose maintenance measures what compaction would
        redact at start, must keep serving and log it."""
        with open(self.data, "rb") as f:
            data = f.read()
        psize = self.psize
        leaves = [pg for pg in range(2, len(data) // psize)
                  if int.from_bytes(data[pg * psize + 10:pg * psize + 12], "little") == 2]
        mid = len(data) // psize // 2
        for pg in sorted(leaves, key=lambda p: abs(p - mid))[:20]:
            store = self.copy("mid")
            path = os.path.join(store, "journal", "data.mdb")
            with open(path, "r+b") as f:
                f.seek(pg * psize + 16)
                f.write(b"\xf0\xff")
            if self.judged(path) == self.content:
                continue  # a free page (a leaf of an old transaction): nothing reads it
            if run_tool("history", store).rc != 0:
                continue  # on a path the open walks: refused there already
            before = len(self.failures)
            for args in (["compact", store], ["compact", store, "--dry-run"]):
                r = run([BIN] + args)
                if r.rc != 1 or r.kind != "error" or f"damaged: page {pg}" not in r.err:
                    self.fail(f"mid leaf {pg}: {' '.join(args[:1] + args[2:])}: {r.describe()}")
            r = run_serve(store)
            if r.kind != "ok" or "measuring what is redactable failed" not in r.err:
                self.fail(f"mid leaf {pg}: serve: {r.describe()}")
            if len(self.failures) == before:
                print(f"damage: a leaf page off the open's paths (page {pg}, node pointer out of "
                      f"the page): compact refused naming it, serve kept serving", flush=True)
            return
        self.fail("no leaf page off the open's paths among the 20 nearest the middle")

    def judged(self, data_mdb):
        """dump() of a copy of data_mdb whose meta pages' address and map
        size (bytes 24-39 of pages 0 and 1) are the pristine file's."""
        judge = os.path.join(self.tmp, "judge")
        shutil.rmtree(judge, ignore_errors=True)
        os.mkdir(judge)
        shutil.copyfile(data_mdb, os.path.join(judge, "data.mdb"))
        with open(os.path.join(judge, "data.mdb"), "r+b") as f:
            for lo in (24, self.psize + 24):
                f.seek(lo)
                f.write(self.head[lo:lo + 16])
        return dump(judge)

    def flips(self, rng):
        counts = {tool: {} for tool in TOOLS}
        changed = unchanged = caught_journal = child_signals = 0
        t0 = time.time()
        spent = {}
        ranges = self.structure()
        for n in range(FLIPS + TARGETED):
            store = self.copy("flip")
            if n < FLIPS or not ranges:
                off = rng.randrange(0, self.size - 8)
            else:
                lo, hi = ranges[rng.randrange(len(ranges))]
                off = min(rng.randrange(lo, hi), self.size - 8)
            xor = bytes(rng.randrange(1, 256) for _ in range(8))
            path = os.path.join(store, "journal", "data.mdb")
            with open(path, "r+b") as f:
                f.seek(off)
                old = f.read(8)
                f.seek(off)
                f.write(bytes(a ^ b for a, b in zip(old, xor)))
            is_changed = self.judged(path) != self.content
            changed += is_changed
            unchanged += not is_changed
            where = f"flip {n} at {off} (seed {SEED}, {'changed' if is_changed else 'unchanged'})"
            for tool in TOOLS if n % OTHERS_EVERY == 0 else TOOLS[:1]:
                t1 = time.time()
                r = run_tool(tool, store)
                spent[tool] = spent.get(tool, 0) + time.time() - t1
                key = r.kind
                if tool == "verify":
                    key = f"{'changed' if is_changed else 'unchanged'} {r.kind}"
                    if "died of signal" in r.out:
                        child_signals += 1
                    if r.kind not in ("ok", "error"):
                        self.fail(f"{where}: verify: {r.describe()}")
                    elif is_changed and r.rc == 0:
                        self.fail(f"{where}: verify said ok: {r.out.strip()}")
                    elif is_changed and r.out.startswith("journal     FAILED"):
                        caught_journal += 1
                    elif is_changed:
                        print(f"damage: {where}: verify: found by a later step or "
                              f"at open: {' | '.join(r.out.splitlines())[:400]} "
                              f"{r.err.strip()[-300:]}", flush=True)
                counts[tool][key] = counts[tool].get(key, 0) + 1
                if r.kind != "ok" and (VERBOSE or (tool == "verify" and not is_changed)):
                    print(f"damage: {where}: {tool}: {r.kind}: "
                          f"{(r.out.splitlines() or [''])[0] if tool == 'verify' else ''} "
                          f"{r.err.strip()[-300:]}", flush=True)
        print(f"damage: flips: {FLIPS} flips of 8 bytes anywhere and {TARGETED} in structure "
              f"({len(ranges)} ranges): {changed} changed what mdb_dump reads, {unchanged} did "
              f"not ({time.time() - t0:.1f} s: " + ", ".join(
                  f"{k} {v:.1f} s" for k, v in spent.items()) + ")", flush=True)
        v = counts["verify"]
        print(f"damage: flips: verify: changed -> FAILED {v.get('changed error', 0)} (by its "
              f"journal step {caught_journal}), ok {v.get('changed ok', 0)}; unchanged -> ok "
              f"{v.get('unchanged ok', 0)}, FAILED {v.get('unchanged error', 0)}; journal check "
              f"died of a signal (reported) {child_signals}; other outcomes "
              f"{ {k: c for k, c in v.items() if k.split()[1] not in ('ok', 'error')} }",
              flush=True)
        for tool in TOOLS[1:]:
            c = counts[tool]
            print(f"damage: flips: {tool} ({sum(c.values())} runs): " + ", ".join(
                f"{k} {c.get(k, 0)}" for k in ("ok", "error", "signal", "hang", "sanitizer",
                                               "other")), flush=True)

    def close(self):
        if not self.failures:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print(f"damage: left {self.tmp} for inspection", flush=True)


def main():
    if len(sys.argv) != 2 or not os.access(BIN, os.X_OK):
        print("usage: test_damage.py MKSTORE (with CJ_BIN set)", file=sys.stderr)
        return 1
    if not shutil.which("mdb_dump"):
        print("damage: SKIP: mdb_dump (lmdb-utils) is not installed", flush=True)
        return 77
    print(f"damage: seed {SEED} (CJ_DAMAGE_SEED)", flush=True)
    rng = random.Random(SEED)
    d = Damage(sys.argv[1])
    if d.content is None:
        print("damage: mdb_dump cannot read the pristine store", file=sys.stderr)
        return 1
    r = run_tool("verify", d.pristine)
    if r.rc != 0:
        d.fail(f"verify of the pristine store: {r.describe()} {r.out}")
    d.truncation(rng)
    d.flips(rng)
    d.mid_leaf()
    d.close()
    print(f"damage: {'FAILED, ' + str(len(d.failures)) + ' failures' if d.failures else 'ok'}",
          flush=True)
    return 1 if d.failures else 0


if __name__ == "__main__":
    sys.exit(main())
