// The OData $batch envelope shared by the OData sandboxes (Dataverse v4, SAP v2): a multipart/mixed body whose
// parts are single application/http requests or changesets (nested multipart/mixed, all-or-nothing). Inner
// requests run through the sandbox's own routes; a changeset is rolled back on its first failure and then
// answered by that failure alone; Content-ID lets later requests of a changeset refer to "$n".
import { randomUUID } from "node:crypto";
import { makeRequest, type Halt, type Kernel, type Reply, type SandboxRequest } from "./kernel";

export interface BatchOptions {
  kernel: Kernel;
  outer: SandboxRequest;
  /** Path of the service root: inner URLs relative to it are resolved against it. */
  serviceRoot: string;
  maxRequests: number;
  /** Dataverse stops at the first failure unless odata.continue-on-error; SAP Gateway carries on [~]. */
  stopOnError: boolean;
  /** The vendor's error for a malformed envelope. */
  badRequest(message: string): Halt;
  /** The vendor's answer to an inner body that is not JSON. */
  malformedJson(): Reply;
  /** Counts an inner request against the vendor's limits; a reply refuses it. */
  admit?(): Reply | undefined;
  /** Response header naming a created entity, for "$n" references. */
  createdHeader: string;
  /** Protocol version header put on every inner response, e.g. ["OData-Version", "4.0"]. */
  versionHeader: [string, string];
  jsonContentType: string;
}

interface Part {
  headers: Record<string, string>;
  body: string;
}

interface InnerResult {
  contentId?: string;
  reply: Reply;
}

const STATUS_TEXT: Record<number, string> = { 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable", 412: "Precondition Failed", 428: "Precondition Required", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable" };

export function boundaryOf(contentType: string | undefined): string | undefined {
  return /boundary=("?)([^";]+)\1/i.exec(contentType ?? "")?.[2];
}

function parseHeaders(text: string): Record<string, string> {
  const h: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0) h[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return h;
}

function splitMultipart(o: BatchOptions, body: string, boundary: string): Part[] {
  const delimiter = `--${boundary}`;
  const chunks = body.split(delimiter);
  if (chunks.length < 2 || !body.includes(`${delimiter}--`)) throw o.badRequest(`The multipart body has no closing boundary '${delimiter}--'.`);
  return chunks.slice(1, -1).map((c) => {
    const text = c.replace(/^\r?\n/, "").replace(/\r?\n$/, "");
    const [head, ...rest] = text.split(/\r?\n\r?\n/);
    return { headers: parseHeaders(head ?? ""), body: rest.join("\r\n\r\n") };
  });
}

async function runInner(o: BatchOptions, part: Part, refs: Map<string, string>): Promise<InnerResult> {
  if (!/application\/http/i.test(part.headers["content-type"] ?? "")) throw o.badRequest("Each batch part must be application/http.");
  const [requestLine, ...rest] = part.body.split(/\r?\n/);
  const m = /^([A-Z]+)\s+(\S+)\s+HTTP\/1\.1$/.exec(requestLine ?? "");
  if (!m) throw o.badRequest(`Invalid request line '${requestLine}' in batch part.`);
  const text = rest.join("\r\n");
  const sep = text.search(/\r?\n\r?\n|^\r?\n/);
  const headText = sep < 0 ? text : text.slice(0, sep);
  const bodyText = sep < 0 ? "" : text.slice(sep).replace(/^\r?\n\r?\n|^\r?\n/, "");
  const host = o.outer.header("host") ?? "";
  const relative = (url: string) => url.replace(/^https?:\/\/[^/]+/, "").replace(o.serviceRoot, "");
  // "$n" is the entity created by the part with Content-ID n earlier in the changeset.
  let url = m[2]!.replace(/^\$(\w+)/, (all, id: string) => refs.get(id) ?? all);
  if (/^https?:/.test(url)) url = new URL(url).pathname + new URL(url).search;
  else if (!url.startsWith("/")) url = `${o.serviceRoot}/${url}`;
  let body = bodyText.trim();
  for (const [id, ref] of refs) body = body.replace(new RegExp(`"\\$${id}"`, "g"), JSON.stringify(relative(ref)));
  const headers: Record<string, string> = { ...parseHeaders(headText), host };
  for (const h of ["authorization", "cookie"]) if (o.outer.header(h)) headers[h] = o.outer.header(h)!;
  const inner = makeRequest(m[1]!, url, headers, Buffer.from(body, "utf8"), () => o.malformedJson());
  inner.principal = o.outer.principal;
  const reply = o.admit?.() ?? (await o.kernel.dispatch(inner));
  const contentId = part.headers["content-id"];
  const created = reply.headers?.[o.createdHeader];
  if (contentId && typeof created === "string") refs.set(contentId, created);
  return { contentId, reply };
}

function render(o: BatchOptions, r: InnerResult): string {
  const lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"];
  if (r.contentId) lines.push(`Content-ID: ${r.contentId}`);
  const body = r.reply.body === undefined ? "" : typeof r.reply.body === "string" ? r.reply.body : JSON.stringify(r.reply.body);
  const headers: Record<string, string> = { [o.versionHeader[0]]: o.versionHeader[1] };
  const capitalised = (h: string) => h.replace(/(^|-)([a-z])/g, (_a, s: string, c: string) => s + c.toUpperCase()).replace(/^Odata/, "OData");
  for (const [h, v] of Object.entries(r.reply.headers ?? {})) headers[capitalised(h)] = Array.isArray(v) ? v.join(", ") : v;
  if (body && typeof r.reply.body !== "string") headers["Content-Type"] = o.jsonContentType;
  const statusLine = `HTTP/1.1 ${r.reply.status} ${STATUS_TEXT[r.reply.status] ?? ""}`.trimEnd();
  return [...lines, "", statusLine, ...Object.entries(headers).map(([h, v]) => `${h}: ${v}`), "", body].join("\r\n");
}

export async function runBatch(o: BatchOptions): Promise<Reply> {
  const contentType = o.outer.header("content-type");
  const boundary = boundaryOf(contentType);
  if (!boundary || !/multipart\/mixed/i.test(contentType ?? "")) throw o.badRequest("The content type of a $batch request must be multipart/mixed with a boundary.");
  const parts = splitMultipart(o, o.outer.raw.toString("utf8"), boundary);
  const nested = parts.map((p) => {
    if (!/multipart\/mixed/i.test(p.headers["content-type"] ?? "")) return undefined;
    const inner = boundaryOf(p.headers["content-type"]);
    if (!inner) throw o.badRequest("A changeset needs a boundary.");
    return splitMultipart(o, p.body, inner);
  });
  const count = parts.reduce((n, _p, i) => n + (nested[i]?.length ?? 1), 0);
  if (count > o.maxRequests) throw o.badRequest(`The number of requests in a batch cannot exceed ${o.maxRequests}.`); // [~] wording
  const responseBoundary = `batchresponse_${randomUUID()}`;
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const changeset = nested[i];
    let failed = false;
    if (changeset) {
      const snapshot = o.kernel.store.snapshot();
      const refs = new Map<string, string>();
      const results: InnerResult[] = [];
      for (const p of changeset) {
        if (/^GET\s/.test(p.body)) throw o.badRequest("GET requests are not allowed inside a change set.");
        const r = await runInner(o, p, refs);
        results.push(r);
        if (r.reply.status >= 400) {
          failed = true;
          break;
        }
      }
      if (failed) {
        o.kernel.store.restore(snapshot);
        out.push(render(o, results[results.length - 1]!));
      } else {
        const csBoundary = `changesetresponse_${randomUUID()}`;
        out.push([`Content-Type: multipart/mixed; boundary=${csBoundary}`, "", ...results.map((r) => `--${csBoundary}\r\n${render(o, r)}`), `--${csBoundary}--`].join("\r\n"));
      }
    } else {
      const r = await runInner(o, parts[i]!, new Map());
      failed = r.reply.status >= 400;
      out.push(render(o, r));
    }
    if (failed && o.stopOnError) break;
  }
  const body = out.map((part) => `--${responseBoundary}\r\n${part}\r\n`).join("") + `--${responseBoundary}--\r\n`;
  return { status: 200, headers: { "content-type": `multipart/mixed; boundary=${responseBoundary}` }, body };
}
