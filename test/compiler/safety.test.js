"use strict";
// The generated code must be built from the AST only (the expression's text never becomes code), must not reach
// the process or its globals, and must not let an expression touch an object's prototype.
const test = require("node:test");
const assert = require("node:assert/strict");
const jsonata = require("jsonata");
const { compileJsonata } = require("../../dist/nodes/lib/mapping/compiler/index.js");
const { Mapping } = require("../../dist/nodes/lib/mapping/mapping.js");

const LIMITS = { timeoutMs: 1000, maxDepth: 500 };

test("strings, names, numbers and regexes of the expression never appear in the generated source", () => {
  const expression = `(
    $evil := "\\"); globalThis.pwned = 1; (\\"";
    {
      "key\\"]: process.exit(1), [\\"": \`field with spaces\`.\`process.exit\`,
      "n": 987654321.125 + 123456789,
      "re": $match("abc", /ab(?=c)pwn3d/i),
      "s": $evil & 'tail-marker-xyz'
    }
  )`;
  const compiled = compileJsonata(expression, LIMITS);
  assert.equal(compiled.mode, "compiled", compiled.reason);
  for (const text of ["pwned", "process.exit", "field with spaces", "987654321", "123456789", "pwn3d", "tail-marker-xyz", "evil"]) {
    assert.ok(!compiled.source.includes(text), `generated source contains ${JSON.stringify(text)}`);
  }
});

test("the generated function shadows the globals and runs in strict mode", () => {
  const { source } = compileJsonata("a.b", LIMITS);
  assert.match(source, /^"use strict";/);
  for (const name of ["globalThis", "process", "require", "Function", "Reflect", "Buffer"]) {
    assert.match(source, new RegExp(`\\b${name} = undefined`), `${name} is not shadowed`);
  }
});

test("expressions cannot reach the process, require, globalThis or Function through constructors", async () => {
  const attempts = [
    "$process",
    "$require",
    "$globalThis",
    "$Function",
    "$string.constructor",
    "$string.implementation",
    "$lookup($string, 'implementation')",
    "(function() { 1 }).constructor",
    "$$.constructor",
    "$.__proto__",
    "$$.constructor.constructor('globalThis.pwned = 1')()",
    "$string.implementation.constructor('globalThis.pwned = 1')()",
    "($f := function() { 1 }; $f.constructor('globalThis.pwned = 1')())",
    "$each($string, function($v, $k) { $v })",
    "$keys($string)",
  ];
  for (const expression of attempts) {
    const compiled = compileJsonata(expression, LIMITS);
    assert.equal(compiled.mode, "compiled", `${expression}: ${compiled.reason}`);
    let value;
    let error;
    try {
      value = await compiled.evaluate({ a: 1 });
    } catch (err) {
      error = err;
    }
    let expected;
    let expectedError;
    try {
      expected = await jsonata(expression).evaluate({ a: 1 });
    } catch (err) {
      expectedError = err;
    }
    assert.equal(error && error.code, expectedError && expectedError.code, expression);
    assert.ok(typeof value !== "function" && (value === undefined || typeof value !== "object" || Array.isArray(value)), `${expression} gave ${String(value)}`);
    assert.deepEqual(value, expected, expression);
    assert.equal(globalThis.pwned, undefined, `${expression} ran code`);
  }
});

test("__proto__, constructor and prototype keys stay plain own keys of the objects built", async () => {
  const cases = [
    ['{ "__proto__": { "polluted": true } }', {}],
    ['{ "constructor": { "prototype": { "polluted": true } } }', {}],
    ["{ k: v }", { k: "__proto__", v: { polluted: true } }],
    ["items{ key: value }", { items: [{ key: "__proto__", value: { polluted: true } }, { key: "prototype", value: 1 }] }],
    ['$merge([{ "a": 1 }, $])', JSON.parse('{"__proto__": {"polluted": true}}')],
  ];
  for (const [expression, input] of cases) {
    const compiled = compileJsonata(expression, LIMITS);
    assert.equal(compiled.mode, "compiled", `${expression}: ${compiled.reason}`);
    const result = await compiled.evaluate(input);
    assert.equal({}.polluted, undefined, `${expression} polluted Object.prototype`);
    if (!expression.startsWith("$merge")) {
      // built by the generated code: an own key, the prototype untouched
      assert.equal(Object.getPrototypeOf(result), Object.prototype, expression);
      assert.equal(result.polluted, undefined, expression);
    }
    const mapped = await Mapping.compile(expression).evaluate(input);
    for (const key of ["__proto__", "constructor", "prototype"]) {
      assert.ok(!Object.prototype.hasOwnProperty.call(mapped, key), `${expression}: the mapper kept ${key}`);
    }
    assert.equal(mapped.polluted, undefined, `${expression}: the mapper's result inherits a polluted prototype`);
  }
});
