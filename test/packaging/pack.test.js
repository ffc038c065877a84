"use strict";
// npm pack → install the tarball into a fresh Node-RED user dir → a real Node-RED loads it cleanly.
const test = require("node:test");
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { startNodeRed } = require("../support/nodered");

const root = path.resolve(__dirname, "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

test("the packed tarball installs into a fresh user dir and Node-RED loads it without warnings", { timeout: 300000 }, async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "keelson-pack-"));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));

  const packed = JSON.parse(execFileSync(npm, ["pack", "--json", "--pack-destination", work], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
  const tarball = path.join(work, packed[0].filename);
  const files = packed[0].files.map((f) => f.path);
  t.diagnostic(`tarball ${packed[0].filename}: ${packed[0].size} bytes packed, ${packed[0].unpackedSize} unpacked, ${files.length} files`);
  assert.ok(files.includes("dist/nodes/mapper/mapper.js"));
  assert.ok(files.includes("dist/nodes/mapper/mapper.html"));
  assert.ok(files.includes("dist/nodes/mapper/icons/keelson-mapper.svg"));
  assert.ok(files.includes("dist/nodes/mapper/locales/en-US/mapper.html"));
  assert.ok(files.some((f) => f.startsWith("examples/")));
  assert.ok(files.includes("LICENSE"));
  assert.ok(!files.some((f) => f.startsWith("test/") || f.startsWith("nodes/") || f.startsWith("sandbox/")), "only built files ship");

  const userDir = path.join(work, "user");
  fs.mkdirSync(userDir);
  fs.writeFileSync(path.join(userDir, "package.json"), JSON.stringify({ name: "node-red-project", private: true }));
  execFileSync(npm, ["install", "--no-audit", "--no-fund", "--omit=dev", tarball], { cwd: userDir, stdio: "ignore" });

  const red = await startNodeRed({ userDir, flows: [] , settings: { logging: { console: { level: "warn" } } } });
  t.after(() => red.stop());
  const nodes = await (await fetch(`${red.url}/nodes`, { headers: { Accept: "application/json" } })).json();
  const ours = nodes.filter((set) => set.module === pkg.name);
  assert.deepEqual(ours.map((s) => s.name).sort(), Object.keys(pkg["node-red"].nodes).sort());
  for (const set of ours) {
    assert.equal(set.enabled, true, set.name);
    assert.equal(set.err, undefined, `${set.name}: ${set.err}`);
    assert.ok(set.types.length > 0, set.name);
  }
  const types = ours.flatMap((s) => s.types);
  assert.ok(types.includes("keelson-mapper"));

  const plugins = await (await fetch(`${red.url}/plugins`, { headers: { Accept: "application/json" } })).json();
  const ourPlugins = plugins.filter((p) => p.module === pkg.name);
  assert.deepEqual(ourPlugins.map((p) => p.id).sort(), Object.keys(pkg["node-red"].plugins).map((id) => `${pkg.name}/${id}`).sort());
  const pluginHtml = await (await fetch(`${red.url}/plugins`, { headers: { Accept: "text/html" } })).text();
  assert.match(pluginHtml, /registerPlugin\("keelson-sidebar"/);

  // The editor's node definitions all sit in one palette category.
  const html = await (await fetch(`${red.url}/nodes`, { headers: { Accept: "text/html" } })).text();
  const categories = new Set();
  for (const type of types) {
    const m = new RegExp(`registerType\\(\\s*["']${type}["']\\s*,\\s*\\{[\\s\\S]*?category:\\s*["']([^"']+)["']`).exec(html);
    assert.ok(m, `editor definition of ${type}`);
    categories.add(m[1]);
  }
  assert.ok([...categories].every((c) => c === "Keelson" || c === "config"), [...categories].join());

  // Help and icons resolve from beside the compiled files.
  const icon = await fetch(`${red.url}/icons/${pkg.name}/keelson-mapper.svg`);
  assert.equal(icon.status, 200);
  assert.match(await icon.text(), /<svg/);
  for (const set of ours) {
    const catalog = await (await fetch(`${red.url}/locales/${pkg.name}/${set.name}?lng=en-US`)).json();
    assert.ok(catalog[set.name] && catalog[set.name].label, `message catalog of ${set.name}`);
  }
  for (const type of types) assert.match(html, new RegExp(`data-help-name="${type}"`), `help for ${type}`);

  // Examples appear under Import → Examples.
  const examples = await (await fetch(`${red.url}/library/examples/flows/${pkg.name}`)).json();
  const names = JSON.stringify(examples);
  for (const file of fs.readdirSync(path.join(root, "examples"))) assert.ok(names.includes(file.replace(/\.json$/, "")), file);

  await red.stop();
  const mentions = red.log.split("\n").filter((l) => /\[(warn|error)\]/.test(l) && /keelson/i.test(l));
  assert.deepEqual(mentions, []);
});
