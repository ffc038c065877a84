// HubSpot CRM v3 sandbox, written from erp-crm-wire.md §2 and perf-reliability.md §7 (not from Keelson's adapter).
// Models: private-app bearer tokens and OAuth refresh_token grant, CRM objects (companies, contacts, deals,
// line_items, products) with create / get / update / list (`after` cursor), batch read / create / update / upsert
// (idProperty), search, v3 associations on GET and v4 association endpoints, the error envelope, and the
// ten-secondly and daily rate limits with their X-HubSpot-RateLimit-* headers.
import { randomBytes, randomUUID } from "node:crypto";
import { Halt, SlidingWindow, bearer, serve, type Kernel, type Reply, type Route, type RunningSandbox, type SandboxRequest, type StartOptions, type StoredRecord } from "./kernel";

export const HUBSPOT_LIMITS = {
  /** Requests per rolling 10 s per app (Professional / Enterprise private apps: 190). */
  tenSecondlyRequests: 190,
  /** Requests per day per app (Professional: 650,000). */
  dailyRequests: 650_000,
  /** CRM search requests per second per token (~4–5, [~]). */
  searchPerSecond: 5,
  /** Inputs per v3 batch call. */
  batchMaxInputs: 100,
  /** Page size caps: list 100, search 200 [~]. */
  listMaxLimit: 100,
  searchMaxLimit: 200,
  /** Search never pages beyond 10,000 results. */
  searchMaxResults: 10_000,
  /** OAuth access token lifetime (expires_in). */
  tokenLifetimeSeconds: 1800,
};

export interface HubSpotOptions extends StartOptions {
  /** Static private-app access tokens the portal accepts. */
  privateAppTokens?: string[];
  clientId?: string;
  clientSecret?: string;
  /** Refresh tokens an OAuth install holds (the authorization-code step is out of scope). */
  refreshTokens?: string[];
  /** Extra custom properties per object type; `unique` ones can be an idProperty. */
  properties?: Record<string, { name: string; unique?: boolean }[]>;
  seed?: boolean;
}

interface ObjectType {
  /** HubSpot's object type id (0-2 companies …). */
  typeId: string;
  singular: string;
  properties: Set<string>;
  unique: Set<string>;
  defaults: string[];
}

const BUILTIN: Record<string, { typeId: string; singular: string; props: string[]; unique: string[]; defaults: string[] }> = {
  companies: { typeId: "0-2", singular: "company", props: ["name", "domain", "phone", "address", "city", "state", "zip", "country", "industry", "description", "website", "erp_customer_id", "erp_system"], unique: ["erp_customer_id"], defaults: ["name", "domain"] },
  contacts: { typeId: "0-1", singular: "contact", props: ["email", "firstname", "lastname", "phone", "company", "erp_contact_id"], unique: ["email", "erp_contact_id"], defaults: ["email", "firstname", "lastname"] },
  deals: { typeId: "0-3", singular: "deal", props: ["dealname", "amount", "dealstage", "pipeline", "closedate", "deal_currency_code", "description", "erp_order_number", "erp_order_status", "erp_message"], unique: [], defaults: ["dealname", "amount", "dealstage", "pipeline", "closedate"] },
  line_items: { typeId: "0-8", singular: "line_item", props: ["name", "quantity", "price", "amount", "discount", "hs_product_id", "hs_sku", "description", "hs_line_item_currency_code"], unique: [], defaults: ["name", "quantity", "price", "amount", "hs_product_id"] },
  products: { typeId: "0-7", singular: "product", props: ["name", "price", "hs_sku", "description"], unique: ["hs_sku"], defaults: ["name", "price", "hs_sku"] },
};
const SYSTEM_PROPS = ["createdate", "hs_lastmodifieddate", "hs_object_id"];
const READ_ONLY = new Set(["hs_lastmodifieddate", "hs_object_id"]);

/** HUBSPOT_DEFINED default association type ids [~] (line_item→deal 20 is in HubSpot's line-items guide). */
const ASSOCIATION_TYPES: Record<string, number> = {
  "deals→companies": 5, "companies→deals": 6, "deals→line_items": 19, "line_items→deals": 20,
  "contacts→companies": 1, "companies→contacts": 2, "deals→contacts": 3, "contacts→deals": 4,
};

interface Association {
  fromType: string;
  fromId: string;
  toType: string;
  toId: string;
  typeId: number;
}

/** Credentials the sandbox accepts unless start() is given others. */
export const HUBSPOT_DEFAULTS = { privateAppToken: "pat-na1-keelson-sandbox", clientId: "keelson-sandbox-client", clientSecret: "keelson-sandbox-secret", refreshToken: "keelson-sandbox-refresh" };

export async function start(options: HubSpotOptions = {}): Promise<RunningSandbox> {
  const privateTokens = new Set(options.privateAppTokens ?? [HUBSPOT_DEFAULTS.privateAppToken]);
  const clientId = options.clientId ?? HUBSPOT_DEFAULTS.clientId;
  const clientSecret = options.clientSecret ?? HUBSPOT_DEFAULTS.clientSecret;
  const refreshTokens = new Set(options.refreshTokens ?? [HUBSPOT_DEFAULTS.refreshToken]);
  const types: Record<string, ObjectType> = {};
  for (const [name, b] of Object.entries(BUILTIN)) {
    const extra = options.properties?.[name] ?? [];
    types[name] = {
      typeId: b.typeId,
      singular: b.singular,
      properties: new Set([...SYSTEM_PROPS, ...b.props, ...extra.map((p) => p.name)]),
      unique: new Set([...b.unique, ...extra.filter((p) => p.unique).map((p) => p.name)]),
      defaults: [...b.defaults, ...SYSTEM_PROPS],
    };
  }

  return serve(HUBSPOT_LIMITS, options, (k: Kernel) => {
    let counter = 0;
    const tenSecondly = new Map<string, SlidingWindow>();
    const daily = new Map<string, SlidingWindow>();
    const search = new Map<string, SlidingWindow>();
    let associations: Association[] = [];
    const windowFor = (m: Map<string, SlidingWindow>, key: string, ms: () => number) => {
      let w = m.get(key);
      if (!w) m.set(key, (w = new SlidingWindow(ms)));
      return w;
    };

    const error = (status: number, category: string, message: string, extra: Record<string, unknown> = {}): Halt =>
      new Halt({ status, body: { status: "error", message, correlationId: randomUUID(), category, ...extra } });

    const objectType = (req: SandboxRequest): [string, ObjectType] => {
      const name = req.params.objectType!;
      const byName = types[name] ? name : Object.keys(types).find((t) => types[t]!.typeId === name || types[t]!.singular === name);
      if (!byName) throw error(400, "OBJECT_NOT_FOUND", `Unable to infer object type from: ${name}`); // [~] wording
      return [byName, types[byName]!];
    };

    const now = () => new Date().toISOString();

    /** Property values are strings on the wire, whatever type was sent. */
    const checkProperties = (type: ObjectType, props: unknown): Record<string, string | null> => {
      if (props === undefined) return {};
      if (!props || typeof props !== "object" || Array.isArray(props)) throw error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1: properties must be an object");
      const invalid: { isValid: false; message: string; error: string; name: string }[] = [];
      const out: Record<string, string | null> = {};
      for (const [name, value] of Object.entries(props as Record<string, unknown>)) {
        if (!type.properties.has(name)) invalid.push({ isValid: false, message: `Property "${name}" does not exist`, error: "PROPERTY_DOESNT_EXIST", name });
        else if (READ_ONLY.has(name)) invalid.push({ isValid: false, message: `"${name}" is a read only property; its value cannot be set.`, error: "READ_ONLY_VALUE", name });
        else if (value !== null && typeof value === "object") invalid.push({ isValid: false, message: `${JSON.stringify(value)} was not a valid value for ${name}`, error: "INVALID_VALUE", name });
        else if (["quantity", "price", "amount", "discount"].includes(name) && value !== null && value !== "" && !Number.isFinite(Number(value))) invalid.push({ isValid: false, message: `${value} was not a valid number.`, error: "INVALID_DECIMAL", name });
        else out[name] = value === null ? null : String(value);
      }
      if (invalid.length) throw error(400, "VALIDATION_ERROR", `Property values were not valid: ${JSON.stringify(invalid)}`);
      return out;
    };

    const derive = (typeName: string, props: Record<string, string | null>): void => {
      // Line item amount = quantity × price − discount, computed by HubSpot [~].
      if (typeName === "line_items" && props.quantity != null && props.price != null) {
        const amount = Number(props.quantity) * Number(props.price) - Number(props.discount ?? 0);
        props.amount = String(Math.round(amount * 100) / 100);
      }
    };

    const insert = (typeName: string, props: Record<string, string | null>, seed = false): StoredRecord => {
      const id = String(18_000_000_000 + ++counter);
      const at = now();
      const properties: Record<string, string | null> = { createdate: at, ...props, hs_lastmodifieddate: at, hs_object_id: id };
      derive(typeName, properties);
      return k.store.insert(typeName, id, { id, properties, createdAt: at, updatedAt: at, archived: false }, { seed });
    };

    const update = (typeName: string, r: StoredRecord, props: Record<string, string | null>): void => {
      const properties = r.properties as Record<string, string | null>;
      Object.assign(properties, props);
      derive(typeName, properties);
      r.updatedAt = properties.hs_lastmodifieddate = now();
    };

    const find = (typeName: string, id: string, idProperty?: string): StoredRecord | undefined => {
      if (!idProperty || idProperty === "hs_object_id") return k.store.get(typeName, id);
      // A scan without copying the table: batch upserts look up every input, and the table grows with them.
      for (const r of k.store.table(typeName).values()) if ((r.properties as Record<string, string | null>)[idProperty] === id) return r;
      return undefined;
    };

    const associate = (fromType: string, fromId: string, toType: string, toId: string): void => {
      const typeId = ASSOCIATION_TYPES[`${fromType}→${toType}`];
      const back = ASSOCIATION_TYPES[`${toType}→${fromType}`];
      if (typeId === undefined || back === undefined) throw error(400, "VALIDATION_ERROR", `No default association type between ${fromType} and ${toType}`);
      if (!associations.some((a) => a.fromType === fromType && a.fromId === fromId && a.toType === toType && a.toId === toId)) {
        associations.push({ fromType, fromId, toType, toId, typeId }, { fromType: toType, fromId: toId, toType: fromType, toId: fromId, typeId: back });
      }
    };

    /** Create-time associations: [{to:{id}, types:[{associationCategory, associationTypeId}]}]. */
    const createAssociations = (typeName: string, id: string, input: unknown): void => {
      if (input === undefined) return;
      if (!Array.isArray(input)) throw error(400, "VALIDATION_ERROR", "associations must be an array");
      for (const a of input as { to?: { id?: unknown }; types?: { associationCategory?: string; associationTypeId?: number }[] }[]) {
        const toId = String(a?.to?.id ?? "");
        const typeId = a?.types?.[0]?.associationTypeId;
        const entry = Object.entries(ASSOCIATION_TYPES).find(([key, v]) => v === typeId && key.startsWith(`${typeName}→`));
        if (!entry) throw error(400, "VALIDATION_ERROR", `${typeId} is not a valid association type id for ${typeName}`);
        const toType = entry[0].split("→")[1]!;
        if (!k.store.get(toType, toId)) throw error(400, "VALIDATION_ERROR", `One or more associations are invalid: ${toType} ${toId} does not exist`);
        associate(typeName, id, toType, toId);
      }
    };

    const wantedProps = (type: ObjectType, requested: string[] | undefined): string[] => (requested && requested.length ? requested : type.defaults);
    const listParam = (req: SandboxRequest, name: string): string[] | undefined => {
      const all = req.query.getAll(name).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
      return all.length ? all : undefined;
    };

    /** SimplePublicObject: only requested properties that exist on the record (missing ones are left out). */
    const present = (typeName: string, r: StoredRecord, props: string[], assocTypes?: string[]): Record<string, unknown> => {
      const stored = r.properties as Record<string, string | null>;
      const properties: Record<string, string | null> = {};
      for (const p of props) if (p in stored) properties[p] = stored[p]!;
      const out: Record<string, unknown> = { id: r.id, properties, createdAt: r.createdAt, updatedAt: r.updatedAt, archived: false };
      if (assocTypes?.length) {
        const assoc: Record<string, unknown> = {};
        for (const requested of assocTypes) {
          const toType = types[requested] ? requested : Object.keys(types).find((t) => types[t]!.singular === requested);
          if (!toType) continue;
          const found = associations.filter((a) => a.fromType === typeName && a.fromId === r.id && a.toType === toType);
          // THIN: v3 keys line items as "line items" (with a space), other types by their plural name; unverified.
          if (found.length) assoc[toType === "line_items" ? "line items" : toType] = { results: found.map((a) => ({ id: a.toId, type: `${types[typeName]!.singular}_to_${types[toType]!.singular}` })) };
        }
        if (Object.keys(assoc).length) out.associations = assoc;
      }
      return out;
    };

    // ---- Handlers ---------------------------------------------------------------------------------------------

    const token = (req: SandboxRequest): Reply => {
      const form = req.form();
      const fail = (status: string, message: string): Reply => ({ status: 400, body: { status, message, correlationId: randomUUID() } }); // [~] OAuth error statuses
      if (form.get("grant_type") !== "refresh_token") return fail("BAD_GRANT_TYPE", "grant_type must be refresh_token in this sandbox");
      if (form.get("client_id") !== clientId) return fail("BAD_CLIENT_ID", "missing or unknown client id");
      if (form.get("client_secret") !== clientSecret) return fail("BAD_CLIENT_SECRET", "missing or invalid client secret");
      const refresh = form.get("refresh_token") ?? "";
      if (!refreshTokens.has(refresh)) return fail("BAD_REFRESH_TOKEN", "missing or unknown refresh token");
      const t = k.tokens.issue("oauth", k.limits.tokenLifetimeSeconds!, { oauth: true }, `CN${randomBytes(40).toString("base64url")}`);
      return { status: 200, body: { token_type: "bearer", refresh_token: refresh, access_token: t.token, expires_in: k.limits.tokenLifetimeSeconds } };
    };

    const create = (req: SandboxRequest): Reply => {
      const [name, type] = objectType(req);
      const body = req.json() as { properties?: unknown; associations?: unknown };
      const props = checkProperties(type, body?.properties);
      rejectDuplicateUnique(name, type, props);
      const snapshot = k.store.snapshot();
      const before = associations.length;
      const r = insert(name, props);
      try {
        createAssociations(name, r.id as string, body?.associations);
      } catch (e) {
        k.store.restore(snapshot);
        associations = associations.slice(0, before);
        throw e;
      }
      return { status: 201, body: present(name, r, Object.keys(props).length ? [...Object.keys(props), ...SYSTEM_PROPS] : type.defaults) };
    };

    /** Unique properties refuse a second record with the same value (409 CONFLICT) [~]. */
    const rejectDuplicateUnique = (name: string, type: ObjectType, props: Record<string, string | null>, selfId?: string): void => {
      for (const p of type.unique) {
        const v = props[p];
        if (v == null || v === "") continue;
        const other = find(name, v, p);
        if (other && other.id !== selfId) throw error(409, "CONFLICT", `A ${type.singular} with ${p} "${v}" already exists. Existing ID: ${other.id}`);
      }
    };

    const get = (req: SandboxRequest): Reply => {
      const [name, type] = objectType(req);
      const r = find(name, req.params.id!, req.query.get("idProperty") ?? undefined);
      if (!r) throw error(404, "OBJECT_NOT_FOUND", "resource not found");
      return { status: 200, body: present(name, r, wantedProps(type, listParam(req, "properties")), listParam(req, "associations")) };
    };

    const patch = (req: SandboxRequest): Reply => {
      const [name, type] = objectType(req);
      const r = find(name, req.params.id!, req.query.get("idProperty") ?? undefined);
      if (!r) throw error(404, "OBJECT_NOT_FOUND", "resource not found");
      const props = checkProperties(type, (req.json() as { properties?: unknown })?.properties);
      rejectDuplicateUnique(name, type, props, r.id as string);
      update(name, r, props);
      return { status: 200, body: present(name, r, [...Object.keys(props), ...SYSTEM_PROPS]) };
    };

    const list = (req: SandboxRequest): Reply => {
      const [name, type] = objectType(req);
      const limit = Math.min(Number(req.query.get("limit") ?? 10) || 10, k.limits.listMaxLimit!);
      const after = req.query.get("after");
      // The cursor is the id to resume from; ids grow with creation, so the order is stable under inserts.
      const all = k.store.all(name).sort((a, b) => Number(a.id) - Number(b.id));
      const start = after ? all.findIndex((r) => Number(r.id) >= Number(after)) : 0;
      const page = start < 0 ? [] : all.slice(start, start + limit);
      const body: Record<string, unknown> = { results: page.map((r) => present(name, r, wantedProps(type, listParam(req, "properties")), listParam(req, "associations"))) };
      const next = start < 0 ? undefined : all[start + limit];
      if (next) {
        const link = new URL(`http://${req.header("host")}${req.path}`);
        link.searchParams.set("after", next.id as string);
        body.paging = { next: { after: next.id, link: link.toString() } };
      }
      return { status: 200, body };
    };

    const batchInputs = (req: SandboxRequest): { inputs: Record<string, unknown>[]; body: Record<string, unknown> } => {
      const body = req.json() as Record<string, unknown>;
      if (!body || !Array.isArray(body.inputs)) throw error(400, "VALIDATION_ERROR", "Invalid input JSON: inputs is required");
      if (body.inputs.length > k.limits.batchMaxInputs!) throw error(400, "VALIDATION_ERROR", `Batch input of ${body.inputs.length} exceeds the limit of ${k.limits.batchMaxInputs} inputs`); // [~] wording
      return { inputs: body.inputs as Record<string, unknown>[], body };
    };

    const batchReply = (status200: number, results: unknown[], errors: unknown[], startedAt: string): Reply => {
      const body: Record<string, unknown> = { status: "COMPLETE", results, startedAt, completedAt: now() };
      if (errors.length) {
        body.numErrors = errors.length;
        body.errors = errors;
      }
      return { status: errors.length ? 207 : status200, body };
    };

    const asError = (e: unknown, context: Record<string, unknown> = {}): Record<string, unknown> => {
      if (!(e instanceof Halt)) throw e;
      const b = e.reply.body as Record<string, unknown>;
      return { status: "error", category: b.category, message: b.message, context };
    };

    const batchRead = (req: SandboxRequest): Reply => {
      const [name, type] = objectType(req);
      const startedAt = now();
      const { inputs, body } = batchInputs(req);
      const props = wantedProps(type, Array.isArray(body.properties) ? (body.properties as string[]) : undefined);
      const idProperty = typeof body.idProperty === "string" ? body.idProperty : undefined;
      const results: unknown[] = [];
      const missing: string[] = [];
      for (const input of inputs) {
        const id = String(input?.id ?? "");
        const r = find(name, id, idProperty);
        if (r) results.push(present(name, r, props));
        else missing.push(id);
      }
      const errors = missing.length ? [{ status: "error", category: "OBJECT_NOT_FOUND", message: `Could not get some ${name} objects, they may be deleted or not exist. Check that ids are valid.`, context: { ids: missing } }] : [];
      return batchReply(200, results, errors, startedAt);
    };

    const batchCreate = (req: SandboxRequest): Reply => {
      const [name, type] = objectType(req);
      const startedAt = now();
      const { inputs } = batchInputs(req);
      // Batch create validates every input first and fails the whole call on one bad input [~].
      const checked = inputs.map((i) => checkProperties(type, i?.properties));
      checked.forEach((p) => rejectDuplicateUnique(name, type, p));
      const results = checked.map((p, i) => {
        const r = insert(name, p);
        createAssociations(name, r.id as string, inputs[i]!.associations);
        return present(name, r, [...Object.keys(p), ...SYSTEM_PROPS]);
      });
      return batchReply(201, results, [], startedAt);
    };

    const batchUpdate = (req: SandboxRequest): Reply => {
      const [name, type] = objectType(req);
      const startedAt = now();
      const { inputs, body } = batchInputs(req);
      const idProperty = typeof body.idProperty === "string" ? body.idProperty : undefined;
      const results: unknown[] = [];
      const errors: unknown[] = [];
      for (const input of inputs) {
        try {
          const r = find(name, String(input?.id ?? ""), (input?.idProperty as string | undefined) ?? idProperty);
          if (!r) throw error(404, "OBJECT_NOT_FOUND", `Object not found. objectId are usually numeric.`);
          const props = checkProperties(type, input.properties);
          rejectDuplicateUnique(name, type, props, r.id as string);
          update(name, r, props);
          results.push(present(name, r, [...Object.keys(props), ...SYSTEM_PROPS]));
        } catch (e) {
          errors.push(asError(e, { ids: [String(input?.id ?? "")] }));
        }
      }
      return batchReply(200, results, errors, startedAt);
    };

    /** Upsert on a unique property: the HubSpot way to make writes idempotent. */
    const batchUpsert = (req: SandboxRequest): Reply => {
      const [name, type] = objectType(req);
      const startedAt = now();
      const { inputs } = batchInputs(req);
      const keys = inputs.map((i) => `${i?.idProperty ?? ""}\u0000${i?.id ?? ""}`);
      if (new Set(keys).size !== keys.length) throw error(400, "VALIDATION_ERROR", "Duplicate IDs found in batch input"); // [~] wording
      for (const input of inputs) {
        const idProperty = input?.idProperty;
        if (typeof idProperty !== "string" || !type.properties.has(idProperty)) throw error(400, "VALIDATION_ERROR", `Property "${String(idProperty)}" does not exist`);
        if (!type.unique.has(idProperty) && idProperty !== "hs_object_id") throw error(400, "VALIDATION_ERROR", `Unable to perform update/upsert by non-unique ${type.typeId} property ${idProperty}`);
      }
      const results: unknown[] = [];
      const errors: unknown[] = [];
      for (const input of inputs) {
        const idProperty = input.idProperty as string;
        const id = String(input.id ?? "");
        try {
          const props = checkProperties(type, input.properties);
          const existing = find(name, id, idProperty);
          if (existing) {
            rejectDuplicateUnique(name, type, props, existing.id as string);
            update(name, existing, props);
            results.push({ ...present(name, existing, [...Object.keys(props), idProperty, ...SYSTEM_PROPS]), new: false });
          } else {
            if (idProperty === "hs_object_id") throw error(404, "OBJECT_NOT_FOUND", `Object ${id} not found`);
            const r = insert(name, { ...props, [idProperty]: id });
            results.push({ ...present(name, r, [...Object.keys(props), idProperty, ...SYSTEM_PROPS]), new: true });
          }
        } catch (e) {
          const b = asError(e, { ids: [id] });
          if (typeof input.objectWriteTraceId === "string") b.context = { ...(b.context as object), objectWriteTraceId: [input.objectWriteTraceId] };
          errors.push(b);
        }
      }
      return batchReply(200, results, errors, startedAt);
    };

    const searchObjects = (req: SandboxRequest): Reply => {
      const [name, type] = objectType(req);
      const body = (req.json() ?? {}) as { filterGroups?: unknown; sorts?: unknown; properties?: unknown; limit?: unknown; after?: unknown; query?: unknown };
      const groups = (Array.isArray(body.filterGroups) ? body.filterGroups : []) as { filters?: { propertyName: string; operator: string; value?: unknown; values?: unknown[] }[] }[];
      if (groups.length > 5) throw error(400, "VALIDATION_ERROR", "Too many filter groups (max 5)");
      const filterCount = groups.reduce((n, g) => n + (g.filters?.length ?? 0), 0);
      if (filterCount > 25 || groups.some((g) => (g.filters?.length ?? 0) > 10)) throw error(400, "VALIDATION_ERROR", "Too many filters (max 25 in total, 10 per group)");
      const limit = Math.min(Number(body.limit ?? 10) || 10, k.limits.searchMaxLimit!);
      const offset = Number(body.after ?? 0) || 0;
      if (offset + limit > k.limits.searchMaxResults!) throw error(400, "VALIDATION_ERROR", `Search results are limited to ${k.limits.searchMaxResults} records`);
      const num = (v: unknown): number => (typeof v === "string" && /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number(v));
      const test = (props: Record<string, string | null>, f: { propertyName: string; operator: string; value?: unknown; values?: unknown[] }): boolean => {
        if (!type.properties.has(f.propertyName)) throw error(400, "VALIDATION_ERROR", `There was a problem with the request: property ${f.propertyName} does not exist`);
        const v = props[f.propertyName];
        const want = f.value === undefined ? undefined : String(f.value);
        switch (f.operator) {
          case "EQ": return v != null && v.toLowerCase() === want?.toLowerCase();
          case "NEQ": return v == null || v.toLowerCase() !== want?.toLowerCase();
          case "LT": return v != null && num(v) < num(want);
          case "LTE": return v != null && num(v) <= num(want);
          case "GT": return v != null && num(v) > num(want);
          case "GTE": return v != null && num(v) >= num(want);
          case "HAS_PROPERTY": return v != null && v !== "";
          case "NOT_HAS_PROPERTY": return v == null || v === "";
          case "IN": return v != null && (f.values ?? []).map((x) => String(x).toLowerCase()).includes(v.toLowerCase());
          case "NOT_IN": return v == null || !(f.values ?? []).map((x) => String(x).toLowerCase()).includes(v.toLowerCase());
          case "CONTAINS_TOKEN": return v != null && new RegExp(`^${String(want).replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i").test(v);
          default: throw error(400, "VALIDATION_ERROR", `Unknown operator ${f.operator}`);
        }
      };
      let rows = k.store.all(name).filter((r) => {
        const props = r.properties as Record<string, string | null>;
        if (typeof body.query === "string" && body.query && !Object.values(props).some((v) => v?.toLowerCase().includes((body.query as string).toLowerCase()))) return false;
        return !groups.length || groups.some((g) => (g.filters ?? []).every((f) => test(props, f)));
      });
      const sorts = (Array.isArray(body.sorts) ? body.sorts : []) as { propertyName?: string; direction?: string }[];
      rows = rows.sort((a, b) => {
        for (const s of sorts) {
          const x = (a.properties as Record<string, string | null>)[s.propertyName ?? ""] ?? "";
          const y = (b.properties as Record<string, string | null>)[s.propertyName ?? ""] ?? "";
          const d = Number.isFinite(num(x)) && Number.isFinite(num(y)) && x !== "" && y !== "" ? num(x) - num(y) : x.localeCompare(y);
          if (d) return s.direction === "DESCENDING" ? -d : d;
        }
        return Number(a.id) - Number(b.id);
      });
      const page = rows.slice(offset, offset + limit);
      const props = wantedProps(type, Array.isArray(body.properties) ? (body.properties as string[]) : undefined);
      const out: Record<string, unknown> = { total: rows.length, results: page.map((r) => present(name, r, props)) };
      if (offset + limit < rows.length) out.paging = { next: { after: String(offset + limit) } };
      return { status: 200, body: out };
    };

    // v4 associations
    const v4List = (req: SandboxRequest): Reply => {
      const [from] = objectType(req);
      const toType = objectType({ ...req, params: { objectType: req.params.toObjectType! } } as SandboxRequest)[0];
      if (!k.store.get(from, req.params.id!)) throw error(404, "OBJECT_NOT_FOUND", "resource not found");
      const found = associations.filter((a) => a.fromType === from && a.fromId === req.params.id && a.toType === toType);
      return { status: 200, body: { results: found.map((a) => ({ toObjectId: Number(a.toId), associationTypes: [{ category: "HUBSPOT_DEFINED", typeId: a.typeId, label: null }] })) } };
    };

    const v4Default = (req: SandboxRequest): Reply => {
      const [from] = objectType(req);
      const toType = objectType({ ...req, params: { objectType: req.params.toObjectType! } } as SandboxRequest)[0];
      if (!k.store.get(from, req.params.id!) || !k.store.get(toType, req.params.toId!)) throw error(404, "OBJECT_NOT_FOUND", "resource not found");
      associate(from, req.params.id!, toType, req.params.toId!);
      const typeId = ASSOCIATION_TYPES[`${from}→${toType}`]!;
      return {
        status: 200,
        body: { status: "COMPLETE", results: [{ from: { id: req.params.id }, to: { id: req.params.toId }, associationSpec: { associationCategory: "HUBSPOT_DEFINED", associationTypeId: typeId } }], startedAt: now(), completedAt: now() },
      };
    };

    const routes: Route[] = [
      { method: "POST", path: "/oauth/v1/token", handler: token, public: true },
      // The dated OAuth path that replaces v1 takes the same form parameters.
      { method: "POST", path: "/oauth/2026-03/token", handler: token, public: true },
      { method: "POST", path: "/crm/v3/objects/:objectType/search", handler: searchObjects },
      { method: "POST", path: "/crm/v3/objects/:objectType/batch/read", handler: batchRead },
      { method: "POST", path: "/crm/v3/objects/:objectType/batch/create", handler: batchCreate },
      { method: "POST", path: "/crm/v3/objects/:objectType/batch/update", handler: batchUpdate },
      { method: "POST", path: "/crm/v3/objects/:objectType/batch/upsert", handler: batchUpsert },
      { method: "GET", path: "/crm/v3/objects/:objectType", handler: list },
      { method: "POST", path: "/crm/v3/objects/:objectType", handler: create },
      { method: "GET", path: "/crm/v3/objects/:objectType/:id", handler: get },
      { method: "PATCH", path: "/crm/v3/objects/:objectType/:id", handler: patch },
      { method: "GET", path: "/crm/v4/objects/:objectType/:id/associations/:toObjectType", handler: v4List },
      { method: "PUT", path: "/crm/v4/objects/:objectType/:id/associations/default/:toObjectType/:toId", handler: v4Default },
    ];

    const seed = (): void => {
      const acme = insert("companies", { name: "Acme Corporation", domain: "acme.example", phone: "+1 415 555 0100", address: "1 Market St", city: "San Francisco", state: "CA", zip: "94105", country: "United States" }, true);
      const globex = insert("companies", { name: "Globex GmbH", domain: "globex.example", city: "Berlin", zip: "10117", country: "Germany", erp_customer_id: "C-1001", erp_system: "netsuite" }, true);
      insert("companies", { name: "Initech Ltd", domain: "initech.example", city: "London", country: "United Kingdom" }, true);
      const widget = insert("products", { name: "Widget", price: "9.995", hs_sku: "WID-1" }, true);
      const gadget = insert("products", { name: "Gadget", price: "150", hs_sku: "GAD-2" }, true);
      const won = insert("deals", { dealname: "Acme - 100 widgets", amount: "999.50", dealstage: "closedwon", pipeline: "default", closedate: "2026-11-20T00:00:00.000Z", deal_currency_code: "USD" }, true);
      const open = insert("deals", { dealname: "Globex - gadgets", amount: "3000", dealstage: "contractsent", pipeline: "default", closedate: "2026-12-15T00:00:00.000Z", deal_currency_code: "EUR" }, true);
      const l1 = insert("line_items", { name: "Widget", quantity: "100", price: "9.995", hs_product_id: widget.id as string, hs_sku: "WID-1" }, true);
      const l2 = insert("line_items", { name: "Gadget", quantity: "20", price: "150", hs_product_id: gadget.id as string, hs_sku: "GAD-2" }, true);
      associate("deals", won.id as string, "companies", acme.id as string);
      associate("deals", won.id as string, "line_items", l1.id as string);
      associate("deals", open.id as string, "companies", globex.id as string);
      associate("deals", open.id as string, "line_items", l2.id as string);
    };

    const rateHeaders = (req: SandboxRequest): Record<string, string> => {
      const key = req.principal;
      if (!key) return {};
      const used = windowFor(tenSecondly, key, () => 10_000).count();
      const h: Record<string, string> = {
        "x-hubspot-ratelimit-interval-milliseconds": "10000",
        "x-hubspot-ratelimit-max": String(k.limits.tenSecondlyRequests),
        "x-hubspot-ratelimit-remaining": String(Math.max(0, k.limits.tenSecondlyRequests! - used)),
      };
      // OAuth calls carry no daily headers (public apps have no daily cap).
      if (key !== "oauth") {
        h["x-hubspot-ratelimit-daily"] = String(k.limits.dailyRequests);
        h["x-hubspot-ratelimit-daily-remaining"] = String(Math.max(0, k.limits.dailyRequests! - windowFor(daily, key, () => 86_400_000).count()));
      }
      return h;
    };

    const rateLimited = (policyName: string, message: string, key: string): Reply => ({
      status: 429,
      body: { status: "error", message, errorType: "RATE_LIMIT", correlationId: randomUUID(), policyName, groupName: `publicapi:${key === "oauth" ? "oauth-app" : "private-app"}:${policyName.toLowerCase()}`, requestId: randomUUID() },
    });

    return {
      vendor: "hubspot",
      routes,
      before(req) {
        const presented = bearer(req);
        let key: string;
        if (presented && privateTokens.has(presented)) key = `private:${presented}`;
        else {
          const t = k.tokens.check(presented);
          if (t === "expired") return { status: 401, body: { status: "error", message: "The OAuth token used to make this call expired 0 minute(s) ago.", correlationId: randomUUID(), category: "EXPIRED_AUTHENTICATION" } };
          if (!t) return { status: 401, body: { status: "error", message: "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview", correlationId: randomUUID(), category: "INVALID_AUTHENTICATION" } };
          key = "oauth";
        }
        req.principal = key;
        const isSearch = req.path.endsWith("/search");
        if (isSearch) {
          const s = windowFor(search, key, () => 1000);
          // THIN: the search limit's 429 policy name is not documented; SECONDLY is the classic name.
          if (s.count() >= k.limits.searchPerSecond!) return rateLimited("SECONDLY", "You have reached your secondly limit.", key);
          s.add();
        }
        const d = windowFor(daily, key, () => 86_400_000);
        if (key !== "oauth" && d.count() >= k.limits.dailyRequests!) return rateLimited("DAILY", "You have reached your daily limit.", key);
        const w = windowFor(tenSecondly, key, () => 10_000);
        if (w.count() >= k.limits.tenSecondlyRequests!) return rateLimited("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.", key);
        w.add();
        d.add();
        return undefined;
      },
      decorate(req, reply) {
        // Search answers carry only the correlation id, not the rate-limit headers.
        const limitHeaders = req.path.endsWith("/search") ? {} : rateHeaders(req);
        reply.headers = { ...reply.headers, ...limitHeaders, "x-hubspot-correlation-id": randomUUID() };
      },
      serverError: (status) => ({ status, body: { status: "error", message: status === 503 ? "Service Unavailable" : "internal error", correlationId: randomUUID(), category: status === 503 ? "SERVICE_UNAVAILABLE" : "INTERNAL_ERROR" } }),
      throttled: (req) => rateLimited("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.", req.principal ?? "private"),
      malformedBody: () => ({ status: 400, body: { status: "error", message: "Invalid input JSON on line 1, column 1: Unexpected character", correlationId: randomUUID(), category: "VALIDATION_ERROR" } }),
      notFound: () => ({ status: 404, body: { status: "error", message: "Unable to find a route for this request", correlationId: randomUUID(), category: "OBJECT_NOT_FOUND" } }),
      seedRecord(type, input) {
        const t = types[type];
        if (!t) throw new Error(`unknown object type ${type}`);
        const r = insert(type, checkPropertiesForSeed(t, input.properties ?? input), true);
        if (Array.isArray(input.associations)) for (const a of input.associations as { type: string; id: string }[]) associate(type, r.id as string, a.type, a.id);
        return r;
      },
      reset() {
        counter = 0;
        associations = [];
        tenSecondly.clear();
        daily.clear();
        search.clear();
        if (options.seed ?? true) seed();
      },
    };

    function checkPropertiesForSeed(type: ObjectType, props: unknown): Record<string, string | null> {
      try {
        return checkProperties(type, props);
      } catch (e) {
        throw new Error(e instanceof Halt ? String((e.reply.body as { message: string }).message) : String(e));
      }
    }
  });
}
