"use strict";
// Property-based: random data sets against a brute-force oracle written from the documented semantics, and the
// three ways in (one shot, chunks, spill to disk) against each other.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { Reconciler } = require("../../dist/nodes/lib/reconcile/reconciler.js");
const { toMinor } = require("../../dist/nodes/lib/canonical/money.js");

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ------------------------------------------------------------------ the oracle
const SCALE = 30n;
function exactDecimal(v) {
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return undefined;
    v = String(v);
  }
  if (typeof v !== "string") return undefined;
  const m = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(v);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return undefined;
  const digits = (m[2] || "0") + (m[3] ?? "");
  const exp = Number(m[4] ?? 0) - (m[3] ?? "").length;
  let value = BigInt(digits) * 10n ** SCALE;
  value = exp >= 0 ? value * 10n ** BigInt(exp) : value / 10n ** BigInt(-exp);
  return m[1] === "-" ? -value : value;
}
const present = (v) => v !== undefined && v !== null && v !== "";
const abs = (x) => (x < 0n ? -x : x);
function canonical(v) {
  if (v === undefined || v === null) return "null";
  if (typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  return `{${Object.keys(v).filter((k) => v[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
}
const fold = (v) => (v === undefined || v === null ? "" : typeof v === "string" ? v : typeof v === "object" ? canonical(v) : String(v)).trim().replace(/\s+/g, " ").toLowerCase().normalize("NFC");
const get = (rec, p) => p.split(".").reduce((o, k) => (o !== null && typeof o === "object" && Object.hasOwn(o, k) ? o[k] : undefined), rec);

function oracleMoney(value, record, rule, side) {
  let amount = value;
  let currency;
  if (value !== null && typeof value === "object" && Object.hasOwn(value, "amount")) {
    amount = value.amount;
    currency = value.currency;
  }
  if (!present(amount)) return undefined;
  const cf = side === "left" ? rule.currencyField : rule.rightCurrencyField || rule.currencyField;
  if (currency === undefined && cf) currency = get(record, cf);
  if (!present(currency)) currency = rule.currency || undefined;
  if (!present(currency)) return "no currency";
  if (!["USD", "EUR", "JPY", "BHD", "GBP", "KWD", "CLF"].includes(currency)) return "unknown currency";
  try {
    return { currency, minor: toMinor(typeof amount === "number" ? String(amount) : amount, currency, rule.rounding || "half-up") };
  } catch (err) {
    return /decimal places/.test(err.message) ? "too many decimal places" : "not an amount";
  }
}

function oracleDiff(rule, l, r, lr, rr) {
  const d = (extra) => ({ field: rule.field, rule: rule.rule, ...extra });
  switch (rule.rule) {
    case "ignore":
      return undefined;
    case "exact":
      if (l === r || ((l === undefined || l === null) && (r === undefined || r === null))) return undefined;
      if (typeof l === "object" || typeof r === "object") return canonical(l) === canonical(r) ? undefined : d();
      return d();
    case "text":
      return fold(l) === fold(r) ? undefined : d();
    case "number": {
      if (!present(l) && !present(r)) return undefined;
      if (!present(l) || !present(r)) return d({ reason: "missing" });
      const a = exactDecimal(l);
      const b = exactDecimal(r);
      if (a === undefined || b === undefined) return d({ reason: "not a number" });
      const tolAbs = exactDecimal(rule.absolute ?? "0");
      const rel = exactDecimal(rule.relative ?? "0");
      const larger = abs(a) > abs(b) ? abs(a) : abs(b);
      const tolRel = (rel * larger) / 10n ** SCALE;
      const tol = tolAbs > tolRel ? tolAbs : tolRel;
      return abs(a - b) <= tol ? undefined : d();
    }
    case "money": {
      const a = oracleMoney(l, lr, rule, "left");
      const b = oracleMoney(r, rr, rule, "right");
      if (a === undefined && b === undefined) return undefined;
      if (a === undefined || b === undefined) return d({ reason: "missing" });
      if (typeof a === "string" || typeof b === "string") return d({ reason: typeof a === "string" ? a : b });
      if (a.currency !== b.currency) return d({ reason: "currency differs" });
      const tol = toMinor(rule.tolerance ?? "0", a.currency, "up");
      return abs(a.minor - b.minor) <= tol ? undefined : d();
    }
    case "datetime": {
      if (!present(l) && !present(r)) return undefined;
      if (!present(l) || !present(r)) return d({ reason: "missing" });
      const ms = (v) => (typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : NaN);
      const a = ms(l);
      const b = ms(r);
      if (Number.isNaN(a) || Number.isNaN(b)) return d({ reason: "not a date" });
      return Math.abs(a - b) <= Number(rule.window ?? 0) * 1000 ? undefined : d();
    }
  }
  throw new Error(`oracle: no rule ${rule.rule}`);
}

function oracleKey(rec, fields, how) {
  const parts = fields.map((f) => {
    const v = get(rec, f);
    if (typeof v !== "string" && typeof v !== "number") return undefined;
    let t = String(v);
    if (how.trim !== false) t = t.trim();
    if (how.ignoreCase) t = t.toLowerCase();
    if (how.stripLeadingZeros) t = t.replace(/^0+(?=.)/, "");
    return t === "" ? undefined : t;
  });
  if (parts.some((p) => p === undefined)) throw new Error("oracle: no key");
  return parts.length === 1 ? parts[0] : JSON.stringify(parts);
}

function oracle(spec, left, right) {
  const how = spec.normalise ?? {};
  const lk = left.map((r) => oracleKey(r, spec.key.left.fields, how));
  const rk = right.map((r) => oracleKey(r, (spec.key.right ?? spec.key.left).fields, how));
  const keys = [...new Set([...lk, ...rk])];
  const results = [];
  for (const key of keys) {
    const ls = left.filter((_, i) => lk[i] === key);
    const rs = right.filter((_, i) => rk[i] === key);
    const res = { key };
    let outcome;
    if (ls.length && rs.length) {
      res.left = ls[0];
      res.right = rs[0];
      const diffs = spec.fields.map((f) => oracleDiff(f, get(ls[0], f.field), get(rs[0], f.rightField || f.field), ls[0], rs[0])).filter(Boolean);
      outcome = diffs.length ? "mismatched" : "matched";
      if (diffs.length) res.diffs = diffs;
    } else if (ls.length) {
      res.left = ls[0];
      outcome = "onlyLeft";
    } else {
      res.right = rs[0];
      outcome = "onlyRight";
    }
    if (ls.length > 1 || rs.length > 1) {
      res.duplicates = {};
      if (ls.length > 1) res.duplicates.left = ls.slice(1);
      if (rs.length > 1) res.duplicates.right = rs.slice(1);
    }
    results.push([outcome, res]);
  }
  const totals = { left: {}, right: {} };
  for (const [side, recs] of [["left", left], ["right", right]]) {
    for (const f of spec.fields.filter((x) => x.rule === "money")) {
      totals[side][f.field] = {};
      for (const rec of recs) {
        const m = oracleMoney(get(rec, side === "left" ? f.field : f.rightField || f.field), rec, f, side);
        if (m && typeof m === "object") totals[side][f.field][m.currency] = (totals[side][f.field][m.currency] ?? 0n) + m.minor;
      }
    }
  }
  return { results, totals };
}

// ------------------------------------------------------------------ random data sets
const CURRENCIES = ["USD", "JPY", "BHD", "EUR"];
const DIGITS = { USD: 2, JPY: 0, BHD: 3, EUR: 2 };

function randomCase(rand) {
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const how = { trim: rand() < 0.8, ignoreCase: rand() < 0.5, stripLeadingZeros: rand() < 0.5 };
  const composite = rand() < 0.3;
  const rules = [
    { field: "amount", rightField: "amt", rule: "money", currencyField: "cur", rounding: pick(["half-up", "half-even", "down"]), tolerance: pick([undefined, "0.01", "0.5"]) },
    { field: "name", rule: "text" },
    { field: "qty", rule: "number", absolute: pick([undefined, "0.01", "1"]), relative: pick([undefined, "0.001"]) },
    { field: "code", rule: "exact" },
    { field: "when", rightField: "at", rule: "datetime", window: pick(["0", "60", "86400"]) },
    { field: "note", rule: "ignore" },
  ];
  const spec = {
    key: composite ? { left: { fields: ["id", "region"] }, right: { fields: ["ref", "region"] } } : { left: { fields: ["id"] }, right: { fields: ["ref"] } },
    normalise: how,
    fields: rules,
  };
  const n = 20 + Math.floor(rand() * 120);
  const keySpace = Math.max(5, Math.floor(n * (0.6 + rand())));
  const keyText = (k) => {
    let t = `K${String(k).padStart(3, "0")}`;
    if (rand() < 0.2) t = String(k).padStart(1 + Math.floor(rand() * 4), "0"); // numeric-looking, with leading zeros
    if (how.ignoreCase && rand() < 0.3) t = t.toLowerCase();
    if (how.trim && rand() < 0.2) t = ` ${t} `;
    return rand() < 0.1 && /^\d+$/.test(t) ? Number(t) : t;
  };
  const amount = (cur) => {
    const d = DIGITS[cur];
    const minor = Math.floor(rand() * 1e7) - 1e5;
    const extra = rand() < 0.15 ? 1 : 0; // an extra decimal place, to exercise rounding
    const scale = d + extra;
    let text = String(Math.abs(minor)).padStart(scale + 1, "0");
    if (scale > 0) text = `${text.slice(0, -scale)}.${text.slice(-scale)}`;
    if (minor < 0) text = `-${text}`;
    return rand() < 0.3 ? Number(text) : text;
  };
  const makeLeft = (k) => {
    const cur = pick(CURRENCIES);
    const rec = { id: keyText(k), region: pick(["EU", "US"]), amount: amount(cur), cur, name: pick(["Acme Corp", "Globex  GmbH", "Initech", "Zürich AG"]), qty: pick([1, 2.5, "10", "10.005", 0.1]), code: pick(["A", "B", 7, "7"]), when: pick(["2026-01-01", "2026-01-01T12:00:00Z", "2026-03-05T23:59:30+01:00"]), note: rand() };
    if (rand() < 0.05) delete rec[pick(["amount", "name", "qty", "code", "when"])];
    if (rand() < 0.03) rec.qty = "n/a";
    if (rand() < 0.03) rec.cur = pick(["XXX", ""]);
    if (rand() < 0.05) rec.amount = { amount: String(amount("USD")), currency: "USD" };
    return rec;
  };
  const perturb = (l) => {
    const r = { ref: l.id, region: l.region, amt: l.amount, cur: l.cur, name: l.name, qty: l.qty, code: l.code, at: l.when, note: rand() };
    if (typeof r.ref === "string" && how.ignoreCase && rand() < 0.3) r.ref = r.ref.toUpperCase();
    const what = rand();
    if (what < 0.1 && typeof l.amount !== "object" && l.amount !== undefined) r.amt = typeof l.amount === "number" ? String(l.amount) : Number(l.amount);
    else if (what < 0.2 && typeof r.amt === "string") r.amt = String(Number(r.amt) + pick([0.01, 0.5, 1, -0.001]));
    else if (what < 0.3) r.name = pick([` ${String(l.name).toUpperCase()} `, "Other Co", String(l.name).replace(" ", "   ")]);
    else if (what < 0.4 && typeof r.qty === "number") r.qty = r.qty + pick([0.01, 0.0100001, 1, 0.001]);
    else if (what < 0.45) r.code = pick(["A", "7", 7, { x: 1 }]);
    else if (what < 0.55 && typeof r.at === "string") r.at = new Date(Date.parse(r.at) + pick([0, 59_000, 61_000, 86_400_000, 90_000_000])).toISOString();
    else if (what < 0.58) r.cur = pick(CURRENCIES);
    else if (what < 0.6) delete r.amt;
    return r;
  };
  const left = [];
  const right = [];
  for (let i = 0; i < n; i++) {
    const k = Math.floor(rand() * keySpace);
    const l = makeLeft(k);
    const where = rand();
    if (where < 0.75) {
      left.push(l);
      right.push(perturb(l));
    } else if (where < 0.87) left.push(l);
    else right.push(perturb(l));
  }
  // shuffle the right side
  for (let i = right.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [right[i], right[j]] = [right[j], right[i]];
  }
  return { spec, left, right };
}

// ------------------------------------------------------------------ running the reconciler
async function run(spec, left, right, { chunk, budget, csvPath } = {}) {
  const r = new Reconciler({ ...spec, memoryBudgetBytes: budget, tempDir: os.tmpdir() });
  const size = chunk ?? Math.max(left.length, right.length, 1);
  // interleaved chunks of both sides
  for (let i = 0; i < Math.max(left.length, right.length); i += size) {
    if (i < left.length) await r.add("left", left.slice(i, i + size));
    if (i < right.length) await r.add("right", right.slice(i, i + size));
  }
  const results = [];
  const summary = await r.reconcile((o, res) => results.push([o, res]), csvPath ? { csvPath } : {});
  return { results, summary };
}

// Spilled records come back as their JSON text carries them: a property set to undefined is simply absent.
const asJson = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

function normalise(results) {
  return results
    .map(([o, res]) => [o, { ...res, left: asJson(res.left), right: asJson(res.right), duplicates: asJson(res.duplicates) }])
    .map(([o, res]) => {
      for (const k of ["left", "right", "duplicates"]) if (res[k] === undefined) delete res[k];
      return [o, res];
    })
    .map(([o, res]) => [o, { ...res, diffs: res.diffs?.map((d) => ({ field: d.field, rule: d.rule, ...(d.reason ? { reason: d.reason } : {}) })) }])
    .map(([o, res]) => {
      if (!res.diffs) delete res.diffs;
      return [o, res];
    })
    .sort((a, b) => (a[1].key < b[1].key ? -1 : a[1].key > b[1].key ? 1 : 0));
}

function totalsOf(summary) {
  const out = { left: {}, right: {} };
  for (const side of ["left", "right"]) {
    for (const [field, byCur] of Object.entries(summary.totals[side].sums)) {
      out[side][field] = {};
      for (const [cur, text] of Object.entries(byCur)) out[side][field][cur] = toMinor(text, cur);
    }
  }
  return out;
}

test("random data sets: results equal the brute-force oracle, one shot, in chunks and spilled", async () => {
  const rand = prng(20261124);
  const seen = new Set();
  for (let round = 0; round < 40; round++) {
    const { spec, left, right } = randomCase(rand);
    const expected = oracle(spec, left, right);
    for (const [o, res] of expected.results) {
      seen.add(o);
      if (res.duplicates) seen.add("duplicates");
      for (const d of res.diffs ?? []) seen.add(`${d.rule}${d.reason ? `/${d.reason}` : ""}`);
    }
    const oneShot = await run(spec, left, right);
    const label = `round ${round}`;
    assert.deepEqual(normalise(oneShot.results), normalise(expected.results), label);
    assert.deepEqual(totalsOf(oneShot.summary), expected.totals, `${label}: control totals`);
    const chunked = await run(spec, left, right, { chunk: 1 + Math.floor(rand() * 17) });
    assert.deepEqual(normalise(chunked.results), normalise(oneShot.results), `${label}: chunked`);
    assert.deepEqual(chunked.summary.totals, oneShot.summary.totals, `${label}: chunked totals`);
    const spilled = await run(spec, left, right, { chunk: 1 + Math.floor(rand() * 9), budget: 1 + Math.floor(rand() * 3000) });
    assert.equal(spilled.summary.path, "spill", label);
    assert.deepEqual(normalise(spilled.results), normalise(oneShot.results), `${label}: spilled`);
    const { durationMs: _a, path: _p, spilledRuns: _r, ...restSpilled } = spilled.summary;
    const { durationMs: _b, path: _q, spilledRuns: _s, ...restOneShot } = oneShot.summary;
    assert.deepEqual(restSpilled, restOneShot, `${label}: spilled summary`);
  }
  // The generator must reach every outcome and every rule's ways to differ, or the comparison proves little.
  for (const must of ["matched", "mismatched", "onlyLeft", "onlyRight", "duplicates", "exact", "text", "number", "number/not a number", "number/missing",
    "money", "money/currency differs", "money/missing", "money/unknown currency", "money/no currency", "datetime", "datetime/missing"]) {
    assert.ok(seen.has(must), `the random data sets never produced ${must}`);
  }
});

test("the spill folder is removed after the run, and after a discard", async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "keelson-reconcile-test-"));
  try {
    const spec = { key: { left: { fields: ["id"] } }, fields: [{ field: "v", rule: "exact" }], memoryBudgetBytes: 1, tempDir: base };
    const r = new Reconciler(spec);
    await r.add("left", [{ id: 1, v: 1 }]);
    assert.equal(fs.readdirSync(base).length, 1, "a spill folder while running");
    await r.add("right", [{ id: 1, v: 2 }]);
    const summary = await r.reconcile(() => {});
    assert.equal(summary.path, "spill");
    assert.equal(summary.counts.mismatched, 1);
    assert.deepEqual(fs.readdirSync(base), []);
    const d = new Reconciler(spec);
    await d.add("left", [{ id: 1, v: 1 }]);
    await d.discard();
    assert.deepEqual(fs.readdirSync(base), []);
    await assert.rejects(d.add("left", [{ id: 2 }]), /already run/);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test("control totals stay exact over many amounts that binary floats cannot add", async () => {
  const r = new Reconciler({ key: { left: { fields: ["id"] } }, fields: [{ field: "amount", rule: "money", currencyField: "currency" }] });
  const left = [];
  for (let i = 0; i < 100000; i++) left.push({ id: i, amount: "0.10", currency: "USD" });
  left.push({ id: "big", amount: "90071992547409.93", currency: "USD" }, { id: "big2", amount: "90071992547409.93", currency: "USD" });
  left.push({ id: "jpy", amount: 1, currency: "JPY" }, { id: "bhd", amount: "0.001", currency: "BHD" }, { id: "bad", amount: "1.001", currency: "USD" });
  await r.add("left", left);
  await r.add("right", [{ id: 0, amount: 0.1, currency: "USD" }]);
  const s = await r.reconcile(() => {});
  // 100000 × 0.10 + 2 × 90071992547409.93 (beyond 2^53 cents) + 1.001 rounded half-up to 1.00 = 180143985104820.86
  assert.equal(s.totals.left.sums.amount.USD, "180143985104820.86");
  assert.equal(s.totals.left.sums.amount.JPY, "1");
  assert.equal(s.totals.left.sums.amount.BHD, "0.001");
  assert.equal(s.totals.right.sums.amount.USD, "0.10");
  assert.equal(s.totals.difference.sums.amount.USD, "180143985104820.76");
  assert.equal(s.totals.difference.sums.amount.JPY, "1");
  assert.equal(s.totals.difference.count, left.length - 1);
  let sum = 0;
  for (let i = 0; i < 100000; i++) sum += 0.1;
  assert.notEqual(sum, 10000, "floats drift where BigInt minor units do not");
});
