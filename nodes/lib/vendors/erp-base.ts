/** What every ERP adapter shares: mappings, order defaults, "look up before posting again", identity helpers. */
import type { Connection } from "../resilience/connection";
import { BusinessError, TechnicalError, UnknownOutcomeError } from "../resilience/errors";
import { nextDelay, sleep } from "../resilience/retry";
import { isHtml } from "../resilience/classify";
import type { HttpRequest, HttpResponse } from "../http/client";
import { CanonicalMapper } from "../mapping/mapping";
import { mappingExpression } from "../mapping/library";
import type { CallContext, CreateOrderContext, CrossRef, Customer, ErpAdapter, ErpAdapterOptions, ErpMappings, Invoice, InvoicePage, MappingRole, OrderOutcome, Payment, SalesOrder } from "./erp";

const DEFAULT_TIMEOUT_MS = 30_000;


/** What every adapter shares: mappings, order defaults, and "look up before posting again". */
export abstract class ErpAdapterBase implements ErpAdapter {
  abstract readonly system: string;
  abstract readonly connection: Connection;
  private readonly mappers = new Map<MappingRole, CanonicalMapper>();

  protected constructor(
    protected readonly options: ErpAdapterOptions,
    private readonly libraryMappings: ErpMappings,
  ) {}

  abstract ensureCustomer(customer: Customer, ctx: CallContext): Promise<{ ref: CrossRef; created: boolean }>;
  abstract createOrder(order: SalesOrder, ctx: CreateOrderContext): Promise<OrderOutcome>;
  abstract getOrder(key: { id?: string; externalReference?: string }, ctx: CallContext): Promise<SalesOrder | undefined>;
  abstract listInvoices(watermark: string | undefined, ctx: CallContext & { pageSize?: number }): AsyncGenerator<InvoicePage>;
  abstract getInvoice(id: string, ctx: CallContext): Promise<Invoice | undefined>;
  abstract recordPayment(payment: Payment, ctx: CallContext): Promise<Payment>;

  close(): Promise<void> {
    return this.connection.close();
  }

  /** Runs the mapping for a role; canonical targets are validated and a violation is a protocol error. */
  protected async map(role: MappingRole, input: unknown): Promise<Record<string, unknown>> {
    let mapper = this.mappers.get(role);
    if (!mapper) {
      const custom = this.options.mappings?.[role];
      const id = this.libraryMappings[role];
      if (custom === undefined && id === undefined) throw new TypeError(`${this.system}: no mapping for ${role}`);
      mapper = new CanonicalMapper({ expression: custom ?? mappingExpression(id!), targetSchema: TARGETS[role] });
      this.mappers.set(role, mapper);
    }
    const result = await mapper.map(input);
    if (!result.valid) {
      const first = result.errors[0];
      throw new TechnicalError({
        kind: "protocol",
        retryable: false,
        code: "MAPPING_INVALID",
        message: `${this.system}: the ${role} mapping produced an invalid ${TARGETS[role]}: ${first ? `${first.path} ${first.message}` : "see errors"}`,
        vendorBody: result.errors,
      });
    }
    return (result.value ?? {}) as Record<string, unknown>;
  }

  /** Maps a page of vendor invoices, setting aside those the mapping rejects. */
  protected async mapInvoices(records: Record<string, unknown>[], idOf: (record: Record<string, unknown>) => string): Promise<Pick<InvoicePage, "invoices" | "rejected">> {
    const page: Pick<InvoicePage, "invoices" | "rejected"> = { invoices: [], rejected: [] };
    for (const record of records) {
      try {
        page.invoices.push((await this.map("invoiceIn", record)) as Invoice);
      } catch (err) {
        if (!(err instanceof TechnicalError) || err.code !== "MAPPING_INVALID") throw err;
        page.rejected.push({ id: idOf(record), error: err });
      }
    }
    return page;
  }

  /** The order with the connection's defaults under extensions[system], the order's own values winning. */
  protected withDefaults(order: SalesOrder): SalesOrder {
    const defaults = this.options.orderDefaults;
    if (!defaults || Object.keys(defaults).length === 0) return order;
    const extensions = { ...order.extensions, [this.system]: { ...defaults, ...order.extensions?.[this.system] } };
    return { ...order, extensions };
  }

  /**
   * What every payment needs before anything is sent: exactly one invoice, this ERP's id of it (`invoiceIdName` says
   * what that id is called here), and a reference to find the payment again by (its own, or an external id).
   */
  protected paymentTarget(payment: Payment, invoiceIdName: string): { invoiceId: string; reference: string } {
    const invoices = payment.invoices ?? [];
    if (invoices.length !== 1) throw unsupported(this.system, "a payment applied to other than exactly one invoice");
    const invoiceId = this.ownRef(invoices[0]!.refs)?.id;
    if (!invoiceId) throw new BusinessError({ code: "INVOICE_NOT_LINKED", field: "invoices[0].refs", message: `the payment's invoice has no ${invoiceIdName}`, hint: `put the invoice's {system: "${this.system}", id} in invoices[0].refs` });
    const reference = payment.reference ?? externalIdOf(payment, this.system);
    if (!reference) throw new BusinessError({ code: "NO_EXTERNAL_ID", field: "reference", message: "a payment needs a reference to be recorded exactly once", hint: "set reference (the bank or PSP transaction id)" });
    return { invoiceId, reference };
  }

  /** This ERP's id of a canonical object, if it has one. */
  protected ownRef(refs: CrossRef[] | undefined): CrossRef | undefined {
    return refs?.find((r) => r.system === this.system);
  }

  /**
   * Posts a create that the ERP cannot de-duplicate itself: when an earlier attempt may have gone through, or the
   * post's outcome is unknown (timeout, lost response), the record is looked up by its external reference first
   * and posted again only when it is not there. After a timeout the look-up waits as long as the request had: the
   * ERP may still be working on it, and a look-up that comes too early would let the repost create a twin.
   */
  protected async postOnce<T>(find: () => Promise<T | undefined>, post: () => Promise<T>, mayExist: boolean): Promise<{ value: T; created: boolean }> {
    if (mayExist) {
      const found = await find();
      if (found !== undefined) return { value: found, created: false };
    }
    const started = Date.now();
    for (let posts = 1; ; posts++) {
      try {
        return { value: await post(), created: true };
      } catch (err) {
        if (!(err instanceof UnknownOutcomeError)) throw err;
        // Reposts follow the connection's retry policy (attempts, backoff, elapsed time) like any retry.
        const backoff = nextDelay(posts, Date.now() - started, this.connection.retryPolicy);
        if (backoff === undefined) throw err;
        await sleep(err.kind === "timeout" ? Math.max(backoff, this.options.connection?.timeoutMs ?? DEFAULT_TIMEOUT_MS) : backoff);
        const found = await find();
        if (found !== undefined) return { value: found, created: false };
      }
    }
  }
}

const TARGETS: Record<MappingRole, string | undefined> = {
  orderOut: undefined,
  orderIn: "SalesOrder@1",
  customerOut: undefined,
  invoiceIn: "Invoice@1",
  paymentOut: undefined,
};

/**
 * A 2xx answer we cannot read, to a write that is safe to repeat (an upsert, a call with an idempotency key):
 * sending it again returns a readable answer for the same effect, so it is worth a retry.
 */
export function unreadableRepeatable(response: HttpResponse, request: HttpRequest): TechnicalError | undefined {
  if (response.status < 200 || response.status >= 300 || request.method === "GET" || request.idempotent !== true) return undefined;
  if (response.parseError === undefined && !(response.text !== "" && isHtml(response))) return undefined;
  return new TechnicalError({ kind: "protocol", retryable: true, status: response.status, message: `${response.method} ${response.url}: HTTP ${response.status} with an unreadable body; the request is repeatable, sending it again` });
}

/** The external id a customer is known by outside this ERP: its CRM account's id. */
export function externalIdOf(customer: { refs?: CrossRef[] }, system: string): string | undefined {
  return customer.refs?.find((r) => r.system !== system)?.id;
}

/** A canonical object with one more cross-reference (replacing this system's earlier one). */
export function withRef<T extends { refs?: CrossRef[] }>(object: T, ref: CrossRef): T {
  return { ...object, refs: [...(object.refs ?? []).filter((r) => r.system !== ref.system), ref] };
}

/** The last path segment of a Location header or URL (NetSuite and SAP put the new id there). */
export function idFromLocation(location: string | undefined): string | undefined {
  if (!location) return undefined;
  const path = location.split("?")[0]!.replace(/\/+$/, "");
  const last = path.slice(path.lastIndexOf("/") + 1);
  const quoted = /\('([^']*)'\)$/.exec(last);
  return decodeURIComponent(quoted ? quoted[1]! : last) || undefined;
}

/** A BusinessError for data the adapter cannot send as it is (nothing the ERP said). */
export function unsupported(system: string, what: string): BusinessError {
  return new BusinessError({ code: "UNSUPPORTED", message: `${system}: ${what} is not supported`, hint: "split the request so that the ERP can take it" });
}

/** An operation the ERP's API (or this adapter) does not offer at all: a configuration error, not the data's fault. */
export function notOffered(system: string, operation: string): Error {
  return new Error(`${system}: "${operation}" is not offered by this ERP connection; pick another system or operation`);
}

