#!/usr/bin/env python3
"""Meta-test: docs/events.md states the event schema that journal/event_validate.c
enforces, and nothing else.

From the code it reads the rule tables of journal/event_validate.c (types,
fields, kinds, required flags, enum values, the `cost` sub-schema, the fixed
caps ID_MAX, IDENT_MAX, TZ_MAX and HASH_LEN), the type names of
journal/event.c and CJ_LIMITS_DEFAULT of include/chatjournal/event.h. From the
doc it reads the tables "Fields per type", "Kinds" and "Limits". Every
difference is reported by name: a type or field validated but not documented
or the reverse, a required/optional mismatch, a kind or enum value that
differs, a cap or default that differs, a limit that names the wrong fields.

The comparison must be able to fail: the negative controls run it on doctored
in-memory copies of docs/events.md (a row removed, a field added, a flag
flipped, an enum value dropped, ...) and of event_validate.c (a rule added, a
cap changed), and assert that each doctoring is reported.

Usage: test_events_doc.py SOURCE_ROOT [--doc PATH]
  --doc PATH  compare PATH instead of docs/events.md, print every difference
              and exit 1 if there is one (no unittest run).
Python 3 standard library only.
"""
import os
import re
import sys
import unittest

SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
del sys.argv[1:2]

VALIDATE_C = "journal/event_validate.c"
EVENT_C = "journal/event.c"
EVENT_H = "include/chatjournal/event.h"
EVENTS_MD = "docs/events.md"

EVERY = "every type"  # the doc's name for the rules common to all types


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


class ParseError(Exception):
    pass


# ---- the code -------------------------------------------------------------

def strip_c_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def parse_code(validate_c, event_c, event_h):
    """The schema as the code enforces it.

    Returns {"types": {type: {path: (kind, required, enum)}}, "caps": {...},
    "limits": {name: default}}. Fields common to every type are under EVERY;
    fields of a sub-schema (cost) are "cost.model" etc. under their type."""
    c = strip_c_comments(validate_c)
    caps = {m.group(1): int(m.group(2))
            for m in re.finditer(r"#define\s+(ID_MAX|IDENT_MAX|TZ_MAX|HASH_LEN)\s+(\d+)", c)}
    for need in ("ID_MAX", "IDENT_MAX", "TZ_MAX", "HASH_LEN"):
        if need not in caps:
            raise ParseError(f"{VALIDATE_C}: no #define {need}")

    enums = {}
    for m in re.finditer(r"static\s+const\s+char\s*\*\s*const\s+(\w+)\s*\[\s*\]\s*=\s*\{([^}]*)\}", c):
        enums[m.group(1)] = re.findall(r'"([^"]*)"', m.group(2))

    rules = {}
    for m in re.finditer(r"static\s+const\s+rule\s+(\w+)\s*\[\s*\]\s*=\s*\{(.*?)\}\s*;", c, re.S):
        body = m.group(2)
        entries = re.findall(r"\{\s*\"(\w+)\"\s*,\s*(K_\w+)\s*,\s*(\w+)\s*,\s*([^}]*?)\s*\}", body)
        if len(entries) != body.count("{"):
            raise ParseError(f"{VALIDATE_C}: cannot read every rule of {m.group(1)}")
        rules[m.group(1)] = [(n, k, flags.strip() == "REQ", arg.strip()) for n, k, flags, arg in entries]

    sub_schemas = {m.group(1): m.group(2) for m in re.finditer(
        r"static\s+const\s+schema\s+(\w+)\s*=\s*SCHEMA(?:_X)?\(\s*(\w+)\s*,", c)}

    table = re.search(r"static\s+const\s+schema\s+schemas\s*\[\s*\]\s*=\s*\{(.*?)\}\s*;", c, re.S)
    if not table:
        raise ParseError(f"{VALIDATE_C}: no schemas[] table")
    by_enum = re.findall(r"\[\s*(CJ_EVENT_\w+)\s*\]\s*=\s*SCHEMA(?:_X)?\(\s*(\w+)\s*,", table.group(1))

    # The type names sit with the rules (event_validate.c); event.c is read too.
    names_m = re.search(r"type_names\s*\[\s*\]\s*=\s*\{(.*?)\}\s*;",
                        strip_c_comments(validate_c + "\n" + event_c), re.S)
    if not names_m:
        raise ParseError(f"{VALIDATE_C}, {EVENT_C}: no type_names[] table")
    type_name = dict(re.findall(r"\[\s*(CJ_EVENT_\w+)\s*\]\s*=\s*\"(\w+)\"", names_m.group(1)))

    def fields(rules_name, prefix=""):
        if rules_name not in rules:
            raise ParseError(f"{VALIDATE_C}: no rule table {rules_name}")
        out = {}
        for name, kind, req, arg in rules[rules_name]:
            path = prefix + name
            enum = None
            if kind in ("K_ENUM", "K_ENUM_SET"):
                if arg not in enums:
                    raise ParseError(f"{VALIDATE_C}: {path}: enum {arg} not found")
                enum = frozenset(enums[arg])
            out[path] = (kind, req, enum)
            if kind in ("K_STRUCT", "K_LIST"):
                sub = arg.lstrip("&").strip()
                if sub not in sub_schemas:
                    raise ParseError(f"{VALIDATE_C}: {path}: sub-schema {arg} not found")
                out.update(fields(sub_schemas[sub], path + "."))
        return out

    types = {EVERY: fields("common_rules")}
    for enum_name, rules_name in by_enum:
        if enum_name not in type_name:
            raise ParseError(f"{EVENT_C}: no name for {enum_name}")
        types[type_name[enum_name]] = fields(rules_name)
    if len(types) < 15 or "role" not in types.get("message", {}):
        raise ParseError(f"{VALIDATE_C}: the rule tables did not parse as expected: {sorted(types)}")

    limits = {}
    struct = re.search(r"typedef\s+struct\s+cj_limits\s*\{(.*?)\}\s*cj_limits\s*;",
                       strip_c_comments(event_h), re.S)
    init = re.search(r"#define\s+CJ_LIMITS_DEFAULT\s*\{([^}]*)\}", event_h)
    if not struct or not init:
        raise ParseError(f"{EVENT_H}: no cj_limits or CJ_LIMITS_DEFAULT")
    members = re.findall(r"(\w+)\s*;", struct.group(1))
    values = [v.strip() for v in init.group(1).split(",")]
    if len(members) != len(values):
        raise ParseError(f"{EVENT_H}: CJ_LIMITS_DEFAULT does not match cj_limits")
    macros = dict(re.findall(r"#define\s+(CJ_DEFAULT_\w+)\s+(.+)", event_h))
    for name, v in zip(members, values):
        v = v.replace("\\", "").strip()
        v = macros.get(v, v)  # CJ_LIMITS_DEFAULT is made of the CJ_DEFAULT_* macros
        v = re.sub(r"\(\s*size_t\s*\)", "", v).strip().strip("()").strip()
        v = re.sub(r"(?<=\d)[uU]\b", "", v)
        m = re.fullmatch(r"(\d+)\s*<<\s*(\d+)", v)
        limits[name] = int(m.group(1)) << int(m.group(2)) if m else int(v)
    return {"types": types, "caps": caps, "limits": limits}


def doc_kind(kind, path, caps):
    """How docs/events.md writes a code kind in the "kind" column."""
    words = {
        "K_ID": "id",
        "K_IDENT": "identifier",
        "K_TEXT": "text",
        "K_URL": "text, non-empty",
        "K_CONTENT": "content",
        "K_TIME": "time (stored as given)",
        "K_TS": "time (stored as integer ms)",
        "K_HASH": "blob hash",
        "K_TZ_OFFSET": "integer seconds, -%d ..= %d" % (caps["TZ_MAX"], caps["TZ_MAX"]),
        "K_COUNT": "integer >= 0",
        "K_AMOUNT": "number >= 0",
        "K_NUMBER": "number (integer or real)",
        "K_BOOL": "`true` or `false`",
        "K_OBJECT": "object",
        "K_ANY": "any JSON (`null` included)",
        "K_ENUM": "one of",
        "K_ENUM_SET": "set of",
        "K_TZ": "time zone",
    }
    if kind == "K_STRUCT":
        return "object holding only the `%s.*` fields below" % path.rsplit(".", 1)[-1]
    if kind == "K_LIST":
        return "array of objects holding only the `%s.*` fields below" % path
    if kind not in words:
        raise ParseError(f"{VALIDATE_C}: kind {kind} ({path}) has no wording in this test: add it")
    return words[kind]


# ---- the doc --------------------------------------------------------------

def section(md, title):
    """Text of the section whose heading is exactly title, to the next heading."""
    m = re.search(r"^#+ " + re.escape(title) + r"\s*$(.*?)(?=^#+ |\Z)", md, re.M | re.S)
    if not m:
        raise ParseError(f"{EVENTS_MD}: no section '{title}'")
    return m.group(1)


def table_rows(text, header):
    """Rows (lists of stripped cells) of the first table whose header row is header."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = [x.strip() for x in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and cells == header:
            rows = []
            for row in lines[i + 2:]:
                if not row.lstrip().startswith("|"):
                    break
                # "\|" inside a cell is a literal bar, not a separator
                rows.append([x.strip().replace("\\|", "|")
                             for x in re.split(r"(?<!\\)\|", row.strip().strip("|"))])
            return rows
    raise ParseError(f"{EVENTS_MD}: no table with header {' | '.join(header)}")


def parse_doc(md):
    """{"types": {type: {path: (kind_text, required, enum)}}, "dups": [...],
    "kinds": {kind: (rule, error)}, "limits": {name: (default, applies_to)}}."""
    types, dups = {}, []
    current = None
    for cells in table_rows(section(md, "Fields per type"), ["type", "field", "kind", "required"]):
        if len(cells) != 4:
            raise ParseError(f"{EVENTS_MD}: Fields per type: a row without 4 cells: {cells}")
        t, f, kind, req = cells
        if t:
            names = re.findall(r"`(\w+)`", t)
            current = EVERY if t == EVERY else (names[0] if len(names) == 1 else None)
            if current is None:
                raise ParseError(f"{EVENTS_MD}: Fields per type: cannot read the type cell '{t}'")
            types.setdefault(current, {})
        if current is None:
            raise ParseError(f"{EVENTS_MD}: Fields per type: a row before the first type")
        paths = re.findall(r"`([\w.]+)`", f)
        if not paths:
            raise ParseError(f"{EVENTS_MD}: Fields per type: no field named in '{f}'")
        if req not in ("", "yes"):
            raise ParseError(f"{EVENTS_MD}: Fields per type: required must be 'yes' or empty, not '{req}'")
        kind = " ".join(kind.split())
        enum = None
        for listed in ("one of", "set of"):
            if kind.startswith(listed):
                enum = frozenset(re.findall(r"`([^`]*)`", kind))
                kind = listed
        for p in paths:
            if p in types[current]:
                dups.append(f"{current}.{p}")
            types[current][p] = (kind, req == "yes", enum)
    kinds = {}
    for cells in table_rows(section(md, "Kinds"), ["kind", "rule", "error"]):
        kinds[cells[0]] = (cells[1], cells[2])
    limits = {}
    for cells in table_rows(section(md, "Limits"), ["limit", "default", "applies to"]):
        names = re.findall(r"`(\w+)`", cells[0])
        if len(names) == 1:
            limits[names[0]] = (cells[1], cells[2])
    return {"types": types, "dups": dups, "kinds": kinds, "limits": limits}


def size_value(text):
    m = re.match(r"\s*(\d+)\s*(KiB|MiB|GiB)?\b", text)
    if not m:
        return None
    return int(m.group(1)) << {None: 0, "KiB": 10, "MiB": 20, "GiB": 30}[m.group(2)]


# ---- the comparison -------------------------------------------------------

def compare(code, doc):
    """Every difference between the code's schema and the doc's, as sentences."""
    out = []
    ct, dt = code["types"], doc["types"]
    for t in sorted(set(ct) - set(dt)):
        out.append(f"type '{t}': validated but not documented")
    for t in sorted(set(dt) - set(ct)):
        out.append(f"type '{t}': documented but not validated")
    for d in doc["dups"]:
        out.append(f"{d}: documented twice")
    caps = code["caps"]
    for t in sorted(set(ct) & set(dt)):
        cf, df = ct[t], dt[t]
        for p in sorted(set(cf) - set(df)):
            out.append(f"{t}.{p}: validated but not documented")
        for p in sorted(set(df) - set(cf)):
            out.append(f"{t}.{p}: documented but not validated")
        for p in sorted(set(cf) & set(df)):
            kind, req, enum = cf[p]
            dkind, dreq, denum = df[p]
            if req != dreq:
                out.append(f"{t}.{p}: {'required' if req else 'optional'} in the code, "
                           f"{'required' if dreq else 'optional'} in the doc")
            want = doc_kind(kind, p, caps)
            if want != dkind:
                out.append(f"{t}.{p}: the code's {kind} is written '{want}', the doc says '{dkind}'")
            if enum is not None and denum is not None:
                for v in sorted(enum - denum):
                    out.append(f"{t}.{p}: enum value '{v}' validated but not documented")
                for v in sorted(denum - enum):
                    out.append(f"{t}.{p}: enum value '{v}' documented but not validated")

    # The fixed caps, as the Kinds table states them.
    kinds = doc["kinds"]
    checks = [("id", f"1 ..= {caps['ID_MAX']} bytes", f"over {caps['ID_MAX']}:"),
              ("identifier", f"1 ..= {caps['IDENT_MAX']} bytes", f"over {caps['IDENT_MAX']}:"),
              ("blob hash", f"exactly {caps['HASH_LEN']} ", None)]
    for kind, rule_text, err_text in checks:
        if kind not in kinds:
            out.append(f"Kinds: no row for '{kind}'")
            continue
        rule, err = kinds[kind]
        if rule_text not in rule:
            out.append(f"Kinds: '{kind}' should say '{rule_text.strip()}' (the code's cap): '{rule}'")
        if err_text and err_text not in err:
            out.append(f"Kinds: '{kind}' error should say '{err_text}' (the code's cap): '{err}'")

    # Limits: defaults, and which fields each limit applies to.
    limits = doc["limits"]
    for name, value in code["limits"].items():
        if name not in limits:
            out.append(f"Limits: '{name}' (CJ_LIMITS_DEFAULT) not documented")
            continue
        got = size_value(limits[name][0])
        if got != value:
            out.append(f"Limits: '{name}' default is {value} in the code, the doc says '{limits[name][0]}'")
    for name in sorted(set(limits) - set(code["limits"])):
        out.append(f"Limits: '{name}' documented but not a field of cj_limits")

    def applies(name):
        return set(re.findall(r"`([\w.]+)`", limits[name][1])) if name in limits else None

    content = {f"{t}.{p}" for t, fs in ct.items() for p, (k, _, _) in fs.items() if k == "K_CONTENT"}
    got = applies("max_content")
    if got is not None and got != content:
        out.append(f"Limits: max_content applies to {sorted(content)} in the code, "
                   f"the doc lists {sorted(got)}")
    objects = {p for fs in ct.values() for p, (k, _, _) in fs.items() if k == "K_OBJECT"}
    objects |= {f"{t}.{p}" for t, fs in ct.items() for p, (k, _, _) in fs.items() if k == "K_ANY"}
    got = applies("max_object")
    if got is not None and got != objects:
        out.append(f"Limits: max_object applies to {sorted(objects)} in the code, "
                   f"the doc lists {sorted(got)}")
    return out


def load_code():
    return parse_code(read(VALIDATE_C), read(EVENT_C), read(EVENT_H))


# ---- doctoring, for the negative controls ---------------------------------

def doctor(text, old, new, count=1):
    """text with old replaced by new; the control is void if old is not there."""
    if text.count(old) < 1:
        raise AssertionError(f"negative control: {old!r} is not in the text any more: update the control")
    return text.replace(old, new, count)


def drop_line(text, pattern):
    """text without the one line matching pattern (a regex)."""
    lines = text.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    if len(hits) != 1:
        raise AssertionError(f"negative control: {pattern!r} matches {len(hits)} lines: update the control")
    del lines[hits[0]]
    return "".join(lines)


class EventsDoc(unittest.TestCase):
    def test_doc_matches_validation_table(self):
        diffs = compare(load_code(), parse_doc(read(EVENTS_MD)))
        self.assertEqual(diffs, [], "docs/events.md and journal/event_validate.c differ:\n  "
                         + "\n  ".join(diffs))

    def assert_reported(self, code_text, doc_text, *expected):
        code = parse_code(code_text, read(EVENT_C), read(EVENT_H))
        diffs = compare(code, parse_doc(doc_text))
        for e in expected:
            self.assertTrue(any(e in d for d in diffs),
                            f"the doctoring was not reported as {e!r}; reported: {diffs}")

    def test_negative_controls_on_a_doctored_doc(self):
        md, c = read(EVENTS_MD), read(VALIDATE_C)
        cases = [
            # a type's only row removed
            (drop_line(md, r"^\| `delete_thread` \|"),
             "type 'delete_thread': validated but not documented"),
            # a type that does not exist
            (doctor(md, "| `metric` | `name` |", "| `wat` | `x` | identifier | yes |\n| `metric` | `name` |"),
             "type 'wat': documented but not validated"),
            # a field that is not validated
            (doctor(md, "| | `metadata` | object | |", "| | `metadata`, `mood` | object | |"),
             "message.mood: documented but not validated"),
            # a validated field left out (inside a list of several)
            (doctor(md, "| | `category`, `description` | text | |", "| | `category` | text | |"),
             "setting.description: validated but not documented"),
            # a sub-field of cost left out
            (drop_line(md, r"^\| \| `cost\.usd`"), "message.cost.usd: validated but not documented"),
            # required flipped, both ways
            (doctor(md, "| | `target` | id | yes |", "| | `target` | id | |"),
             "edit_message.target: required in the code, optional in the doc"),
            (doctor(md, "| | `unit` | text | |", "| | `unit` | text | yes |"),
             "metric.unit: optional in the code, required in the doc"),
            # an enum value dropped, one added
            (doctor(md, "`tool`, `developer` |", "`tool` |"),
             "message.role: enum value 'developer' validated but not documented"),
            # a field of an array element left out
            (drop_line(md, r"^\| \| `attachments\.size`"),
             "message.attachments.size: validated but not documented"),
            (doctor(md, "`generated`, `edited` |", "`generated`, `edited`, `drawn` |"),
             "image.kind: enum value 'drawn' documented but not validated"),
            # a kind changed
            (doctor(md, "| | `sensitive` | `true` or `false` | |", "| | `sensitive` | text | |"),
             "setting.sensitive: the code's K_BOOL"),
            # a cap, a default, a limit's fields
            (doctor(md, "1 ..= 1024 bytes", "1 ..= 2048 bytes"), "Kinds: 'identifier' should say"),
            (doctor(md, "| `max_depth` | 32 |", "| `max_depth` | 16 |"), "Limits: 'max_depth' default"),
            (doctor(md, "`image.original_analysis` |", "`image.url` |"), "Limits: max_content applies"),
        ]
        for doc_text, expected in cases:
            with self.subTest(expected=expected):
                self.assertNotEqual(doc_text, md)
                self.assert_reported(c, doc_text, expected)

    def test_negative_controls_on_doctored_code(self):
        md, c = read(EVENTS_MD), read(VALIDATE_C)
        cases = [
            (doctor(c, '\t{ "unit", K_TEXT, 0, NULL },', '\t{ "unit", K_TEXT, 0, NULL },\n\t{ "scale", K_NUMBER, 0, NULL },'),
             "metric.scale: validated but not documented"),
            (doctor(c, '{ "prompt", K_CONTENT, 0, NULL },', '{ "prompt", K_CONTENT, REQ, NULL },'),
             "image.prompt: required in the code, optional in the doc"),
            (doctor(c, '"tool", "developer", NULL', '"tool", "developer", "bot", NULL'),
             "message.role: enum value 'bot' validated but not documented"),
            (doctor(c, "#define ID_MAX     256", "#define ID_MAX     128"), "Kinds: 'id' should say"),
        ]
        for code_text, expected in cases:
            with self.subTest(expected=expected):
                self.assertNotEqual(code_text, c)
                self.assert_reported(code_text, md, expected)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--doc":
        with open(sys.argv[2], encoding="utf-8") as f:
            diffs = compare(load_code(), parse_doc(f.read()))
        for d in diffs:
            print(d)
        print(f"{len(diffs)} difference(s) between {sys.argv[2]} and {VALIDATE_C}")
        sys.exit(1 if diffs else 0)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
