#!/usr/bin/env python3
"""tests/cli/test_export.py — `chatjournal export` and GET
/v1/threads/{t}/messages?format=openai, black box.

- Exact output of every format on a small store of every 0.3 message shape
  (tool calls, a tool answer, attachments, an edit, a reaction, names,
  the developer role), and of each scope (thread, user, user on a server,
  all).
- openai: every line is checked against docs/schemas/openai-chat-messages.json
  with Debian's python3-jsonschema; negative controls show that the schema
  refuses what the API refuses (a tool message without tool_call_id, an
  unknown role, an extra key).
- jsonl round trip: a store with edits, deletions of every kind and a
  compaction (tombstones) exported with --all, the lines appended (without
  seq and redacted) to an empty store: the same state hash.
- Hostile names: thread titles, user names and texts with newlines and
  Markdown metacharacters never change the document's structure (exact
  escapes, and over CJ_EXPORT_FUZZ_CASES random names: one heading per
  message, nothing else starts a heading).
- Bounded memory: --all of a store of CJ_EXPORT_BIG_EVENTS (20000) 2 KiB
  messages (about 40 MiB of output in each format) keeps the process's peak
  anonymous RSS (sampled from /proc; file mappings not counted) under 16 MiB
  (not judged in a sanitizer build).
- Errors and --help: exit 2 for usage, 1 with a message naming the problem;
  --out writes a 0600 file whole or not at all.
- HTTP: format=openai gives the same messages as the export; another format
  is 400 naming "format".
"""
import json
import os
import random
import re
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402
from test_serve import Server  # noqa: E402

BIN = os.environ.get("CJ_BIN", "")
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "docs" / "schemas" / "openai-chat-messages.json"
BIG = int(os.environ.get("CJ_EXPORT_BIG_EVENTS", "20000"))
FUZZ = int(os.environ.get("CJ_EXPORT_FUZZ_CASES", "200"))
with open(BIN, "rb") as _f:
    SANITIZED = b"__asan_init" in _f.read()

try:
    import jsonschema
except ImportError:  # scripts/setup.sh installs python3-jsonschema
    jsonschema = None

EVENTS = [
    {"type": "user", "user": "U1", "display_name": "Ann", "ts": 1000},
    {"type": "thread", "thread": "T1", "title": "Trip plans", "topic": "travel", "ts": 1001},
    {"type": "message", "thread": "T1", "role": "system", "content": "You are helpful.", "ts": 1002},
    {"type": "message", "thread": "T1", "role": "user", "user": "U1", "server": "S1",
     "content": "hello", "id": "m1", "ts": 1003},
    {"type": "message", "thread": "T1", "role": "assistant", "ts": 1004,
     "tool_calls": [{"id": "call_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
    {"type": "message", "thread": "T1", "role": "tool", "tool_call_id": "call_1",
     "content": "sunny", "ts": 1005},
    {"type": "message", "thread": "T1", "role": "user", "user": "U1", "server": "S2", "name": "ann",
     "content": "see this", "id": "m2", "ts": 1006,
     "attachments": [{"url": "https://x/p.png", "mime": "image/png", "name": "p.png", "size": 3},
                     {"url": "https://x/d.pdf", "name": "d.pdf"}]},
    {"type": "edit_message", "thread": "T1", "target": "m1", "content": "hello again", "ts": 1007},
    {"type": "reaction", "thread": "T1", "target": "m1", "emoji": "eyes", "user": "U2", "ts": 1008},
    {"type": "message", "thread": "T2", "role": "developer", "content": "dev note", "ts": 1009},
    {"type": "message", "thread": "T2", "role": "assistant", "content": "ok", "user": "U1",
     "server": "S1", "ts": 1010},
]


def run_cj(*args, input=None):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, timeout=300, input=input,
                          text=True)


def make_store(d, name, events):
    store = Path(d) / name
    r = run_cj("init", store)
    assert r.returncode == 0, r.stderr
    r = run_cj("append", store, "-", input="".join(json.dumps(e) + "\n" for e in events))
    assert r.returncode == 0, r.stderr
    # the projection, whole, before read-only exports read it
    r = run_cj("replay", store)
    assert r.returncode == 0, r.stderr
    return store


def export(store, *args):
    r = run_cj("export", store, *args)
    if r.returncode != 0:
        raise AssertionError("export %s: %d %s" % (args, r.returncode, r.stderr))
    return r.stdout


def state_hash(store):
    v = json.loads(run_cj("verify", store, "--json").stdout)
    assert v["state"]["equal"], v
    return v["state"]["live_hash"]


OPENAI_T1 = ('{"messages":[{"role":"system","content":"You are helpful."},'
             '{"role":"user","content":"hello again"},'
             '{"role":"assistant","content":null,"tool_calls":[{"function":{"arguments":'
             '"{\\"city\\":\\"Paris\\"}","name":"get_weather"},"id":"call_1","type":"function"}]},'
             '{"role":"tool","content":"sunny","tool_call_id":"call_1"},'
             '{"role":"user","name":"ann","content":[{"type":"text","text":"see this"},'
             '{"type":"image_url","image_url":{"url":"https://x/p.png"}},'
             '{"type":"text","text":"[attachment: d.pdf https://x/d.pdf]"}]}]}\n')

MARKDOWN_T1 = """# Trip plans

Thread T1 · server S2 · topic: travel

### system · 1970-01-01T00:00:01.002Z

> You are helpful.

### Ann (U1) · user · 1970-01-01T00:00:01.003Z

> hello again

*edited 1970-01-01T00:00:01.007Z*

Reactions: eyes 1

### assistant · 1970-01-01T00:00:01.004Z

- tool call call\\_1: get\\_weather \\{"city":"Paris"\\}

### tool · 1970-01-01T00:00:01.005Z

> sunny

*answers tool call call\\_1*

### Ann (U1) · user · 1970-01-01T00:00:01.006Z

> see this

- attachment: p.png (image/png, 3 bytes) https://x/p.png
- attachment: d.pdf https://x/d.pdf
"""


class Formats(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cj-export-")
        cls.store = make_store(cls.tmp.name, "s", EVENTS)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_jsonl_all_is_the_journal(self):
        lines = export(self.store, "--all", "--format", "jsonl").splitlines()
        self.assertEqual(len(lines), len(EVENTS))
        self.assertEqual(lines[0], '{"display_name":"Ann","seq":1,"ts":1000,"type":"user","user":"U1"}')
        self.assertEqual(lines[7], '{"content":"hello again","seq":8,"target":"m1","thread":"T1",'
                                   '"ts":1007,"type":"edit_message"}')
        for i, (line, ev) in enumerate(zip(lines, EVENTS)):
            got = json.loads(line)
            self.assertEqual(got.pop("seq"), i + 1)
            self.assertEqual(got, ev)
            self.assertEqual(line, json.dumps(dict(got, seq=i + 1), sort_keys=True,
                                              separators=(",", ":"), ensure_ascii=False))

    def test_jsonl_scopes(self):
        t2 = [json.loads(x)["seq"] for x in export(self.store, "--thread", "T2", "--format",
                                                   "jsonl").splitlines()]
        self.assertEqual(t2, [10, 11])
        u1 = [json.loads(x)["seq"] for x in export(self.store, "--user", "U1", "--format",
                                                   "jsonl").splitlines()]
        self.assertEqual(u1, [1, 4, 7, 11])
        # on S1: the events of another server go; those without one stay
        u1s1 = [json.loads(x)["seq"] for x in export(self.store, "--user", "U1", "--server", "S1",
                                                     "--format", "jsonl").splitlines()]
        self.assertEqual(u1s1, [1, 4, 11])
        self.assertEqual(export(self.store, "--thread", "nosuch", "--format", "jsonl"), "")

    def test_openai_thread_exact_and_valid(self):
        out = export(self.store, "--thread", "T1", "--format", "openai")
        self.assertEqual(out, OPENAI_T1)
        self.check_schema(out)

    def test_openai_all_and_user(self):
        out = export(self.store, "--all", "--format", "openai")
        self.assertEqual(out, OPENAI_T1 + '{"messages":[{"role":"developer","content":"dev note"},'
                                          '{"role":"assistant","content":"ok"}]}\n')
        self.check_schema(out)
        out = export(self.store, "--user", "U1", "--format", "openai")
        self.assertEqual(out, '{"messages":[{"role":"user","content":"hello again"},'
                              '{"role":"user","name":"ann","content":[{"type":"text","text":'
                              '"see this"},{"type":"image_url","image_url":{"url":"https://x/p.png"}},'
                              '{"type":"text","text":"[attachment: d.pdf https://x/d.pdf]"}]}]}\n'
                              '{"messages":[{"role":"assistant","content":"ok"}]}\n')
        out = export(self.store, "--user", "U1", "--server", "S2", "--format", "openai")
        self.assertEqual(out.count("\n"), 1)
        self.assertIn('"name":"ann"', out)

    def test_schema_refuses_what_the_api_refuses(self):
        if jsonschema is None:
            self.skipTest("python3-jsonschema is not installed (scripts/setup.sh installs it)")
        schema = json.loads(SCHEMA.read_text())
        good = json.loads(OPENAI_T1)
        jsonschema.validate(good, schema)
        bad = [
            {"messages": [{"role": "tool", "content": "x"}]},             # no tool_call_id
            {"messages": [{"role": "robot", "content": "x"}]},            # unknown role
            {"messages": [{"role": "user", "content": "x", "seq": 3}]},   # extra key
            {"messages": [{"role": "assistant", "content": None}]},       # null without calls
            {"messages": [{"role": "system", "content": [{"type": "image_url",
                                                           "image_url": {"url": "u"}}]}]},
        ]
        for b in bad:
            with self.assertRaises(jsonschema.ValidationError, msg=b):
                jsonschema.validate(b, schema)

    def check_schema(self, out):
        if jsonschema is None:
            self.skipTest("python3-jsonschema is not installed (scripts/setup.sh installs it)")
        schema = json.loads(SCHEMA.read_text())
        for line in out.splitlines():
            jsonschema.validate(json.loads(line), schema)

    def test_markdown_thread_exact(self):
        self.assertEqual(export(self.store, "--thread", "T1", "--format", "markdown"), MARKDOWN_T1)

    def test_markdown_all(self):
        out = export(self.store, "--all", "--format", "markdown")
        self.assertTrue(out.startswith(MARKDOWN_T1 + "\n---\n\n# T2\n\nThread T2 · server S1\n"), out)
        self.assertEqual(out.count("\n### "), 7)

    def test_errors_and_help(self):
        r = run_cj("export", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: chatjournal export STORE [--thread T | --user U [--server S] | --all]"
                      " --format jsonl|markdown|openai [--out FILE]", r.stdout)
        for args, says in ((["--all"], "--format is required"),
                           (["--all", "--format", "xml"], "--format must be jsonl, markdown or openai"),
                           (["--format", "jsonl"], "exactly one of --thread, --user, --all"),
                           (["--all", "--thread", "T1", "--format", "jsonl"], "exactly one of"),
                           (["--thread", "T1", "--server", "S", "--format", "jsonl"],
                            "--server goes with --user"),
                           (["--thread", "", "--format", "jsonl"], "must not be empty")):
            r = run_cj("export", self.store, *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(says, r.stderr, args)
        r = run_cj("export", self.store, "--thread", "nosuch", "--format", "markdown")
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn("the projection has no thread 'nosuch'", r.stderr)
        r = run_cj("export", self.store, "--user", "U9", "--format", "openai")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no user 'U9'", r.stderr)
        r = run_cj("export", Path(self.tmp.name) / "nostore", "--all", "--format", "jsonl")
        self.assertEqual(r.returncode, 1)

    def test_out_file(self):
        out = Path(self.tmp.name) / "t1.md"
        r = run_cj("export", self.store, "--thread", "T1", "--format", "markdown", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((r.stdout, r.stderr), ("", "exported 5 messages in 1 threads to %s\n" % out))
        self.assertEqual(out.read_text(), MARKDOWN_T1)
        self.assertEqual(stat.S_IMODE(out.stat().st_mode), 0o600)
        # a failure leaves nothing behind, not even the temporary file
        bad = Path(self.tmp.name) / "u.jsonl"
        r = run_cj("export", self.store, "--thread", "nosuch", "--format", "openai", "--out", bad)
        self.assertEqual(r.returncode, 1)
        self.assertEqual([p.name for p in Path(self.tmp.name).iterdir() if p.name.startswith("u.")], [])
        r = run_cj("export", self.store, "--all", "--format", "jsonl", "--out",
                   Path(self.tmp.name) / "nodir" / "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot create", r.stderr)

    def test_http_format_openai(self):
        token = run_cj("token", "add", self.store, "--read-only").stdout.strip()
        srv = Server(self.store)
        try:
            def get(path):
                req = urllib.request.Request(srv.base + path,
                                             headers={"Authorization": "Bearer " + token})
                try:
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        return resp.status, resp.read().decode()
                except urllib.error.HTTPError as e:
                    return e.code, e.read().decode()
            self.assertEqual(get("/v1/threads/T1/messages?format=openai&after=0"),
                             (200, OPENAI_T1.rstrip("\n")))
            status, body = get("/v1/threads/T1/messages?format=openai&limit=2&after=0")
            self.assertEqual(status, 200)
            self.assertEqual(len(json.loads(body)["messages"]), 2)
            status, body = get("/v1/threads/T1/messages?format=xml")
            self.assertEqual(status, 400)
            self.assertEqual(json.loads(body)["field"], "format")
            status, body = get("/v1/threads/T1/images?format=openai")
            self.assertEqual((status, json.loads(body)["field"]), (400, "format"))
            status, body = get("/v1/threads/T1/messages")  # rows, as before
            self.assertEqual(json.loads(body)[0]["seq"], 3)
        finally:
            srv.stop()


class RoundTrip(unittest.TestCase):
    def test_jsonl_all_rebuilds_the_same_projection(self):
        ev = list(EVENTS) + [
            {"type": "setting", "key": "api_key", "value": "secret", "sensitive": True, "ts": 1011},
            {"type": "setting", "key": "mode", "value": {"a": [1, 2.5]}, "ts": 1012},
            {"type": "thread_config", "thread": "T2", "config_patch": {"k": 1}, "ts": 1013},
            {"type": "user", "user": "U2", "is_bot": True, "config": {"x": 1}, "ts": 1014},
            {"type": "message", "thread": "T3", "role": "user", "user": "U2", "content": "gone",
             "id": "m3", "ts": 1015},
            {"type": "message", "thread": "T3", "role": "user", "user": "U2", "content": "stays",
             "ts": 1016},
            {"type": "edit_message", "thread": "T1", "target": "m2", "content": "edited twice",
             "ts": 1017},
            {"type": "delete_message", "thread": "T3", "target": "m3", "ts": 1018},
            {"type": "message", "thread": "T4", "role": "user", "content": "whole thread", "ts": 1019},
            {"type": "delete_thread", "thread": "T4", "ts": 1020},
            {"type": "metric", "name": "latency", "value": 0.25, "tags": {"b": 1}, "ts": 1021},
            {"type": "clear_history", "user": "U2", "server": "S9", "ts": 1022},
            {"type": "purge", "before": 1003, "thread": "T1", "ts": 1023},
        ]
        with tempfile.TemporaryDirectory(prefix="cj-export-rt-") as d:
            src = make_store(d, "src", ev)
            r = run_cj("compact", src)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = export(src, "--all", "--format", "jsonl").splitlines()
            self.assertGreater(len(lines), len(ev))  # compaction appended redact_edits
            redacted = [json.loads(x) for x in lines if '"redacted":true' in x]
            self.assertGreaterEqual(len(redacted), 3)  # m3, T4's message, the secret
            self.assertIn(("message", ""), [(x["type"], x.get("content")) for x in redacted])
            feed = []
            for x in lines:
                o = json.loads(x)
                o.pop("seq")
                o.pop("redacted", None)
                feed.append(json.dumps(o, ensure_ascii=False) + "\n")
            dst = Path(d) / "dst"
            self.assertEqual(run_cj("init", dst).returncode, 0)
            r = run_cj("append", dst, "-", input="".join(feed))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(state_hash(dst), state_hash(src))
            # The export as it is, through `chatjournal import --format jsonl`
            # (which drops "seq" and "redacted"): the same projection.
            path = Path(d) / "export.jsonl"
            path.write_text("\n".join(lines) + "\n")
            imp = Path(d) / "imported"
            self.assertEqual(run_cj("init", imp).returncode, 0)
            r = run_cj("import", imp, "--format", "jsonl", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(state_hash(imp), state_hash(src))
            # negative control: one changed event gives another hash
            other = Path(d) / "other"
            run_cj("init", other)
            changed = [x.replace('"stays"', '"stays!"') for x in feed]
            self.assertNotEqual(changed, feed)
            run_cj("append", other, "-", input="".join(changed))
            self.assertNotEqual(state_hash(other), state_hash(src))


class Hostile(unittest.TestCase):
    def test_names_and_text_escaped(self):
        ev = [
            {"type": "user", "user": "U1", "display_name": "Mal *x*\n# H1 [a](b) <img src=x>", "ts": 1},
            {"type": "thread", "thread": "T#1", "title": "Title\n\n### Fake · user\n<script>&", "ts": 2},
            {"type": "message", "thread": "T#1", "role": "user", "user": "U1", "ts": 3,
             "content": "line 1\n### forged heading\n\n<b>x</b> & `code`\r\nend"},
        ]
        with tempfile.TemporaryDirectory(prefix="cj-export-h-") as d:
            store = make_store(d, "s", ev)
            out = export(store, "--thread", "T#1", "--format", "markdown")
        self.assertEqual(out, "# Title  \\#\\#\\# Fake · user &lt;script\\>&amp;\n\n"
                              "Thread T\\#1\n\n"
                              "### Mal \\*x\\* \\# H1 \\[a\\]\\(b\\) &lt;img src=x\\> (U1) · user · "
                              "1970-01-01T00:00:00.003Z\n\n"
                              "> line 1\n> ### forged heading\n> \n> &lt;b>x&lt;/b> & `code`\n> end\n")

    def test_random_names_keep_the_structure(self):
        rng = random.Random(int(os.environ.get("CJ_EXPORT_SEED", "7")))
        alphabet = "ab #*_`[]()<>&!|~\\\n\r\t-=+.:é💬"
        def word():
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))).strip() or "x"
        ev, n = [], 0
        for i in range(FUZZ):
            user = "U%d" % rng.randint(0, 4)
            if rng.random() < 0.3:
                ev.append({"type": "user", "user": user, "display_name": word(), "ts": i})
            elif rng.random() < 0.1:
                ev.append({"type": "thread", "thread": "T", "title": word(), "topic": word(), "ts": i})
            else:
                ev.append({"type": "message", "thread": "T", "role": "user", "user": user,
                           "name": word().replace("\n", " ").replace("\r", " ").replace("\t", " "),
                           "content": word() + "\n" + word(), "ts": i})
                n += 1
        with tempfile.TemporaryDirectory(prefix="cj-export-f-") as d:
            store = make_store(d, "s", ev)
            out = export(store, "--thread", "T", "--format", "markdown")
        lines = out.split("\n")
        headings = [x for x in lines if x.startswith("#")]
        self.assertEqual(len(headings), n + 1, "one '# ' title and one '### ' per message")
        self.assertTrue(headings[0].startswith("# "))
        self.assertTrue(all(x.startswith("### ") for x in headings[1:]))
        for x in lines:
            self.assertNotIn("<", x.replace("&lt;", ""), x)  # no raw HTML tag can open


def anon_peak_kib(p):
    """Peak RssAnon (heap and other private memory, not file mappings) of a
    running child, sampled every 2 ms until it exits."""
    peak = 0
    while p.poll() is None:
        try:
            with open("/proc/%d/status" % p.pid) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.002)
    p.wait()
    return peak


class Bounded(unittest.TestCase):
    def test_all_streams(self):
        text = "w" * 2000
        with tempfile.TemporaryDirectory(prefix="cj-export-big-") as d:
            ev = ({"type": "message", "thread": "T%d" % (i % 50), "role": "user",
                   "content": "%d %s" % (i, text), "ts": i} for i in range(BIG))
            store = make_store(d, "s", ev)
            for fmt in ("jsonl", "markdown", "openai"):
                out = Path(d) / (fmt + ".out")
                with open(out, "w") as f:
                    p = subprocess.Popen([BIN, "export", str(store), "--all", "--format", fmt],
                                         stdout=f)
                    peak = anon_peak_kib(p)
                rc = p.returncode
                size = out.stat().st_size
                print("export --all --format %s: %d events, %.1f MiB out, peak anonymous RSS "
                      "%.1f MiB" % (fmt, BIG, size / 2**20, peak / 1024))
                self.assertEqual(rc, 0)
                self.assertGreater(size, BIG * 2000)
                # The journal is read through LMDB's file mapping (file pages, not
                # counted): the process's own memory stays small whatever the output
                # (a sanitizer build's shadow memory is anonymous too: not judged).
                if not SANITIZED:
                    self.assertLess(peak, 16 * 1024)


if __name__ == "__main__":
    sys.exit(clitest.main("export", sys.modules[__name__]))
