// The Microsoft Entra ID client-credentials token endpoint (`POST /{tenant}/oauth2/v2.0/token`) as the Microsoft
// sandboxes serve it on their own host: Business Central and Finance & Operations. Tokens are JWT-shaped with a
// random signature part (all a client may rely on) and registered with the kernel so the control plane can
// expire them.
import { randomBytes, randomUUID } from "node:crypto";
import type { Kernel, Reply, SandboxRequest } from "./kernel";

export interface EntraClient {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The resource the scope must name: "{resource}/.default". */
  resource(req: SandboxRequest): string;
  /** Limit name holding the token lifetime in seconds. */
  lifetimeLimit: string;
}

/** Entra's error body: `{error, error_description: "AADSTS…: …", error_codes, timestamp, trace_id, correlation_id}`. */
function aad(status: number, error: string, code: number, text: string): Reply {
  const now = new Date().toISOString();
  return {
    status,
    body: { error, error_description: `AADSTS${code}: ${text}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${now}`, error_codes: [code], timestamp: now, trace_id: randomUUID(), correlation_id: randomUUID() },
  }; // [~] AADSTS codes and texts
}

export function entraToken(k: Kernel, c: EntraClient): (req: SandboxRequest) => Reply {
  return (req) => {
    const form = req.form();
    if (req.params.tenant !== c.tenantId) return aad(400, "invalid_request", 90002, `Tenant '${req.params.tenant}' not found.`);
    if (form.get("grant_type") !== "client_credentials") return aad(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
    if (form.get("client_id") !== c.clientId) return aad(400, "unauthorized_client", 700016, `Application with identifier '${form.get("client_id")}' was not found in the directory.`);
    if (form.get("client_secret") !== c.clientSecret) return aad(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.");
    const resource = c.resource(req).replace(/\/$/, "");
    const scope = form.get("scope") ?? "";
    if (scope.replace(/\/+\.default$/, "/.default") !== `${resource}/.default`) return aad(400, "invalid_scope", 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`);
    const lifetime = k.limits[c.lifetimeLimit]!;
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const token = `${part({ typ: "JWT", alg: "RS256" })}.${part({ aud: resource, appid: c.clientId, tid: c.tenantId, exp: Math.floor(Date.now() / 1000) + lifetime })}.${randomBytes(32).toString("base64url")}`;
    k.tokens.issue(c.clientId, lifetime, {}, token);
    return { status: 200, body: { token_type: "Bearer", expires_in: lifetime, ext_expires_in: lifetime, access_token: token } };
  };
}
