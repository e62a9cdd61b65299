// test/client.test.js — the Node client against a real `chatjournal serve`
// (started by tests/clients/with_serve.py), plus its retry, paging and feed
// logic against scripted fake servers. Run by meson as clients-node.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as cj from "../index.js";
import { SseParser } from "../lib/sse.js";
import { errorFromReply } from "../lib/errors.js";
import { RO_TOKEN, TOKEN, URL_, client, cutProxy, fakeServer, needs, reply } from "./helpers.js";

const msg = (content, thread, extra = {}) => ({ type: "message", thread, role: "user", content, ...extra });
const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("ids: UUIDv7, strictly increasing, clock in the first 48 bits", () => {
  const t0 = Date.now();
  const ids = Array.from({ length: 20000 }, () => cj.newId());
  const t1 = Date.now();
  assert.equal(new Set(ids).size, 20000);
  assert.ok(ids.every((x, i) => i === 0 || ids[i - 1] < x));
  for (const x of [ids[0], ids.at(-1)]) assert.match(x, UUID7);
  assert.ok(parseInt(ids[0].slice(0, 8) + ids[0].slice(9, 13), 16) >= t0);
  assert.ok(parseInt(ids.at(-1).slice(0, 8) + ids.at(-1).slice(9, 13), 16) <= t1 + 5);
});

test("sse parser: frames, comments, multi-line data, CRLF", () => {
  const p = new SseParser();
  const lines = [": ping", "id: 7", "event: message", 'data: {"a":', "data:1}", "", "", "retry: 10",
    "event: x", "", "id: 8\r", "data: z\r", "\r"];
  assert.deepEqual(lines.map((l) => p.feed(l)).filter(Boolean),
    [{ id: "7", event: "message", data: '{"a":\n1}' }, { id: "8", event: "message", data: "z" }]);
});

test("errors: a class per status with status, error, field, body, requestId, retryAfter", () => {
  const h = new Headers({ "Retry-After": "2", "X-Request-Id": "abc" });
  const cases = [[400, cj.BadRequestError], [401, cj.AuthenticationError], [403, cj.PermissionDeniedError],
    [404, cj.NotFoundError], [409, cj.ConflictError], [413, cj.PayloadTooLargeError],
    [429, cj.RateLimitedError], [503, cj.UnavailableError], [507, cj.ServerError], [418, cj.ChatjournalError]];
  for (const [status, Cls] of cases) {
    const e = errorFromReply(status, h, '{"error":"bad x","field":"x","extra":1}');
    assert.equal(e.constructor, Cls);
    assert.ok(e instanceof cj.ChatjournalError && e instanceof Error);
    assert.deepEqual([e.status, e.error, e.field, e.body, e.requestId, e.retryAfter],
      [status, "bad x", "x", { error: "bad x", field: "x", extra: 1 }, "abc", 2]);
  }
  const e = errorFromReply(502, new Headers(), "<html>proxy</html>");
  assert.deepEqual([e.constructor, e.error, e.field, e.body], [cj.ServerError, "<html>proxy</html>", null, {}]);
});

test("append gives a UUIDv7 id, reads back the exact row", async () => {
  const c = client();
  const ev = msg("hello there", "js-a", { ts: "2026-01-02T03:04:05Z", user: "U1", server: "S1" });
  const got = await c.append(ev);
  assert.deepEqual(Object.keys(got), ["seq"]);
  assert.equal(ev.id, undefined);
  const rows = await c.history("js-a", { minSeq: got.seq });
  assert.ok(rows instanceof cj.Page && Array.isArray(rows));
  assert.equal(rows.nextUrl, null);
  assert.equal(rows.length, 1);
  const { id, ...row } = rows[0];
  assert.match(id, UUID7);
  assert.deepEqual(row, { seq: got.seq, type: "message", thread: "js-a", role: "user", content: "hello there",
    user: "U1", server: "S1", ts: "2026-01-02T03:04:05.000Z", ts_ms: 1767323045000 });
});

test("explicit id: a retry is a duplicate, another payload a ConflictError", async () => {
  const c = client();
  const ev = msg("once", "js-dup", { id: "js-dup-1" });
  const first = await c.append(ev);
  assert.deepEqual(await c.append(ev), { seq: first.seq, duplicate: true });
  await assert.rejects(c.append(msg("other", "js-dup", { id: "js-dup-1" })), (e) =>
    e instanceof cj.ConflictError && e.status === 409 && e.field === "id" && e.error.includes("js-dup-1"));
});

test("appendMany, then history paging", async () => {
  const c = client();
  const got = await c.appendMany(Array.from({ length: 5 }, (_, i) => msg(`m${i}`, "js-many", { ts: 1767323045000 + i })));
  const s = got.seqs[0];
  assert.deepEqual(got, { seqs: [s, s + 1, s + 2, s + 3, s + 4], last_seq: s + 4 });
  const rows = await c.history("js-many", { minSeq: s + 4 });
  assert.deepEqual(rows.map((r) => [r.seq, r.content]), [0, 1, 2, 3, 4].map((i) => [s + i, `m${i}`]));
  assert.equal(new Set(rows.map((r) => r.id)).size, 5);
  const seqs = async (o) => (await c.history("js-many", o)).map((r) => r.seq);
  assert.deepEqual(await seqs({ limit: 2 }), [s + 3, s + 4]);
  assert.deepEqual(await seqs({ limit: 2, before: s + 3 }), [s + 1, s + 2]);
  assert.deepEqual(await seqs({ limit: 2, after: 0 }), [s, s + 1]);
  assert.deepEqual(await seqs({ after: s + 2 }), [s + 3, s + 4]);
  assert.throws(() => c.history("js-many", { min_seq: 1 }), /unknown option 'min_seq'/);
});

test("search, rank, and a 400 naming the field", async () => {
  const c = client();
  const last = (await c.appendMany([msg("jszeppelin once", "js-s1"),
    msg("jszeppelin jszeppelin jszeppelin", "js-s2")])).last_seq;
  assert.deepEqual((await c.search("jszeppelin", { minSeq: last })).map((m) => [m.seq, m.thread]),
    [[last, "js-s2"], [last - 1, "js-s1"]]);
  assert.deepEqual((await c.search("jszepp*", { thread: "js-s1" })).map((m) => m.seq), [last - 1]);
  assert.deepEqual((await c.search("jszeppelin", { rank: "relevance" })).map((m) => m.seq), [last, last - 1]);
  await assert.rejects(c.search("jszeppelin", { rank: "best" }),
    (e) => e instanceof cj.BadRequestError && e.field === "rank");
});

test("config, blobs, escaped thread names", async () => {
  const c = client();
  const seq = (await c.appendMany([{ type: "user", user: "js-u", config: { model: "small", lang: "en" } },
    { type: "thread_config", thread: "js-cfg", config: { model: "big" } }])).last_seq;
  assert.deepEqual(await c.config("js-cfg", { user: "js-u", minSeq: seq }), { model: "big", lang: "en" });
  const data = new Uint8Array(768).map((_, i) => i % 256);
  const b = await c.putBlob(data);
  assert.equal(b.size, 768);
  assert.match(b.blob, /^[0-9a-f]{32}$/);
  assert.deepEqual(await c.putBlob(data), b);
  assert.deepEqual(await c.getBlob(b.blob), data);
  await assert.rejects(c.getBlob("0".repeat(32)), (e) => e instanceof cj.NotFoundError && e.status === 404);
  await assert.rejects(c.putBlob("text"), TypeError);
  const t = "js odd/thread?&#";
  const s2 = (await c.append(msg("odd", t))).seq;
  assert.deepEqual((await c.history(t, { minSeq: s2 })).map((r) => r.thread), [t]);
});

test("errors of the real server carry status, error, field; nothing stored", async () => {
  const c = client();
  await assert.rejects(c.append(msg("x", "js-e", { role: "robot" })), (e) =>
    e instanceof cj.BadRequestError && e.status === 400 && e.field === "role" &&
    e.error.startsWith("field 'role': must be one of user, assistant") && /^[0-9a-f]{16}$/.test(e.requestId));
  await assert.rejects(c.appendMany([msg("x", "js-e"), { type: "message", thread: "js-e", role: "user" }]),
    (e) => e instanceof cj.BadRequestError && e.field === "content" && e.error.startsWith("event 1: field 'content'"));
  await assert.rejects(c.append(msg("x".repeat(1 << 20) + "x", "js-e")),
    (e) => e instanceof cj.PayloadTooLargeError && e.status === 413 && e.field === "content");
  await assert.rejects(new cj.Client(URL_, { token: `cjt_${"0".repeat(16)}_${"1".repeat(64)}` }).stats(),
    (e) => e instanceof cj.AuthenticationError && e.error === "unknown or revoked token");
  await assert.rejects(new cj.Client(URL_, { token: RO_TOKEN }).append(msg("x", "js-e")),
    (e) => e instanceof cj.PermissionDeniedError && e.error === "this token is read-only");
  assert.deepEqual([...await c.history("js-e")], []);
  assert.deepEqual(await new cj.Client(URL_, { token: RO_TOKEN }).health(), { status: "ok" });
});

test("a lost reply is retried with the same id and stored once", async () => {
  const proxy = await cutProxy(URL_);
  try {
    const c = new cj.Client(proxy.url, { token: TOKEN, retries: 3, backoff: 10 });
    proxy.swallow = 2;
    const got = await c.append(msg("only once", "js-lost"));
    assert.equal(proxy.connections, 3);
    assert.deepEqual(Object.keys(got).sort(), ["duplicate", "seq"]);
    const rows = await client().history("js-lost", { minSeq: got.seq });
    assert.deepEqual(rows.map((r) => [r.seq, r.content]), [[got.seq, "only once"]]);
    proxy.cut(); // fetch keeps connections alive: the swallowing applies to new ones
    proxy.swallow = 1;
    const many = await c.appendMany([msg("b1", "js-lost"), msg("b2", "js-lost")]);
    assert.deepEqual(many.duplicates, [0, 1]);
    assert.deepEqual((await client().history("js-lost", { minSeq: many.last_seq })).map((r) => r.content),
      ["only once", "b1", "b2"]);
    proxy.cut();
    proxy.swallow = 3;
    await assert.rejects(new cj.Client(proxy.url, { token: TOKEN, retries: 2, backoff: 10 }).stats(),
      (e) => e instanceof cj.TransportError && e.status === null);
  } finally {
    await proxy.close();
  }
});

test("README's Node bot, up to its follow loop, runs and leaves the exchange", async (t) => {
  const { readFileSync, writeFileSync, mkdtempSync, rmSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const root = new URL("../../../", import.meta.url);
  const readme = readFileSync(new URL("README.md", root), "utf8");
  const tour = readme.slice(readme.indexOf("## A tour with the clients"));
  let code = tour.slice(tour.indexOf("```js\n") + 6);
  code = code.slice(0, code.indexOf("\nfor await "));
  code = code.replace('from "chatjournal"', `from ${JSON.stringify(new URL("clients/node/index.js", root).href)}`)
    .replace('"http://127.0.0.1:8080"', JSON.stringify(URL_)).replace('"cjt_..."', JSON.stringify(TOKEN))
    .replaceAll('"T1"', '"js-tour"');
  assert.equal(code.split("js-tour").length - 1, 3);
  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "cj-node-tour-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "bot.mjs"), `${code}\nexport { seq };\n`);
  const { seq } = await import(join(dir, "bot.mjs"));
  const rows = await client().history("js-tour", { minSeq: seq + 1 });
  assert.deepEqual(rows.map((r) => [r.role, r.content, r.user]),
    [["user", "hello", "U1"], ["assistant", "you said: hello", undefined]]);
  assert.equal(rows[1].id, `reply-${seq}`);
});

test("503 and 429 are retried after Retry-After, with the same ids, then thrown", async () => {
  const fake = await fakeServer((r, res, n) => {
    if (n === 1) reply(res, 503, '{"error":"busy","field":null}', { "Retry-After": "0.05" });
    else if (n === 2) reply(res, 429, '{"error":"slow down"}', { "Retry-After": "0.05" });
    else if (n === 3) reply(res, 200, '{"seqs":[1,2],"last_seq":2}');
    else reply(res, 503, '{"error":"busy"}', { "Retry-After": "0.05" });
  });
  try {
    const t0 = Date.now();
    const got = await new cj.Client(fake.url, { token: "t", backoff: 1 }).appendMany([msg("a", "T"), msg("b", "T", { id: "mine" })]);
    assert.ok(Date.now() - t0 >= 95);
    assert.deepEqual(got, { seqs: [1, 2], last_seq: 2 });
    const bodies = fake.requests.map((r) => JSON.parse(r.body));
    assert.equal(bodies.length, 3);
    assert.deepEqual(bodies[1], bodies[0]);
    assert.deepEqual(bodies[2], bodies[0]);
    assert.match(bodies[0][0].id, UUID7);
    assert.equal(bodies[0][1].id, "mine");
    assert.deepEqual(new Set(fake.requests.map((r) => r.headers.authorization)), new Set(["Bearer t"]));
    await assert.rejects(new cj.Client(fake.url, { retries: 0 }).stats(), (e) =>
      e instanceof cj.UnavailableError && e.status === 503 && e.error === "busy" && e.retryAfter === 0.05);
  } finally {
    await fake.close();
  }
});

test("400 is not retried; refused connections are retried a bounded number of times", async () => {
  const fake = await fakeServer((r, res) => reply(res, 400, '{"error":"no","field":"q"}'));
  await assert.rejects(new cj.Client(fake.url).search("x"), cj.BadRequestError);
  assert.equal(fake.requests.length, 1);
  await fake.close();
  const t0 = Date.now();
  await assert.rejects(new cj.Client(fake.url, { retries: 3, backoff: 10, maxBackoff: 50 }).stats(),
    (e) => e instanceof cj.TransportError && e.status === null && e.cause !== undefined);
  assert.ok(Date.now() - t0 < 2000);
});

test("Link rel=next is followed, never to another host", async () => {
  const fake = await fakeServer((r, res) => {
    if (r.url.includes("after=2")) reply(res, 200, '[{"thread":"c"}]');
    else if (r.url.includes("evil")) reply(res, 200, "[]", { Link: '<http://elsewhere.example/v1/threads>; rel="next"' });
    else reply(res, 200, '[{"thread":"a"},{"thread":"b"}]', { Link: '</v1/threads?limit=2&after=2>; rel="next"' });
  });
  try {
    const c = new cj.Client(fake.url, { token: "t" });
    const first = await c.threads({ limit: 2 });
    assert.equal(first.nextUrl, `${fake.url}/v1/threads?limit=2&after=2`);
    const all = [];
    for await (const t of c.iterate(first)) all.push(t.thread);
    assert.deepEqual(all, ["a", "b", "c"]);
    assert.deepEqual(fake.requests.map((r) => r.url), ["/v1/threads?limit=2", "/v1/threads?limit=2&after=2"]);
    await assert.rejects(c.threads({ user: "evil" }), cj.ChatjournalError);
  } finally {
    await fake.close();
  }
});

test("follow (scripted feed): resume event, dropped connection, ping, no duplicate", async () => {
  const frame = (seq, type = "message") => `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify({ seq, type })}\n\n`;
  const fake = await fakeServer((r, res, n) => {
    res.writeHead(200, { "Content-Type": "text/event-stream" });
    if (n === 1) res.end(`: ping\n\n${frame(3)}${frame(4)}event: resume\ndata: {"after":6}\n\n${frame(99)}`);
    else if (n === 2) { res.write(`${frame(6)}${frame(7)}id: 8\nevent: mess`); setTimeout(() => res.destroy(), 50); }
    else res.write(frame(7) + frame(8, "user")); // stays open
  });
  try {
    const c = new cj.Client(fake.url, { token: "t", backoff: 10 });
    const f = c.follow({ after: 2, thread: "T" });
    const got = [];
    for await (const ev of f) {
      got.push(ev.seq);
      if (ev.seq === 8) break;
    }
    assert.deepEqual(got, [3, 4, 7, 8]);
    assert.equal(f.position, 8);
    assert.equal(f.reconnects, 2);
    assert.deepEqual(fake.requests.map((r) => r.url),
      ["/v1/events/stream?thread=T&after=2", "/v1/events/stream?thread=T", "/v1/events/stream?thread=T"]);
    assert.deepEqual(fake.requests.map((r) => r.headers["last-event-id"]), [undefined, "6", "7"]);
    assert.equal(fake.requests[0].headers.accept, "text/event-stream");
  } finally {
    await fake.close();
  }
});

test("follow: a position frame moves the resume point, an error frame throws FeedError", async () => {
  const fake = await fakeServer((r, res, n) => {
    res.writeHead(200, { "Content-Type": "text/event-stream" });
    if (n === 1) res.end('id: 3\nevent: message\ndata: {"seq":3}\n\nid: 9\nevent: position\ndata: {"after":9}\n\n');
    else res.end('id: 10\nevent: user\ndata: {"seq":10}\n\nevent: error\ndata: {"error":"record 11: bad checksum","seq":11}\n\n');
  });
  try {
    const got = [];
    const f = new cj.Client(fake.url, { backoff: 10 }).follow({ type: "message" });
    await assert.rejects((async () => { for await (const ev of f) got.push(ev.seq); })(), (e) =>
      e instanceof cj.FeedError && e.status === null && e.error === "record 11: bad checksum" && e.seq === 11);
    assert.deepEqual(got, [3, 10]);
    assert.deepEqual(fake.requests.map((r) => r.url), Array(2).fill("/v1/events/stream?type=message"));
    assert.deepEqual(fake.requests.map((r) => r.headers["last-event-id"]), [undefined, "9"]);
  } finally {
    await fake.close();
  }
});

test("follow: a silent stream and a server that never answers are lost connections", async () => {
  const fake = await fakeServer((r, res, n) => {
    if (n === 1) {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write('id: 1\nevent: message\ndata: {"seq":1}\n\n');
    } // then silence, and no answer at all to the next request
  });
  try {
    const f = new cj.Client(fake.url, { backoff: 10 }).follow({ after: 0, idleTimeout: 300, maxFailures: 1 });
    const t0 = Date.now();
    assert.deepEqual((await f.next()).value, { seq: 1 });
    await assert.rejects(f.next(), cj.TransportError);
    assert.ok(Date.now() - t0 < 2500);
    assert.equal(fake.requests.length, 2);
    assert.equal(fake.requests[1].headers["last-event-id"], "1");
  } finally {
    await fake.close();
  }
});

test("health is asked once and returns a degraded body", async () => {
  const fake = await fakeServer((r, res) => reply(res, 503, '{"status":"degraded","reason":"lag"}'));
  try {
    assert.deepEqual(await new cj.Client(fake.url).health(), { status: "degraded", reason: "lag" });
    assert.equal(fake.requests.length, 1);
  } finally {
    await fake.close();
  }
});

test("follow: 401 thrown at once, 503 after maxFailures", async () => {
  let fake = await fakeServer((r, res) => reply(res, 401, '{"error":"unknown or revoked token"}'));
  await assert.rejects(new cj.Client(fake.url).follow({ after: 0 }).next(), cj.AuthenticationError);
  await fake.close();
  fake = await fakeServer((r, res) => reply(res, 503, '{"error":"stopping"}'));
  await assert.rejects(new cj.Client(fake.url, { backoff: 1 }).follow({ after: 0, maxFailures: 2 }).next(),
    cj.UnavailableError);
  assert.equal(fake.requests.length, 3);
  await fake.close();
});

// -- routes of other branches (tests/clients/needs_routes.txt) --

test("follow the real feed across cut connections", { skip: needs("/v1/events/stream") }, async () => {
  const c = client();
  const base = (await c.stats()).last_seq;
  const first = await c.appendMany(Array.from({ length: 10 }, (_, i) => msg(`f${i}`, "js-feed")));
  const proxy = await cutProxy(URL_);
  try {
    const f = new cj.Client(proxy.url, { token: TOKEN, backoff: 10 }).follow({ after: base, thread: "js-feed" });
    const got = [];
    let later;
    for await (const ev of f) {
      got.push(ev);
      if (got.length === 5) proxy.cut();
      if (got.length === 10) {
        later = await c.appendMany(Array.from({ length: 5 }, (_, i) => msg(`g${i}`, "js-feed")));
        proxy.cut();
      }
      if (got.length === 15) break;
    }
    // events after the first cut may already sit in the client's buffer;
    // the second cut is before the last five exist
    assert.ok(f.reconnects >= 1);
    assert.deepEqual(got.map((e) => e.seq), [...first.seqs, ...later.seqs]);
    assert.deepEqual(got.map((e) => e.content),
      [...Array.from({ length: 10 }, (_, i) => `f${i}`), ...Array.from({ length: 5 }, (_, i) => `g${i}`)]);
  } finally {
    await proxy.close();
  }
});

test("events page", { skip: needs("/v1/events") }, async () => {
  const c = client();
  const { seq } = await c.append(msg("feed page", "js-ev", { ts: 1767323045000, id: "js-ev-1" }));
  const page = await c.events({ after: seq - 1, limit: 1 });
  assert.deepEqual(page.events, [{ seq, type: "message", thread: "js-ev", role: "user", content: "feed page",
    id: "js-ev-1", ts: 1767323045000 }]);
  assert.equal(page.next_after, seq);
  assert.ok(page.last_seq >= seq);
});

test("threads and thread", { skip: needs("/v1/threads", "/v1/threads/{t}") }, async () => {
  const c = client();
  const seq = (await c.appendMany([msg("t1", "js-th-1", { server: "js-S" }), msg("t2", "js-th-2", { server: "js-S" })])).last_seq;
  await c.history("js-th-2", { minSeq: seq });
  const got = await c.threads({ server: "js-S" });
  assert.deepEqual(got.map((t) => t.thread), ["js-th-2", "js-th-1"]);
  assert.equal(got[0].message_count, 1);
  const one = await c.thread("js-th-1");
  assert.deepEqual([one.thread, one.server, one.message_count], ["js-th-1", "js-S", 1]);
  await assert.rejects(c.thread("js-th-none"), cj.NotFoundError);
  const all = [];
  for await (const t of c.iterate(c.threads({ server: "js-S", limit: 1 }))) all.push(t.thread);
  assert.deepEqual(all, ["js-th-2", "js-th-1"]);
});

test("users", { skip: needs("/v1/users/{u}", "/v1/users/{u}/messages") }, async () => {
  const c = client();
  const { seqs } = await c.appendMany([
    { type: "user", user: "js-U", username: "jsuser", timezone: "Europe/Paris" },
    msg("u1", "js-ut-1", { user: "js-U", server: "js-S2" }),
    msg("u2", "js-ut-2", { user: "js-U", server: "js-S2" }),
    msg("u3", "js-ut-2", { user: "js-U", server: "js-S3" })]);
  await c.history("js-ut-2", { minSeq: seqs.at(-1) });
  const u = await c.user("js-U");
  assert.deepEqual([u.user, u.username, u.timezone], ["js-U", "jsuser", "Europe/Paris"]);
  await assert.rejects(c.user("js-nobody"), cj.NotFoundError);
  assert.deepEqual((await c.userMessages("js-U", { server: "js-S2" })).map((m) => m.content), ["u1", "u2"]);
  assert.deepEqual((await c.userMessages("js-U")).map((m) => m.seq), seqs.slice(1));
});

test("costs", { skip: needs("/v1/costs") }, async () => {
  const c = client();
  const { seq } = await c.append(msg("priced", "js-cost", { role: "assistant", user: "js-cu",
    cost: { model: "m", input_tokens: 10, output_tokens: 5, usd: 0.25 } }));
  await c.history("js-cost", { minSeq: seq });
  const got = await c.costs({ thread: "js-cost" });
  assert.deepEqual([got.total.usd, got.total.input_tokens, got.total.output_tokens], [0.25, 10, 5]);
});

test("metrics and settings", { skip: needs("/v1/metrics", "/v1/settings") }, async () => {
  const c = client();
  const { last_seq } = await c.appendMany([{ type: "metric", name: "js.latency", value: 12.5, unit: "ms" },
    { type: "setting", key: "js.secret", value: "hunter2", category: "js", sensitive: true }]);
  await c.history("none", { minSeq: last_seq });
  assert.deepEqual((await c.metrics({ name: "js.latency" })).map((x) => [x.name, x.value]), [["js.latency", 12.5]]);
  const s = JSON.stringify(await c.settings({ category: "js" }));
  assert.ok(s.includes("js.secret") && !s.includes("hunter2"));
});

test("openai messages", { skip: needs("/v1/threads/{t}/messages?format=openai") }, async () => {
  const c = client();
  const { last_seq } = await c.appendMany([msg("hi", "js-oa"), msg("hello!", "js-oa", { role: "assistant" })]);
  assert.deepEqual(await c.openaiMessages("js-oa", { minSeq: last_seq }),
    [{ role: "user", content: "hi" }, { role: "assistant", content: "hello!" }]);
});
