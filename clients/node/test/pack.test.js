// test/pack.test.js — what a user installs: `npm pack` makes a tarball,
// `npm install --offline` puts it into an empty project (no registry: the
// package has no dependencies), the installed package imports and talks to
// the real server, and Debian's tsc checks test/usage.ts against the
// installed declarations (and rejects a wrong use: the negative control).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { TOKEN, URL_ } from "./helpers.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const PKG = join(HERE, "..");
const NPM = ["--cache", "", "--loglevel=error", "--no-audit", "--no-fund", "--no-update-notifier"];

test("npm pack, offline install, import, typecheck", async (t) => {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "cj-node-pack-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const npm = (args, cwd) => execFileSync("npm", [...args, ...NPM.map((x) => x || join(dir, "cache"))],
    { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  npm(["pack", "--pack-destination", dir], PKG);
  const tgz = readdirSync(dir).filter((f) => f.endsWith(".tgz"));
  assert.deepEqual(tgz, ["chatjournal-0.1.0.tgz"]);
  const app = join(dir, "app");
  execFileSync("mkdir", [app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", type: "module", private: true }));
  npm(["install", "--offline", join(dir, tgz[0])], app);
  assert.deepEqual(readdirSync(join(app, "node_modules", "chatjournal")).sort(),
    ["README.md", "index.d.ts", "index.js", "lib", "package.json"]);

  // The installed package, imported by name from the app, against the real server.
  writeFileSync(join(app, "main.js"), `import { Client, version } from "chatjournal";
const cj = new Client(process.env.CJ_URL, { token: process.env.CJ_TOKEN });
const { seq } = await cj.append({ type: "message", thread: "js-pack", role: "user", content: "packed" });
const rows = await cj.history("js-pack", { minSeq: seq });
console.log(JSON.stringify([version, rows.map((r) => [r.seq, r.content]), seq]));\n`);
  const out = JSON.parse(execFileSync("node", ["main.js"], { cwd: app, encoding: "utf8",
    env: { ...process.env, CJ_URL: URL_, CJ_TOKEN: TOKEN } }));
  assert.deepEqual(out, ["0.1.0", [[out[2], "packed"]], out[2]]);

  // The declarations, in one run of tsc (it is slow): usage.ts passes, and
  // a wrong use is refused (the negative control).
  copyFileSync(join(HERE, "usage.ts"), join(app, "usage.ts"));
  writeFileSync(join(app, "wrong.ts"), `import { Client } from "chatjournal";
export const n: number = new Client("http://x").history("T");\n`);
  const r = spawnSync("tsc", ["--noEmit", "--strict", "--target", "es2022", "--module", "nodenext",
    "--moduleResolution", "nodenext", "--lib", "es2022,dom,dom.iterable", "usage.ts", "wrong.ts"],
  { cwd: app, encoding: "utf8" });
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), ["wrong.ts(2,14): error TS2322: Type " +
    "'Promise<Page<MessageRow>>' is not assignable to type 'number'."]);
});
