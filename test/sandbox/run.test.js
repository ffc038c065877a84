"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");

test("startAll starts every sandbox on the configured ports; each answers its control endpoint", async () => {
  for (const v of ["SALESFORCE", "HUBSPOT", "DATAVERSE", "NETSUITE", "STRIPE", "SAP", "BUSINESS_CENTRAL", "ODOO", "ORACLE_FUSION", "ACUMATICA", "DYNAMICS_FO", "GENERIC_REST"]) process.env[`KEELSON_SANDBOX_${v}_PORT`] = "0";
  const { startAll } = require("../../dist/sandbox/run.js");
  const all = await startAll();
  try {
    assert.deepEqual(all.map((s) => s.vendor), ["salesforce", "hubspot", "dataverse", "netsuite", "stripe", "sap", "business-central", "odoo", "oracle-fusion", "acumatica", "dynamics-fo", "generic-rest"]);
    for (const s of all) {
      const r = await fetch(`${s.url}/__sandbox`);
      assert.equal(r.status, 200);
      assert.equal((await r.json()).vendor, s.vendor);
    }
  } finally {
    await Promise.all(all.map((s) => s.close()));
  }
});
