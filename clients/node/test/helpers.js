// test/helpers.js — what the Node client tests share: the server under test
// (from the environment tests/clients/with_serve.py sets), the list of routes
// not on main yet, a scripted fake server and a proxy that cuts connections.
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { Client } from "../index.js";

export const URL_ = process.env.CJ_URL ?? "";
export const TOKEN = process.env.CJ_TOKEN ?? "";
export const RO_TOKEN = process.env.CJ_RO_TOKEN ?? "";
if (!URL_ || !TOKEN) throw new Error("CJ_URL/CJ_TOKEN unset: run through tests/clients/with_serve.py");

export const client = (opts = {}) => new Client(URL_, { token: TOKEN, ...opts });

/** {route: branch} of tests/clients/needs_routes.txt. */
function listed() {
  const out = new Map();
  const path = process.env.CJ_NEEDS_ROUTES;
  if (!path) return out;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const [, route, , , branch] = line.trim().split(/\s+/);
    out.set(route, branch);
  }
  return out;
}

/** The skip option of a test of routes: a reason while one is listed, else false. */
export function needs(...routes) {
  const l = listed();
  const r = routes.find((x) => l.has(x));
  return r ? `needs ${r} (branch ${l.get(r)}; listed in tests/clients/needs_routes.txt)` : false;
}

/** An HTTP server answering from a script; requests keeps {method, url, headers, body}. */
export async function fakeServer(handler) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const r = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(r);
      handler(r, res, requests.length);
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => { server.closeAllConnections?.(); return new Promise((ok) => server.close(ok)); },
  };
}

export function reply(res, status, body = "", headers = {}) {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(body);
}

/** A TCP proxy to the server: swallow = how many next connections forward
 * the request but drop the reply (the server did the work, the client lost
 * the connection); cut() closes every open connection now. */
export async function cutProxy(target) {
  const u = new URL(target);
  const open = new Set();
  const p = { swallow: 0, connections: 0 };
  const server = net.createServer((c) => {
    p.connections += 1;
    const swallow = p.swallow > 0;
    if (swallow) p.swallow -= 1;
    const s = net.connect(Number(u.port), u.hostname);
    open.add(c); open.add(s);
    const end = () => { c.destroy(); s.destroy(); open.delete(c); open.delete(s); };
    c.on("data", (d) => s.write(d));
    s.on("data", (d) => { if (swallow) end(); else c.write(d); });
    for (const x of [c, s]) { x.on("close", end); x.on("error", end); }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  p.url = `http://127.0.0.1:${server.address().port}`;
  p.cut = () => { for (const x of open) x.destroy(); open.clear(); };
  p.close = () => { p.cut(); return new Promise((ok) => server.close(ok)); };
  return p;
}
