"use strict";
// Mapping keeps its public API on top of the compiler: compile/evaluate, syntax and runtime errors, limits,
// the env binding of the mapper node, plus the read-only mode and reason.
const test = require("node:test");
const assert = require("node:assert/strict");
const { Mapping, MappingSyntaxError, MappingRuntimeError } = require("../../dist/nodes/lib/mapping/mapping.js");
const { LIBRARY, mappingExpression } = require("../../dist/nodes/lib/mapping/library.js");

test("every shipped mapping is compiled", () => {
  for (const entry of LIBRARY) {
    const mapping = Mapping.compile(mappingExpression(entry.id));
    assert.equal(mapping.mode, "compiled", `${entry.id}: ${mapping.reason}`);
    assert.equal(mapping.reason, undefined);
  }
});

test("mode and reason say when and why the interpreter runs a mapping; both are read-only", async () => {
  const mapping = Mapping.compile("$ ~> |order|{ 'status': 'sent' }|");
  assert.equal(mapping.mode, "interpreted");
  assert.match(mapping.reason, /transform/);
  assert.deepEqual(await mapping.evaluate({ order: { status: "draft", id: 1 } }), { order: { status: "sent", id: 1 } });
  assert.throws(() => {
    "use strict";
    mapping.mode = "compiled";
  }, TypeError);
});

test("syntax errors keep their position and code", () => {
  assert.throws(
    () => Mapping.compile('{ "a": Account.Name, }'),
    (err) => err instanceof MappingSyntaxError && typeof err.position === "number" && err.position > 0 && /^S0/.test(err.code),
  );
  assert.throws(() => Mapping.compile("   "), (err) => err instanceof MappingSyntaxError && err.code === "S0000");
});

test("runtime errors carry jsonata's code, from compiled code too", async () => {
  const mapping = Mapping.compile("{ 'total': price * quantity }");
  assert.equal(mapping.mode, "compiled");
  assert.deepEqual(await mapping.evaluate({ price: 2.5, quantity: 4 }), { total: 10 });
  await assert.rejects(mapping.evaluate({ price: "2.5", quantity: 4 }), (err) => err instanceof MappingRuntimeError && err.code === "T2001");
});

test("the time and depth limits stop runaway mappings with D1012 and D1011", async () => {
  const slow = Mapping.compile("$map([1..100000], function($x) { $sum($map([1..100000], function($y) { $x * $y })) })", {
    timeoutMs: 40,
  });
  assert.equal(slow.mode, "compiled");
  await assert.rejects(slow.evaluate({}), (err) => err instanceof MappingRuntimeError && err.code === "D1012" && /40 ms/.test(err.message));
  const deep = Mapping.compile("( $down := function($n) { $n = 0 ? 0 : 1 + $down($n - 1) }; $down(100000) )", { maxDepth: 200 });
  assert.equal(deep.mode, "compiled");
  await assert.rejects(deep.evaluate({}), (err) => err instanceof MappingRuntimeError && err.code === "D1011");
});

test("the mapper node's env function binding works in compiled code", async () => {
  const mapping = Mapping.compile("{ 'system': $env('ERP_SYSTEM'), 'id': Id }");
  assert.equal(mapping.mode, "compiled");
  const env = (name) => (name === "ERP_SYSTEM" ? "netsuite" : undefined);
  assert.deepEqual(await mapping.evaluate({ Id: "42" }, { env }), { system: "netsuite", id: "42" });
});
