"use strict";
// flows/erp-example.json as shipped, against the NetSuite sandbox, configured by environment variables only.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { helper, waitFor } = require("../support/helper");
const support = require("./support");

const nodes = ["store", "gate", "dlq", "erp-connection", "erp-order", "erp-invoice"].map((n) => require(`../../dist/nodes/${n}/${n}.js`));

test("the example flow creates the order once, with the customer ensured, from environment variables alone", async () => {
  const { sb, defaults } = await support.SYSTEMS.netsuite.start();
  const saved = { ...process.env };
  Object.assign(process.env, {
    ERP_SYSTEM: "netsuite", ERP_BASE_URL: sb.url, ERP_ACCOUNT_ID: defaults.accountId, ERP_CLIENT_ID: defaults.clientId,
    ERP_CERTIFICATE_ID: "cert-1", ERP_PRIVATE_KEY: support.PRIVATE_KEY, ERP_ORDER_DEFAULTS: '{"subsidiary":"1"}', KEELSON_STORE: "memory",
  });
  await helper.startServer();
  try {
    const flow = JSON.parse(fs.readFileSync(path.join(__dirname, "../../flows/erp-example.json"), "utf8"));
    // Items named by SKU in the example are the SAP sandbox's; NetSuite knows them by these external ids.
    await support.control.seed(sb.url, "inventoryItem", [{ itemId: "TG11", basePrice: 12.5, externalId: "TG11" }, { itemId: "TG12", basePrice: 7.25, externalId: "TG12" }]);
    const inject = flow.find((n) => n.name === "won opportunity");
    const entry = inject.wires[0][0];
    // Core inject, debug and comment nodes are not part of the test runtime: helper nodes stand in for them.
    for (const n of flow) if (["inject", "debug", "comment"].includes(n.type)) Object.assign(n, { type: "helper", wires: [] });
    // The test helper registers the core catch node once per catch node it meets: keep only the order's.
    flow.splice(flow.findIndex((n) => n.name === "invoice node failed"), 1);
    const sink = flow.find((n) => n.name === "order accepted").id;
    await helper.load(nodes, flow);
    const got = [];
    helper.getNode(sink).on("input", (m) => got.push(m));
    helper.getNode(entry).receive({ payload: JSON.parse(inject.payload), customer: JSON.parse(inject.props[1].v) });
    await waitFor(() => got.length === 1, 8000, "the accepted order");
    assert.ok(got[0].payload.refs.some((r) => r.system === "netsuite"));
    assert.ok(got[0].customer.refs.some((r) => r.system === "netsuite"));
    helper.getNode(entry).receive({ payload: JSON.parse(inject.payload), customer: JSON.parse(inject.props[1].v) });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(got.length, 1, "the gate stops the duplicate");
    assert.equal((await support.ordersWith("netsuite", sb.url, "SF-006Dn00000Q2CDemo")).length, 1);
  } finally {
    await helper.unload();
    await helper.stopServer();
    await sb.close();
    process.env = saved;
  }
});
