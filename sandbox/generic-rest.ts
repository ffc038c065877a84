// An in-house ERP's REST façade, for the generic REST profile. No vendor documents this one: it is the kind of
// API a company puts in front of its own ERP (or that Infor ION / a middleware exposes), with the habits such APIs
// have, so that the profile is tested as a customer would configure it against theirs:
//   - OAuth 2.0 client credentials at /oauth/token, short-lived bearer tokens (expiry is a 401 mid-run);
//   - /api/v1 resources: customers (found by externalId), orders (found by externalReference, which the ERP does
//     NOT keep unique: only a look-up before posting again stops a twin), invoices listed by row version (a
//     counter bumped on every change, as SQL Server's rowversion), payments applied to one invoice;
//   - an optional Idempotency-Key header on POST (limit `honourIdempotencyKey`, 1 by default; 0 models an ERP that
//     ignores it): same key and body → the first answer again with `Idempotent-Replayed: true`; same key, other
//     body → 422; same key while the first is running → 409;
//   - errors as `{error: {code, message, field?}}`, 422 for validation naming the field, 429 + Retry-After.
// Records are shaped the ERP's way (numbers for money, snake-free camelCase), not Keelson's canonical one.
import { createHash, randomBytes } from "node:crypto";
import { Halt, SlidingWindow, bearer, serve, sleep, type Kernel, type Reply, type RunningSandbox, type SandboxRequest, type StartOptions, type StoredRecord } from "./kernel";

export const GENERIC_REST_LIMITS = {
  /** Requests per second over all API routes (429 beyond). */
  requestsPerSecond: 50,
  /** Lifetime of an access token, seconds. */
  tokenSeconds: 3600,
  /** 1: POSTs honour Idempotency-Key; 0: the header is ignored. */
  honourIdempotencyKey: 1,
  /** Largest page of invoices. */
  maxPageSize: 500,
  /** Simulated execution time of a POST (ms): lets tests overlap two requests with the same key. */
  executionMs: 0,
};

export const GENERIC_REST_DEFAULTS = {
  clientId: "keelson-integration",
  clientSecret: "inhouse-secret-1",
  /** Stock items the seed holds (sku → list price). */
  items: { "WID-1": 12.5, "GAD-2": 40, "WID-9": 12.5, "GAD-9": 40 } as Record<string, number>,
  /** A customer in the seed, known by its CRM account id. */
  customer: { id: "C-1001", externalId: "001SEEDACCOUNT00001", name: "Globex GmbH" },
};

const CURRENCIES = new Set(["EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CAD", "AUD", "JPY"]);

export interface GenericRestSandboxOptions extends StartOptions {
  seed?: boolean;
}

const fail = (status: number, code: string, message: string, field?: string, headers: Record<string, string> = {}): Halt =>
  new Halt({ status, headers, body: { error: { code, message, ...(field ? { field } : {}) } } });
const invalid = (field: string, message: string) => fail(422, "VALIDATION_FAILED", message, field);

const cents = (n: number) => Math.round(n * 100);
const today = () => new Date().toISOString().slice(0, 10);

export async function start(options: GenericRestSandboxOptions = {}): Promise<RunningSandbox> {
  return serve(GENERIC_REST_LIMITS, options, (k) => build(k, options));
}

function build(k: Kernel, options: GenericRestSandboxOptions) {
  const window = new SlidingWindow(() => 1000);
  const numbers = { customer: 0, order: 0, invoice: 0, payment: 0 };
  let rowVersion = 0;
  /** Idempotency-Key → the request's fingerprint and its answer (undefined while running). */
  const keys = new Map<string, { fingerprint: string; reply?: Reply }>();

  const nowIso = () => new Date().toISOString();
  const touch = (r: StoredRecord) => {
    r.rowVersion = ++rowVersion;
    r.updatedAt = nowIso();
    return r;
  };

  const customerOf = (id: unknown) => k.store.get("customers", String(id));
  const page = (items: unknown[]) => ({ items, count: items.length });

  const createCustomer = (body: Record<string, unknown>, seed = false): StoredRecord => {
    if (typeof body.name !== "string" || !body.name.trim()) throw invalid("name", "name is required");
    if (body.externalId !== undefined && typeof body.externalId !== "string") throw invalid("externalId", "externalId must be a string");
    if (body.externalId && k.store.all("customers").some((c) => c.externalId === body.externalId)) throw fail(409, "DUPLICATE", `a customer with externalId ${String(body.externalId)} exists`, "externalId");
    if (body.currency !== undefined && !CURRENCIES.has(String(body.currency))) throw invalid("currency", `unknown currency ${String(body.currency)}`);
    const id = `C${String(++numbers.customer).padStart(5, "0")}`;
    const c = touch({ id, number: id, externalId: body.externalId ?? null, name: body.name, email: body.email ?? null, currency: body.currency ?? "EUR", createdAt: nowIso() });
    return k.store.insert("customers", id, c, { seed });
  };

  const createOrder = (body: Record<string, unknown>): StoredRecord => {
    if (typeof body.externalReference !== "string" || !body.externalReference) throw invalid("externalReference", "externalReference is required");
    if (!customerOf(body.customerId)) throw invalid("customerId", `no customer ${String(body.customerId)}`);
    if (!CURRENCIES.has(String(body.currency))) throw invalid("currency", `unknown currency ${String(body.currency)}`);
    if (!Array.isArray(body.lines) || body.lines.length === 0) throw invalid("lines", "an order needs at least one line");
    const lines = body.lines.map((raw, i) => {
      const line = (raw ?? {}) as Record<string, unknown>;
      const price = GENERIC_REST_DEFAULTS.items[String(line.sku)] ?? (k.store.get("items", String(line.sku))?.price as number | undefined);
      if (price === undefined) throw invalid(`lines[${i}].sku`, `no item ${String(line.sku)}`);
      if (typeof line.quantity !== "number" || !(line.quantity > 0)) throw invalid(`lines[${i}].quantity`, "quantity must be a number above zero");
      const unitPrice = typeof line.price === "number" ? line.price : price;
      if (unitPrice < 0) throw invalid(`lines[${i}].price`, "price must not be negative");
      return { lineNo: i + 1, sku: line.sku, description: line.description ?? null, quantity: line.quantity, price: unitPrice, amount: cents(unitPrice * line.quantity) / 100 };
    });
    const id = String(++numbers.order);
    const total = lines.reduce((sum, l) => sum + cents(l.amount), 0) / 100;
    const order = touch({ id, number: `SO-${String(numbers.order).padStart(6, "0")}`, externalReference: body.externalReference, customerId: body.customerId, currency: body.currency, orderDate: body.orderDate ?? today(), status: "open", lines, total, createdAt: nowIso() });
    return k.store.insert("orders", id, order);
  };

  /** An invoice for an order (the ERP's billing run, or a seed). */
  const invoiceFor = (input: Record<string, unknown>): StoredRecord => {
    const order = input.orderId !== undefined ? k.store.get("orders", String(input.orderId)) : undefined;
    if (input.orderId !== undefined && !order) throw new Error(`no order ${String(input.orderId)}`);
    const customerId = String(order?.customerId ?? input.customerId ?? GENERIC_REST_DEFAULTS.customer.id);
    if (!customerOf(customerId)) throw new Error(`no customer ${customerId}`);
    const lines = (order?.lines as Record<string, unknown>[] | undefined) ?? [{ lineNo: 1, sku: "WID-1", description: null, quantity: 1, price: Number(input.total ?? 100), amount: Number(input.total ?? 100) }];
    const total = lines.reduce((sum, l) => sum + cents(l.amount as number), 0) / 100;
    const id = `INV-${String(++numbers.invoice).padStart(6, "0")}`;
    const invoice = touch({ id, number: id, orderId: order?.id ?? null, customerId, currency: order?.currency ?? input.currency ?? "EUR", issuedOn: input.issuedOn ?? today(), dueOn: input.dueOn ?? null, status: "open", total, openAmount: total, lines, createdAt: nowIso() });
    if (order) {
      order.status = "invoiced";
      touch(order);
    }
    return k.store.insert("invoices", id, invoice, { seed: true });
  };

  const recordPayment = (invoice: StoredRecord, body: Record<string, unknown>): StoredRecord => {
    if (typeof body.amount !== "number" || !(body.amount > 0)) throw invalid("amount", "amount must be a number above zero");
    if (body.currency !== invoice.currency) throw invalid("currency", `the invoice is in ${String(invoice.currency)}`);
    if (typeof body.reference !== "string" || !body.reference) throw invalid("reference", "reference is required");
    if (body.paymentDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(String(body.paymentDate))) throw invalid("paymentDate", "paymentDate must be YYYY-MM-DD");
    if (invoice.status === "paid") throw fail(422, "INVOICE_PAID", `invoice ${String(invoice.id)} is paid`, "invoiceId");
    if (invoice.status === "void") throw fail(422, "INVOICE_VOID", `invoice ${String(invoice.id)} is void`, "invoiceId");
    if (cents(body.amount) > cents(invoice.openAmount as number)) throw invalid("amount", `the amount exceeds the open amount ${String(invoice.openAmount)}`);
    const id = `PAY-${String(++numbers.payment).padStart(6, "0")}`;
    const payment = touch({ id, invoiceId: invoice.id, customerId: invoice.customerId, amount: body.amount, currency: body.currency, reference: body.reference, paymentDate: body.paymentDate ?? today(), createdAt: nowIso() });
    invoice.openAmount = (cents(invoice.openAmount as number) - cents(body.amount)) / 100;
    invoice.status = invoice.openAmount === 0 ? "paid" : "partially_paid";
    touch(invoice);
    return k.store.insert("payments", id, payment);
  };

  /** POST with the optional Idempotency-Key: the first answer is kept and replayed for the same key and body. */
  const idempotent = async (req: SandboxRequest, run: () => Reply): Promise<Reply> => {
    const key = k.limits.honourIdempotencyKey ? req.header("idempotency-key") : undefined;
    if (!key) {
      if (k.limits.executionMs) await sleep(k.limits.executionMs);
      return run();
    }
    const fingerprint = createHash("sha256").update(`${req.method} ${req.path}\n`).update(req.raw).digest("hex");
    const seen = keys.get(key);
    if (seen) {
      if (seen.fingerprint !== fingerprint) throw fail(422, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with another request", "Idempotency-Key");
      if (!seen.reply) throw fail(409, "IDEMPOTENCY_KEY_IN_USE", "a request with this Idempotency-Key is still being processed");
      return { ...seen.reply, headers: { ...seen.reply.headers, "idempotent-replayed": "true" } };
    }
    const entry: { fingerprint: string; reply?: Reply } = { fingerprint };
    keys.set(key, entry);
    try {
      if (k.limits.executionMs) await sleep(k.limits.executionMs);
      entry.reply = run();
    } catch (e) {
      // Refusals are kept too (the same request would be refused again); a crash is not.
      if (e instanceof Halt && e.reply.status < 500) entry.reply = e.reply;
      else keys.delete(key);
      throw e;
    }
    return entry.reply;
  };

  const objectBody = (req: SandboxRequest): Record<string, unknown> => {
    const body = req.json();
    if (!body || typeof body !== "object" || Array.isArray(body)) throw fail(400, "BAD_REQUEST", "the body must be a JSON object");
    return body as Record<string, unknown>;
  };
  /** One transaction per write: a refusal half way leaves nothing behind. */
  const atomically = <T>(work: () => T): T => {
    const snapshot = k.store.snapshot();
    const saved = { ...numbers, rowVersion };
    try {
      return work();
    } catch (e) {
      k.store.restore(snapshot);
      Object.assign(numbers, saved);
      rowVersion = saved.rowVersion;
      throw e;
    }
  };
  const byId = (type: string, what: string) => (req: SandboxRequest): Reply => {
    const r = k.store.get(type, req.params.id!);
    if (!r) throw fail(404, "NOT_FOUND", `no ${what} ${req.params.id}`);
    return { status: 200, body: r };
  };

  return {
    vendor: "generic-rest",
    routes: [
      {
        method: "POST",
        path: "/oauth/token",
        public: true,
        handler: (req: SandboxRequest): Reply => {
          const form = req.form();
          const basic = req.header("authorization");
          let id = form.get("client_id");
          let secret = form.get("client_secret");
          if (basic && /^basic /i.test(basic)) [id, secret] = Buffer.from(basic.slice(6), "base64").toString("utf8").split(":");
          if (form.get("grant_type") !== "client_credentials") return { status: 400, body: { error: "unsupported_grant_type" } };
          if (id !== GENERIC_REST_DEFAULTS.clientId || secret !== GENERIC_REST_DEFAULTS.clientSecret) return { status: 401, body: { error: "invalid_client", error_description: "unknown client or wrong secret" } };
          const token = k.tokens.issue(id, k.limits.tokenSeconds!);
          return { status: 200, body: { access_token: token.token, token_type: "Bearer", expires_in: k.limits.tokenSeconds } };
        },
      },
      {
        method: "GET",
        path: "/api/v1/customers",
        handler: (req: SandboxRequest): Reply => {
          const externalId = req.query.get("externalId");
          return { status: 200, body: page(k.store.all("customers").filter((c) => externalId === null || c.externalId === externalId)) };
        },
      },
      { method: "GET", path: "/api/v1/customers/:id", handler: byId("customers", "customer") },
      { method: "POST", path: "/api/v1/customers", handler: (req: SandboxRequest) => idempotent(req, () => ({ status: 201, body: atomically(() => createCustomer(objectBody(req))) })) },
      {
        method: "GET",
        path: "/api/v1/orders",
        handler: (req: SandboxRequest): Reply => {
          const ref = req.query.get("externalReference");
          return { status: 200, body: page(k.store.all("orders").filter((o) => ref === null || o.externalReference === ref)) };
        },
      },
      { method: "GET", path: "/api/v1/orders/:id", handler: byId("orders", "order") },
      { method: "POST", path: "/api/v1/orders", handler: (req: SandboxRequest) => idempotent(req, () => ({ status: 201, body: atomically(() => createOrder(objectBody(req))) })) },
      {
        method: "GET",
        path: "/api/v1/invoices",
        handler: (req: SandboxRequest): Reply => {
          const after = req.query.get("changedAfter") || "0";
          if (!/^\d+$/.test(after)) throw fail(400, "BAD_REQUEST", "changedAfter must be a row version (an integer)", "changedAfter");
          const limit = Number(req.query.get("limit") ?? 100);
          if (!Number.isInteger(limit) || limit < 1 || limit > k.limits.maxPageSize!) throw fail(400, "BAD_REQUEST", `limit must be 1..${k.limits.maxPageSize}`, "limit");
          const rows = k.store.all("invoices").filter((i) => (i.rowVersion as number) > Number(after)).sort((a, b) => (a.rowVersion as number) - (b.rowVersion as number));
          return { status: 200, body: page(rows.slice(0, limit)) };
        },
      },
      { method: "GET", path: "/api/v1/invoices/:id", handler: byId("invoices", "invoice") },
      {
        method: "POST",
        path: "/api/v1/invoices/:id/payments",
        handler: (req: SandboxRequest) =>
          idempotent(req, () => {
            const invoice = k.store.get("invoices", req.params.id!);
            if (!invoice) throw fail(404, "NOT_FOUND", `no invoice ${req.params.id}`);
            return { status: 201, body: atomically(() => recordPayment(invoice, objectBody(req))) };
          }),
      },
      {
        method: "GET",
        path: "/api/v1/payments",
        handler: (req: SandboxRequest): Reply => {
          const ref = req.query.get("reference");
          const invoiceId = req.query.get("invoiceId");
          return { status: 200, body: page(k.store.all("payments").filter((p) => (ref === null || p.reference === ref) && (invoiceId === null || p.invoiceId === invoiceId))) };
        },
      },
    ],
    before(req: SandboxRequest): Reply | undefined {
      const token = k.tokens.check(bearer(req));
      if (token === undefined || token === "expired") {
        return { status: 401, headers: { "www-authenticate": `Bearer error="invalid_token"` }, body: { error: { code: "UNAUTHENTICATED", message: token === "expired" ? "the access token has expired" : "a valid bearer token is required" } } };
      }
      if (window.count() >= k.limits.requestsPerSecond!) return this.throttled(req);
      window.add();
      return undefined;
    },
    decorate(_req: SandboxRequest, reply: Reply): void {
      reply.headers = { "x-request-id": randomBytes(8).toString("hex"), ...reply.headers };
    },
    serverError: (status: number): Reply => ({ status, body: { error: { code: status === 503 ? "UNAVAILABLE" : "INTERNAL", message: status === 503 ? "the service is unavailable, try again later" : "an unexpected error occurred" } } }),
    throttled: (_req: SandboxRequest): Reply => ({ status: 429, headers: { "retry-after": "1" }, body: { error: { code: "RATE_LIMITED", message: `more than ${k.limits.requestsPerSecond} requests a second` } } }),
    malformedBody: (): Reply => ({ status: 400, body: { error: { code: "BAD_JSON", message: "the body is not valid JSON" } } }),
    notFound: (req: SandboxRequest): Reply => ({ status: 404, body: { error: { code: "NO_ROUTE", message: `no route ${req.method} ${req.path}` } } }),
    seedRecord(type: string, input: Record<string, unknown>): StoredRecord {
      if (type === "invoices") return invoiceFor(input);
      if (type === "customers") return createCustomer(input, true);
      if (type === "items") {
        if (typeof input.sku !== "string" || typeof input.price !== "number") throw new Error("an item needs sku and price");
        return k.store.insert("items", input.sku, { sku: input.sku, price: input.price }, { seed: true });
      }
      throw new Error(`cannot seed ${type}; seedable: invoices, customers, items`);
    },
    reset(): void {
      window.clear();
      keys.clear();
      Object.assign(numbers, { customer: 0, order: 0, invoice: 0, payment: 0 });
      rowVersion = 0;
      if (options.seed === false) return;
      const seedCustomer = GENERIC_REST_DEFAULTS.customer;
      numbers.customer = 1;
      k.store.insert("customers", seedCustomer.id, touch({ id: seedCustomer.id, number: seedCustomer.id, externalId: seedCustomer.externalId, name: seedCustomer.name, email: null, currency: "EUR", createdAt: nowIso() }), { seed: true });
      for (const total of [120, 80.5, 42]) invoiceFor({ customerId: seedCustomer.id, total });
    },
  };
}
