"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const jsonata = require("jsonata");
const { compileJsonata } = require("../../dist/nodes/lib/mapping/compiler/index.js");

const LIMITS = { timeoutMs: 1000, maxDepth: 500 };

async function both(expression, input, bindings, limits = LIMITS) {
  const compiled = compileJsonata(expression, limits);
  const oracle = jsonata(expression, { timeout: limits.timeoutMs, stack: limits.maxDepth });
  const settle = async (run) => {
    try {
      return { value: await run() };
    } catch (err) {
      return { error: err.code };
    }
  };
  return {
    compiled,
    got: await settle(() => compiled.evaluate(input, bindings)),
    want: await settle(() => oracle.evaluate(input, bindings)),
  };
}

const plain = (o) => ("error" in o ? o : { value: JSON.parse(JSON.stringify(o.value ?? null)) });

test("paths, filters, constructors and functions compile and agree with jsonata", async () => {
  const input = {
    Account: {
      Name: "Acme",
      Order: [
        { Id: "o1", Product: [{ SKU: "a", Price: 10, Qty: 2 }, { SKU: "b", Price: 2.5, Qty: 4 }] },
        { Id: "o2", Product: { SKU: "c", Price: 99.99, Qty: 1 } },
      ],
    },
  };
  const expressions = [
    "Account.Order.Product.SKU",
    "Account.Order[0].Product[Price > 5].SKU",
    "Account.Order.Product[]",
    "Account.Order#$i.{ 'n': $i, 'id': Id }",
    "Account.Order.Product^(>Price).SKU",
    "$sum(Account.Order.Product.(Price * Qty))",
    "Account.Order{ Id: $count(Product) }",
    "[1..5][$ % 2 = 0]",
    "$map(Account.Order.Product, function($p, $i) { $p.SKU & '#' & $i })",
    "$reduce([1,2,3,4], function($a, $b) { $a + $b }, 10)",
    "$filter(Account.Order.Product, function($p) { $p.Qty > 1 }).SKU",
    "$sort(Account.Order.Product, function($a, $b) { $a.Price < $b.Price }).SKU",
    "( $f := function($n) { $n <= 1 ? 1 : $n * $f($n - 1) }; $f(10) )",
    "$string(Account.Order.Product.Price) & ' ' & $uppercase(Account.Name)",
    "$formatNumber(1234.5, '#,##0.00') & $formatBase(255, 16) & $pad('x', 5, '-')",
    "$split('a,b,,c', ',') ~> $join('|')",
    "$replace('hello world', /o/, '0')",
    "$match('ab12cd345', /[0-9]+/).match",
    "$keys(Account) ~> $append(['x'])",
    "$merge([{'a': 1}, {'b': 2}]) ~> $each(function($v, $k) { $k & '=' & $v })",
    "$distinct([1, 2, 2, 3, 1])",
    "$zip([1,2,3], ['a','b','c'])",
    "$fromMillis($toMillis('2026-11-20T10:00:00Z'), '[Y0001]-[M01]-[D01]')",
    "'x' in ['a', 'x'] and $not(false) or $exists(nothing)",
    "Account.**.SKU",
    "Account.*.Id",
    "$single(Account.Order, function($o) { $o.Id = 'o2' }).Id",
    "$sift(Account, function($v, $k) { $k = 'Name' })",
    "$lookup(Account, 'Name') & $type(Account.Order)",
    "$.Account.Order[-1].Id",
    "$$.Account.Name",
    "( $firstn := $substring(?, 0, ?); $first3 := $firstn(?, 3); $first3(Account.Name) )",
    "( $add := function($x, $y) { $x + $y }; $map([1, 2], $add(?, 10)) )",
    "Account.Order#$i^(>Id).{ 'position': $i, 'id': Id }",
    "Account.Order^(>Id)#$i.{ 'position': $i, 'id': Id }",
  ];
  for (const expression of expressions) {
    const { compiled, got, want } = await both(expression, input);
    assert.equal(compiled.mode, "compiled", `${expression}: ${compiled.reason}`);
    assert.deepEqual(plain(got), plain(want), expression);
    assert.equal(compiled.fallbacks, 0, `${expression} fell back to the interpreter`);
  }
});

test("errors carry jsonata's code", async () => {
  for (const [expression, code] of [
    ["'a' + 1", "T2001"],
    ["$substring(1)", "T0411"],
    ["{ 'a': 1, 'a': 2 }", "D1009"],
    ["[1,2] < 3", "T2010"],
    ["$error('stop')", "D3137"],
    ["$undefinedFunction()", "T1006"],
  ]) {
    const { compiled, got, want } = await both(expression, {});
    assert.equal(compiled.mode, "compiled", expression);
    assert.equal(want.error, code, `jsonata's own code for ${expression}`);
    assert.equal(got.error, code, expression);
  }
});

test("constructs the compiler does not handle run in the interpreter, with the reason", async () => {
  for (const [expression, reason] of [
    ["$ ~> |a|{'b': 1}|", /transform/],
    ["a.b.%.c", /parent/],
    ["$eval('1 + 1')", /\$eval/],
  ]) {
    const { compiled, got, want } = await both(expression, { a: { b: { c: 1 } } });
    assert.equal(compiled.mode, "interpreted", expression);
    assert.match(compiled.reason, reason);
    assert.deepEqual(plain(got), plain(want), expression);
  }
});

test("syntax errors are jsonata's", () => {
  assert.throws(
    () => compileJsonata("Account.(", LIMITS),
    (err) => typeof err.code === "string" && err.code.startsWith("S0") && typeof err.position === "number",
  );
});

test("a long-running compiled loop stops with D1012 near its time limit", async () => {
  // ten billion lambda calls: without the limit this would run for hours
  const compiled = compileJsonata("$map([1..100000], function($x) { $sum($map([1..100000], function($y) { $x * $y })) })", {
    timeoutMs: 50,
    maxDepth: 500,
  });
  assert.equal(compiled.mode, "compiled");
  const start = Date.now();
  await assert.rejects(compiled.evaluate({}), (err) => err.code === "D1012" && err.value === 50);
  assert.ok(Date.now() - start < 2000, `took ${Date.now() - start} ms`);
});

test("runaway recursion stops with D1011, exactly where jsonata's depth limit puts it", async () => {
  const factorial = "( $f := function($n) { $n = 0 ? 1 : $n * $f($n - 1) }; $f(N) )";
  for (const n of [10, 99, 100, 2000]) {
    const { compiled, got, want } = await both(factorial.replace("N", String(n)), {}, undefined, { timeoutMs: 5000, maxDepth: 302 });
    assert.equal(compiled.mode, "compiled");
    assert.deepEqual(got, want, `factorial(${n})`);
  }
  const infinite = compileJsonata("( $inf := function() { 1 + $inf() }; $inf() )", { timeoutMs: 5000, maxDepth: 300 });
  await assert.rejects(infinite.evaluate({}), (err) => err.code === "D1011");
});

test("function bindings: synchronous ones run compiled, Promise-returning ones in the interpreter", async () => {
  const env = (name) => ({ REGION: "eu-west" })[name];
  const compiled = compileJsonata("{ 'region': $env('REGION'), 'missing': $env('NOPE'), 'name': name }", LIMITS);
  assert.deepEqual(JSON.parse(JSON.stringify(await compiled.evaluate({ name: "n" }, { env }))), { region: "eu-west", name: "n" });
  assert.equal(compiled.fallbacks, 0);

  const lookup = async (id) => `customer-${id}`;
  const asyncCall = compileJsonata("'id: ' & $lookup2(id)", LIMITS);
  assert.equal(await asyncCall.evaluate({ id: 7 }, { lookup2: lookup }), "id: customer-7");
  assert.equal(asyncCall.fallbacks, 1);

  // a binding named like a library function replaces it, as in jsonata
  const shadow = compileJsonata("$uppercase(name)", LIMITS);
  assert.equal(await shadow.evaluate({ name: "abc" }, { uppercase: () => "mine" }), "mine");
});
