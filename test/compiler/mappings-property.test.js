"use strict";
// Property: for random input documents, every shipped mapping gives the same result compiled as in the jsonata
// interpreter. Inputs are mutations of each mapping's fixture: fields present, missing or null, numbers, strings
// and booleans swapped in, arrays of 0..n items, objects turned into arrays of objects and back.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const jsonata = require("jsonata");
const { compileJsonata } = require("../../dist/nodes/lib/mapping/compiler/index.js");
const { cleanResult } = require("../../dist/nodes/lib/mapping/mapping.js");
const { LIBRARY, mappingExpression } = require("../../dist/nodes/lib/mapping/library.js");

const FIXTURES = path.join(__dirname, "..", "fixtures", "mappings");
const LIMITS = { timeoutMs: 5000, maxDepth: 500 };
const RUNS_PER_MAPPING = 150;

/** mulberry32: small seeded generator, so a failing document can be reproduced from its seed. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = ["", " ", "0", "x", "USD", "EUR", "null", "Lyon", "ünïcödé ✓", "12.50", "2026-11-20", "a\"b", "__proto__"];
const NUMBERS = [0, -1, 1, 2, 0.1, 0.30000000000000004, 1.005, 99.99, 1e21, -0, 123456789.123456789, 1250.25];

function mutate(value, rnd, depth) {
  const roll = rnd();
  if (roll < 0.06) return null;
  if (roll < 0.1) return STRINGS[Math.floor(rnd() * STRINGS.length)];
  if (roll < 0.14) return NUMBERS[Math.floor(rnd() * NUMBERS.length)];
  if (roll < 0.16) return rnd() < 0.5;
  if (Array.isArray(value)) {
    const length = Math.floor(rnd() * 5);
    const out = [];
    for (let i = 0; i < length; i++) out.push(mutate(value.length ? value[i % value.length] : "x", rnd, depth + 1));
    return out;
  }
  if (value !== null && typeof value === "object") {
    if (depth > 0 && rnd() < 0.05) return [mutate(value, rnd, depth + 1), mutate(value, rnd, depth + 1)];
    const out = {};
    for (const key of Object.keys(value)) {
      if (rnd() < 0.12) continue; // field missing
      out[key] = rnd() < 0.7 ? value[key] : mutate(value[key], rnd, depth + 1);
    }
    return out;
  }
  if (typeof value === "number") return rnd() < 0.5 ? value : NUMBERS[Math.floor(rnd() * NUMBERS.length)];
  if (typeof value === "string") return rnd() < 0.5 ? value : STRINGS[Math.floor(rnd() * STRINGS.length)];
  if (rnd() < 0.05) return [value, value];
  return value;
}

async function outcome(run) {
  try {
    return { value: JSON.stringify(cleanResult(await run())) };
  } catch (err) {
    return { error: err && err.code ? err.code : String(err) };
  }
}

for (const entry of LIBRARY) {
  test(`${entry.id}: compiled equals interpreted on ${RUNS_PER_MAPPING} random documents`, async () => {
    const expression = mappingExpression(entry.id);
    const compiled = compileJsonata(expression, LIMITS);
    assert.equal(compiled.mode, "compiled", `${entry.id} is not compiled: ${compiled.reason}`);
    const interpreter = jsonata(expression, { timeout: LIMITS.timeoutMs, stack: LIMITS.maxDepth });
    const template = JSON.parse(fs.readFileSync(path.join(FIXTURES, entry.id, "input.json"), "utf8"));
    const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, entry.id, "expected.json"), "utf8"));
    assert.deepEqual(JSON.parse(JSON.stringify(await compiled.evaluate(template))), expected, "fixture output");
    let errors = 0;
    for (let run = 0; run < RUNS_PER_MAPPING; run++) {
      const seed = run * 7919 + entry.id.length;
      const input = mutate(template, random(seed), 0);
      const fromInterpreter = await outcome(() => interpreter.evaluate(input));
      const fromCompiled = await outcome(() => compiled.evaluate(input));
      if ("error" in fromInterpreter) errors++;
      assert.deepEqual(fromCompiled, fromInterpreter, `${entry.id}, seed ${seed}: ${JSON.stringify(input).slice(0, 400)}`);
    }
    // a document handed to the interpreter compares jsonata with itself: most must run compiled
    assert.ok(compiled.fallbacks <= errors + RUNS_PER_MAPPING / 10, `${compiled.fallbacks} of ${RUNS_PER_MAPPING} documents fell back to the interpreter`);
    console.log(`${entry.id}: ${errors} documents rejected by jsonata, ${compiled.fallbacks} evaluations handed to the interpreter`);
    // the documents must mostly map, or the property says little about the happy path
    assert.ok(errors < RUNS_PER_MAPPING / 2, `${errors} of ${RUNS_PER_MAPPING} documents failed in jsonata too`);
  });
}
