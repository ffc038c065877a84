"use strict";
// Differential conformance: every case of the JSONata test suite is evaluated by the compiler and by jsonata
// itself (the oracle), with the same limits; results must agree (value, undefined, or error code).
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const jsonata = require("jsonata");
const { compileJsonata } = require("../../dist/nodes/lib/mapping/compiler/index.js");

// JSONata's own conformance suite sits in shared/, beside the repository (KEELSON_JSONATA_SUITE overrides).
const SUITE = process.env.KEELSON_JSONATA_SUITE || path.resolve(__dirname, "..", "..", "..", "shared", "conformance", "jsonata-test-suite");
const DEFAULT_LIMITS = { timeoutMs: 10000, maxDepth: 10000 };
/** Cases whose value depends on the clock or on chance: only the shape of the two results is compared. */
const NONDETERMINISTIC = /\$(now|millis|random|shuffle)\b/;

function loadCases() {
  const datasets = new Map();
  const dataset = (name) => {
    if (!datasets.has(name)) datasets.set(name, JSON.parse(fs.readFileSync(path.join(SUITE, "datasets", `${name}.json`), "utf8")));
    return datasets.get(name);
  };
  const cases = [];
  for (const group of fs.readdirSync(path.join(SUITE, "groups")).sort()) {
    const dir = path.join(SUITE, "groups", group);
    for (const file of fs.readdirSync(dir).sort()) {
      if (!file.endsWith(".json")) continue;
      const content = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
      const list = Array.isArray(content) ? content : [content];
      list.forEach((c, i) => {
        const expr = c["expr-file"] ? fs.readFileSync(path.join(dir, c["expr-file"]), "utf8") : c.expr;
        let input;
        if (c.data !== undefined) input = c.data;
        else if (c.dataset !== undefined && c.dataset !== null) input = dataset(c.dataset);
        cases.push({
          id: `${group}/${file}${list.length > 1 ? `#${i}` : ""}`,
          expr,
          input,
          bindings: c.bindings || {},
          expected: "result" in c ? { value: c.result } : c.undefinedResult ? { value: undefined } : undefined,
          limits: {
            timeoutMs: c.timelimit ?? DEFAULT_LIMITS.timeoutMs,
            maxDepth: c.depth ?? DEFAULT_LIMITS.maxDepth,
          },
        });
      });
    }
  }
  return cases;
}

async function outcome(run) {
  try {
    return { value: await run() };
  } catch (err) {
    return { error: err && err.code ? err.code : String(err && err.message) };
  }
}

/** Structural equality as a consumer sees it: array flags and object prototypes are not compared. */
function same(a, b, shapeOnly) {
  if (typeof a === "function" || typeof b === "function" || isJsonataFunction(a) || isJsonataFunction(b)) {
    return (typeof a === "function" || isJsonataFunction(a)) && (typeof b === "function" || isJsonataFunction(b));
  }
  if (a === b) return true;
  if (typeof a === "number" && typeof b === "number") return shapeOnly || (Number.isNaN(a) && Number.isNaN(b));
  if (typeof a === "string" && typeof b === "string") return shapeOnly;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => same(x, b[i], shapeOnly));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k, i) => (shapeOnly || kb[i] === k) && Object.prototype.hasOwnProperty.call(b, k) && same(a[k], b[k], shapeOnly));
}

function isJsonataFunction(v) {
  return v !== null && typeof v === "object" && (v._jsonata_lambda === true || v._jsonata_function === true);
}

test("the compiler agrees with jsonata on every case of the JSONata test suite", async () => {
  const cases = loadCases();
  assert.ok(cases.length > 1500, `expected the whole suite, found ${cases.length} cases`);
  let compiled = 0;
  let fallbacks = 0;
  let interpreterTimeouts = 0;
  const reasons = new Map();
  const disagreements = [];
  for (const c of cases) {
    const oracle = await outcome(() => {
      const expression = jsonata(c.expr, { timeout: c.limits.timeoutMs, stack: c.limits.maxDepth });
      return expression.evaluate(c.input, c.bindings);
    });
    let candidate;
    const subject = await outcome(async () => {
      candidate = compileJsonata(c.expr, c.limits);
      return candidate.evaluate(c.input, c.bindings);
    });
    if (candidate && candidate.mode === "compiled") {
      compiled++;
      fallbacks += candidate.fallbacks;
    } else if (candidate) {
      reasons.set(candidate.reason, (reasons.get(candidate.reason) || 0) + 1);
    }
    const shapeOnly = NONDETERMINISTIC.test(c.expr);
    let agree =
      "error" in oracle || "error" in subject ? oracle.error === subject.error : same(oracle.value, subject.value, shapeOnly);
    // On a loaded machine the interpreter can run out of a case's time limit where compiled code does not:
    // then the suite's recorded result is the reference.
    if (!agree && oracle.error === "D1012" && "value" in subject && c.expected) {
      agree = same(c.expected.value, subject.value, shapeOnly);
      if (agree) interpreterTimeouts++;
    }
    if (!agree) disagreements.push({ id: c.id, expr: c.expr, oracle, subject, mode: candidate && candidate.mode });
  }
  const pct = ((100 * compiled) / cases.length).toFixed(1);
  console.log(`compiled ${compiled} of ${cases.length} cases (${pct}%); ${fallbacks} compiled evaluations were handed to the interpreter`);
  const top = [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
  if (interpreterTimeouts) console.log(`${interpreterTimeouts} cases timed out in jsonata only; compared with the suite's result`);
  console.log(`interpreted because: ${top.map(([r, n]) => `${r} (${n})`).join("; ")}`);
  for (const d of disagreements.slice(0, 15)) {
    console.log(`DISAGREE ${d.id} [${d.mode}] ${d.expr}\n  jsonata: ${show(d.oracle)}\n  compiled: ${show(d.subject)}`);
  }
  assert.equal(disagreements.length, 0, `${disagreements.length} cases disagree with jsonata`);
  assert.ok(compiled / cases.length >= 0.85, `only ${pct}% of the suite compiled`);
});

function show(o) {
  if ("error" in o) return `error ${o.error}`;
  try {
    const s = JSON.stringify(o.value);
    return s === undefined ? "undefined" : s.slice(0, 300);
  } catch {
    return String(o.value);
  }
}
