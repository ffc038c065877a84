"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { Mapping, CanonicalMapper, MappingSyntaxError, MappingRuntimeError, cleanResult } = require("../../dist/nodes/lib/mapping/mapping.js");

test("a mapping compiles once and evaluates many times", async () => {
  const m = Mapping.compile('{"name": Name, "total": $sum(lines.amount)}');
  assert.deepEqual(await m.evaluate({ Name: "A", lines: [{ amount: 1 }, { amount: 2 }] }), { name: "A", total: 3 });
  assert.deepEqual(await m.evaluate({ Name: "B", lines: [] }), { name: "B" }, "JSONata sums nothing to nothing");
});

test("a syntax error names its position and token", () => {
  assert.throws(() => Mapping.compile('{"a": Name,, }'), (err) => {
    assert.ok(err instanceof MappingSyntaxError);
    assert.equal(err.position, 12);
    assert.match(err.message, /at position 12/);
    assert.equal(err.code, "S0211");
    return true;
  });
  assert.throws(() => Mapping.compile("  "), /the mapping expression is empty/);
  assert.throws(() => Mapping.compile('$substring("a"'), (err) => err instanceof MappingSyntaxError && /position/.test(err.message));
});

test("a runtime error keeps JSONata's code and position", async () => {
  const m = Mapping.compile('{"x": a + b}');
  await assert.rejects(m.evaluate({ a: 1, b: "two" }), (err) => {
    assert.ok(err instanceof MappingRuntimeError);
    assert.equal(err.code, "T2002");
    assert.match(err.message, /position/);
    return true;
  });
});

test("a runaway expression is stopped by the time limit", async () => {
  const m = Mapping.compile("($f := function($n) { $n > 0 ? $f($n - 1) + $f($n - 1) : 1 }; $f(40))", { timeoutMs: 100, maxDepth: 10000 });
  const started = Date.now();
  await assert.rejects(m.evaluate({}), (err) => err instanceof MappingRuntimeError && err.code === "D1012" && /time limit of 100 ms/.test(err.message));
  assert.ok(Date.now() - started < 2000, "stopped close to its limit");
});

test("unbounded recursion is stopped by the depth limit", async () => {
  const m = Mapping.compile("($f := function($n) { 1 + $f($n + 1) }; $f(0))", { timeoutMs: 5000, maxDepth: 200 });
  await assert.rejects(m.evaluate({}), (err) => err instanceof MappingRuntimeError && err.code === "D1011" && /depth limit of 200/.test(err.message));
});

test("__proto__, constructor and prototype keys never reach the output", async () => {
  const m = Mapping.compile('{"__proto__": {"polluted": true}, "ok": 1, "nested": {"constructor": {"x": 1}, "prototype": 2, "keep": payload}}');
  const input = JSON.parse('{"payload": {"__proto__": {"evil": 1}, "fine": 2}}');
  const out = await m.evaluate(input);
  assert.deepEqual(Object.keys(out), ["ok", "nested"]);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(out.polluted, undefined);
  assert.deepEqual(Object.keys(out.nested), ["keep"]);
  assert.deepEqual(Object.keys(out.nested.keep), ["fine"]);
  assert.equal({}.polluted, undefined, "Object.prototype is untouched");
  assert.equal({}.evil, undefined);
});

test("clean results are returned without copying", () => {
  const value = { a: [1, { b: 2 }], c: "x" };
  assert.equal(cleanResult(value), value);
  const dirty = JSON.parse('{"a": [{"__proto__": 1, "b": 2}]}');
  const cleaned = cleanResult(dirty);
  assert.notEqual(cleaned, dirty);
  assert.deepEqual(JSON.parse(JSON.stringify(cleaned)), { a: [{ b: 2 }] });
});

test("the canonical mapper validates against the target schema", async () => {
  const mapper = new CanonicalMapper({
    expression: '{"refs": [{"system": "hubspot", "id": id}], "name": name, "email": email}',
    targetSchema: "Customer@1",
  });
  assert.deepEqual(await mapper.map({ id: "1", name: "Acme", email: "a@acme.example" }), {
    value: { refs: [{ system: "hubspot", id: "1" }], name: "Acme", email: "a@acme.example" },
    valid: true,
    errors: [],
  });
  const bad = await mapper.map({ id: "1", email: "nope" });
  assert.equal(bad.valid, false);
  assert.deepEqual(bad.errors.map((e) => e.path).sort(), ["email", "name"]);
  const nothing = await new CanonicalMapper({ expression: "customer", targetSchema: "Customer" }).map({});
  assert.equal(nothing.valid, false);
  assert.match(nothing.errors[0].message, /produced nothing/);
});

test("bindings reach the expression", async () => {
  const m = Mapping.compile('$env("REGION") & "-" & id');
  assert.equal(await m.evaluate({ id: "7" }, { env: (n) => (n === "REGION" ? "eu" : "") }), "eu-7");
});

test("concurrent evaluations do not eat into each other's time limit", async () => {
  // Each evaluation takes a millisecond or a few; 400 started at once would interleave in JSONata's async
  // evaluator and each would see the wall time of all of them, far beyond its 300 ms.
  const m = Mapping.compile("$sum([1..300].($ * 2))", { timeoutMs: 300 });
  const results = await Promise.all(Array.from({ length: 400 }, () => m.evaluate({})));
  assert.ok(results.every((r) => r === 90300));
});
