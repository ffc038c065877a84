// Odoo external API sandbox, written from erp-crm-wire.md §7 (not from Keelson's adapter).
// Models both transports: Odoo 19's JSON-2 (`POST /json/2/{model}/{method}`, bearer API key, named arguments,
// real 4xx/5xx with `{name,message,arguments,context,debug}`) and the legacy JSON-RPC (`POST /jsonrpc` with the
// common / object / db services, errors as HTTP 200 with `{error:{code:200,message:"Odoo Server Error",data}}`),
// plus the web-client session (`/web/session/authenticate`, `/web/dataset/call_kw`) whose expiry is code 100.
// Models: res.partner, product.product, sale.order (+ sale.order.line via order_line commands, action_confirm),
// account.move (out_invoice, invoice_line_ids, action_post); create / write / read / unlink / search /
// search_read / search_count / fields_get with domains, offset paging and order. Customer payments: the Register
// Payment wizard (account.payment.register, created with context active_model / active_ids, then
// action_create_payments), the account.payment it creates (Odoo 18+ fields: memo, invoice_ids, state in_process /
// paid) and its effect on the invoice (amount_residual, payment_state), account.journal, res.currency rates.
import { randomBytes } from "node:crypto";
import { SlidingWindow, bearer, serve, type Kernel, type Reply, type Route, type RunningSandbox, type SandboxRequest, type StartOptions, type StoredRecord } from "./kernel";

export const ODOO_LIMITS = {
  /** THIN: Odoo itself has no documented rate limit; 0 = off. Set it to model a hosting proxy's 429. */
  requestsPerMinute: 0,
  /** API keys live at most three months. */
  apiKeyLifetimeSeconds: 90 * 24 * 3600,
  /** [~] web-client session lifetime (a week). */
  sessionLifetimeSeconds: 7 * 24 * 3600,
};

/** Credentials the sandbox accepts unless start() is given others. */
export const ODOO_DEFAULTS = { database: "keelson", login: "admin", password: "admin", apiKey: "keelson-sandbox-odoo-apikey", uid: 2 };

export interface OdooOptions extends StartOptions {
  database?: string;
  login?: string;
  password?: string;
  apiKey?: string;
  seed?: boolean;
  /**
   * The Odoo release to behave as: 19 (default) or 18, or 17, which has no JSON-2 (404) and the older
   * account.payment fields (ref for the memo, reconciled_invoice_ids, states draft / posted / cancel). [~]
   */
  serverVersion?: 17 | 18 | 19;
}

/** An Odoo exception: its Python name, message and the HTTP status JSON-2 answers it with. */
class OdooError extends Error {
  constructor(readonly pythonName: string, message: string, readonly status = 422) {
    super(message);
  }
}
const userError = (message: string) => new OdooError("odoo.exceptions.UserError", message);
const validationError = (message: string) => new OdooError("odoo.exceptions.ValidationError", message);
const valueError = (message: string) => new OdooError("builtins.ValueError", message);
// [~] account.payment's SQL constraint check_amount_not_negative, as Odoo 16+ reports a constraint violation.
const negativePayment = () => validationError("The operation cannot be completed: The payment amount cannot be negative.");

type FieldType = "char" | "text" | "boolean" | "integer" | "float" | "monetary" | "date" | "datetime" | "selection" | "many2one" | "one2many" | "many2many";
interface Field {
  type: FieldType;
  string: string;
  required?: boolean;
  readonly?: boolean;
  relation?: string;
  /** one2many: the inverse many2one on the relation. */
  inverse?: string;
  selection?: string[];
}
interface Model {
  description: string;
  order: string;
  /** The field read as the record's display name. */
  recName: string;
  fields: Record<string, Field>;
}

const f = (type: FieldType, string: string, extra: Partial<Field> = {}): Field => ({ type, string, ...extra });
const COMMON = { id: f("integer", "ID", { readonly: true }), display_name: f("char", "Display Name", { readonly: true }), create_date: f("datetime", "Created on", { readonly: true }), write_date: f("datetime", "Last Updated on", { readonly: true }) };

const MODELS: Record<string, Model> = {
  "res.partner": {
    description: "Contact",
    order: "name, id desc",
    recName: "name",
    fields: { ...COMMON, name: f("char", "Name"), is_company: f("boolean", "Is a Company"), email: f("char", "Email"), phone: f("char", "Phone"), street: f("char", "Street"), city: f("char", "City"), zip: f("char", "Zip"), country_code: f("char", "Country Code"), ref: f("char", "Reference"), vat: f("char", "Tax ID"), customer_rank: f("integer", "Customer Rank"), parent_id: f("many2one", "Related Company", { relation: "res.partner" }), active: f("boolean", "Active") },
  },
  "product.product": {
    description: "Product Variant",
    order: "default_code, name, id",
    recName: "name",
    fields: { ...COMMON, name: f("char", "Name", { required: true }), default_code: f("char", "Internal Reference"), list_price: f("float", "Sales Price"), type: f("selection", "Product Type", { selection: ["consu", "service", "combo"] }), active: f("boolean", "Active") },
  },
  "sale.order": {
    description: "Sales Order",
    order: "date_order desc, id desc",
    recName: "name",
    fields: { ...COMMON, name: f("char", "Order Reference", { readonly: true }), partner_id: f("many2one", "Customer", { relation: "res.partner", required: true }), client_order_ref: f("char", "Customer Reference"), origin: f("char", "Source Document"), date_order: f("datetime", "Order Date"), validity_date: f("date", "Expiration"), note: f("text", "Terms and conditions"), state: f("selection", "Status", { readonly: true, selection: ["draft", "sent", "sale", "cancel"] }), order_line: f("one2many", "Order Lines", { relation: "sale.order.line", inverse: "order_id" }), currency_id: f("many2one", "Currency", { relation: "res.currency", readonly: true }), amount_untaxed: f("monetary", "Untaxed Amount", { readonly: true }), amount_tax: f("monetary", "Taxes", { readonly: true }), amount_total: f("monetary", "Total", { readonly: true }), invoice_status: f("selection", "Invoice Status", { readonly: true, selection: ["upselling", "invoiced", "to invoice", "no"] }) },
  },
  "sale.order.line": {
    description: "Sales Order Line",
    order: "order_id, sequence, id",
    recName: "name",
    fields: { ...COMMON, order_id: f("many2one", "Order Reference", { relation: "sale.order", required: true }), sequence: f("integer", "Sequence"), product_id: f("many2one", "Product", { relation: "product.product" }), name: f("text", "Description"), product_uom_qty: f("float", "Quantity"), price_unit: f("float", "Unit Price"), discount: f("float", "Discount (%)"), price_subtotal: f("monetary", "Subtotal", { readonly: true }), price_total: f("monetary", "Total", { readonly: true }), qty_invoiced: f("float", "Invoiced Quantity", { readonly: true }) },
  },
  "account.move": {
    description: "Journal Entry",
    order: "date desc, name desc, id desc",
    recName: "name",
    fields: { ...COMMON, name: f("char", "Number", { readonly: true }), move_type: f("selection", "Type", { selection: ["entry", "out_invoice", "out_refund", "in_invoice", "in_refund"] }), partner_id: f("many2one", "Partner", { relation: "res.partner" }), ref: f("char", "Reference"), invoice_origin: f("char", "Origin"), date: f("date", "Date"), invoice_date: f("date", "Invoice/Bill Date"), invoice_date_due: f("date", "Due Date"), state: f("selection", "Status", { readonly: true, selection: ["draft", "posted", "cancel"] }), payment_state: f("selection", "Payment Status", { readonly: true, selection: ["not_paid", "in_payment", "paid", "partial", "reversed"] }), invoice_line_ids: f("one2many", "Invoice lines", { relation: "account.move.line", inverse: "move_id" }), currency_id: f("many2one", "Currency", { relation: "res.currency" }), amount_untaxed: f("monetary", "Untaxed Amount", { readonly: true }), amount_tax: f("monetary", "Tax", { readonly: true }), amount_total: f("monetary", "Total", { readonly: true }), amount_residual: f("monetary", "Amount Due", { readonly: true }), matched_payment_ids: f("many2many", "Matched Payments", { relation: "account.payment", readonly: true }) },
  },
  "account.move.line": {
    description: "Journal Item",
    order: "move_id, sequence, id",
    recName: "name",
    fields: { ...COMMON, move_id: f("many2one", "Journal Entry", { relation: "account.move", required: true }), sequence: f("integer", "Sequence"), product_id: f("many2one", "Product", { relation: "product.product" }), name: f("char", "Label"), quantity: f("float", "Quantity"), price_unit: f("float", "Unit Price"), discount: f("float", "Discount (%)"), price_subtotal: f("monetary", "Subtotal", { readonly: true }), price_total: f("monetary", "Total", { readonly: true }) },
  },
  "res.currency": {
    description: "Currency",
    order: "name",
    recName: "name",
    // rate: units of this currency for one unit of the company currency (EUR), as res.currency reads it.
    fields: { ...COMMON, name: f("char", "Currency", { required: true }), symbol: f("char", "Symbol"), rate: f("float", "Current Rate"), active: f("boolean", "Active") },
  },
  "account.journal": {
    description: "Journal",
    order: "sequence, type, code",
    recName: "name",
    fields: { ...COMMON, name: f("char", "Journal Name", { required: true }), code: f("char", "Short Code", { required: true }), type: f("selection", "Type", { required: true, selection: ["sale", "purchase", "cash", "bank", "credit", "general"] }), sequence: f("integer", "Sequence"), currency_id: f("many2one", "Currency", { relation: "res.currency" }), active: f("boolean", "Active") },
  },
  "account.payment": {
    description: "Payments",
    order: "date desc, name desc",
    recName: "name",
    // Odoo 18+: the memo (17: ref), invoice_ids, and states in_process / paid (17: posted). [~]
    fields: { ...COMMON, name: f("char", "Number", { readonly: true }), payment_type: f("selection", "Payment Type", { required: true, selection: ["outbound", "inbound"] }), partner_type: f("selection", "Partner Type", { selection: ["customer", "supplier"] }), partner_id: f("many2one", "Customer/Vendor", { relation: "res.partner" }), amount: f("monetary", "Amount"), currency_id: f("many2one", "Currency", { relation: "res.currency" }), date: f("date", "Date"), journal_id: f("many2one", "Journal", { relation: "account.journal", required: true }), memo: f("char", "Memo"), state: f("selection", "Status", { readonly: true, selection: ["draft", "in_process", "paid", "canceled", "rejected"] }), invoice_ids: f("many2many", "Invoices", { relation: "account.move", readonly: true }), reconciled_invoice_ids: f("many2many", "Reconciled Invoices", { relation: "account.move", readonly: true }) },
  },
  "account.payment.register": {
    description: "Register Payment",
    order: "id",
    recName: "communication",
    // THIN: payment_method_line_id is a bare id (account.payment.method.line is not modelled); line_ids neither.
    fields: { ...COMMON, payment_date: f("date", "Payment Date"), amount: f("monetary", "Amount"), communication: f("char", "Memo"), journal_id: f("many2one", "Journal", { relation: "account.journal" }), currency_id: f("many2one", "Currency", { relation: "res.currency" }), payment_method_line_id: f("integer", "Payment Method"), payment_difference_handling: f("selection", "Payment Difference Handling", { selection: ["open", "reconcile"] }), payment_type: f("selection", "Payment Type", { readonly: true, selection: ["outbound", "inbound"] }), partner_type: f("selection", "Partner Type", { readonly: true, selection: ["customer", "supplier"] }), partner_id: f("many2one", "Customer/Vendor", { relation: "res.partner", readonly: true }), source_amount_currency: f("monetary", "Amount to Pay (foreign currency)", { readonly: true }), source_currency_id: f("many2one", "Source Currency", { relation: "res.currency", readonly: true }) },
  },
};

/** account.payment up to Odoo 17: the memo is `ref`, the paid invoices are read from the reconciliation. [~] */
const PAYMENT_17: Model = {
  ...MODELS["account.payment"]!,
  fields: Object.fromEntries(
    Object.entries({ ...MODELS["account.payment"]!.fields, ref: f("char", "Memo"), state: f("selection", "Status", { readonly: true, selection: ["draft", "posted", "cancel"] }) }).filter(([name]) => name !== "memo" && name !== "invoice_ids"),
  ),
};

/** Positional argument names per method, for execute_kw's args list. */
const SIGNATURES: Record<string, string[]> = {
  create: ["vals_list"],
  write: ["ids", "vals"],
  read: ["ids", "fields"],
  unlink: ["ids"],
  search: ["domain", "offset", "limit", "order"],
  search_read: ["domain", "fields", "offset", "limit", "order"],
  search_count: ["domain", "limit"],
  fields_get: ["allfields", "attributes"],
  action_confirm: ["ids"],
  action_cancel: ["ids"],
  action_post: ["ids"],
  action_create_payments: ["ids"],
};
/** Methods that run on records: their first positional argument (or JSON-2 "ids") is the record ids. */
const ON_RECORDS = new Set(["write", "read", "unlink", "action_confirm", "action_cancel", "action_post", "action_create_payments"]);
const MODEL_METHODS: Record<string, string[]> = { "sale.order": ["action_confirm", "action_cancel"], "account.move": ["action_post"], "account.payment": ["action_post"], "account.payment.register": ["action_create_payments"] };

const round2 = (x: number) => Math.round(x * 100) / 100;
const odooNow = () => new Date().toISOString().replace("T", " ").slice(0, 19);
const traceback = (name: string, message: string) => `Traceback (most recent call last):\n  File "/opt/odoo/odoo/http.py", line 2100, in _serve_db\n    return service_model.retrying(self._serve_ir_http, self.env)\n${name}: ${message}\n`;

export async function start(options: OdooOptions = {}): Promise<RunningSandbox> {
  const database = options.database ?? ODOO_DEFAULTS.database;
  const login = options.login ?? ODOO_DEFAULTS.login;
  const password = options.password ?? ODOO_DEFAULTS.password;
  const apiKey = options.apiKey ?? ODOO_DEFAULTS.apiKey;
  const uid = ODOO_DEFAULTS.uid;
  const version = options.serverVersion ?? 19;
  const models: Record<string, Model> = version >= 18 ? MODELS : { ...MODELS, "account.payment": PAYMENT_17 };
  /** account.payment's memo field and its states on this release. */
  const paymentFields = version >= 18 ? { memo: "memo", waiting: "in_process", done: "paid" } : { memo: "ref", waiting: "posted", done: "posted" };

  return serve(ODOO_LIMITS, options, (k: Kernel) => {
    const nextId: Record<string, number> = {};
    const sequences = { order: 0, invoice: 0, payment: 0 };
    const minute = new SlidingWindow(() => 60_000);

    const model = (name: string): Model => {
      const m = models[name];
      if (!m) throw userError(`Object ${name} doesn't exist`); // [~] odoo.service.model wording
      return m;
    };
    const get = (name: string, id: number): StoredRecord | undefined => k.store.get(name, String(id));
    const browse = (name: string, ids: unknown): StoredRecord[] => {
      const list = typeof ids === "number" ? [ids] : ids;
      if (!Array.isArray(list) || !list.every((i) => Number.isInteger(i))) throw new OdooError("builtins.TypeError", `ids must be a list of integers, got ${JSON.stringify(ids)}`); // [~]
      return (list as number[]).map((id) => {
        const r = get(name, id);
        if (!r) throw new OdooError("odoo.exceptions.MissingError", `Record does not exist or has been deleted.\n(Record: ${name}(${id},), User: ${uid})`, 404);
        return r;
      });
    };

    // ---- writing ----------------------------------------------------------------------------------------------

    const checkValue = (m: string, name: string, spec: Field, value: unknown): unknown => {
      if (value === false || value === null) return false;
      switch (spec.type) {
        case "boolean":
          return Boolean(value);
        case "integer":
        case "float":
        case "monetary":
          if (typeof value !== "number") throw valueError(`Wrong value for ${m}.${name}: ${JSON.stringify(value)}`); // [~]
          return spec.type === "integer" ? Math.trunc(value) : value;
        case "selection":
          if (!spec.selection!.includes(value as string)) throw valueError(`Wrong value for ${m}.${name}: '${value}'`);
          return value;
        case "many2one": {
          if (!Number.isInteger(value)) throw valueError(`Wrong value for ${m}.${name}: ${JSON.stringify(value)}`);
          if (!get(spec.relation!, value as number)) throw new OdooError("odoo.exceptions.MissingError", `Record does not exist or has been deleted.\n(Record: ${spec.relation}(${value},), User: ${uid})`, 404);
          return value;
        }
        case "date":
          if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw valueError(`time data '${value}' does not match format '%Y-%m-%d'`);
          return value;
        case "datetime":
          if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$/.test(value)) throw valueError(`time data '${value}' does not match format '%Y-%m-%d %H:%M:%S'`);
          return value.length === 10 ? `${value} 00:00:00` : value;
        default:
          if (typeof value !== "string") throw valueError(`Wrong value for ${m}.${name}: ${JSON.stringify(value)}`);
          return value;
      }
    };

    /** Splits vals into plain field values and x2many commands, refusing unknown fields. */
    const parseVals = (m: string, vals: unknown): { values: Record<string, unknown>; commands: { field: string; list: unknown[] }[] } => {
      if (!vals || typeof vals !== "object" || Array.isArray(vals)) throw new OdooError("builtins.TypeError", `vals must be a dict, got ${JSON.stringify(vals)}`); // [~]
      const def = model(m);
      const values: Record<string, unknown> = {};
      const commands: { field: string; list: unknown[] }[] = [];
      for (const [name, value] of Object.entries(vals as Record<string, unknown>)) {
        const spec = def.fields[name];
        if (!spec) throw valueError(`Invalid field '${name}' on model '${m}'`);
        if (spec.type === "one2many") {
          if (!Array.isArray(value)) throw valueError(`Wrong value for ${m}.${name}: ${JSON.stringify(value)}`);
          commands.push({ field: name, list: value });
          continue;
        }
        // Odoo silently ignores writes to computed read-only fields.
        if (spec.readonly) continue;
        values[name] = checkValue(m, name, spec, value);
      }
      return { values, commands };
    };

    const displayName = (m: string, r: StoredRecord) => (r[model(m).recName] as string | false) || `${m},${r.id}`;

    const insert = (m: string, values: Record<string, unknown>, seed = false): StoredRecord => {
      const def = model(m);
      const id = (nextId[m] = (nextId[m] ?? 0) + 1);
      const r: StoredRecord = {};
      for (const [name, spec] of Object.entries(def.fields)) r[name] = spec.type === "one2many" || spec.type === "many2many" ? [] : spec.type === "boolean" ? false : spec.type === "integer" || spec.type === "float" || spec.type === "monetary" ? 0 : false;
      if (def.fields.active) r.active = true;
      Object.assign(r, values, { id, create_date: odooNow(), write_date: odooNow() });
      for (const [name, spec] of Object.entries(def.fields))
        if (spec.required && (r[name] === false || r[name] === "")) {
          // [~] the NOT NULL violation as Odoo 16+ reports it.
          throw validationError(`The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: ${def.description} (${m})\nField: ${spec.string} (${name})`);
        }
      r.display_name = displayName(m, r);
      return k.store.insert(m, String(id), r, { seed });
    };

    const touch = (m: string, r: StoredRecord) => {
      r.write_date = odooNow();
      r.display_name = displayName(m, r);
    };

    const priceLine = (l: StoredRecord, qtyField: string) => {
      l.price_subtotal = round2((l[qtyField] as number) * (l.price_unit as number) * (1 - (l.discount as number) / 100));
      l.price_total = l.price_subtotal; // no taxes in the sandbox
    };

    const LINES: Record<string, { lineModel: string; field: string; parent: string; qty: string }> = {
      "sale.order": { lineModel: "sale.order.line", field: "order_line", parent: "order_id", qty: "product_uom_qty" },
      "account.move": { lineModel: "account.move.line", field: "invoice_line_ids", parent: "move_id", qty: "quantity" },
    };

    const recompute = (m: string, r: StoredRecord) => {
      const spec = LINES[m];
      if (!spec) return;
      const lines = k.store.all(spec.lineModel).filter((l) => l[spec.parent] === r.id);
      r[spec.field] = lines.map((l) => l.id);
      r.amount_untaxed = round2(lines.reduce((s, l) => s + (l.price_subtotal as number), 0));
      r.amount_tax = 0;
      r.amount_total = r.amount_untaxed;
      if (m === "account.move" && r.state === "draft") r.amount_residual = r.amount_total;
      touch(m, r);
    };

    const lineValues = (m: string, vals: unknown): Record<string, unknown> => {
      const spec = LINES[m]!;
      const { values } = parseVals(spec.lineModel, vals);
      if (values.product_id) {
        const p = get("product.product", values.product_id as number)!;
        values.name ??= p.name;
        values.price_unit ??= p.list_price;
      }
      values[spec.qty] ??= 1;
      return values;
    };

    /** Applies x2many commands: (0,0,vals) create, (1,id,vals) update, (2,id) delete, (5) clear. */
    const applyCommands = (m: string, r: StoredRecord, commands: { field: string; list: unknown[] }[]) => {
      const spec = LINES[m];
      for (const c of commands) {
        if (!spec || c.field !== spec.field) throw valueError(`Invalid field '${c.field}' on model '${m}'`);
        for (const cmd of c.list) {
          if (!Array.isArray(cmd) || !Number.isInteger(cmd[0])) throw valueError(`Invalid x2many command ${JSON.stringify(cmd)}`); // [~]
          const [op, id, vals] = cmd as [number, number, unknown];
          if (op === 0) {
            const line = insert(spec.lineModel, { ...lineValues(m, vals), [spec.parent]: r.id, sequence: 10 });
            priceLine(line, spec.qty);
          } else if (op === 1) {
            const line = browse(spec.lineModel, id)[0]!;
            Object.assign(line, parseVals(spec.lineModel, vals).values);
            priceLine(line, spec.qty);
            touch(spec.lineModel, line);
          } else if (op === 2) {
            browse(spec.lineModel, id);
            k.store.delete(spec.lineModel, String(id));
          } else if (op === 5) {
            for (const l of k.store.all(spec.lineModel).filter((x) => x[spec.parent] === r.id)) k.store.delete(spec.lineModel, String(l.id));
          } else throw valueError(`x2many command ${op} is not supported by the sandbox`); // THIN: 3, 4, 6 not modelled
        }
      }
      recompute(m, r);
    };

    const createOne = (m: string, vals: unknown): StoredRecord => {
      const { values, commands } = parseVals(m, vals);
      if (m === "res.partner" && !values.name && !values.parent_id) throw validationError("Contacts require a name");
      if (m === "sale.order") Object.assign(values, { name: `S${String(++sequences.order).padStart(5, "0")}`, state: "draft", invoice_status: "no", currency_id: 1, date_order: values.date_order ?? odooNow() });
      if (m === "account.move") {
        values.move_type ??= "entry";
        Object.assign(values, { name: "/", state: "draft", payment_state: "not_paid", currency_id: values.currency_id || 1, date: values.date ?? odooNow().slice(0, 10) });
      }
      if (m === "account.payment") {
        if (typeof values.amount === "number" && values.amount < 0) throw negativePayment();
        const journal = values.journal_id ? get("account.journal", values.journal_id as number) : undefined;
        Object.assign(values, { name: "/", state: "draft", partner_type: values.partner_type || "customer", currency_id: values.currency_id || journal?.currency_id || 1, date: values.date || odooNow().slice(0, 10) });
      }
      const r = insert(m, values);
      if (commands.length) applyCommands(m, r, commands);
      return r;
    };

    const create = (m: string, valsList: unknown): number | number[] => {
      const single = !Array.isArray(valsList);
      const list = single ? [valsList] : (valsList as unknown[]);
      // Each call is one transaction: a failure leaves nothing behind.
      const snapshot = k.store.snapshot();
      const seq = { ...sequences };
      try {
        const ids = list.map((v) => createOne(m, v).id as number);
        return single ? ids[0]! : ids;
      } catch (e) {
        k.store.restore(snapshot);
        Object.assign(sequences, seq);
        throw e;
      }
    };

    const write = (m: string, ids: unknown, vals: unknown): true => {
      const records = browse(m, ids);
      const { values, commands } = parseVals(m, vals);
      const snapshot = k.store.snapshot();
      try {
        for (const r of records) {
          if (m === "account.move" && r.state === "posted" && (commands.length || "partner_id" in values || "move_type" in values || "currency_id" in values)) throw userError("You cannot modify a posted entry of this journal."); // [~]
          if (m === "sale.order" && commands.length && (r.state === "cancel")) throw userError("You cannot change a cancelled sales order."); // [~]
          Object.assign(r, values);
          touch(m, r);
          if (commands.length) applyCommands(m, r, commands);
        }
        return true;
      } catch (e) {
        k.store.restore(snapshot);
        throw e;
      }
    };

    const unlink = (m: string, ids: unknown): true => {
      const records = browse(m, ids);
      for (const r of records) {
        if (m === "sale.order" && (r.state === "sale" || r.state === "sent")) throw userError("You can not delete a sent quotation or a confirmed sales order. You must first cancel it.");
        if (m === "account.move" && r.state === "posted") throw userError("You cannot delete an entry which has been posted once.");
      }
      for (const r of records) {
        const spec = LINES[m];
        if (spec) for (const l of k.store.all(spec.lineModel).filter((x) => x[spec.parent] === r.id)) k.store.delete(spec.lineModel, String(l.id));
        k.store.delete(m, String(r.id));
      }
      return true;
    };

    // ---- reading ----------------------------------------------------------------------------------------------

    const readRecord = (m: string, r: StoredRecord, fields: string[] | undefined): Record<string, unknown> => {
      const def = model(m);
      const names = fields && fields.length ? fields : Object.keys(def.fields);
      const out: Record<string, unknown> = { id: r.id };
      for (const name of names) {
        const spec = def.fields[name];
        if (!spec) throw valueError(`Invalid field '${name}' on model '${m}'`);
        const v = r[name];
        if (spec.type === "many2one") {
          const target = v ? get(spec.relation!, v as number) : undefined;
          out[name] = target ? [target.id, target.display_name] : false;
        } else out[name] = v === "" || v === null || v === undefined ? false : v;
      }
      return out;
    };

    const fieldList = (fields: unknown): string[] | undefined => {
      if (fields === undefined || fields === null || fields === false) return undefined;
      if (!Array.isArray(fields) || !fields.every((x) => typeof x === "string")) throw new OdooError("builtins.TypeError", "fields must be a list of field names"); // [~]
      return fields as string[];
    };

    /** Evaluates a domain: a list of [field, op, value] terms in prefix notation with "&" (implicit), "|" and "!". */
    const matcher = (m: string, domain: unknown): ((r: StoredRecord) => boolean) => {
      if (domain === undefined || domain === null) domain = [];
      if (!Array.isArray(domain)) throw valueError(`Invalid domain ${JSON.stringify(domain)}`); // [~]
      const def = model(m);
      const items = domain as unknown[];
      let i = 0;
      const term = (): ((r: StoredRecord) => boolean) => {
        const t = items[i++];
        if (t === "&" || t === "|") {
          const a = term();
          const b = term();
          return t === "&" ? (r) => a(r) && b(r) : (r) => a(r) || b(r);
        }
        if (t === "!") {
          const a = term();
          return (r) => !a(r);
        }
        if (!Array.isArray(t) || t.length !== 3 || typeof t[0] !== "string" || typeof t[1] !== "string") throw valueError(`Invalid leaf ${JSON.stringify(t)}`);
        const [path, op, value] = t as [string, string, unknown];
        const [field, sub] = path.split(".", 2) as [string, string | undefined];
        const spec = def.fields[field];
        if (!spec) throw valueError(`Invalid field ${m}.${field} in leaf ${JSON.stringify(t)}`);
        const read = (r: StoredRecord): unknown => {
          const v = r[field];
          if (!sub) return v;
          if (spec.type !== "many2one") throw valueError(`Invalid field ${m}.${path} in leaf ${JSON.stringify(t)}`);
          const target = v ? get(spec.relation!, v as number) : undefined;
          return target ? target[sub] : false;
        };
        return (r) => compare(read(r), op, value);
      };
      const terms: ((r: StoredRecord) => boolean)[] = [];
      while (i < items.length) terms.push(term());
      const activeTest = def.fields.active && !items.some((t) => Array.isArray(t) && t[0] === "active");
      return (r) => (!activeTest || r.active !== false) && terms.every((t) => t(r));
    };

    const sorter = (m: string, order: unknown): ((a: StoredRecord, b: StoredRecord) => number) => {
      const def = model(m);
      const text = typeof order === "string" && order.trim() ? order : def.order;
      const keys = text.split(",").map((part) => {
        const [field, dir] = part.trim().split(/\s+/);
        if (!def.fields[field!]) throw valueError(`Invalid field '${field}' on model '${m}' in order '${text}'`); // [~]
        return { field: field!, desc: dir?.toLowerCase() === "desc" };
      });
      return (a, b) => {
        for (const key of keys) {
          const x = a[key.field];
          const y = b[key.field];
          const c = typeof x === "number" && typeof y === "number" ? x - y : String(x === false ? "" : x).localeCompare(String(y === false ? "" : y));
          if (c) return key.desc ? -c : c;
        }
        return 0;
      };
    };

    const search = (m: string, a: Record<string, unknown>): StoredRecord[] => {
      const offset = a.offset ?? 0;
      const limit = a.limit ?? null;
      if (!Number.isInteger(offset) || (limit !== null && limit !== false && !Number.isInteger(limit))) throw new OdooError("builtins.TypeError", "offset and limit must be integers"); // [~]
      const rows = k.store.all(m).filter(matcher(m, a.domain)).sort(sorter(m, a.order));
      return rows.slice(offset as number, limit ? (offset as number) + (limit as number) : undefined);
    };

    // ---- business methods -------------------------------------------------------------------------------------

    const actionConfirm = (ids: unknown): true => {
      const orders = browse("sale.order", ids);
      const wrong = orders.filter((o) => o.state !== "draft" && o.state !== "sent");
      if (wrong.length) throw userError(`The following orders are not in a state requiring confirmation: ${wrong.map((o) => o.name).join(", ")}`);
      for (const o of orders) {
        Object.assign(o, { state: "sale", invoice_status: (o.order_line as number[]).length ? "to invoice" : "no", date_order: odooNow() });
        touch("sale.order", o);
      }
      return true;
    };

    const actionCancel = (ids: unknown): true => {
      for (const o of browse("sale.order", ids)) {
        o.state = "cancel";
        touch("sale.order", o);
      }
      return true;
    };

    const actionPost = (ids: unknown): false => {
      const moves = browse("account.move", ids);
      for (const mv of moves) {
        if (mv.state !== "draft") throw userError("Only draft journal entries can be posted."); // [~]
        if (!(mv.invoice_line_ids as number[]).length && mv.move_type !== "entry") throw userError("You need to add a line before posting.");
        if (mv.move_type === "out_invoice" && !mv.partner_id) throw userError("The field 'Customer' is required, please complete it to validate the Customer Invoice.");
      }
      for (const mv of moves) {
        const year = String(mv.invoice_date || mv.date).slice(0, 4);
        const date = (mv.invoice_date || odooNow().slice(0, 10)) as string;
        Object.assign(mv, { name: `INV/${year}/${String(++sequences.invoice).padStart(5, "0")}`, state: "posted", invoice_date: date, invoice_date_due: mv.invoice_date_due || date, amount_residual: mv.amount_total });
        touch("account.move", mv);
      }
      // Odoo's action_post returns False.
      return false;
    };

    // ---- customer payments: the Register Payment wizard ---------------------------------------------------------

    const currencyRate = (id: unknown): number => {
      const c = get("res.currency", id as number);
      return c && typeof c.rate === "number" && c.rate > 0 ? c.rate : 1;
    };
    /** An amount from one currency into another through the company currency (Odoo's _convert, today's rate). */
    const convert = (amount: number, from: unknown, to: unknown): number => (from === to ? amount : round2((amount / currencyRate(from)) * currencyRate(to)));

    /**
     * account.payment.register create: default_get reads the invoices from the context (active_model, active_ids),
     * refuses what is not posted or has nothing left to pay, then the computed defaults fill what vals leave out
     * (journal, currency, amount = the residual in the wizard's currency, memo = the invoice's number).
     */
    const registerCreate = (valsList: unknown, context: Record<string, unknown>): number | number[] => {
      const single = !Array.isArray(valsList);
      const ids = (single ? [valsList] : (valsList as unknown[])).map((vals) => {
        if (context.active_model !== "account.move") throw userError("The register payment wizard should only be called on account.move or account.move.line records."); // THIN: account.move.line not modelled
        const moves = browse("account.move", context.active_ids ?? []);
        for (const mv of moves) if (mv.state !== "posted") throw userError("You can only register payment for posted journal entries.");
        const open = moves.filter((mv) => mv.move_type !== "entry" && (mv.amount_residual as number) > 0);
        if (!open.length) throw userError("You can't register a payment because there is nothing left to pay on the selected journal items.");
        if (open.length > 1) throw userError("The sandbox registers a payment for one invoice at a time."); // THIN: batches not modelled
        const mv = open[0]!;
        const { values } = parseVals("account.payment.register", vals);
        let journal = values.journal_id ? get("account.journal", values.journal_id as number)! : undefined;
        if (journal && journal.type !== "bank" && journal.type !== "cash") throw validationError(`The journal ${journal.name} is not a bank or cash journal; a payment needs one.\nField: Journal (journal_id)`); // [~] the wizard's domain on journal_id
        const journals = k.store.all("account.journal").filter((j) => j.active !== false && (j.type === "bank" || j.type === "cash")).sort((a, b) => (a.sequence as number) - (b.sequence as number));
        journal ??= journals.find((j) => j.currency_id === mv.currency_id) ?? journals.find((j) => !j.currency_id) ?? journals[0];
        if (!journal) throw userError("There is no bank or cash journal to register the payment in."); // [~]
        const currency = values.currency_id || journal.currency_id || mv.currency_id;
        const residual = convert(mv.amount_residual as number, mv.currency_id, currency);
        const r = insert("account.payment.register", {
          payment_date: odooNow().slice(0, 10),
          communication: mv.name,
          payment_difference_handling: "open",
          ...values,
          journal_id: journal.id,
          currency_id: currency,
          amount: typeof values.amount === "number" ? values.amount : residual,
          payment_type: mv.move_type === "out_invoice" || mv.move_type === "in_refund" ? "inbound" : "outbound",
          partner_type: String(mv.move_type).startsWith("out_") ? "customer" : "supplier",
          partner_id: mv.partner_id,
          source_amount_currency: mv.amount_residual,
          source_currency_id: mv.currency_id,
        });
        // The invoice the wizard pays (Odoo keeps its receivable line in line_ids, which the sandbox does not model).
        r.move_ids = [mv.id];
        return r.id as number;
      });
      return single ? ids[0]! : ids;
    };

    /**
     * action_create_payments: creates and posts one account.payment from the wizard and reconciles it with the
     * invoice, the amount converted at the currency rate. Paying less leaves the invoice partial; paying more leaves
     * the rest as the customer's outstanding credit ("open"). Calling it again on the same wizard creates another
     * payment, as Odoo would (the wizard does not remember it ran): only the memo tells a payment was registered.
     * A bank journal's payment waits for its bank statement (in_process, the invoice in_payment); a cash
     * journal's is paid at once (THIN: Odoo decides this by the journal's outstanding receipts account).
     */
    const createPayments = (ids: unknown, context: Record<string, unknown>): unknown => {
      const wizards = browse("account.payment.register", ids);
      const created: StoredRecord[] = [];
      for (const w of wizards) {
        if ((w.amount as number) < 0) throw negativePayment();
        if (!w.amount) throw userError("You can't register a payment of zero."); // [~]
        const journal = get("account.journal", w.journal_id as number)!;
        const year = String(w.payment_date).slice(0, 4);
        const inProcess = journal.type === "bank";
        const payment = insert("account.payment", {
          name: `P${journal.code}/${year}/${String(++sequences.payment).padStart(5, "0")}`,
          payment_type: w.payment_type,
          partner_type: w.partner_type,
          partner_id: w.partner_id,
          amount: w.amount,
          currency_id: w.currency_id,
          date: w.payment_date,
          journal_id: journal.id,
          [paymentFields.memo]: w.communication,
          state: inProcess ? paymentFields.waiting : paymentFields.done,
        });
        for (const id of w.move_ids as number[]) {
          const mv = get("account.move", id)!;
          // A reconciled invoice takes no more: a second payment from the same wizard stays unreconciled.
          if ((mv.amount_residual as number) <= 0) continue;
          const applied = convert(w.amount as number, w.currency_id, mv.currency_id);
          const settled = w.payment_difference_handling === "reconcile" || applied >= (mv.amount_residual as number);
          mv.amount_residual = settled ? 0 : round2((mv.amount_residual as number) - applied);
          mv.payment_state = !settled ? "partial" : inProcess ? "in_payment" : "paid";
          mv.matched_payment_ids = [...(mv.matched_payment_ids as number[]), payment.id];
          touch("account.move", mv);
          if (version >= 18) payment.invoice_ids = [...(payment.invoice_ids as number[]), mv.id];
          payment.reconciled_invoice_ids = [...(payment.reconciled_invoice_ids as number[]), mv.id];
        }
        created.push(payment);
      }
      if (context.dont_redirect_to_payments) return true;
      const action = { name: "Payments", type: "ir.actions.act_window", res_model: "account.payment", context: { create: false } };
      return created.length === 1 ? { ...action, view_mode: "form", res_id: created[0]!.id } : { ...action, view_mode: "list,form", domain: [["id", "in", created.map((p) => p.id)]] };
    };

    /** account.payment action_post on a payment created directly: posted, not reconciled with any invoice. */
    const paymentPost = (ids: unknown): false => {
      const payments = browse("account.payment", ids);
      for (const p of payments) if (p.state !== "draft") throw userError("Only a draft payment can be posted."); // [~]
      for (const p of payments) {
        const journal = get("account.journal", p.journal_id as number)!;
        if (journal.type !== "bank" && journal.type !== "cash") throw validationError(`The journal ${journal.name} is not a bank or cash journal; a payment needs one.\nField: Journal (journal_id)`); // [~]
        Object.assign(p, { name: `P${journal.code}/${String(p.date).slice(0, 4)}/${String(++sequences.payment).padStart(5, "0")}`, state: journal.type === "bank" ? paymentFields.waiting : paymentFields.done });
        touch("account.payment", p);
      }
      return false;
    };

    /** Runs one ORM call with named arguments (JSON-2 body, or execute_kw args mapped onto the signature). */
    const callMethod = (m: string, method: string, a: Record<string, unknown>, context: Record<string, unknown> = {}): unknown => {
      const def = model(m);
      if (method.startsWith("_")) throw new OdooError("odoo.exceptions.AccessError", `Private methods (such as '${method}') cannot be called remotely.`, 403);
      const known = SIGNATURES[method] && (!method.startsWith("action_") || (MODEL_METHODS[m] ?? []).includes(method));
      if (!known) throw new OdooError("builtins.AttributeError", `The method '${method}' does not exist on the model '${m}'`, 404);
      switch (method) {
        case "create":
          return m === "account.payment.register" ? registerCreate(a.vals_list, context) : create(m, a.vals_list);
        case "write":
          return write(m, a.ids, a.vals);
        case "read":
          return browse(m, a.ids).map((r) => readRecord(m, r, fieldList(a.fields)));
        case "unlink":
          return unlink(m, a.ids);
        case "search":
          return search(m, a).map((r) => r.id);
        case "search_read":
          return search(m, a).map((r) => readRecord(m, r, fieldList(a.fields)));
        case "search_count": {
          const n = search(m, { domain: a.domain }).length;
          return typeof a.limit === "number" ? Math.min(n, a.limit) : n;
        }
        case "fields_get":
          return Object.fromEntries(Object.entries(def.fields).map(([name, spec]) => [name, { type: spec.type, string: spec.string, required: Boolean(spec.required), readonly: Boolean(spec.readonly), ...(spec.relation ? { relation: spec.relation } : {}), ...(spec.selection ? { selection: spec.selection.map((v) => [v, v]) } : {}) }]));
        case "action_confirm":
          return actionConfirm(a.ids);
        case "action_cancel":
          return actionCancel(a.ids);
        case "action_create_payments":
          return createPayments(a.ids, context);
        default:
          return m === "account.payment" ? paymentPost(a.ids) : actionPost(a.ids);
      }
    };

    /** Maps execute_kw's positional args and kwargs onto the method's named arguments. */
    const named = (method: string, args: unknown, kwargs: unknown): Record<string, unknown> => {
      if (!Array.isArray(args)) throw new OdooError("builtins.TypeError", "args must be a list"); // [~]
      const sig = SIGNATURES[method] ?? [];
      if (args.length > sig.length) throw new OdooError("builtins.TypeError", `${method}() takes ${sig.length + 1} positional arguments but ${args.length + 1} were given`);
      const out: Record<string, unknown> = {};
      args.forEach((v, i) => (out[sig[i]!] = v));
      if (kwargs && typeof kwargs === "object") for (const [key, v] of Object.entries(kwargs)) if (key !== "context") out[key] = v;
      return out;
    };

    /** The call's context (a dict, or nothing). */
    const contextOf = (context: unknown): Record<string, unknown> => {
      if (context === undefined || context === null) return {};
      if (typeof context !== "object" || Array.isArray(context)) throw new OdooError("builtins.TypeError", `context must be a dict, got ${JSON.stringify(context)}`); // [~]
      return context as Record<string, unknown>;
    };

    /** Runs a call in one transaction: any failure rolls the store back. */
    const transaction = <T>(fn: () => T): T => {
      const snapshot = k.store.snapshot();
      try {
        return fn();
      } catch (e) {
        k.store.restore(snapshot);
        throw e;
      }
    };

    // ---- transports -------------------------------------------------------------------------------------------

    const errorData = (e: OdooError) => ({ name: e.pythonName, message: e.message, arguments: [e.message], context: {}, debug: traceback(e.pythonName, e.message) });
    const json2Error = (e: OdooError): Reply => ({ status: e.status, body: errorData(e) });
    const rpcError = (id: unknown, e: OdooError, code = 200, message = "Odoo Server Error"): Reply => ({ status: 200, body: { jsonrpc: "2.0", id: id ?? null, error: { code, message, data: errorData(e) } } });
    const rpcResult = (id: unknown, result: unknown): Reply => ({ status: 200, body: { jsonrpc: "2.0", id: id ?? null, result } });
    const asOdoo = (e: unknown): OdooError => {
      if (e instanceof OdooError) return e;
      throw e;
    };

    const keyValid = (key: unknown): boolean => {
      if (typeof key !== "string") return false;
      const t = k.tokens.check(key);
      return Boolean(t && t !== "expired" && t.data.kind === "apikey");
    };

    const json2 = (req: SandboxRequest): Reply => {
      if (version < 19) return json2Error(new OdooError("werkzeug.exceptions.NotFound", "404 Not Found: The requested URL was not found on the server.", 404)); // JSON-2 came with Odoo 19
      const db = req.header("x-odoo-database");
      if (db !== undefined && db !== database) return json2Error(new OdooError("werkzeug.exceptions.NotFound", `404 Not Found: database '${db}' does not exist.`, 404)); // THIN
      if (!keyValid(bearer(req))) return { status: 401, body: { ...errorData(new OdooError("werkzeug.exceptions.Unauthorized", "Invalid apikey")), arguments: ["Invalid apikey", 401] } };
      const body = req.json();
      if (!body || typeof body !== "object" || Array.isArray(body)) return json2Error(new OdooError("werkzeug.exceptions.BadRequest", "400 Bad Request: the body must be a JSON object of named arguments.", 400)); // [~]
      const { model: m, method } = req.params as { model: string; method: string };
      try {
        if (!models[m]) throw new OdooError("werkzeug.exceptions.NotFound", `404 Not Found: the model '${m}' does not exist.`, 404); // [~]
        const a = { ...(body as Record<string, unknown>) };
        const context = contextOf(a.context);
        delete a.context;
        if (ON_RECORDS.has(method) && a.ids === undefined) a.ids = [];
        return { status: 200, body: transaction(() => callMethod(m, method, a, context)) ?? null };
      } catch (e) {
        return json2Error(asOdoo(e));
      }
    };

    /** The legacy /jsonrpc endpoint: services common, object and db. */
    const jsonrpc = (req: SandboxRequest): Reply => {
      const body = req.json() as { id?: unknown; method?: unknown; params?: { service?: unknown; method?: unknown; args?: unknown } };
      const id = body?.id;
      const params = body?.params;
      if (!params || typeof params !== "object") return rpcError(id, new OdooError("werkzeug.exceptions.BadRequest", "400 Bad Request: Invalid JSON-RPC request.")); // [~]
      const args = Array.isArray(params.args) ? params.args : [];
      try {
        if (params.service === "common") {
          if (params.method === "version") return rpcResult(id, { server_version: `${version}.0`, server_version_info: [version, 0, 0, "final", 0, ""], server_serie: `${version}.0`, protocol_version: 1 });
          if (params.method === "login" || params.method === "authenticate") {
            const [db, user, secret] = args as [unknown, unknown, unknown];
            if (db !== database) throw new OdooError("psycopg2.OperationalError", `connection to server failed: FATAL:  database "${db}" does not exist`); // [~]
            return rpcResult(id, user === login && (secret === password || keyValid(secret)) ? uid : false);
          }
          throw new OdooError("builtins.NameError", `method '${params.method}' is not available on service 'common'`); // [~]
        }
        if (params.service === "db") {
          if (params.method === "list") return rpcResult(id, [database]);
          throw new OdooError("odoo.exceptions.AccessDenied", "Access Denied"); // [~]
        }
        if (params.service === "object" && (params.method === "execute_kw" || params.method === "execute")) {
          const [db, user, secret, m, method, ...rest] = args as [unknown, unknown, unknown, string, string, ...unknown[]];
          if (db !== database) throw new OdooError("psycopg2.OperationalError", `connection to server failed: FATAL:  database "${db}" does not exist`);
          if (user !== uid || !(secret === password || keyValid(secret))) throw new OdooError("odoo.exceptions.AccessDenied", "Access Denied");
          const a = params.method === "execute_kw" ? named(method, rest[0] ?? [], rest[1]) : named(method, rest, undefined);
          const context = params.method === "execute_kw" ? contextOf((rest[1] as { context?: unknown } | undefined)?.context) : {};
          return rpcResult(id, transaction(() => callMethod(String(m), String(method), a, context)));
        }
        throw new OdooError("builtins.NameError", `unknown service '${params.service}'`); // [~]
      } catch (e) {
        return rpcError(id, asOdoo(e));
      }
    };

    const sessionOf = (req: SandboxRequest) => /(?:^|;\s*)session_id=([^;]+)/.exec(req.header("cookie") ?? "")?.[1];

    const sessionAuthenticate = (req: SandboxRequest): Reply => {
      const body = req.json() as { id?: unknown; params?: { db?: unknown; login?: unknown; password?: unknown } };
      const p = body?.params ?? {};
      if (p.db !== database || p.login !== login || !(p.password === password || keyValid(p.password))) return rpcError(body?.id, new OdooError("odoo.exceptions.AccessDenied", "Access Denied"));
      const t = k.tokens.issue(login, k.limits.sessionLifetimeSeconds!, { kind: "session" }, randomBytes(20).toString("hex"));
      return { ...rpcResult(body?.id, { uid, db: database, username: login, name: "Administrator", is_admin: true, user_context: { lang: "en_US", tz: "Europe/Brussels", uid } }), headers: { "set-cookie": `session_id=${t.token}; Expires=${new Date(t.expiresAt).toUTCString()}; Max-Age=${k.limits.sessionLifetimeSeconds}; HttpOnly; Path=/; SameSite=Lax` } };
    };

    const callKw = (req: SandboxRequest): Reply => {
      const body = req.json() as { id?: unknown; params?: { model?: unknown; method?: unknown; args?: unknown; kwargs?: unknown } };
      const t = k.tokens.check(sessionOf(req));
      if (!t || t === "expired" || t.data.kind !== "session") return rpcError(body?.id, new OdooError("odoo.http.SessionExpiredException", "Session expired"), 100, "Odoo Session Expired");
      const p = body?.params ?? {};
      try {
        const method = String(p.method);
        return rpcResult(body?.id, transaction(() => callMethod(String(p.model), method, named(method, p.args ?? [], p.kwargs), contextOf((p.kwargs as { context?: unknown } | undefined)?.context))));
      } catch (e) {
        return rpcError(body?.id, asOdoo(e));
      }
    };

    const routes: Route[] = [
      { method: "POST", path: "/json/2/:model/:method", handler: json2 },
      { method: "POST", path: "/jsonrpc", handler: jsonrpc },
      { method: "POST", path: "/web/session/authenticate", handler: sessionAuthenticate },
      { method: "POST", path: "/web/dataset/call_kw", handler: callKw },
      { method: "POST", path: "/web/dataset/call_kw/*", handler: callKw },
    ];

    const seed = (): void => {
      insert("res.currency", { name: "EUR", symbol: "€", rate: 1, active: true }, true);
      insert("res.currency", { name: "USD", symbol: "$", rate: 1.1, active: true }, true);
      insert("res.currency", { name: "GBP", symbol: "£", rate: 0.85, active: false }, true);
      // A fresh database's journals: customer invoices, a bank and a cash journal (payments go to bank or cash).
      insert("account.journal", { name: "Customer Invoices", code: "INV", type: "sale", sequence: 5, active: true }, true);
      insert("account.journal", { name: "Bank", code: "BNK1", type: "bank", sequence: 10, active: true }, true);
      insert("account.journal", { name: "Cash", code: "CSH1", type: "cash", sequence: 11, active: true }, true);
      insert("account.journal", { name: "Bank USD", code: "BNK2", type: "bank", sequence: 12, currency_id: 2, active: true }, true);
      // The sandbox's API key, valid for the documented maximum.
      k.tokens.issue(login, k.limits.apiKeyLifetimeSeconds!, { kind: "apikey" }, apiKey);
      if (!(options.seed ?? true)) return;
      const globex = insert("res.partner", { name: "Globex GmbH", is_company: true, ref: "C-1001", email: "ap@globex.example", city: "Berlin", zip: "10117", country_code: "DE", customer_rank: 1, active: true }, true);
      insert("res.partner", { name: "Umbrella Corp", is_company: true, ref: "C-1002", email: "billing@umbrella.example", country_code: "US", customer_rank: 1, active: true }, true);
      const widget = insert("product.product", { name: "Widget", default_code: "WID-1", list_price: 9.995, type: "consu", active: true }, true);
      const gadget = insert("product.product", { name: "Gadget", default_code: "GAD-2", list_price: 150, type: "consu", active: true }, true);
      insert("product.product", { name: "Support plan", default_code: "SUP-12", list_price: 250, type: "service", active: true }, true);
      const lines = [[0, 0, { product_id: gadget.id, product_uom_qty: 4 }], [0, 0, { product_id: widget.id, product_uom_qty: 10 }]];
      const so = get("sale.order", create("sale.order", { partner_id: globex.id, client_order_ref: "PO-77", order_line: lines }) as number)!;
      actionConfirm([so.id]);
      const inv = create("account.move", { move_type: "out_invoice", partner_id: globex.id, ref: "PO-77", invoice_origin: so.name, invoice_line_ids: [[0, 0, { product_id: gadget.id, quantity: 4 }], [0, 0, { product_id: widget.id, quantity: 10 }]] }) as number;
      actionPost([inv]);
      Object.assign(so, { invoice_status: "invoiced" });
      const paid = create("account.move", { move_type: "out_invoice", partner_id: globex.id, invoice_line_ids: [[0, 0, { product_id: gadget.id, quantity: 1 }]] }) as number;
      actionPost([paid]);
      Object.assign(get("account.move", paid)!, { payment_state: "paid", amount_residual: 0 });
      k.store.created = {};
    };

    const isJson2 = (req: SandboxRequest) => req.path.startsWith("/json/2/");
    const fault = (req: SandboxRequest, status: number, name: string, message: string): Reply =>
      isJson2(req) ? { status, body: errorData(new OdooError(name, message)) } : { status, body: { jsonrpc: "2.0", id: null, error: { code: 200, message: "Odoo Server Error", data: errorData(new OdooError(name, message)) } } };

    return {
      vendor: "odoo",
      routes,
      before() {
        const cap = k.limits.requestsPerMinute!;
        if (!cap) return undefined;
        if (minute.count() >= cap) return { status: 429, headers: { "retry-after": "60" }, body: errorData(new OdooError("werkzeug.exceptions.TooManyRequests", "429 Too Many Requests: The user has sent too many requests in a given amount of time.")) }; // THIN
        minute.add();
        return undefined;
      },
      // [~] An injected 5xx: JSON-2 answers the status with its body; JSON-RPC carries the error in its envelope.
      serverError: (status, req) => fault(req, status, status === 503 ? "werkzeug.exceptions.ServiceUnavailable" : "builtins.Exception", status === 503 ? "503 Service Unavailable: The server is temporarily unable to service your request." : "Internal Server Error"),
      throttled: (req) => ({ ...fault(req, 429, "werkzeug.exceptions.TooManyRequests", "429 Too Many Requests: The user has sent too many requests in a given amount of time."), headers: { "retry-after": "60" } }), // THIN
      malformedBody: (req) => fault(req, isJson2(req) ? 400 : 200, "werkzeug.exceptions.BadRequest", "400 Bad Request: Invalid JSON data"), // [~]
      notFound: (req) => fault(req, 404, "werkzeug.exceptions.NotFound", "404 Not Found: The requested URL was not found on the server."),
      seedRecord(type, input) {
        const counted = { ...k.store.created };
        try {
          const { state, payment_state, ...vals } = input;
          const r = get(type, (transaction(() => create(type, vals)) as number))!;
          if (type === "sale.order" && state === "sale") actionConfirm([r.id]);
          if (type === "account.move" && state === "posted") {
            actionPost([r.id]);
            if (payment_state === "paid") Object.assign(r, { payment_state: "paid", amount_residual: 0 });
          }
          return r;
        } catch (e) {
          if (e instanceof OdooError) throw new Error(`${e.pythonName}: ${e.message}`);
          throw e;
        } finally {
          k.store.created = counted;
        }
      },
      reset() {
        for (const key of Object.keys(nextId)) delete nextId[key];
        Object.assign(sequences, { order: 0, invoice: 0, payment: 0 });
        minute.clear();
        seed();
      },
    };
  });
}

/** One domain leaf's comparison, with Odoo's false-as-null semantics. */
function compare(v: unknown, op: string, value: unknown): boolean {
  // An x2many field matches a positive operator when any of its records does ("invoice_ids in [7]").
  if (Array.isArray(v) && !op.startsWith("not") && op !== "!=") return value === false && op === "=" ? v.length === 0 : v.some((x) => compare(x, op, value));
  const like = (pattern: string, text: string, ci: boolean, exact: boolean) => {
    const p = ci ? pattern.toLowerCase() : pattern;
    const t = ci ? text.toLowerCase() : text;
    if (!exact) return t.includes(p.replace(/%/g, ""));
    const re = new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/%/g, ".*").replace(/_/g, ".")}$`, "s");
    return re.test(t);
  };
  switch (op) {
    case "=":
      return v === value || (value === false && (v === false || v === "" || v === null));
    case "!=":
      return !compare(v, "=", value);
    case ">":
    case ">=":
    case "<":
    case "<=": {
      if (v === false || v === null) return false;
      const c = typeof v === "number" && typeof value === "number" ? v - value : String(v).localeCompare(String(value));
      return op === ">" ? c > 0 : op === ">=" ? c >= 0 : op === "<" ? c < 0 : c <= 0;
    }
    case "in":
      if (!Array.isArray(value)) throw new OdooError("builtins.ValueError", `The value for 'in' must be a list, got ${JSON.stringify(value)}`); // [~]
      return value.includes(v);
    case "not in":
      return !compare(v, "in", value);
    case "like":
    case "ilike":
    case "=like":
    case "=ilike":
      return typeof v === "string" && like(String(value), v, op.includes("ilike"), op.startsWith("="));
    case "not like":
    case "not ilike":
      return !compare(v, op.slice(4), value);
    default:
      throw new OdooError("builtins.ValueError", `Invalid search operator '${op}'`); // [~]
  }
}
