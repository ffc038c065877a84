// Starts every vendor sandbox on fixed ports for `npm start` and the demo flows, and prints where they listen.
// Ports come from KEELSON_SANDBOX_<VENDOR>_PORT (defaults 4101…), the host from KEELSON_SANDBOX_HOST.
import { readFileSync } from "node:fs";
import type { RunningSandbox } from "./kernel";
import * as salesforce from "./salesforce";
import * as hubspot from "./hubspot";
import * as dataverse from "./dataverse";
import * as netsuite from "./netsuite";
import * as stripe from "./stripe";
import * as sap from "./sap";
import * as businessCentral from "./business-central";
import * as odoo from "./odoo";
import * as oracleFusion from "./oracle-fusion";
import * as acumatica from "./acumatica";
import * as dynamicsFo from "./dynamics-fo";
import * as genericRest from "./generic-rest";

const host = process.env.KEELSON_SANDBOX_HOST ?? "127.0.0.1";
const port = (vendor: string, fallback: number) => Number(process.env[`KEELSON_SANDBOX_${vendor.toUpperCase()}_PORT`] ?? fallback);
const file = (name: string) => (process.env[name] ? readFileSync(process.env[name]!, "utf8") : undefined);

export async function startAll(): Promise<RunningSandbox[]> {
  return Promise.all([
    salesforce.start({ host, port: port("salesforce", 4101), jwtCertificate: file("KEELSON_SANDBOX_SALESFORCE_JWT_CERT") }),
    hubspot.start({ host, port: port("hubspot", 4102) }),
    dataverse.start({ host, port: port("dataverse", 4103) }),
    netsuite.start({ host, port: port("netsuite", 4104), m2mCertificates: file("KEELSON_SANDBOX_NETSUITE_M2M_CERT") ? { [process.env.KEELSON_SANDBOX_NETSUITE_M2M_KID ?? "keelson-sandbox-cert"]: file("KEELSON_SANDBOX_NETSUITE_M2M_CERT")! } : undefined }),
    stripe.start({ host, port: port("stripe", 4105) }),
    sap.start({ host, port: port("sap", 4106) }),
    businessCentral.start({ host, port: port("business_central", 4107) }),
    odoo.start({ host, port: port("odoo", 4108) }),
    oracleFusion.start({ host, port: port("oracle_fusion", 4109) }),
    acumatica.start({ host, port: port("acumatica", 4110) }),
    dynamicsFo.start({ host, port: port("dynamics_fo", 4111) }),
    genericRest.start({ host, port: port("generic_rest", 4112) }),
  ]);
}

if (require.main === module) {
  startAll().then(
    (all) => {
      const defaults: Record<string, unknown> = { salesforce: salesforce.SALESFORCE_DEFAULTS, hubspot: hubspot.HUBSPOT_DEFAULTS, dataverse: dataverse.DATAVERSE_DEFAULTS, netsuite: netsuite.NETSUITE_DEFAULTS, stripe: stripe.STRIPE_DEFAULTS, sap: sap.SAP_DEFAULTS, "business-central": businessCentral.BUSINESS_CENTRAL_DEFAULTS, odoo: odoo.ODOO_DEFAULTS, "oracle-fusion": oracleFusion.ORACLE_FUSION_DEFAULTS, acumatica: acumatica.ACUMATICA_DEFAULTS, "dynamics-fo": dynamicsFo.DYNAMICS_FO_DEFAULTS, "generic-rest": genericRest.GENERIC_REST_DEFAULTS };
      for (const s of all) process.stdout.write(`sandbox ${s.vendor.padEnd(16)} ${s.url}  control ${s.url}/__sandbox  credentials ${JSON.stringify(defaults[s.vendor])}\n`);
      const stop = () => Promise.all(all.map((s) => s.close())).then(() => process.exit(0));
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    },
    (e: unknown) => {
      process.stderr.write(`sandboxes failed to start: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
