// Stripe API sandbox (billing side), written from erp-crm-wire.md §10 (not from Keelson's adapter).
// Models: secret-key auth (Bearer or Basic), form-encoded bodies with bracket notation, customers, invoice items,
// invoices (create, list with starting_after / ending_before cursors, get, finalize, pay, void, search subset),
// the error envelope, Idempotency-Key replay / mismatch / concurrency, and the request-rate limit with
// Stripe-Should-Retry.
import { createHash, randomBytes } from "node:crypto";
import { Halt, SlidingWindow, basicAuth, bearer, serve, sleep, type Kernel, type Reply, type Route, type RunningSandbox, type SandboxRequest, type StartOptions, type StoredRecord } from "./kernel";

export const STRIPE_LIMITS = {
  /** Requests per second: 25 in test mode (live: 100). */
  requestsPerSecond: 25,
  /** Idempotency keys are kept about 24 hours. */
  idempotencyKeyHours: 24,
  /** Simulated execution time of a POST (ms): lets tests overlap two requests with the same Idempotency-Key. */
  executionMs: 0,
};

export interface StripeOptions extends StartOptions {
  /** Secret keys the account accepts. */
  secretKeys?: string[];
  seed?: boolean;
}

type Params = Record<string, unknown>;

const DOC = "https://stripe.com/docs/error-codes";

function stripeError(status: number, error: Record<string, unknown>, headers: Record<string, string> = {}): Halt {
  const requestLog = `https://dashboard.stripe.com/test/logs/req_${randomBytes(7).toString("hex")}`;
  return new Halt({ status, headers, body: { error: { ...error, ...(error.code ? { doc_url: `${DOC}/${String(error.code).replace(/_/g, "-")}` } : {}), request_log_url: requestLog } } });
}
const missing = (param: string) => stripeError(400, { type: "invalid_request_error", code: "parameter_missing", message: `Missing required param: ${param}.`, param });
const unknownParam = (param: string) => stripeError(400, { type: "invalid_request_error", code: "parameter_unknown", message: `Received unknown parameter: ${param}`, param });
const invalid = (param: string, message: string) => stripeError(400, { type: "invalid_request_error", code: "parameter_invalid_integer", message, param });
const noSuch = (what: string, id: string) => stripeError(404, { type: "invalid_request_error", code: "resource_missing", message: `No such ${what}: '${id}'`, param: "id" });

/** Parses form bodies and query strings with Stripe's bracket notation: a[b]=1, a[]=x, a[0][c]=2. */
export function parseBracketParams(pairs: URLSearchParams): Params {
  const root: Params = {};
  for (const [key, value] of pairs) {
    const path = key.replace(/\]/g, "").split("[");
    let node: Params | unknown[] = root;
    path.forEach((segment, i) => {
      const last = i === path.length - 1;
      const container = node as Record<string, unknown>;
      const slot = segment === "" && Array.isArray(node) ? String(node.length) : segment;
      if (last) {
        if (Array.isArray(node) && segment === "") node.push(value);
        else container[slot] = value;
        return;
      }
      const nextIsArray = path[i + 1] === "" || /^\d+$/.test(path[i + 1]!);
      container[slot] ??= nextIsArray ? [] : {};
      node = container[slot] as Params | unknown[];
    });
  }
  return root;
}

/** Credentials the sandbox accepts unless start() is given others. */
export const STRIPE_DEFAULTS = { secretKey: "sk_test_keelson_sandbox" };

export async function start(options: StripeOptions = {}): Promise<RunningSandbox> {
  const keys = new Set(options.secretKeys ?? [STRIPE_DEFAULTS.secretKey]);

  return serve(STRIPE_LIMITS, options, (k: Kernel) => {
    const rate = new SlidingWindow(() => 1000);
    /** Creation order, to break ties between objects created in the same second. */
    const order = new Map<string, number>();
    const idempotency = new Map<string, { fingerprint: string; storedAt: number; reply?: Reply }>();
    const invoiceSeq = new Map<string, number>();

    const id = (prefix: string) => `${prefix}_${randomBytes(12).toString("base64url").replace(/[-_]/g, "x")}`;
    const created = () => Math.floor(Date.now() / 1000);
    const insert = (type: string, obj: StoredRecord, seed: boolean): StoredRecord => {
      order.set(obj.id as string, order.size);
      return k.store.insert(type, obj.id as string, obj, { seed });
    };
    const newestFirst = (a: StoredRecord, b: StoredRecord) => (b.created as number) - (a.created as number) || order.get(b.id as string)! - order.get(a.id as string)!;

    const params = (req: SandboxRequest): Params => {
      const ct = req.header("content-type") ?? "";
      if (req.method === "GET" || req.method === "DELETE") return parseBracketParams(req.query);
      if (req.raw.length && !/application\/x-www-form-urlencoded/i.test(ct)) throw stripeError(400, { type: "invalid_request_error", message: "Invalid request: the body must be application/x-www-form-urlencoded." }); // [~]
      return parseBracketParams(req.form());
    };
    const allowOnly = (p: Params, allowed: string[]) => {
      for (const key of Object.keys(p)) if (!allowed.includes(key)) throw unknownParam(key);
    };
    const intParam = (p: Params, name: string): number | undefined => {
      if (p[name] === undefined) return undefined;
      const n = Number(p[name]);
      if (!Number.isInteger(n)) throw invalid(name, `Invalid integer: ${String(p[name])}`);
      return n;
    };
    const boolParam = (p: Params, name: string): boolean | undefined => (p[name] === undefined ? undefined : p[name] === "true");
    const metadata = (p: Params): Record<string, string> => {
      const m = p.metadata;
      if (m === undefined || m === "") return {};
      if (typeof m !== "object" || Array.isArray(m)) throw invalid("metadata", "Invalid object");
      return m as Record<string, string>;
    };
    const get = (type: string, what: string, objId: string): StoredRecord => {
      const r = k.store.get(type, objId);
      if (!r) throw noSuch(what, objId);
      return r;
    };

    // ---- objects ----------------------------------------------------------------------------------------------

    const newCustomer = (p: Params, seed = false): StoredRecord => {
      const c: StoredRecord = { id: id("cus"), object: "customer", address: null, balance: 0, created: created(), currency: null, description: (p.description as string) ?? null, email: (p.email as string) ?? null, invoice_prefix: randomBytes(4).toString("hex").toUpperCase(), livemode: false, metadata: metadata(p), name: (p.name as string) ?? null, phone: (p.phone as string) ?? null };
      return insert("customers", c, seed);
    };

    const totals = (inv: StoredRecord): void => {
      const lines = ((inv.lines as { data: { amount: number }[] }).data ?? []).map((l) => l.amount);
      inv.subtotal = inv.total = lines.reduce((a, b) => a + b, 0);
      inv.amount_due = inv.total;
      inv.amount_remaining = (inv.amount_due as number) - (inv.amount_paid as number);
    };

    const newInvoice = (p: Params, seed = false): StoredRecord => {
      const customer = get("customers", "customer", p.customer as string);
      const invId = id("in");
      const method = (p.collection_method as string) ?? "charge_automatically";
      const inv: StoredRecord = {
        id: invId, object: "invoice", account_country: "US", amount_due: 0, amount_paid: 0, amount_remaining: 0, attempt_count: 0, attempted: false,
        auto_advance: boolParam(p, "auto_advance") ?? false, collection_method: method, created: created(), currency: ((p.currency as string) ?? customer.currency ?? "usd").toLowerCase(),
        customer: customer.id, customer_email: customer.email, customer_name: customer.name, days_until_due: intParam(p, "days_until_due") ?? null, description: (p.description as string) ?? null,
        due_date: intParam(p, "due_date") ?? null, lines: { object: "list", data: [], has_more: false, total_count: 0, url: `/v1/invoices/${invId}/lines` }, livemode: false, metadata: metadata(p),
        number: null, paid: false, paid_out_of_band: false, status: "draft", status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null }, subtotal: 0, total: 0,
      };
      // Newer API versions leave pending invoice items out unless asked to include them.
      const pending = p.pending_invoice_items_behavior === "include" ? k.store.all("invoiceitems").filter((ii) => ii.customer === customer.id && ii.invoice === null) : [];
      for (const ii of pending) attachItem(inv, ii);
      totals(inv);
      return insert("invoices", inv, seed);
    };

    const attachItem = (inv: StoredRecord, ii: StoredRecord): void => {
      ii.invoice = inv.id;
      const lines = inv.lines as { data: unknown[]; total_count: number };
      lines.data.push({ id: id("il"), object: "line_item", amount: ii.amount, currency: ii.currency, description: ii.description, invoice_item: ii.id, livemode: false, metadata: ii.metadata, quantity: ii.quantity, type: "invoiceitem", unit_amount_excluding_tax: String(ii.unit_amount) });
      lines.total_count = lines.data.length;
    };

    const newInvoiceItem = (p: Params, seed = false): StoredRecord => {
      const customer = get("customers", "customer", p.customer as string);
      const quantity = intParam(p, "quantity") ?? 1;
      const unit = intParam(p, "unit_amount");
      const amount = intParam(p, "amount") ?? (unit !== undefined ? unit * quantity : undefined);
      if (amount === undefined) throw missing("amount");
      if (!p.currency) throw missing("currency");
      const ii: StoredRecord = { id: id("ii"), object: "invoiceitem", amount, currency: String(p.currency).toLowerCase(), customer: customer.id, date: created(), description: (p.description as string) ?? null, invoice: null, livemode: false, metadata: metadata(p), quantity, unit_amount: unit ?? Math.round(amount / quantity) };
      insert("invoiceitems", ii, seed);
      if (p.invoice) {
        const inv = get("invoices", "invoice", p.invoice as string);
        if (inv.status !== "draft") throw stripeError(400, { type: "invalid_request_error", code: "invoice_not_editable", message: `You can only add invoice items to draft invoices; this invoice is ${inv.status}.`, param: "invoice" });
        attachItem(inv, ii);
        totals(inv);
      }
      return ii;
    };

    const finalize = (inv: StoredRecord): void => {
      if (inv.status !== "draft") throw stripeError(400, { type: "invalid_request_error", code: "invoice_not_editable", message: `This invoice is already finalized, you can't re-finalize a non-draft invoice.` }); // [~]
      const customer = k.store.get("customers", inv.customer as string)!;
      const seq = (invoiceSeq.get(customer.id as string) ?? 0) + 1;
      invoiceSeq.set(customer.id as string, seq);
      inv.number = `${customer.invoice_prefix}-${String(seq).padStart(4, "0")}`;
      const now = Math.floor(Date.now() / 1000);
      (inv.status_transitions as Record<string, unknown>).finalized_at = now;
      if (inv.collection_method === "send_invoice" && inv.due_date === null) inv.due_date = now + 86_400 * ((inv.days_until_due as number | null) ?? 30);
      inv.status = (inv.amount_due as number) === 0 ? "paid" : "open";
      if (inv.status === "paid") markPaid(inv, false);
    };

    const markPaid = (inv: StoredRecord, outOfBand: boolean): void => {
      inv.amount_paid = inv.amount_due;
      inv.amount_remaining = 0;
      inv.paid = true;
      inv.paid_out_of_band = outOfBand;
      inv.status = "paid";
      inv.attempted = !outOfBand;
      (inv.status_transitions as Record<string, unknown>).paid_at = Math.floor(Date.now() / 1000);
    };

    const expand = (p: Params, obj: StoredRecord): Record<string, unknown> => {
      const wanted = Array.isArray(p.expand) ? (p.expand as string[]) : [];
      const out: Record<string, unknown> = structuredClone(obj);
      for (const path of wanted) {
        if (path === "customer" && typeof out.customer === "string") out.customer = k.store.get("customers", out.customer) ?? out.customer;
        else if (path === "data.customer" && typeof out.customer === "string") out.customer = k.store.get("customers", out.customer) ?? out.customer;
        else if (path !== "customer" && path !== "data.customer") throw stripeError(400, { type: "invalid_request_error", message: `This property cannot be expanded (${path}).`, param: "expand" });
      }
      return out;
    };

    /** Cursor lists: newest first; starting_after / ending_before name an object in the list. */
    const list = (req: SandboxRequest, type: string, url: string, filter: (r: StoredRecord, p: Params) => boolean, allowed: string[]): Reply => {
      const p = params(req);
      allowOnly(p, ["limit", "starting_after", "ending_before", "expand", ...allowed]);
      const limit = intParam(p, "limit") ?? 10;
      if (limit < 1 || limit > 100) throw stripeError(400, { type: "invalid_request_error", code: "parameter_invalid_integer", message: "This value must be between 1 and 100 (it currently is " + limit + ").", param: "limit" }); // [~]
      const all = k.store.all(type).filter((r) => filter(r, p)).sort(newestFirst);
      let page: StoredRecord[];
      let hasMore: boolean;
      if (p.starting_after) {
        const i = all.findIndex((r) => r.id === p.starting_after);
        if (i < 0) throw noSuch(type.slice(0, -1), p.starting_after as string);
        page = all.slice(i + 1, i + 1 + limit);
        hasMore = i + 1 + limit < all.length;
      } else if (p.ending_before) {
        const i = all.findIndex((r) => r.id === p.ending_before);
        if (i < 0) throw noSuch(type.slice(0, -1), p.ending_before as string);
        page = all.slice(Math.max(0, i - limit), i);
        hasMore = i - limit > 0;
      } else {
        page = all.slice(0, limit);
        hasMore = limit < all.length;
      }
      return { status: 200, body: { object: "list", data: page.map((r) => expand({ expand: ((p.expand as string[]) ?? []).map((e) => e.replace(/^data\./, "")) }, r)), has_more: hasMore, url } };
    };

    const createdFilter = (r: StoredRecord, p: Params): boolean => {
      const c = p.created;
      if (c === undefined) return true;
      if (typeof c === "string") return r.created === Number(c);
      const range = c as Record<string, string>;
      const t = r.created as number;
      return (range.gt === undefined || t > Number(range.gt)) && (range.gte === undefined || t >= Number(range.gte)) && (range.lt === undefined || t < Number(range.lt)) && (range.lte === undefined || t <= Number(range.lte));
    };

    // ---- idempotency ------------------------------------------------------------------------------------------

    /** Idempotency-Key on POST: replay the stored result, refuse other params (400) or a concurrent twin (409). */
    const idempotent = (run: (req: SandboxRequest, p: Params) => Reply) => async (req: SandboxRequest): Promise<Reply> => {
      const p = params(req);
      const key = req.header("idempotency-key");
      if (!key) {
        if (k.limits.executionMs) await sleep(k.limits.executionMs);
        return run(req, p);
      }
      if (key.length > 255) throw stripeError(400, { type: "invalid_request_error", message: "Idempotency-Key must be at most 255 characters long.", param: "Idempotency-Key" }); // [~]
      const scoped = `${req.principal}\u0000${key}`;
      const fingerprint = createHash("sha256").update(`${req.method} ${req.path}\n${JSON.stringify(sortKeys(p))}`).digest("hex");
      const seen = idempotency.get(scoped);
      if (seen && Date.now() - seen.storedAt > k.limits.idempotencyKeyHours! * 3_600_000) idempotency.delete(scoped);
      const entry = idempotency.get(scoped);
      if (entry) {
        if (entry.fingerprint !== fingerprint) throw stripeError(400, { type: "idempotency_error", message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.` });
        if (!entry.reply) throw stripeError(409, { type: "idempotency_error", code: "idempotency_key_in_use", message: "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): " + key + ". Please try again later." }, { "stripe-should-retry": "true" }); // [~] wording
        return { ...entry.reply, headers: { ...entry.reply.headers, "idempotent-replayed": "true", "idempotency-key": key } };
      }
      const record: { fingerprint: string; storedAt: number; reply?: Reply } = { fingerprint, storedAt: Date.now() };
      idempotency.set(scoped, record);
      let reply: Reply;
      try {
        if (k.limits.executionMs) await sleep(k.limits.executionMs);
        reply = run(req, p);
      } catch (e) {
        if (!(e instanceof Halt)) {
          reply = { status: 500, body: { error: { type: "api_error", message: "An unknown error occurred" } } };
        } else reply = e.reply;
      }
      // Results are kept once execution started (5xx included); validation failures leave the key unused.
      if (reply.status === 400 || reply.status === 404) idempotency.delete(scoped);
      else record.reply = reply;
      return { ...reply, headers: { ...reply.headers, "idempotency-key": key } };
    };

    // ---- handlers ---------------------------------------------------------------------------------------------

    const routes: Route[] = [
      { method: "POST", path: "/v1/customers", handler: idempotent((_req, p) => {
        allowOnly(p, ["email", "name", "phone", "description", "metadata", "expand"]);
        return { status: 200, body: newCustomer(p) };
      }) },
      { method: "GET", path: "/v1/customers", handler: (req) => list(req, "customers", "/v1/customers", (r, p) => (p.email === undefined || r.email === p.email) && createdFilter(r, p), ["email", "created"]) },
      { method: "GET", path: "/v1/customers/:id", handler: (req) => ({ status: 200, body: get("customers", "customer", req.params.id!) }) },
      { method: "POST", path: "/v1/customers/:id", handler: idempotent((req, p) => {
        allowOnly(p, ["email", "name", "phone", "description", "metadata"]);
        const c = get("customers", "customer", req.params.id!);
        for (const f of ["email", "name", "phone", "description"]) if (p[f] !== undefined) c[f] = p[f];
        if (p.metadata !== undefined) c.metadata = { ...(c.metadata as object), ...metadata(p) };
        return { status: 200, body: c };
      }) },
      { method: "POST", path: "/v1/invoiceitems", handler: idempotent((_req, p) => {
        allowOnly(p, ["customer", "amount", "currency", "description", "invoice", "metadata", "quantity", "unit_amount"]);
        if (!p.customer) throw missing("customer");
        return { status: 200, body: newInvoiceItem(p) };
      }) },
      { method: "POST", path: "/v1/invoices", handler: idempotent((_req, p) => {
        allowOnly(p, ["customer", "collection_method", "days_until_due", "due_date", "auto_advance", "currency", "description", "metadata", "pending_invoice_items_behavior", "expand"]);
        if (!p.customer) throw missing("customer");
        if (p.collection_method !== undefined && !["charge_automatically", "send_invoice"].includes(p.collection_method as string)) throw stripeError(400, { type: "invalid_request_error", code: "parameter_invalid_string", message: `Invalid collection_method: must be one of charge_automatically or send_invoice`, param: "collection_method" });
        if (p.collection_method === "send_invoice" && p.days_until_due === undefined && p.due_date === undefined) throw stripeError(400, { type: "invalid_request_error", message: "Missing required param: days_until_due or due_date is required when collection_method is send_invoice.", param: "days_until_due" }); // [~] wording
        return { status: 200, body: expand(p, newInvoice(p)) };
      }) },
      { method: "GET", path: "/v1/invoices", handler: (req) => list(req, "invoices", "/v1/invoices", (r, p) => (p.customer === undefined || r.customer === p.customer) && (p.status === undefined || r.status === p.status) && (p.collection_method === undefined || r.collection_method === p.collection_method) && createdFilter(r, p), ["customer", "status", "collection_method", "created"]) },
      { method: "GET", path: "/v1/invoices/search", handler: (req) => searchInvoices(req) },
      { method: "GET", path: "/v1/invoices/:id", handler: (req) => {
        const p = params(req);
        allowOnly(p, ["expand"]);
        return { status: 200, body: expand(p, get("invoices", "invoice", req.params.id!)) };
      } },
      { method: "POST", path: "/v1/invoices/:id", handler: idempotent((req, p) => {
        allowOnly(p, ["metadata", "description", "auto_advance", "days_until_due"]);
        const inv = get("invoices", "invoice", req.params.id!);
        if (p.metadata !== undefined) inv.metadata = { ...(inv.metadata as object), ...metadata(p) };
        if (p.description !== undefined) inv.description = p.description;
        if (p.auto_advance !== undefined) inv.auto_advance = boolParam(p, "auto_advance");
        if (p.days_until_due !== undefined) inv.days_until_due = intParam(p, "days_until_due");
        return { status: 200, body: inv };
      }) },
      { method: "POST", path: "/v1/invoices/:id/finalize", handler: idempotent((req, p) => {
        allowOnly(p, ["auto_advance", "expand"]);
        const inv = get("invoices", "invoice", req.params.id!);
        finalize(inv);
        return { status: 200, body: expand(p, inv) };
      }) },
      { method: "POST", path: "/v1/invoices/:id/pay", handler: idempotent((req, p) => {
        allowOnly(p, ["paid_out_of_band", "payment_method", "source", "expand"]);
        const inv = get("invoices", "invoice", req.params.id!);
        if (inv.status === "paid") throw stripeError(400, { type: "invalid_request_error", code: "invoice_already_paid", message: "Invoice is already paid" }); // [~]
        if (inv.status === "void" || inv.status === "uncollectible") throw stripeError(400, { type: "invalid_request_error", code: "invoice_not_editable", message: `This invoice can no longer be paid because it is ${inv.status}.` }); // [~]
        if (inv.status === "draft") finalize(inv);
        if (inv.status === "paid") return { status: 200, body: expand(p, inv) };
        const outOfBand = boolParam(p, "paid_out_of_band") ?? false;
        // Sandbox convention: a customer whose metadata[sandbox_card] is "declined" has a card that fails.
        const customer = k.store.get("customers", inv.customer as string)!;
        if (!outOfBand && (customer.metadata as Record<string, string>).sandbox_card === "declined") {
          inv.attempted = true;
          inv.attempt_count = (inv.attempt_count as number) + 1;
          throw stripeError(402, { type: "card_error", code: "card_declined", decline_code: "generic_decline", message: "Your card was declined." });
        }
        markPaid(inv, outOfBand);
        return { status: 200, body: expand(p, inv) };
      }) },
      { method: "POST", path: "/v1/invoices/:id/void", handler: idempotent((req, p) => {
        allowOnly(p, ["expand"]);
        const inv = get("invoices", "invoice", req.params.id!);
        if (inv.status !== "open") throw stripeError(400, { type: "invalid_request_error", code: "invoice_not_editable", message: `You can only void open invoices; this invoice is ${inv.status}.` }); // [~]
        inv.status = "void";
        (inv.status_transitions as Record<string, unknown>).voided_at = Math.floor(Date.now() / 1000);
        return { status: 200, body: expand(p, inv) };
      }) },
    ];

    /** THIN subset of the search query language: field:'value' clauses (customer, status, number, currency, metadata['k']), total>n, AND. */
    const searchInvoices = (req: SandboxRequest): Reply => {
      const p = params(req);
      allowOnly(p, ["query", "limit", "page", "expand"]);
      if (typeof p.query !== "string") throw missing("query");
      const clauses = p.query.split(/\s+AND\s+/i).map((c) => {
        const m = /^(metadata\['([^']+)'\]|[a-z_]+)\s*(:|>=|<=|>|<)\s*'?([^']*)'?$/.exec(c.trim());
        if (!m) throw stripeError(400, { type: "invalid_request_error", message: `Invalid query: ${c}`, param: "query" });
        return { field: m[2] ? `metadata.${m[2]}` : m[1]!, op: m[3]!, value: m[4]! };
      });
      const limit = intParam(p, "limit") ?? 10;
      const offset = p.page ? Number(Buffer.from(String(p.page), "base64url").toString()) : 0;
      const rows = k.store.all("invoices").filter((r) =>
        clauses.every(({ field, op, value }) => {
          const v = field.startsWith("metadata.") ? (r.metadata as Record<string, string>)[field.slice(9)] : r[field];
          if (op === ":") return String(v ?? "") === value;
          const [a, b] = [Number(v), Number(value)];
          return op === ">" ? a > b : op === ">=" ? a >= b : op === "<" ? a < b : a <= b;
        }),
      ).sort(newestFirst);
      const page = rows.slice(offset, offset + limit);
      const more = offset + limit < rows.length;
      return { status: 200, body: { object: "search_result", url: "/v1/invoices/search", has_more: more, data: page, next_page: more ? Buffer.from(String(offset + limit)).toString("base64url") : null } };
    };

    const seed = (): void => {
      const globex = newCustomer({ name: "Globex GmbH", email: "ap@globex.example", metadata: { erp_customer_id: "C-1001" } }, true);
      newCustomer({ name: "Umbrella Corp", email: "billing@umbrella.example", metadata: { erp_customer_id: "C-1002" } }, true);
      const open = newInvoice({ customer: globex.id, collection_method: "send_invoice", days_until_due: "30", currency: "eur", metadata: { erp_invoice_number: "INV1001" } }, true);
      newInvoiceItem({ customer: globex.id, invoice: open.id, amount: "69995", currency: "eur", description: "Gadget ×4, Widget ×10" }, true);
      finalize(open);
      const paid = newInvoice({ customer: globex.id, collection_method: "send_invoice", days_until_due: "30", currency: "eur", metadata: { erp_invoice_number: "INV1002" } }, true);
      newInvoiceItem({ customer: globex.id, invoice: paid.id, amount: "15000", currency: "eur", description: "Gadget" }, true);
      finalize(paid);
      markPaid(paid, true);
    };

    const requestId = () => `req_${randomBytes(7).toString("base64url").replace(/[-_]/g, "x")}`;

    return {
      vendor: "stripe",
      routes,
      before(req) {
        const key = bearer(req) ?? basicAuth(req)?.user;
        if (!key) return { status: 401, headers: { "www-authenticate": 'Basic realm="Stripe"' }, body: { error: { message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.", type: "invalid_request_error" } } };
        if (!keys.has(key)) return { status: 401, headers: { "www-authenticate": 'Basic realm="Stripe"' }, body: { error: { code: "api_key_expired", message: `Invalid API Key provided: ${key.slice(0, 8)}${"*".repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`, type: "invalid_request_error" } } };
        req.principal = key;
        if (rate.count() >= k.limits.requestsPerSecond!) return rateLimited();
        rate.add();
        return undefined;
      },
      decorate(_req, reply) {
        reply.headers = { "request-id": requestId(), "stripe-version": "2024-06-20", ...reply.headers };
        if (reply.status >= 500) reply.headers["stripe-should-retry"] ??= "true";
      },
      serverError: (status) => ({ status, headers: { "stripe-should-retry": "true" }, body: { error: { type: "api_error", message: status === 503 ? "Stripe is temporarily unavailable." : "An unknown error occurred" } } }),
      throttled: () => rateLimited(),
      malformedBody: () => ({ status: 400, body: { error: { type: "invalid_request_error", message: "Invalid request body." } } }),
      notFound: (req) => ({ status: 404, body: { error: { type: "invalid_request_error", message: `Unrecognized request URL (${req.method}: ${req.path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.` } } }),
      seedRecord(type, input) {
        const p = input as Params;
        if (type === "customers") return newCustomer(p, true);
        if (type === "invoices") {
          const inv = newInvoice(p, true);
          for (const line of (p.lines as Params[] | undefined) ?? []) newInvoiceItem({ ...line, customer: p.customer, invoice: inv.id }, true);
          if (p.finalize) finalize(inv);
          if (p.paid) markPaid(inv, true);
          return inv;
        }
        throw new Error("seed customers or invoices");
      },
      reset() {
        rate.clear();
        idempotency.clear();
        invoiceSeq.clear();
        order.clear();
        if (options.seed ?? true) seed();
      },
    };

    function rateLimited(): Reply {
      return { status: 429, headers: { "stripe-should-retry": "true" }, body: { error: { type: "invalid_request_error", code: "rate_limit", message: "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.", doc_url: `${DOC}/rate-limit` } } };
    }
  });
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((key) => [key, sortKeys((v as Record<string, unknown>)[key])]));
  return v;
}
