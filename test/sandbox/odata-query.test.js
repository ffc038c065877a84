"use strict";
// The OData query-option parser the Business Central and Dataverse sandboxes share: options parsed and checked
// against the entity set, nested $expand options, and each refusal in the vendor's own envelope.
const test = require("node:test");
const assert = require("node:assert/strict");
const { parseQueryOptions, splitOutsideParentheses } = require("../../dist/sandbox/odata-filter.js");

class Refusal extends Error {
  constructor(kind, text) {
    super(`${kind}: ${text}`);
    this.kind = kind;
  }
}
const SETS = {
  orders: { fields: ["id", "number", "total", "customerId"], nav: { lines: "lines", customer: "customers" } },
  lines: { fields: ["id", "sku", "quantity"], nav: {} },
  customers: { fields: ["id", "name"], nav: {} },
};
const model = (paging = ["$top", "$skip"]) => ({
  hasField: (set, field) => SETS[set].fields.includes(field),
  navigationTarget: (set, nav) => SETS[set].nav[nav],
  noProperty: (set, name) => new Refusal("noProperty", `${set}.${name}`),
  badRequest: (message) => new Refusal("badRequest", message),
  paging,
});
const parse = (query, paging) => {
  const params = new URLSearchParams(query);
  return parseQueryOptions("orders", (name) => params.get(name), model(paging));
};
const refusal = (query, paging) => {
  try {
    parse(query, paging);
  } catch (err) {
    assert.ok(err instanceof Refusal, String(err));
    return err.message;
  }
  assert.fail(`${query} was accepted`);
};

test("parses $select, $filter, $orderby, $top, $skip and nested $expand options", () => {
  const o = parse("$select=id, number&$filter=total gt 10 and customerId eq 'C-1'&$orderby=number desc,id&$top=5&$skip=10&$expand=lines($select=sku;$filter=quantity ge 2;$top=1),customer");
  assert.deepEqual(o.select, ["id", "number"]);
  assert.equal(o.filter.op, "and");
  assert.deepEqual(o.orderby, [{ field: "number", desc: true }, { field: "id", desc: false }]);
  assert.deepEqual([o.top, o.skip], [5, 10]);
  assert.deepEqual(o.expand.map((e) => e.nav), ["lines", "customer"]);
  assert.deepEqual(o.expand[0].options.select, ["sku"]);
  assert.deepEqual(o.expand[0].options.filter, { op: "cmp", field: "quantity", cmp: "ge", value: 2 });
  assert.equal(o.expand[0].options.top, 1);
  assert.deepEqual(o.expand[1].options, {});
  assert.deepEqual(parse(""), {});
});

test("an unknown property anywhere is refused by name, checked against the set it belongs to", () => {
  assert.equal(refusal("$select=id,nope"), "noProperty: orders.nope");
  assert.equal(refusal("$filter=nope eq 1"), "noProperty: orders.nope");
  assert.equal(refusal("$orderby=nope desc"), "noProperty: orders.nope");
  assert.equal(refusal("$expand=nowhere"), "noProperty: orders.nowhere");
  assert.equal(refusal("$expand=lines($select=total)"), "noProperty: lines.total");
});

test("a bad $filter or paging value is a bad request; paging options the service lacks are ignored", () => {
  assert.match(refusal("$filter=total gt"), /^badRequest: /);
  assert.equal(refusal("$top=ten"), "badRequest: Invalid value 'ten' for $top query option found.");
  assert.equal(refusal("$skip=-1"), "badRequest: Invalid value '-1' for $skip query option found.");
  assert.deepEqual(parse("$top=3&$skip=oops", ["$top"]), { top: 3 });
});

test("splits only outside parentheses", () => {
  assert.deepEqual(splitOutsideParentheses("a($select=x,y),b , c(d(e,f))", ","), ["a($select=x,y)", "b", "c(d(e,f))"]);
  assert.deepEqual(splitOutsideParentheses("$select=a;$filter=contains(name,'x;y')", ";"), ["$select=a", "$filter=contains(name,'x;y')"]);
  assert.deepEqual(splitOutsideParentheses("", ","), []);
});
