import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import { isCurrency, minorUnitDigits } from "./currencies";
import common from "./schemas/v1/common.json";
import Customer from "./schemas/v1/Customer.json";
import Invoice from "./schemas/v1/Invoice.json";
import Payment from "./schemas/v1/Payment.json";
import Product from "./schemas/v1/Product.json";
import Quote from "./schemas/v1/Quote.json";
import SalesOrder from "./schemas/v1/SalesOrder.json";
import Shipment from "./schemas/v1/Shipment.json";

export const CANONICAL_TYPES = ["Customer", "Product", "Quote", "SalesOrder", "Invoice", "Payment", "Shipment"] as const;
export type CanonicalType = (typeof CANONICAL_TYPES)[number];

/** Schema versions that ship, newest last. A flow names the major version it was built against ("SalesOrder@1"). */
export const SCHEMA_VERSIONS = { 1: { Customer, Product, Quote, SalesOrder, Invoice, Payment, Shipment } } as const;
export const LATEST_VERSION = 1;

/** One violation of a canonical schema, with the path of the offending value written as Node-RED writes properties. */
export interface Violation {
  path: string;
  message: string;
  keyword: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: Violation[];
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const EMAIL = /^[^\s@"<>()[\],;:]+@[^\s@"<>()[\],;:]+\.[^\s@"<>()[\],;:]+$/;

function validDate(y: string, m: string, d: string): boolean {
  const year = Number(y);
  const month = Number(m);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1) return false;
  const days = [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return day <= (days[month - 1] as number);
}

function buildAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, messages: true });
  ajv.addFormat("date", { type: "string", validate: (s: string) => { const m = DATE.exec(s); return !!m && validDate(m[1]!, m[2]!, m[3]!); } });
  ajv.addFormat("date-time", {
    type: "string",
    validate: (s: string) => {
      const m = DATE_TIME.exec(s);
      return !!m && validDate(m[1]!, m[2]!, m[3]!) && Number(m[4]) < 24 && Number(m[5]) < 60 && Number(m[6]) < 61;
    },
  });
  ajv.addFormat("email", { type: "string", validate: (s: string) => s.length <= 254 && EMAIL.test(s) });
  ajv.addKeyword({
    keyword: "keelsonCurrency",
    type: "string",
    schemaType: "boolean",
    error: { message: "must be an ISO 4217 currency code" },
    validate: (on: boolean, data: string) => !on || isCurrency(data),
  });
  ajv.addKeyword({
    keyword: "keelsonMoney",
    type: "object",
    schemaType: "boolean",
    error: { message: "has more decimal places than its currency allows" },
    validate: (on: boolean, data: { amount?: unknown; currency?: unknown }) => {
      if (!on || typeof data.amount !== "string" || !isCurrency(data.currency)) return true; // other keywords report these
      const dot = data.amount.indexOf(".");
      return dot < 0 || data.amount.length - dot - 1 <= minorUnitDigits(data.currency);
    },
  });
  return ajv;
}

let ajv: Ajv2020 | undefined;
const validators = new Map<string, ValidateFunction>();

/** Parses "SalesOrder", "SalesOrder@1" or "SalesOrder@1.0.0" into a type and major version. */
export function parseSchemaName(name: string): { type: CanonicalType; version: number } {
  const m = /^([A-Za-z]+)(?:@(\d+)(?:\.\d+){0,2})?$/.exec(name.trim());
  const type = m?.[1] as CanonicalType | undefined;
  if (!m || !type || !CANONICAL_TYPES.includes(type)) {
    throw new Error(`unknown canonical type "${name}": expected one of ${CANONICAL_TYPES.join(", ")}, optionally with @version`);
  }
  const version = m[2] ? Number(m[2]) : LATEST_VERSION;
  if (!(version in SCHEMA_VERSIONS)) throw new Error(`canonical ${type} has no version ${version}`);
  return { type, version };
}

/** The compiled validator of a canonical type; each schema is compiled once per process. */
export function validatorFor(name: string): (data: unknown) => ValidationResult {
  const { type, version } = parseSchemaName(name);
  const key = `${type}@${version}`;
  let validate = validators.get(key);
  if (!validate) {
    if (!ajv) {
      ajv = buildAjv();
      ajv.addSchema(common);
      for (const t of CANONICAL_TYPES) ajv.addSchema(SCHEMA_VERSIONS[1][t]);
    }
    const schema = SCHEMA_VERSIONS[version as 1][type];
    validate = ajv.getSchema(schema.$id) as ValidateFunction;
    validators.set(key, validate);
  }
  const compiled = validate;
  return (data: unknown): ValidationResult => {
    if (compiled(data)) {
      const errors = currencyMismatches(data);
      return { valid: errors.length === 0, errors };
    }
    return { valid: false, errors: toViolations(compiled.errors ?? []) };
  };
}

/** The raw JSON Schema of a canonical type, for documentation and the editor. */
export function schemaOf(name: string): object {
  const { type, version } = parseSchemaName(name);
  return SCHEMA_VERSIONS[version as 1][type];
}

/**
 * ajv reports an unmet anyOf as the anyOf itself plus each failed branch; a person wants one line saying which
 * properties would satisfy it.
 */
function toViolations(raw: ErrorObject[]): Violation[] {
  const alternatives = new Map<string, string[]>();
  for (const e of raw) {
    const branch = /^(.*\/anyOf)\/\d+\/required$/.exec(e.schemaPath);
    if (!branch) continue;
    const key = `${e.instancePath}|${branch[1]}`;
    const list = alternatives.get(key) ?? [];
    list.push((e.params as { missingProperty: string }).missingProperty);
    alternatives.set(key, list);
  }
  return raw
    .filter((e) => !/\/anyOf\/\d+\//.test(e.schemaPath))
    .map((e) => {
      const v = toViolation(e);
      const names = e.keyword === "anyOf" ? alternatives.get(`${e.instancePath}|${e.schemaPath}`) : undefined;
      return names ? { ...v, message: `needs one of: ${names.join(", ")}` } : v;
    });
}

function toViolation(e: ErrorObject): Violation {
  let path = pointerToPath(e.instancePath);
  let message = e.message ?? e.keyword;
  switch (e.keyword) {
    case "required": {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      path = appendProperty(path, missing);
      message = "is required";
      break;
    }
    case "additionalProperties": {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      path = appendProperty(path, extra);
      message = "is not a property of this object";
      break;
    }
    case "enum":
      message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
      break;
  }
  return { path: path || "(root)", message, keyword: e.keyword };
}

function pointerToPath(pointer: string): string {
  if (!pointer) return "";
  let path = "";
  for (const raw of pointer.split("/").slice(1)) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    path = /^\d+$/.test(segment) ? `${path}[${segment}]` : appendProperty(path, segment);
  }
  return path;
}

function appendProperty(path: string, name: string): string {
  if (/^[A-Za-z_$][\w$]*$/.test(name)) return path ? `${path}.${name}` : name;
  return `${path}[${JSON.stringify(name)}]`;
}

/** A quick look, without building paths, for an amount in another currency: the common answer is no. */
function hasForeignAmount(value: unknown, currency: string, top: boolean): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (hasForeignAmount(item, currency, false)) return true;
    return false;
  }
  const obj = value as Record<string, unknown>;
  // Over-approximates the walk below (which also asks for exactly these two keys): it only decides whether to run it.
  if (!top && typeof obj.amount === "string" && typeof obj.currency === "string" && obj.currency !== currency) return true;
  for (const k in obj) {
    if (k === "extensions" || (top && k === "account")) continue;
    if (hasForeignAmount(obj[k], currency, false)) return true;
  }
  return false;
}

/**
 * Every amount in a document must be in the document's currency: a USD order with a EUR line is a mapping
 * mistake the schema alone cannot see.
 */
function currencyMismatches(data: unknown): Violation[] {
  if (typeof data !== "object" || data === null) return [];
  const currency = (data as { currency?: unknown }).currency;
  if (typeof currency !== "string" || !hasForeignAmount(data, currency, true)) return [];
  const out: Violation[] = [];
  const walk = (value: unknown, path: string, top: boolean): void => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, `${path}[${i}]`, false));
      return;
    }
    if (typeof value !== "object" || value === null) return;
    const obj = value as Record<string, unknown>;
    if (!top && typeof obj.amount === "string" && typeof obj.currency === "string" && Object.keys(obj).length === 2) {
      if (obj.currency !== currency) out.push({ path: `${path}.currency`, message: `must be ${currency}, the document's currency`, keyword: "keelsonSameCurrency" });
      return;
    }
    for (const [k, v] of Object.entries(obj)) {
      if (k === "extensions" || (top && k === "account")) continue;
      walk(v, appendProperty(path, k), false);
    }
  };
  walk(data, "", true);
  return out;
}
