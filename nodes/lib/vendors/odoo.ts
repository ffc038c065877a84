/**
 * Odoo's external API (erp-crm-wire.md §7) over either transport: Odoo 19's JSON-2 (`POST /json/2/{model}/{method}`,
 * named arguments, the API key as bearer, real HTTP errors with `{name, message, arguments}`), or the legacy JSON-RPC
 * (`POST /jsonrpc`, `execute_kw` with database, uid and password or API key; errors as HTTP 200 with
 * `{error: {code, message, data: {name, message}}}`). Odoo has no idempotency key: orders are found by
 * `client_order_ref` and partner, partners by `ref` (the CRM account id), payments by their memo (the payment's
 * reference), before anything is created again.
 * Odoo has no documented rate limit (THIN): only the 429 / Retry-After of a hosting proxy are honoured.
 */
import { Connection } from "../resilience/connection";
import { BusinessError, TechnicalError, UnknownOutcomeError } from "../resilience/errors";
import { TokenCache, bearerToken } from "../http/auth";
import type { HttpResponse } from "../http/client";
import { ErpAdapterBase, externalIdOf, unreadableRepeatable, unsupported, withRef } from "./erp-base";
import type { CallContext, CreateOrderContext, CrossRef, Customer, ErpAdapterOptions, Invoice, InvoicePage, OrderOutcome, Payment, SalesOrder } from "./erp";

export interface OdooOptions extends ErpAdapterOptions {
  protocol: "json2" | "jsonrpc";
  /** The database; JSON-2 sends it as X-Odoo-Database (needed where one server hosts several). */
  database: string;
  /** JSON-RPC: the user's login. */
  login?: string;
  /** JSON-2: the API key. JSON-RPC: the user's password or an API key. */
  password: string;
}

const SYSTEM = "odoo";
const DEFAULT_PAGE = 100;
const ORDER_FIELDS = ["name", "partner_id", "client_order_ref", "date_order", "validity_date", "state", "currency_id", "amount_untaxed", "amount_tax", "amount_total", "invoice_status", "write_date"];
const ORDER_LINE_FIELDS = ["order_id", "sequence", "product_id", "name", "product_uom_qty", "price_unit", "discount", "price_subtotal"];
const INVOICE_FIELDS = ["name", "move_type", "partner_id", "ref", "invoice_origin", "invoice_date", "invoice_date_due", "state", "payment_state", "currency_id", "amount_untaxed", "amount_tax", "amount_total", "amount_residual", "write_date"];
const INVOICE_LINE_FIELDS = ["move_id", "sequence", "product_id", "name", "quantity", "price_unit", "discount", "price_subtotal"];
/** Payment journals: the Register Payment wizard takes only bank and cash journals. */
const PAYMENT_JOURNAL_TYPES = ["bank", "cash"];

/** One ORM call: named arguments, and the records it runs on (for write, read, action_…). */
interface OrmCall {
  model: string;
  method: string;
  ids?: number[];
  args?: Record<string, unknown>;
  /** Reads are safe to repeat; creates and state changes are not. */
  write?: boolean;
}

export class OdooAdapter extends ErpAdapterBase {
  readonly system = SYSTEM;
  readonly connection: Connection;
  /** JSON-RPC: the uid `common.authenticate` gave for the login (renewed once when Odoo refuses it). */
  private readonly uid: TokenCache<number>;
  private rpcId = 0;
  /** account.payment's memo and invoice-link fields, which changed in Odoo 18; asked once with fields_get. */
  private paymentFieldNames?: Promise<PaymentFields>;
  /** Journal ids by the setting that named them (an id or a code). */
  private readonly journals = new Map<string, number>();

  constructor(private readonly odoo: OdooOptions) {
    super(odoo, {
      orderOut: "salesorder-to-odoo-saleorder",
      orderIn: "odoo-saleorder-to-salesorder",
      customerOut: "customer-to-odoo-partner",
      invoiceIn: "odoo-invoice-to-invoice",
      paymentOut: "payment-to-odoo-payment",
    });
    if (odoo.protocol !== "json2" && odoo.protocol !== "jsonrpc") throw new TypeError(`Odoo protocol must be json2 or jsonrpc, got ${JSON.stringify(odoo.protocol)}`);
    if (odoo.protocol === "jsonrpc" && !odoo.login) throw new TypeError("Odoo JSON-RPC needs the login");
    const { timeoutMs, tls, ...limits } = odoo.connection ?? {};
    this.connection = new Connection({
      name: odoo.name,
      http: { baseUrl: odoo.baseUrl, ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(tls ? { tls } : {}), ...(odoo.protocol === "json2" ? { headers: { "X-Odoo-Database": odoo.database } } : {}) },
      ...(odoo.protocol === "json2" ? { auth: () => bearerToken(odoo.password) } : {}),
      ...limits,
      hooks: { classify: (response, request) => unreadableRepeatable(response, request) ?? classifyOdoo(response) },
    });
    this.uid = new TokenCache(() => this.authenticate());
  }

  async ensureCustomer(customer: Customer, ctx: CallContext): Promise<{ ref: CrossRef; created: boolean }> {
    const own = this.ownRef(customer.refs);
    if (own) return { ref: own, created: false };
    const externalId = externalIdOf(customer, this.system);
    if (!externalId) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "customer.refs", message: "no external id to find the Odoo partner by", hint: "add the CRM's cross-reference (system and id)" });
    const find = async (): Promise<CrossRef | undefined> => {
      const [partner] = await this.searchRead("res.partner", [["ref", "=", externalId]], ["id", "ref"], ctx, { limit: 1 });
      return partner ? { system: this.system, id: String(partner.id), type: "res.partner" } : undefined;
    };
    const existing = await find();
    if (existing) return { ref: existing, created: false };
    const vals = await this.map("customerOut", { ...this.withDefaults(customer as never), externalId });
    const post = async (): Promise<CrossRef> => ({ system: this.system, id: String(await this.create("res.partner", vals, ctx)), type: "res.partner" });
    const { value, created } = await this.postOnce(find, post, false);
    return { ref: value, created };
  }

  async createOrder(order: SalesOrder, ctx: CreateOrderContext): Promise<OrderOutcome> {
    const partnerId = Number(this.ownRef(order.customer.refs)?.id);
    if (!Number.isInteger(partnerId) || partnerId <= 0) throw new BusinessError({ code: "CUSTOMER_NOT_LINKED", field: "customer.refs", message: "the order's customer has no Odoo partner id", hint: "turn on \"ensure customer\" or add the Odoo partner's cross-reference" });
    const prepared = this.withDefaults(order);
    const vals = await this.map("orderOut", { ...prepared, lines: await this.withProducts(prepared.lines as Line[] | undefined, ctx) });
    const find = async (): Promise<Record<string, unknown> | undefined> =>
      (await this.searchRead("sale.order", [["client_order_ref", "=", order.externalReference], ["partner_id", "=", partnerId]], ["id", "name", "state"], ctx, { limit: 1 }))[0];
    const post = async (): Promise<Record<string, unknown>> => ({ id: await this.create("sale.order", vals, ctx), state: "draft" });
    const { value, created } = await this.postOnce(find, post, ctx.mayExist === true);
    const id = Number(value.id);
    // A quotation becomes a sales order when confirmed; extensions.odoo.confirm = false keeps it a quotation.
    const confirm = (prepared.extensions?.[SYSTEM] as { confirm?: unknown } | undefined)?.confirm !== false;
    if (confirm && (value.state === "draft" || value.state === "sent")) await this.confirm(id, ctx);
    const [record] = await this.read("sale.order", [id], ["name", "state"], ctx);
    const number = String(record?.name ?? value.name);
    const status = record?.state === "sale" ? "accepted" : record?.state === "cancel" ? "cancelled" : "draft";
    return { order: { ...withRef(order, { system: this.system, id: String(id), type: "sale.order", number }), orderNumber: number, status }, created };
  }

  async getOrder(key: { id?: string; externalReference?: string }, ctx: CallContext): Promise<SalesOrder | undefined> {
    let record: Record<string, unknown> | undefined;
    if (key.id !== undefined) {
      const id = Number(key.id);
      if (!Number.isInteger(id) || id <= 0) return undefined;
      record = (await this.searchRead("sale.order", [["id", "=", id]], ORDER_FIELDS, ctx, { limit: 1 }))[0];
    } else record = (await this.searchRead("sale.order", [["client_order_ref", "=", key.externalReference ?? ""]], ORDER_FIELDS, ctx, { limit: 1 }))[0];
    if (!record) return undefined;
    const lines = await this.searchRead("sale.order.line", [["order_id", "=", record.id]], ORDER_LINE_FIELDS, ctx, { order: "sequence, id" });
    return (await this.map("orderIn", { ...record, order_line: lines })) as SalesOrder;
  }

  /**
   * Posted customer invoices in (write_date, id) order; the watermark is the last one's pair. [~] Odoo keeps
   * write_date to the microsecond but answers and compares it as a whole-second string, so an invoice written in
   * the watermark's second may be listed again (the gate downstream drops it), never skipped.
   */
  async *listInvoices(watermark: string | undefined, ctx: CallContext & { pageSize?: number }): AsyncGenerator<InvoicePage> {
    const pageSize = ctx.pageSize ?? DEFAULT_PAGE;
    let after = parseWatermark(watermark);
    for (;;) {
      const domain: unknown[] = [["move_type", "=", "out_invoice"], ["state", "=", "posted"]];
      if (after) domain.push("|", ["write_date", ">", after.at], "&", ["write_date", "=", after.at], ["id", ">", after.id]);
      const moves = await this.searchRead("account.move", domain, INVOICE_FIELDS, ctx, { order: "write_date asc, id asc", limit: pageSize });
      if (moves.length === 0) return;
      const records = await this.withInvoiceLines(moves, ctx);
      const last = moves[moves.length - 1]!;
      after = { at: String(last.write_date), id: Number(last.id) };
      yield { ...(await this.mapInvoices(records, (r) => String(r.id))), watermark: `${after.at}|${after.id}` };
      if (moves.length < pageSize) return;
    }
  }

  async getInvoice(id: string, ctx: CallContext): Promise<Invoice | undefined> {
    const n = Number(id);
    if (!Number.isInteger(n) || n <= 0) return undefined;
    const moves = await this.searchRead("account.move", [["id", "=", n], ["move_type", "in", ["out_invoice", "out_refund"]]], INVOICE_FIELDS, ctx, { limit: 1 });
    if (moves.length === 0) return undefined;
    return (await this.map("invoiceIn", (await this.withInvoiceLines(moves, ctx))[0])) as Invoice;
  }

  /**
   * Registers a customer payment against one posted customer invoice with Odoo's Register Payment wizard
   * (account.payment.register created with context active_model = account.move, active_ids = [invoice], then
   * action_create_payments), which creates, posts and reconciles the account.payment as the UI's button does.
   * Odoo has no idempotency key: the payment's reference is its memo, and the payment is looked up by it before
   * the wizard runs and again after an unknown outcome; a memo already paying another invoice is refused, so one
   * reference never pays twice. The journal is extensions.odoo.journal or the connection's order defaults'
   * paymentJournal (a bank or cash journal's id or code; left out, Odoo's default). THIN: the wizard's fields
   * (communication, journal_id, currency_id, amount, payment_date) are the same in Odoo 17 to 19, but account.payment
   * keeps the memo in `ref` up to 17 and in `memo` from 18 on, and links its invoices in `invoice_ids` from 18 on
   * (`reconciled_invoice_ids` before): the adapter asks fields_get which it has. Whether a paid invoice reads
   * paid or in_payment depends on the journal's outstanding receipts account [~].
   */
  async recordPayment(payment: Payment, ctx: CallContext): Promise<Payment> {
    const invoices = payment.invoices ?? [];
    if (invoices.length !== 1) throw unsupported(this.system, "a payment applied to other than exactly one invoice");
    const invoiceId = Number(this.ownRef(invoices[0]!.refs)?.id);
    if (!Number.isInteger(invoiceId) || invoiceId <= 0) throw new BusinessError({ code: "INVOICE_NOT_LINKED", field: "invoices[0].refs", message: "the payment's invoice has no Odoo account.move id", hint: "put the invoice's {system: \"odoo\", id} in invoices[0].refs" });
    const reference = payment.reference ?? externalIdOf(payment, this.system);
    if (!reference) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "reference", message: "a payment needs a reference to be recorded exactly once", hint: "set reference (the bank or PSP transaction id); it becomes the Odoo payment's memo" });
    if (!(Number(payment.amount.amount) > 0)) throw new BusinessError({ code: "INVALID_AMOUNT", field: "amount.amount", message: `a payment's amount must be more than zero, got ${payment.amount.amount}`, hint: "a refund is a credit note in Odoo, not a negative payment" });
    const [invoice] = await this.searchRead("account.move", [["id", "=", invoiceId], ["move_type", "=", "out_invoice"]], ["name", "partner_id", "state", "currency_id"], ctx, { limit: 1 });
    if (!invoice) throw new BusinessError({ code: "NOT_FOUND", field: "invoices[0].refs", message: `no Odoo customer invoice (account.move, out_invoice) with id ${invoiceId}` });
    const names = await this.paymentFields(ctx);
    const find = async (): Promise<Record<string, unknown> | undefined> => {
      const found = await this.searchRead("account.payment", [[names.memo, "=", reference], ["payment_type", "=", "inbound"]], ["name", "state", "partner_id", ...names.invoices], ctx, { order: "id", limit: 10 });
      const linked = (p: Record<string, unknown>): number[] => names.invoices.flatMap((f) => (Array.isArray(p[f]) ? (p[f] as number[]) : []));
      const mine = found.find((p) => linked(p).includes(invoiceId)) ?? found.find((p) => linked(p).length === 0 && idOf(p.partner_id) === idOf(invoice.partner_id));
      if (mine) return mine;
      if (found.length) throw new BusinessError({ code: "DUPLICATE_REFERENCE", field: "reference", message: `the Odoo payment ${String(found[0]!.name)} already has the memo ${JSON.stringify(reference)} and pays another invoice or customer`, hint: "a reference records one payment on one invoice; give this payment its own reference" });
      return undefined;
    };
    const ext = (payment.extensions?.[SYSTEM] ?? {}) as Record<string, unknown>;
    const journalId = await this.journalOf(ext.journal ?? this.options.orderDefaults?.paymentJournal, ctx);
    const currencyId = await this.currencyOf(payment.amount.currency, invoice, ctx);
    const vals = await this.map("paymentOut", { ...payment, reference, extensions: { ...payment.extensions, [SYSTEM]: { ...ext, ...(journalId ? { journalId } : {}), currencyId } } });
    const post = async (): Promise<Record<string, unknown>> => {
      const wizard = await this.create("account.payment.register", vals, ctx, { active_model: "account.move", active_ids: [invoiceId] });
      const action = await this.call({ model: "account.payment.register", method: "action_create_payments", ids: [wizard], write: true }, ctx);
      const registered = await find();
      if (registered) return registered;
      // The wizard ran (its action names the payment) but the memo does not find it: a repost would pay twice.
      const id = (action as { res_id?: unknown } | null)?.res_id;
      throw new TechnicalError({ kind: "protocol", retryable: false, message: `odoo: the payment${Number.isInteger(id) ? ` account.payment(${String(id)})` : ""} was registered on invoice ${invoiceId} but is not found by its memo ${JSON.stringify(reference)}; do not replay this message before checking the invoice in Odoo` });
    };
    // A payment is money: always look for it by its reference before registering.
    const { value, created } = await this.postOnce(find, post, true);
    const [after] = await this.read("account.move", [invoiceId], ["payment_state", "amount_residual", "currency_id"], ctx);
    const invoicePaymentState = String(after?.payment_state ?? "");
    return {
      ...withRef(payment, { system: this.system, id: String(value.id), type: "account.payment", number: String(value.name) }),
      reference,
      status: PAYMENT_STATUS[String(value.state)] ?? "pending",
      extensions: {
        ...payment.extensions,
        [SYSTEM]: { ...ext, created, paymentState: value.state, invoicePaymentState, invoiceStatus: INVOICE_STATUS[invoicePaymentState] ?? "open", invoiceAmountDue: { amount: String(after?.amount_residual ?? ""), currency: Array.isArray(after?.currency_id) ? String(after.currency_id[1]) : "" } },
      },
    };
  }

  /** Confirms a quotation once: after an unknown outcome, the order's state says whether it took. */
  private async confirm(id: number, ctx: CallContext): Promise<void> {
    try {
      await this.call({ model: "sale.order", method: "action_confirm", ids: [id], write: true }, ctx);
    } catch (err) {
      if (!(err instanceof UnknownOutcomeError)) throw err;
      const [record] = await this.read("sale.order", [id], ["state"], ctx);
      if (record?.state === "sale") return;
      await this.call({ model: "sale.order", method: "action_confirm", ids: [id], write: true }, ctx);
    }
  }

  /** Which account.payment fields hold the memo and the paid invoices on this server (Odoo 18 renamed them). */
  private paymentFields(ctx: CallContext): Promise<PaymentFields> {
    this.paymentFieldNames ??= this.call({ model: "account.payment", method: "fields_get", args: { attributes: ["type"] } }, ctx).then((result) => {
      const fields = result && typeof result === "object" ? (result as Record<string, unknown>) : {};
      return { memo: "memo" in fields ? "memo" : "ref", invoices: ["invoice_ids", "reconciled_invoice_ids"].filter((f) => f in fields) };
    });
    return this.paymentFieldNames.catch((err: unknown) => {
      this.paymentFieldNames = undefined;
      throw err;
    });
  }

  /** The bank or cash journal a setting names by id or code; none set: undefined (Odoo picks its default). */
  private async journalOf(setting: unknown, ctx: CallContext): Promise<number | undefined> {
    if (setting === undefined || setting === null || setting === "") return undefined;
    const key = String(setting).trim();
    const known = this.journals.get(key);
    if (known !== undefined) return known;
    const byId = /^\d+$/.test(key);
    const [journal] = await this.searchRead("account.journal", [[byId ? "id" : "code", "=", byId ? Number(key) : key], ["type", "in", PAYMENT_JOURNAL_TYPES]], ["id", "code"], ctx, { limit: 1 });
    if (!journal) throw new BusinessError({ code: "JOURNAL_NOT_FOUND", field: "journal_id", message: `no Odoo bank or cash journal with ${byId ? "id" : "code"} ${JSON.stringify(key)}`, hint: "set extensions.odoo.journal (or the connection's order defaults paymentJournal) to a bank or cash journal's code or id" });
    this.journals.set(key, Number(journal.id));
    return Number(journal.id);
  }

  /** The payment currency's res.currency id: the invoice's own, or an active currency by its ISO code. */
  private async currencyOf(code: string, invoice: Record<string, unknown>, ctx: CallContext): Promise<number> {
    const own = invoice.currency_id;
    if (Array.isArray(own) && own[1] === code) return Number(own[0]);
    const [currency] = await this.searchRead("res.currency", [["name", "=", code]], ["id"], ctx, { limit: 1 });
    if (!currency) throw new BusinessError({ code: "CURRENCY_NOT_ACTIVE", field: "currency_id", message: `the payment's currency ${code} is not an active currency in Odoo`, hint: "activate the currency in Odoo's accounting settings, or record the payment in the invoice's currency" });
    return Number(currency.id);
  }

  /** Canonical lines with the Odoo product id in each product's refs, looked up by SKU (default_code). */
  private async withProducts(lines: Line[] | undefined, ctx: CallContext): Promise<Line[]> {
    const list = lines ?? [];
    const skus = [...new Set(list.filter((l) => !this.ownRef(l.product?.refs) && l.product?.sku).map((l) => l.product!.sku!))];
    const found = skus.length === 0 ? [] : await this.searchRead("product.product", [["default_code", "in", skus]], ["id", "default_code"], ctx);
    const ids = new Map(found.map((p) => [String(p.default_code), Number(p.id)]));
    return list.map((line, i) => {
      if (this.ownRef(line.product?.refs)) return line;
      const id = ids.get(line.product?.sku ?? "");
      if (id === undefined) throw new BusinessError({ code: "PRODUCT_NOT_FOUND", field: `lines[${i}].product.sku`, message: `no Odoo product with internal reference ${JSON.stringify(line.product?.sku ?? "")}`, hint: "create the product in Odoo or put its {system: \"odoo\", id} in the line's product refs" });
      return { ...line, product: { ...line.product, refs: [...(line.product?.refs ?? []), { system: this.system, id: String(id), type: "product.product" }] } };
    });
  }

  /** Invoices with their lines (invoice_line_ids holds ids only), as the invoiceIn mapping takes them. */
  private async withInvoiceLines(moves: Record<string, unknown>[], ctx: CallContext): Promise<Record<string, unknown>[]> {
    const lines = await this.searchRead("account.move.line", [["move_id", "in", moves.map((m) => m.id)]], INVOICE_LINE_FIELDS, ctx, { order: "move_id, sequence, id" });
    return moves.map((m) => ({ ...m, invoice_line_ids: lines.filter((l) => Array.isArray(l.move_id) && l.move_id[0] === m.id) }));
  }

  private async searchRead(model: string, domain: unknown[], fields: string[], ctx: CallContext, options: { limit?: number; order?: string; offset?: number } = {}): Promise<Record<string, unknown>[]> {
    const result = await this.call({ model, method: "search_read", args: { domain, fields, ...options } }, ctx);
    if (!Array.isArray(result)) throw protocolError(`${model}.search_read answered ${JSON.stringify(result)?.slice(0, 80)}, not a list`);
    return result as Record<string, unknown>[];
  }

  private async read(model: string, ids: number[], fields: string[], ctx: CallContext): Promise<Record<string, unknown>[]> {
    const result = await this.call({ model, method: "read", ids, args: { fields } }, ctx);
    return Array.isArray(result) ? (result as Record<string, unknown>[]) : [];
  }

  private async create(model: string, vals: Record<string, unknown>, ctx: CallContext, context?: Record<string, unknown>): Promise<number> {
    const result = await this.call({ model, method: "create", args: { vals_list: [vals], ...(context ? { context } : {}) }, write: true }, ctx);
    const id = Array.isArray(result) ? result[0] : result;
    if (!Number.isInteger(id)) throw new UnknownOutcomeError({ kind: "protocol", message: `${model}.create answered ${JSON.stringify(result)?.slice(0, 80)}, not the new id; the record may have been created` });
    return id as number;
  }

  /** One ORM call over the connection's transport; a refused JSON-RPC login is renewed once. */
  private async call(orm: OrmCall, ctx: CallContext): Promise<unknown> {
    if (this.odoo.protocol === "json2") {
      const response = await this.connection.request({ method: "POST", path: `json/2/${orm.model}/${orm.method}`, body: { ...orm.args, ...(orm.ids ? { ids: orm.ids } : {}) }, idempotent: !orm.write, correlationId: ctx.correlationId });
      return response.body ?? null;
    }
    for (let renewed = false; ; renewed = true) {
      const uid = await this.uid.get();
      try {
        return await this.rpc("object", "execute_kw", [this.odoo.database, uid, this.odoo.password, orm.model, orm.method, orm.ids ? [orm.ids] : [], orm.args ?? {}], !orm.write, ctx);
      } catch (err) {
        if (renewed || !(err instanceof TechnicalError) || err.kind !== "auth") throw err;
        this.uid.invalidate(uid);
      }
    }
  }

  private async rpc(service: string, method: string, args: unknown[], idempotent: boolean, ctx: CallContext): Promise<unknown> {
    const response = await this.connection.request({ method: "POST", path: "jsonrpc", body: { jsonrpc: "2.0", method: "call", params: { service, method, args }, id: ++this.rpcId }, idempotent, correlationId: ctx.correlationId });
    const body = response.body as { result?: unknown } | undefined;
    if (!body || typeof body !== "object" || !("result" in body)) throw protocolError(`POST ${response.url}: a JSON-RPC answer without result or error`);
    return body.result;
  }

  /** JSON-RPC `common.authenticate`: the uid, or false when the login or password is wrong. */
  private async authenticate(): Promise<{ value: number }> {
    const uid = await this.rpc("common", "authenticate", [this.odoo.database, this.odoo.login, this.odoo.password, {}], true, {});
    if (typeof uid !== "number") throw new TechnicalError({ kind: "auth", retryable: false, message: `Odoo refused the login ${JSON.stringify(this.odoo.login)} on database ${JSON.stringify(this.odoo.database)}; check the connection's login and password` });
    return { value: uid };
  }
}

interface Line {
  product?: { sku?: string; refs?: CrossRef[] };
  [field: string]: unknown;
}

interface PaymentFields {
  memo: "memo" | "ref";
  invoices: string[];
}

/** account.payment states (17: draft / posted / cancel; 18+: draft / in_process / paid / canceled / rejected). */
const PAYMENT_STATUS: Record<string, "pending" | "succeeded" | "failed"> = { draft: "pending", posted: "succeeded", in_process: "succeeded", paid: "succeeded", cancel: "failed", canceled: "failed", rejected: "failed" };
/** The invoice's payment_state as the canonical Invoice status (as odoo-invoice-to-invoice maps it). */
const INVOICE_STATUS: Record<string, string> = { paid: "paid", in_payment: "paid", partial: "partially-paid", not_paid: "open", reversed: "void" };

/** The id of a many2one as Odoo reads it ([id, name] or false). */
function idOf(value: unknown): number | undefined {
  return Array.isArray(value) && Number.isInteger(value[0]) ? (value[0] as number) : undefined;
}

function protocolError(message: string): TechnicalError {
  return new TechnicalError({ kind: "protocol", retryable: false, message: `odoo: ${message}` });
}

/** What an Odoo exception (by its Python name) means for the caller. */
const AUTH = new Set(["odoo.exceptions.AccessDenied", "odoo.http.SessionExpiredException", "werkzeug.exceptions.Unauthorized", "odoo.exceptions.AccessError"]);
const RETRYABLE = new Set(["werkzeug.exceptions.ServiceUnavailable", "psycopg2.errors.SerializationFailure", "psycopg2.errors.LockNotAvailable", "odoo.addons.base.models.ir_cron.CronLocked"]);
const BUSINESS = /^odoo\.exceptions\.(ValidationError|UserError|MissingError|RedirectWarning|Warning)$|^builtins\.(ValueError|TypeError|KeyError)$/;

/**
 * Odoo's error body as our errors. JSON-2 answers real 4xx/5xx with `{name, message}`; JSON-RPC answers HTTP 200
 * with `{error: {code, message, data: {name, message}}}` (code 100 = session expired). ValidationError, UserError,
 * MissingError and bad values are business exceptions; refused credentials are auth errors; 429, 5xx and
 * "try again" database errors are retried.
 */
function classifyOdoo(response: HttpResponse): BusinessError | TechnicalError | undefined {
  const { status } = response;
  const body = response.body as { name?: unknown; message?: unknown; error?: { code?: unknown; message?: unknown; data?: { name?: unknown; message?: unknown } } } | undefined;
  if (!body || typeof body !== "object") return undefined;
  let name: string | undefined;
  let message: string | undefined;
  if (status === 200 && body.error && typeof body.error === "object") {
    name = typeof body.error.data?.name === "string" ? body.error.data.name : body.error.code === 100 ? "odoo.http.SessionExpiredException" : undefined;
    message = typeof body.error.data?.message === "string" ? body.error.data.message : String(body.error.message ?? "Odoo Server Error");
  } else if (status >= 400 && status < 500 && status !== 401 && status !== 429 && typeof body.name === "string") {
    name = body.name;
    message = typeof body.message === "string" ? body.message : `HTTP ${status}`;
  } else return undefined;
  const where = `${response.method} ${response.url}`;
  const technical = (kind: TechnicalError["kind"], retryable: boolean): TechnicalError => new TechnicalError({ kind, retryable, status, code: name, message: `${where}: ${name ?? "Odoo error"}: ${message}`, vendorBody: response.body });
  if (name && AUTH.has(name)) return technical("auth", false);
  if (name === "werkzeug.exceptions.TooManyRequests") return technical("throttled", true);
  if (name && RETRYABLE.has(name)) return technical("server", true);
  if (name && BUSINESS.test(name)) {
    const field = fieldOf(message ?? "");
    return new BusinessError({ code: name, message: message ?? name, status, vendorBody: response.body, ...(field ? { field } : {}), ...(name === "odoo.exceptions.MissingError" ? { hint: "the record Odoo names does not exist (or was deleted)" } : {}) });
  }
  // werkzeug NotFound (no such model or database), server exceptions: nothing the data can fix.
  return technical(name?.startsWith("werkzeug.exceptions.NotFound") ? "protocol" : "server", false);
}

/**
 * The field an Odoo message names: "Field: Customer (partner_id)", "Invalid field 'x'", "Wrong value for m.f";
 * for a missing record, the model it was looked for in ("Record: res.partner(9999,)").
 */
function fieldOf(message: string): string | undefined {
  return /\nField: [^(\n]*\((\w+)\)/.exec(message)?.[1] ?? /Invalid field '?([\w.]+)'?/.exec(message)?.[1] ?? /Wrong value for [\w.]*?\.(\w+):/.exec(message)?.[1] ?? /\(Record: ([\w.]+)\(/.exec(message)?.[1] ?? PAYMENT_MESSAGES.find(([re]) => re.test(message))?.[1];
}

/** The Register Payment wizard's refusals name no field; these are the fields they are about. */
const PAYMENT_MESSAGES: [RegExp, string][] = [
  [/register payment for posted journal entries/, "state"],
  [/nothing left to pay/, "amount_residual"],
  [/payment amount cannot be negative|payment of zero/, "amount"],
  [/bank or cash journal/, "journal_id"],
];

function parseWatermark(watermark: string | undefined): { at: string; id: number } | undefined {
  if (!watermark) return undefined;
  const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\|(\d+)$/.exec(watermark);
  if (!m) throw new TypeError(`Odoo watermark must be "<write_date YYYY-MM-DD HH:MM:SS>|<id>", got ${JSON.stringify(watermark)}`);
  return { at: m[1]!, id: Number(m[2]) };
}
