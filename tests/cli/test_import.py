#!/usr/bin/env python3
"""`chatjournal import` as a user runs it (docs/import.md): each format's
fixture (tests/data/import/) imported with exact counts per kind and per
file, what lands in the projection (edits, replies, reactions, attachments,
branches, profiles, thread titles, non-Latin text), a re-import that stores
nothing, a newer export that becomes edits, --sync deleting what the newer
export lost, --dry-run, and hostile sources (truncated JSON, wrong types, a
100 MB field, a zip bomb, '..' and absolute names in a zip) that fail with
the file, line and byte named and nothing appended. Standard library only;
CJ_BIN names the binary."""
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import unittest
import zipfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402

BIN = os.environ.get("CJ_BIN", "")
DATA = Path(os.environ.get("CJ_TEST_DATA", Path(__file__).resolve().parent.parent / "data"))
IMP = DATA / "import"


class ImportCase(unittest.TestCase):
    def setUp(self):
        os.umask(0o022)
        self.tmp = tempfile.TemporaryDirectory(prefix="cj-import-")
        self.dir = Path(self.tmp.name)
        self.store = self.dir / "store"
        self.run_cj("init", self.store)

    def tearDown(self):
        self.tmp.cleanup()

    def run_cj(self, *args, stdin=""):
        return subprocess.run([BIN, *map(str, args)], input=stdin, capture_output=True, text=True,
                              timeout=300, env=dict(os.environ, TMPDIR=str(self.dir)))

    def imp(self, fmt, path, *extra, code=0):
        r = self.run_cj("import", self.store, "--format", fmt, path, "--json", *extra)
        self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        if code == 0:
            self.assertEqual(r.stderr, "")
        rep = json.loads(r.stdout) if r.stdout.strip() else None
        return rep, r.stderr

    def last_seq(self):
        r = self.run_cj("stats", self.store, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["last_seq"]

    def history(self, thread):
        r = self.run_cj("history", self.store, thread, "--json", "--limit", "1000")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def sql(self, q):
        self.run_cj("stats", self.store)  # waits for nothing; the history calls above waited
        con = sqlite3.connect(f"file:{self.store}/chat.sqlite?mode=ro", uri=True)
        try:
            return con.execute(q).fetchall()
        finally:
            con.close()

    def kinds(self, rep):
        return {k: (v["seen"], v["imported"], v["present"], v["skipped"])
                for k, v in rep["kinds"].items()}

    def totals(self, rep):
        t = rep["totals"]
        return (t["seen"], t["imported"], t["present"], t["skipped"], t["edits"], t["deletes"])


class Slack(ImportCase):
    V1 = IMP / "slack" / "v1"
    V2 = IMP / "slack" / "v2"

    def test_folder_counts_and_rows(self):
        rep, _ = self.imp("slack", self.V1)
        self.assertEqual(self.totals(rep), (18, 18, 0, 0, 0, 0))
        self.assertEqual(self.kinds(rep), {"user": (4, 4, 0, 0), "thread": (2, 2, 0, 0),
                                           "message": (9, 9, 0, 0), "reaction": (3, 3, 0, 0)})
        files = {f["file"]: f["seen"] for f in rep["files"]}
        self.assertEqual(files, {"users.json": 4, "channels.json": 2,
                                 "general/2024-03-01.json": 9, "general/2024-03-02.json": 1,
                                 "日本語/2024-03-01.json": 2})
        self.assertEqual(rep["appended"], True)
        self.assertEqual(self.last_seq(), 18)
        rows = self.history("slack:C01")
        by_id = {r["id"]: r for r in rows}
        self.assertEqual([r["id"] for r in rows][:2],
                         ["slack:C01:1709290800.000100", "slack:C01:1709290860.000200"])
        first = by_id["slack:C01:1709290800.000100"]
        self.assertEqual(first["reactions"], {"thumbsup": 2})
        self.assertEqual(first["ts"], "2024-03-01T11:00:00.000Z")
        self.assertEqual(first["server"], "T01")
        self.assertEqual(by_id["slack:C01:1709290960.000400"]["parent"],
                         "slack:C01:1709290900.000300")
        files_msg = by_id["slack:C01:1709291000.000500"]
        self.assertEqual(files_msg["attachments"], [{"url": "https://files.example/F01/report.pdf",
                                                     "name": "report.pdf",
                                                     "mime": "application/pdf", "size": 1234}])
        self.assertEqual(files_msg["metadata"]["files_unavailable"], ["F02"])
        self.assertEqual(by_id["slack:C01:1709291060.000600"]["role"], "assistant")
        self.assertEqual(by_id["slack:C01:1709291100.000700"]["role"], "system")
        self.assertEqual(by_id["slack:C01:1709377200.000800"]["content"], "Ünïcödé ✓ emoji 🎉")
        jp = self.history("slack:C02")
        self.assertEqual([(r["content"], r["reactions"]) for r in jp],
                         [("こんにちは世界", {"tada": 1})])
        self.assertEqual(self.sql("SELECT user, display_name, is_bot, timezone, first_seen "
                                  "FROM users ORDER BY user"),
                         [("B01", "Helper Bot", 1, None, "2024-02-29T09:46:43.000Z"),
                          ("U01", "alice", 0, "Europe/Berlin", "2024-02-29T09:46:40.000Z"),
                          ("U02", "Bob Example", 0, None, "2024-02-29T09:46:41.000Z"),
                          ("U03", "花子", 0, "Asia/Tokyo", "2024-02-29T09:46:42.000Z")])
        self.assertEqual(self.sql("SELECT thread, title, topic, message_count FROM threads "
                                  "ORDER BY thread"),
                         [("slack:C01", "general", "General chat", 8),
                          ("slack:C02", "日本語", "日本語の話題", 1)])
        # the channel's name and topic never reach the bot's config
        r = self.run_cj("stats", self.store, "--json")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.sql("SELECT count(*) FROM threads WHERE config IS NOT NULL"), [(0,)])

    def test_reimport_stores_nothing(self):
        self.imp("slack", self.V1)
        rep, _ = self.imp("slack", self.V1)
        self.assertEqual(self.totals(rep), (18, 0, 18, 0, 0, 0))
        self.assertEqual(rep["last_seq"], 0)
        self.assertEqual(self.last_seq(), 18)

    def test_newer_export_edits_then_sync_deletes(self):
        self.imp("slack", self.V1)
        rep, _ = self.imp("slack", self.V2)
        # 9 messages: one new, 8 present (one of them changed: an edit);
        # 4 reactions: one new; nothing deleted without --sync
        self.assertEqual(self.totals(rep), (20, 3, 17, 0, 1, 0))
        self.assertEqual(self.kinds(rep)["edit_message"], (1, 1, 0, 0))
        self.assertEqual(self.kinds(rep)["message"], (9, 1, 8, 0))
        by_id = {r["id"]: r for r in self.history("slack:C01")}
        edited = by_id["slack:C01:1709290860.000200"]
        self.assertEqual(edited["content"], "Edited text v2")
        self.assertEqual(edited["edited_ts"], "2024-03-01T13:33:20.000Z")
        self.assertEqual(by_id["slack:C01:1709290800.000100"]["reactions"], {"thumbsup": 3})
        self.assertIn("slack:C01:1709291060.000600", by_id)
        self.assertEqual(self.sql("SELECT editor, old_content, content FROM message_edits"),
                         [("U02", "Edited text v1", "Edited text v2")])
        # the same newer export again: nothing new (the edit is present)
        rep, _ = self.imp("slack", self.V2)
        self.assertEqual(self.totals(rep), (20, 0, 20, 0, 0, 0))
        # --sync: the bot message the newer export lacks goes; nothing else
        rep, _ = self.imp("slack", self.V2, "--sync")
        self.assertEqual(self.totals(rep), (21, 1, 20, 0, 0, 1))
        ids = [r["id"] for r in self.history("slack:C01")]
        self.assertNotIn("slack:C01:1709291060.000600", ids)
        self.assertEqual(len(ids), 8)
        rep, _ = self.imp("slack", self.V2, "--sync")
        self.assertEqual(self.totals(rep), (20, 0, 20, 0, 0, 0))

    def test_sync_stays_within_the_covered_span(self):
        # a message of the thread older than anything in the export stays
        self.run_cj("append", self.store, stdin=json.dumps({
            "type": "message", "id": "slack:C01:1600000000.000001", "thread": "slack:C01",
            "role": "user", "content": "before the export", "ts": 1600000000000}) + "\n")
        self.imp("slack", self.V1)
        rep, _ = self.imp("slack", self.V2, "--sync")
        self.assertEqual(rep["totals"]["deletes"], 1)
        ids = [r["id"] for r in self.history("slack:C01")]
        self.assertIn("slack:C01:1600000000.000001", ids)

    def test_zip_equals_folder(self):
        z = self.dir / "export.zip"
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(self.V1.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(self.V1).as_posix())
        rep, _ = self.imp("slack", z)
        self.assertEqual(self.totals(rep), (18, 18, 0, 0, 0, 0))
        self.assertEqual(len(self.history("slack:C02")), 1)
        # nothing left in TMPDIR
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), ["export.zip", "store"])

    def test_dry_run_appends_nothing(self):
        rep, _ = self.imp("slack", self.V1, "--dry-run")
        self.assertEqual(self.totals(rep), (18, 18, 0, 0, 0, 0))
        self.assertEqual((rep["phase"], rep["appended"]), ("plan", False))
        self.assertEqual(self.last_seq(), 0)

    def test_text_output(self):
        r = self.run_cj("import", self.store, "--format", "slack", self.V1)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "import of 18 items: 18 imported, 0 already present, "
                                   "0 skipped (0 edits, 0 deletes)")
        self.assertIn("  message          seen 9, imported 9, present 0, skipped 0", lines)

    def test_retention_warning(self):
        conf = self.store / "chatjournal.conf"
        c = json.loads(conf.read_text())
        c.setdefault("retention", {})["messages_days"] = 30
        conf.write_text(json.dumps(c))
        r = self.run_cj("import", self.store, "--format", "slack", self.V1, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["retention_dropped"], 9)
        self.assertEqual(r.stderr, "chatjournal: import: warning: 9 imported messages are older "
                                   "than the store's retention.messages_days: its next retention "
                                   "run removes them\n")


class SlackHostile(ImportCase):
    def export(self, name, day_text=None, channels=None):
        root = self.dir / name
        shutil_copy(IMP / "slack" / "v1", root)
        if day_text is not None:
            (root / "general" / "2024-03-02.json").write_text(day_text, encoding="utf-8")
        if channels is not None:
            (root / "channels.json").write_text(channels, encoding="utf-8")
        return root

    def fails(self, fmt, path, *extra):
        r = self.run_cj("import", self.store, "--format", fmt, path, *extra)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertEqual(self.last_seq(), 0)   # nothing partial
        return r.stderr

    def test_truncated_json(self):
        root = self.export("trunc", day_text='[\n {"type": "message", "user": "U01", "text": "cut')
        err = self.fails("slack", root)
        self.assertIn("general/2024-03-02.json: line 2, byte", err)
        self.assertIn("truncated JSON: the file ends inside a string, in the element that "
                      "starts at line 2, byte 3", err)

    def test_invalid_json_names_line_and_byte(self):
        root = self.export("bad", day_text='[\n {"type": "message",\n  "ts": 12x}\n]\n')
        err = self.fails("slack", root)
        self.assertIn("general/2024-03-02.json: line 3, byte", err)
        self.assertIn("invalid JSON", err)

    def test_wrong_top_level_type(self):
        root = self.export("obj", channels='{"id": "C01"}')
        err = self.fails("slack", root)
        self.assertIn("channels.json: line 1, byte 0: expected a JSON array '['", err)

    def test_wrong_field_type_is_a_skip(self):
        root = self.export("types", day_text=json.dumps([
            {"type": "message", "user": "U01", "text": 123, "ts": "1709377200.000800"},
            {"type": "message", "user": "U01", "text": "fine", "ts": "1709377201.000800"}]))
        r = self.run_cj("import", self.store, "--format", "slack", root, "--json")
        self.assertEqual(r.returncode, 1)
        rep = json.loads(r.stdout)
        self.assertEqual(rep["appended"], False)
        self.assertEqual(rep["totals"]["skipped"], 1)
        self.assertEqual(rep["skip_reasons"], [
            {"reason": "message 1709377200.000800: field 'text' must be a string", "count": 1}])
        self.assertEqual(rep["skip_examples"][0]["file"], "general/2024-03-02.json")
        self.assertEqual(rep["skip_examples"][0]["line"], 1)
        self.assertIn("1 item of the source must be skipped", r.stderr)
        self.assertEqual(self.last_seq(), 0)
        # --allow-skips: the rest goes in
        rep, _ = self.imp("slack", root, "--allow-skips")
        self.assertEqual(self.totals(rep), (19, 18, 0, 1, 0, 0))

    def test_100_mb_field_is_skipped_without_loading_it(self):
        root = self.export("huge")
        with open(root / "general" / "2024-03-02.json", "w") as f:
            head = '{"type": "message", "user": "U01", "ts": "1709377200.000800", "text": "'
            f.write("[" + head)
            chunk = "x" * (1 << 20)
            for _ in range(100):
                f.write(chunk)
            f.write('"},\n{"type": "message", "user": "U02", "text": "after", '
                    '"ts": "1709377300.000900"}]\n')
        # its own child, to read its peak memory: the element cap (64 MiB), not the field
        p = subprocess.Popen([BIN, "import", self.store, "--format", "slack", root, "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             env=dict(os.environ, TMPDIR=str(self.dir)))
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        p.stdout.close()
        self.assertEqual(p.returncode, 1)
        # (a sanitizer's shadow memory and quarantine make the figure meaningless)
        if b"libasan" not in subprocess.run(["ldd", BIN], capture_output=True).stdout:
            self.assertLess(usage.ru_maxrss, 96 * 1024)   # KiB
        rep = json.loads(out)
        self.assertEqual(rep["skip_reasons"][0]["reason"],
                         "an element of %d bytes, over the limit of 67108864"
                         % (len(head) + (100 << 20) + 2))
        self.assertEqual(self.last_seq(), 0)
        rep, _ = self.imp("slack", root, "--allow-skips")
        self.assertEqual(rep["kinds"]["message"], {"seen": 10, "imported": 9, "present": 0,
                                                   "skipped": 1})
        self.assertEqual(self.history("slack:C01")[-1]["content"], "after")

    def zip_with(self, entries, name="hostile.zip"):
        z = self.dir / name
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
            for n, data in entries:
                zf.writestr(zipfile.ZipInfo(n), data)
        return z

    def test_zip_dot_dot_and_absolute_names(self):
        for bad in ("../evil.json", "general/../../evil.json", "/etc/evil.json"):
            z = self.zip_with([("channels.json", "[]"), (bad, "[]")])
            err = self.fails("slack", z)
            self.assertIn(f"zip entry 2 '{bad}' refused", err)
            self.assertFalse((self.dir.parent / "evil.json").exists())
        # nothing unpacked is left behind
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), ["hostile.zip", "store"])

    def test_zip_bomb_stops_at_the_cap(self):
        z = self.dir / "bomb.zip"
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("channels.json", "[]")
            with zf.open("general/2024-03-01.json", "w") as f:
                block = b"\0" * (1 << 20)
                for _ in range(64):
                    f.write(block)
        self.assertLess(z.stat().st_size, 1 << 20)
        err = self.fails("slack", z, "--max-entry", str(16 << 20))
        self.assertIn("zip entry 'general/2024-03-01.json' is larger than 16777216 bytes "
                      "uncompressed (the cap per entry; a zip bomb?)", err)
        err = self.fails("slack", z, "--max-total", str(8 << 20))
        self.assertIn("larger than 8388608 bytes uncompressed in all", err)
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), ["bomb.zip", "store"])

    def test_not_a_slack_export(self):
        (self.dir / "empty").mkdir()
        err = self.fails("slack", self.dir / "empty")
        self.assertIn("not a Slack export", err)


def shutil_copy(src, dst):
    import shutil
    shutil.copytree(src, dst)


class SlackModes(ImportCase):
    """The plan's events kept for the append (CHATJOURNAL_IMPORT_MEMORY) and
    the day files read on worker threads (CHATJOURNAL_IMPORT_THREADS) change
    nothing but the time: each mode, the original one (0 and 1: the source
    read twice, on one thread) included, gives the same reports, exit codes
    and journal for the same sequence of imports: a first import, a newer
    export (an edit), --sync, a source where an id repeats (keeping stops:
    the append reads it again), a budget the plan outgrows half-way, and a
    broken file after good ones (the same error, nothing appended)."""
    MODES = [{}, {"CHATJOURNAL_IMPORT_MEMORY": "0", "CHATJOURNAL_IMPORT_THREADS": "1"},
             {"CHATJOURNAL_IMPORT_MEMORY": "0"}, {"CHATJOURNAL_IMPORT_THREADS": "1"},
             {"CHATJOURNAL_IMPORT_MEMORY": "12K"}]

    def sources(self):
        if hasattr(self, "_sources"):
            return self._sources
        dup = self.dir / "dup"
        shutil_copy(Slack.V2, dup)
        day = dup / "general" / "2024-03-02.json"
        msgs = json.loads(day.read_text(encoding="utf-8"))
        again = dict(msgs[0], text="said again, differently",
                     edited={"user": "U01", "ts": "1709380000.000000"})
        day.write_text(json.dumps(msgs + [msgs[0], again]), encoding="utf-8")
        broken = self.dir / "broken"
        shutil_copy(Slack.V2, broken)
        (broken / "日本語" / "2024-03-01.json").write_text('[{"type": "message", "ts": ',
                                                        encoding="utf-8")
        self._sources = [(Slack.V1, []), (Slack.V2, []), (Slack.V2, ["--sync"]), (dup, []),
                         (broken, []), (Slack.V1, ["--dry-run"])]
        return self._sources

    def scenario(self, env, name):
        store = self.dir / name
        self.run_cj("init", store)
        out, reads = [], []
        for path, extra in self.sources():
            r = subprocess.run([BIN, "import", str(store), "--format", "slack", str(path),
                                "--json", *extra], capture_output=True, text=True, timeout=300,
                               env=dict(os.environ, TMPDIR=str(self.dir), **env))
            rep = json.loads(r.stdout) if r.stdout.strip() else None
            reads.append(rep.pop("source_reads"))
            out.append((r.returncode, rep, r.stderr))
        r = self.run_cj("export", store, "--all", "--format", "jsonl")
        self.assertEqual(r.returncode, 0, r.stderr)
        journal = [json.loads(line) for line in r.stdout.splitlines()]
        for ev in journal:
            if ev["type"] == "delete_message":
                ev.pop("ts")   # --sync's deletes take the time they are appended
        return out, journal, reads

    def test_every_mode_gives_the_same_imports(self):
        base, journal, reads = self.scenario(self.MODES[0], "s0")
        # read once but where an id repeats; a failed plan or a dry run reads once
        self.assertEqual(reads, [1, 1, 1, 2, 1, 1])
        self.assertEqual([code for code, _, _ in base], [0, 0, 0, 0, 1, 0])
        self.assertEqual(base[3][1]["totals"]["edits"], 1)   # the repeat with other text
        self.assertIn("日本語/2024-03-01.json: line 1", base[4][2])
        self.assertEqual(len(journal), 23)
        # 0: never kept; 12K: the first import's 18 events are over it, the
        # 3 new ones of the newer export are not
        expect = {"0": [2, 2, 2, 2, 1, 1], "12K": [2, 1, 1, 2, 1, 1]}
        for i, env in enumerate(self.MODES[1:], 1):
            with self.subTest(env=env):
                out, j, r = self.scenario(env, f"s{i}")
                self.assertEqual(out, base)
                self.assertEqual(j, journal)
                self.assertEqual(r, expect.get(env.get("CHATJOURNAL_IMPORT_MEMORY"), reads))


class Discord(ImportCase):
    V1 = IMP / "discord" / "v1"
    V2 = IMP / "discord" / "v2" / "general.json"

    def test_folder_counts_rows_and_newer_export(self):
        rep, _ = self.imp("discord", self.V1)
        self.assertEqual(self.totals(rep), (15, 15, 0, 0, 0, 0))
        self.assertEqual(self.kinds(rep), {"user": (4, 4, 0, 0), "thread": (2, 2, 0, 0),
                                           "message": (7, 7, 0, 0), "reaction": (2, 2, 0, 0)})
        by_id = {r["id"]: r for r in self.history("discord:3001")}
        self.assertEqual(by_id["discord:3001:1001"]["reactions"], {"👍": 2})
        self.assertEqual(by_id["discord:3001:1001"]["server"], "4001")
        self.assertEqual(by_id["discord:3001:1003"]["reply_to"], "discord:3001:1001")
        self.assertEqual(by_id["discord:3001:1003"]["metadata"], {"mentions": ["2001"]})
        self.assertEqual(by_id["discord:3001:1004"]["attachments"],
                         [{"url": "https://cdn.example/att/5001/cat.png", "name": "cat.png",
                           "size": 2048}])
        self.assertEqual(by_id["discord:3001:1004"]["metadata"]["embeds"][0]["title"], "A link")
        self.assertEqual(by_id["discord:3001:1005"]["role"], "assistant")
        self.assertEqual(by_id["discord:3001:1006"]["role"], "system")
        self.assertEqual([r["content"] for r in self.history("discord:3002")], ["Γειά σου κόσμε"])
        self.assertEqual(self.sql("SELECT user, display_name, is_bot FROM users ORDER BY user"),
                         [("2001", "Alice", 0), ("2002", None, 0), ("2003", "Кира", 0),
                          ("2004", None, 1)])
        rep, _ = self.imp("discord", self.V1)
        self.assertEqual(self.totals(rep), (15, 0, 15, 0, 0, 0))
        rep, _ = self.imp("discord", self.V2, "--sync")
        self.assertEqual(self.totals(rep), (14, 3, 11, 0, 1, 1))
        by_id = {r["id"]: r for r in self.history("discord:3001")}
        self.assertEqual(by_id["discord:3001:1002"]["content"], "Typo the")
        self.assertEqual(by_id["discord:3001:1002"]["edited_ts"], "2024-04-01T12:00:00.000Z")
        self.assertNotIn("discord:3001:1005", by_id)
        self.assertEqual(by_id["discord:3001:1007"]["content"], "Пока")
        # the other channel was not in that export: untouched by --sync
        self.assertEqual(len(self.history("discord:3002")), 1)

    def test_messages_before_channel(self):
        f = self.dir / "odd.json"
        f.write_text('{"messages": [], "channel": {"id": "1"}}')
        r = self.run_cj("import", self.store, "--format", "discord", f)
        self.assertEqual(r.returncode, 1)
        self.assertIn("odd.json: line 1, byte 1: \"messages\" before a \"channel\"", r.stderr)

    def test_reaction_without_users_is_a_skip(self):
        doc = json.loads((self.V1 / "greek.json").read_text())
        doc["messages"][0]["reactions"] = [{"emoji": {"name": "🔥"}, "count": 3}]
        f = self.dir / "r.json"
        f.write_text(json.dumps(doc))
        rep, _ = self.imp("discord", f, code=1)
        self.assertEqual(rep["skip_reasons"][0]["reason"],
                         "a reaction to discord:3002:1101 without its users (only a count): "
                         "a reaction is stored per user")


class ChatGPT(ImportCase):
    V1 = IMP / "chatgpt" / "v1" / "conversations.json"
    V2 = IMP / "chatgpt" / "v2" / "conversations.json"

    def test_branches_parts_models(self):
        rep, _ = self.imp("chatgpt", self.V1)
        self.assertEqual(self.totals(rep), (12, 12, 0, 0, 0, 0))
        rows = self.history("chatgpt:c-aaa")
        # the active branch first, root to leaf, then the other branch
        self.assertEqual([r["id"].split(":")[-1] for r in rows],
                         ["s", "u1", "a1b", "u2b", "t1", "a3", "a1", "u2"])
        by = {r["id"].split(":")[-1]: r for r in rows}
        self.assertEqual(by["a1"]["parent"], "chatgpt:c-aaa:u1")
        self.assertEqual(by["u2"]["parent"], "chatgpt:c-aaa:a1")
        self.assertEqual(by["u1"]["parent"], "chatgpt:c-aaa:s")
        self.assertNotIn("parent", by["s"])
        self.assertEqual(by["u2b"]["attachments"], [{"url": "file-service://file-abc",
                                                     "mime": "image/*", "size": 1000}])
        self.assertEqual((by["t1"]["role"], by["t1"]["name"], by["t1"]["content"]),
                         ("tool", "python", "42"))
        self.assertEqual(by["s"]["metadata"], {"hidden": True})
        self.assertEqual(self.sql("SELECT model, count(*) FROM message_costs GROUP BY model "
                                  "ORDER BY model"), [("gpt-4o", 3), ("gpt-4o-mini", 1)])
        self.assertEqual(self.sql("SELECT title FROM threads ORDER BY thread"),
                         [("Paris trip",), ("日本語の会話",)])
        rep, _ = self.imp("chatgpt", self.V1)
        self.assertEqual(self.totals(rep), (12, 0, 12, 0, 0, 0))
        rep, _ = self.imp("chatgpt", self.V2, "--sync")
        # two new nodes, a new thread event (the active leaf moved), u2 deleted
        self.assertEqual(self.totals(rep), (14, 4, 10, 0, 0, 1))
        ids = [r["id"].split(":")[-1] for r in self.history("chatgpt:c-aaa")]
        self.assertEqual(ids, ["s", "u1", "a1b", "u2b", "t1", "a3", "a1", "u4", "a4"])


class Jsonl(ImportCase):
    def test_sample_and_reimport(self):
        rep, _ = self.imp("jsonl", DATA / "sample-events.jsonl")
        self.assertEqual(self.totals(rep), (7, 7, 0, 0, 0, 0))
        rep, _ = self.imp("jsonl", DATA / "sample-events.jsonl")
        self.assertEqual(self.totals(rep), (7, 0, 7, 0, 0, 0))
        self.assertEqual(self.last_seq(), 7)

    def test_export_shape_seq_and_tombstones(self):
        f = self.dir / "export.jsonl"
        f.write_text("\n".join(json.dumps(e) for e in [
            {"seq": 1, "type": "message", "id": "m1", "thread": "T", "role": "user",
             "content": "hello", "ts": 1700000000000},
            {"seq": 2, "type": "message", "id": "m2", "thread": "T", "role": "user",
             "content": "", "ts": 1700000001000, "redacted": True},
        ]) + "\n")
        rep, _ = self.imp("jsonl", f)
        self.assertEqual(self.totals(rep), (2, 2, 0, 0, 0, 0))
        self.assertEqual([r["content"] for r in self.history("T")], ["hello", ""])

    def test_invalid_event_is_a_skip_and_bad_json_an_error(self):
        f = self.dir / "mixed.jsonl"
        f.write_text('{"type":"message","thread":"T","role":"user","content":"a"}\n'
                     '{"type":"message","thread":"T","role":"robot","content":"b"}\n')
        rep, err = self.imp("jsonl", f, code=1)
        self.assertEqual(rep["skip_examples"][0]["line"], 2)
        self.assertIn("field 'role': must be one of", rep["skip_examples"][0]["reason"])
        self.assertEqual(self.last_seq(), 0)
        g = self.dir / "broken.jsonl"
        g.write_text('{"type":"message"}\n{"type": "message", "thread": \n')
        r = self.run_cj("import", self.store, "--format", "jsonl", g)
        self.assertEqual(r.returncode, 1)
        self.assertIn("broken.jsonl: line 2, byte 49", r.stderr)
        self.assertEqual(self.last_seq(), 0)

    def test_target_must_exist(self):
        f = self.dir / "edits.jsonl"
        f.write_text('{"type":"message","id":"m1","thread":"T","role":"user","content":"a"}\n'
                     '{"type":"edit_message","thread":"T","target":"m1","content":"b"}\n'
                     '{"type":"reaction","thread":"T","target":"m9","emoji":"x","user":"u"}\n')
        rep, _ = self.imp("jsonl", f, code=1)
        self.assertEqual(rep["skip_reasons"], [{"reason": "target 'm9' is neither in the store "
                                                          "nor earlier in the source", "count": 1}])
        self.assertEqual(rep["skip_examples"][0]["line"], 3)
        rep, _ = self.imp("jsonl", f, "--allow-skips")
        self.assertEqual(self.totals(rep), (3, 2, 0, 1, 0, 0))
        self.assertEqual([r["content"] for r in self.history("T")], ["b"])

    def test_usage(self):
        r = self.run_cj("import", self.store, "--format", "irc", self.dir)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown --format 'irc'", r.stderr)
        r = self.run_cj("import", self.store, "--format", "jsonl", self.dir / "none")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such file or folder", r.stderr)


if __name__ == "__main__":
    sys.exit(clitest.main("cli-import", sys.modules[__name__]))
