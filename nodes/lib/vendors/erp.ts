/**
 * One interface for every ERP (and the billing side, Stripe) behind the ERP order and ERP invoice nodes. An
 * adapter does transport, identity, paging, idempotency and error classification; the shape of vendor payloads
 * is the shipped mapping library's (editable JSONata), named per role in `ErpMappings`.
 */
import type { Connection, ConnectionOptions } from "../resilience/connection";
import { NetSuiteAdapter, type NetSuiteOptions } from "./netsuite";
import { SapAdapter, type SapOptions } from "./sap-s4hana";
import { StripeAdapter, type StripeOptions } from "./stripe";
import { GenericRestAdapter, type GenericRestOptions } from "./generic-rest";
import { BusinessCentralAdapter, type BusinessCentralOptions } from "./business-central";
import { OdooAdapter, type OdooOptions } from "./odoo";
import { OracleFusionAdapter, type OracleFusionOptions } from "./oracle-fusion";
import { AcumaticaAdapter, type AcumaticaOptions } from "./acumatica";
import { DynamicsFoAdapter, type DynamicsFoOptions } from "./dynamics-fo";

/** A cross-reference as the canonical schemas write it. */
export interface CrossRef {
  system: string;
  id: string;
  type?: string;
  number?: string;
}

/** The canonical objects as adapters handle them: schema-validated JSON, typed only where adapters look. */
export interface Canonical {
  refs: CrossRef[];
  extensions?: Record<string, Record<string, unknown>>;
  [field: string]: unknown;
}
export interface SalesOrder extends Canonical {
  externalReference: string;
  customer: { refs: CrossRef[]; name?: string };
  currency: string;
  orderNumber?: string;
  status?: string;
}
export type Customer = Canonical & { name: string };
export type Invoice = Canonical;
export interface Payment extends Canonical {
  amount: { amount: string; currency: string };
  paymentDate: string;
  reference?: string;
  invoices?: { refs: CrossRef[]; amount: { amount: string; currency: string } }[];
}

export interface CallContext {
  correlationId?: string;
}

export interface CreateOrderContext extends CallContext {
  /**
   * An earlier attempt for this business key may have reached the ERP (the gate's `reclaimed`): look the order up
   * by its external reference before posting it, where the ERP has no native idempotency.
   */
  mayExist?: boolean;
}

/** What "create order" produced: the canonical order with the ERP's id and number in its refs. */
export interface OrderOutcome {
  order: SalesOrder;
  /** False when the order already existed (found by its external reference, or replayed by the ERP). */
  created: boolean;
}

/**
 * One page of changed invoices and the watermark to store once the page is delivered (none: keep the old one).
 * An invoice the mapping cannot turn into a valid canonical Invoice is listed in `rejected` instead of stopping
 * the listing, so one odd record does not hold every later invoice back.
 */
export interface InvoicePage {
  invoices: Invoice[];
  rejected: { id: string; error: Error }[];
  watermark: string | undefined;
}

export interface ErpAdapter {
  readonly system: string;
  readonly connection: Connection;
  /** Finds the ERP customer by the CRM account's external id; creates it from the canonical Customer if missing. */
  ensureCustomer(customer: Customer, ctx: CallContext): Promise<{ ref: CrossRef; created: boolean }>;
  /** Creates the order exactly once per external reference, whatever happens on the wire. */
  createOrder(order: SalesOrder, ctx: CreateOrderContext): Promise<OrderOutcome>;
  /** Reads an order by the ERP's id, or by its external reference; undefined when there is none. */
  getOrder(key: { id?: string; externalReference?: string }, ctx: CallContext): Promise<SalesOrder | undefined>;
  /** Invoices changed after the watermark (undefined: from the beginning), oldest first, page by page. */
  listInvoices(watermark: string | undefined, ctx: CallContext & { pageSize?: number }): AsyncGenerator<InvoicePage>;
  getInvoice(id: string, ctx: CallContext): Promise<Invoice | undefined>;
  /** Records a payment against the invoice(s) it names, exactly once per payment reference. */
  recordPayment(payment: Payment, ctx: CallContext): Promise<Payment>;
  close(): Promise<void>;
}

/** The mapping roles an adapter uses; each names a library mapping (or is replaced by a custom expression). */
export type MappingRole = "orderOut" | "orderIn" | "customerOut" | "invoiceIn" | "paymentOut";
export type ErpMappings = Partial<Record<MappingRole, string>>;

export interface ErpAdapterOptions {
  /** Names the connection in errors and status ("netsuite prod"). */
  name: string;
  baseUrl: string;
  /** Everything but name, base URL and auth: limits, retry, breaker, timeout, TLS. */
  connection?: Omit<ConnectionOptions, "name" | "http" | "auth" | "hooks"> & { timeoutMs?: number; tls?: ConnectionOptions["http"]["tls"] };
  /** Defaults for `extensions[system]` of every order (NetSuite subsidiary, SAP sales area…); the order's own win. */
  orderDefaults?: Record<string, unknown>;
  /** Custom JSONata per role, replacing the library mapping. */
  mappings?: ErpMappings;
}

/** The systems a connection can name, with the adapter module that serves each. */
export const ERP_SYSTEMS = ["netsuite", "sap-s4hana", "stripe", "generic-rest", "business-central", "odoo", "oracle-fusion", "acumatica", "dynamics-fo"] as const;
export type ErpSystem = (typeof ERP_SYSTEMS)[number];

/** What a connection config hands the factory: the system, and that system's options. */
export type ErpConnectionConfig =
  | ({ system: "netsuite" } & NetSuiteOptions)
  | ({ system: "sap-s4hana" } & SapOptions)
  | ({ system: "stripe" } & StripeOptions)
  | ({ system: "generic-rest" } & GenericRestOptions)
  | ({ system: "business-central" } & BusinessCentralOptions)
  | ({ system: "odoo" } & OdooOptions)
  | ({ system: "oracle-fusion" } & OracleFusionOptions)
  | ({ system: "acumatica" } & AcumaticaOptions)
  | ({ system: "dynamics-fo" } & DynamicsFoOptions);

/** The adapter for a system; adding a vendor adds a case here and a file beside this one, no node changes. */
export function createErpAdapter(config: ErpConnectionConfig): ErpAdapter {
  switch (config.system) {
    case "netsuite":
      return new NetSuiteAdapter(config);
    case "sap-s4hana":
      return new SapAdapter(config);
    case "stripe":
      return new StripeAdapter(config);
    case "generic-rest":
      return new GenericRestAdapter(config);
    case "business-central":
      return new BusinessCentralAdapter(config);
    case "odoo":
      return new OdooAdapter(config);
    case "oracle-fusion":
      return new OracleFusionAdapter(config);
    case "acumatica":
      return new AcumaticaAdapter(config);
    case "dynamics-fo":
      return new DynamicsFoAdapter(config);
    default:
      throw new TypeError(`unknown ERP system ${JSON.stringify((config as { system?: unknown }).system)}; known: ${ERP_SYSTEMS.join(", ")}`);
  }
}
