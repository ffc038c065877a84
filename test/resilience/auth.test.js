"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { lib, vendor, json, FAST_RETRY } = require("./helpers");
const { Connection } = lib("resilience/connection");
const { TechnicalError } = lib("resilience/errors");
const { OAuth2ClientCredentials, CookieSession, CsrfToken, TokenCache, basicAuth, bearerToken, CookieJar } = lib("http/auth");

/** A vendor with an OAuth token endpoint; tokens are tok-1, tok-2…; `valid` says which token the API accepts. */
async function oauthVendor(t, { expiresIn = 3600, loginDelayMs = 20, refreshSkewMs } = {}) {
  const state = { logins: 0, valid: new Set(), forms: [] };
  const v = await vendor((req, res, record) => {
    if (req.url === "/oauth/token") {
      state.logins++;
      state.forms.push(Object.fromEntries(new URLSearchParams(record.body)));
      const token = `tok-${state.logins}`;
      state.valid.add(token);
      return setTimeout(() => json(res, 200, { access_token: token, token_type: "Bearer", expires_in: expiresIn }), loginDelayMs);
    }
    const token = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    if (!state.valid.has(token)) return json(res, 401, [{ message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID" }]);
    json(res, 200, { token });
  });
  t.after(() => v.close());
  const connection = new Connection({
    name: "oauth",
    http: { baseUrl: v.url },
    retry: FAST_RETRY,
    auth: (http) => new OAuth2ClientCredentials(http, { tokenUrl: `${v.url}/oauth/token`, clientId: "cid", clientSecret: "s3cret", scope: "api", refreshSkewMs }),
  });
  t.after(() => connection.close());
  return { v, state, connection };
}

test("50 concurrent first calls share exactly one login", async (t) => {
  const { v, state, connection } = await oauthVendor(t);
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => connection.request({ method: "GET", path: `/data/${i}` })));
  assert.equal(state.logins, 1);
  assert.ok(results.every((r) => r.body.token === "tok-1"));
  assert.deepEqual(state.forms[0], { grant_type: "client_credentials", client_id: "cid", client_secret: "s3cret", scope: "api" });
  assert.ok(v.requests.every((r) => typeof r.headers["x-correlation-id"] === "string"), "the login carries a correlation id too");
  assert.equal(connection.auth.tokens.logins, 1);
});

test("a 401 renews the token once and retries the request once; 50 concurrent 401s cause exactly one new login", async (t) => {
  const { v, state, connection } = await oauthVendor(t);
  await connection.request({ method: "GET", path: "/warm" });
  state.valid.clear(); // the vendor revokes tok-1
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => connection.request({ method: "GET", path: `/data/${i}` })));
  assert.equal(state.logins, 2);
  assert.ok(results.every((r) => r.body.token === "tok-2"));
  const apiCalls = v.requests.filter((r) => r.url.startsWith("/data/"));
  assert.equal(apiCalls.length, 100, "each caller: one refused call and one retried call");
  assert.equal(connection.state().counters.reauthentications, 50);
});

test("a second 401 after renewal is an auth TechnicalError, not a loop", async (t) => {
  const v = await vendor((req, res) => (req.url === "/oauth/token" ? json(res, 200, { access_token: "t", expires_in: 3600 }) : json(res, 401, { message: "nope" })));
  t.after(() => v.close());
  const c = new Connection({
    name: "oauth",
    http: { baseUrl: v.url },
    retry: FAST_RETRY,
    auth: (http) => new OAuth2ClientCredentials(http, { tokenUrl: `${v.url}/oauth/token`, clientId: "a", clientSecret: "b" }),
  });
  t.after(() => c.close());
  const err = await c.request({ method: "GET", path: "/x" }).catch((e) => e);
  assert.ok(err instanceof TechnicalError);
  assert.equal(err.kind, "auth");
  assert.equal(err.retryable, false);
  assert.deepEqual(v.requests.map((r) => r.url), ["/oauth/token", "/x", "/oauth/token", "/x"]);
});

test("the token is renewed before it expires (refresh skew), without a 401", async (t) => {
  // 600 ms tokens renewed 300 ms early: the token in use is renewed from 300 ms after login on.
  const { state, connection } = await oauthVendor(t, { expiresIn: 0.6, refreshSkewMs: 300 });
  await connection.request({ method: "GET", path: "/a" });
  await connection.request({ method: "GET", path: "/b" });
  assert.equal(state.logins, 1);
  await new Promise((r) => setTimeout(r, 350));
  const res = await connection.request({ method: "GET", path: "/c" });
  assert.equal(state.logins, 2);
  assert.equal(res.body.token, "tok-2");
  assert.equal(connection.state().counters.reauthentications, 0);
});

test("a refused client secret is an auth error that names the vendor's reason and not the secret", async (t) => {
  const v = await vendor((req, res) => json(res, 400, { error: "invalid_client", error_description: "client authentication failed" }));
  t.after(() => v.close());
  const c = new Connection({
    name: "oauth",
    http: { baseUrl: v.url },
    retry: FAST_RETRY,
    auth: (http) => new OAuth2ClientCredentials(http, { tokenUrl: `${v.url}/token`, clientId: "a", clientSecret: "TOP-SECRET", clientAuthentication: "basic" }),
  });
  t.after(() => c.close());
  const err = await c.request({ method: "GET", path: "/x" }).catch((e) => e);
  assert.equal(err.kind, "auth");
  assert.match(err.message, /token endpoint .*\/token refused the login \(HTTP 400: invalid_client: client authentication failed\)/);
  assert.doesNotMatch(JSON.stringify({ ...err, m: err.message }), /TOP-SECRET/);
  assert.equal(v.requests[0].headers.authorization, `Basic ${Buffer.from("a:TOP-SECRET").toString("base64")}`);
  assert.equal(v.requests.length, 1, "a refused login is not retried");
});

test("a login that fails on the network is retried by the request's policy", async (t) => {
  let first = true;
  const v = await vendor((req, res) => {
    if (req.url === "/token" && first) {
      first = false;
      return json(res, 503, {});
    }
    if (req.url === "/token") return json(res, 200, { access_token: "t1", expires_in: 60 });
    json(res, 200, { auth: req.headers.authorization });
  });
  t.after(() => v.close());
  const c = new Connection({
    name: "oauth",
    http: { baseUrl: v.url },
    retry: FAST_RETRY,
    auth: (http) => new OAuth2ClientCredentials(http, { tokenUrl: `${v.url}/token`, clientId: "a", clientSecret: "b" }),
  });
  t.after(() => c.close());
  const res = await c.request({ method: "GET", path: "/x" });
  assert.equal(res.body.auth, "Bearer t1");
});

test("TokenCache: a failed login is not cached; invalidating an old value keeps the newer one", async () => {
  let n = 0;
  const cache = new TokenCache(async () => {
    n++;
    if (n === 1) throw new Error("down");
    return { value: `v${n}` };
  });
  await assert.rejects(cache.get(), /down/);
  assert.equal(await cache.get(), "v2");
  cache.invalidate("v1");
  assert.equal(await cache.get(), "v2");
  cache.invalidate("v2");
  assert.equal(await cache.get(), "v3");
  assert.equal(cache.logins, 3);
});

test("static credentials: a 401 is final (nothing to renew) and not re-sent", async (t) => {
  const v = await vendor((req, res) => json(res, 401, { status: "error", category: "INVALID_AUTHENTICATION", message: "Authentication credentials not found." }));
  t.after(() => v.close());
  const c = new Connection({ name: "hubspot", http: { baseUrl: v.url }, retry: FAST_RETRY, auth: () => bearerToken("pat-123") });
  t.after(() => c.close());
  const err = await c.request({ method: "GET", path: "/crm/v3/objects/companies" }).catch((e) => e);
  assert.equal(err.kind, "auth");
  assert.match(err.message, /Authentication credentials not found/);
  assert.equal(v.requests.length, 1);
  assert.equal(v.requests[0].headers.authorization, "Bearer pat-123");
});

test("CSRF: token fetched once with the session cookie, sent on writes only, re-fetched on 403 x-csrf-token: Required", async (t) => {
  let fetches = 0;
  let validToken = "";
  const v = await vendor((req, res) => {
    assert.equal(req.headers.authorization, `Basic ${Buffer.from("COMM_USER:pw").toString("base64")}`);
    if (req.headers["x-csrf-token"] === "Fetch") {
      fetches++;
      validToken = `csrf-${fetches}`;
      res.writeHead(200, { "x-csrf-token": validToken, "set-cookie": [`SAP_SESSIONID=s${fetches}; path=/; HttpOnly`, "sap-usercontext=sap-client=100; path=/"] });
      return res.end();
    }
    if (req.method === "GET") return json(res, 200, { d: { results: [] } });
    const okCookie = (req.headers.cookie ?? "").includes(`SAP_SESSIONID=s${fetches}`);
    if (req.headers["x-csrf-token"] !== validToken || !okCookie) {
      res.writeHead(403, { "x-csrf-token": "Required", "content-type": "text/plain" });
      return res.end("CSRF token validation failed");
    }
    json(res, 201, { d: { SalesOrder: "1000013602" } });
  });
  t.after(() => v.close());
  const c = new Connection({
    name: "sap",
    http: { baseUrl: `${v.url}/sap/opu/odata/sap/API_SALES_ORDER_SRV` },
    retry: FAST_RETRY,
    auth: (http) => new CsrfToken(http, basicAuth("COMM_USER", "pw"), { fetchPath: "/" }),
  });
  t.after(() => c.close());
  await c.request({ method: "GET", path: "A_SalesOrder" });
  assert.equal(fetches, 0, "reads need no token");
  const created = await Promise.all([1, 2, 3].map(() => c.request({ method: "POST", path: "A_SalesOrder", body: {} })));
  assert.ok(created.every((r) => r.body.d.SalesOrder === "1000013602"));
  assert.equal(fetches, 1, "one fetch for three concurrent writes");
  validToken = "expired-on-server";
  const again = await c.request({ method: "POST", path: "A_SalesOrder", body: {} });
  assert.equal(again.status, 201);
  assert.equal(fetches, 2, "a 403 Required fetched a new token once");
  const fetch = v.requests.find((r) => r.headers["x-csrf-token"] === "Fetch");
  assert.equal(fetch.url, "/sap/opu/odata/sap/API_SALES_ORDER_SRV/");
  const lastPost = v.requests[v.requests.length - 1];
  assert.equal(lastPost.headers.cookie, "SAP_SESSIONID=s2; sap-usercontext=sap-client=100");
});

test("CSRF: a 403 without `Required` is an auth error and fetches nothing", async (t) => {
  let fetches = 0;
  const v = await vendor((req, res) => {
    if (req.headers["x-csrf-token"] === "Fetch") {
      fetches++;
      res.writeHead(200, { "x-csrf-token": "tok" });
      return res.end();
    }
    json(res, 403, { error: { code: "/IWBEP/CM_MGW_RT/020", message: { lang: "en", value: "No authorization" } } });
  });
  t.after(() => v.close());
  const c = new Connection({ name: "sap", http: { baseUrl: v.url }, retry: FAST_RETRY, auth: (http) => new CsrfToken(http, basicAuth("u", "p"), { fetchPath: "/" }) });
  t.after(() => c.close());
  const err = await c.request({ method: "POST", path: "/A_SalesOrder", body: {} }).catch((e) => e);
  assert.equal(err.kind, "auth");
  assert.match(err.message, /No authorization/);
  assert.equal(fetches, 1);
});

test("cookie session: one login, cookies on every call, re-login on 401, logout on close", async (t) => {
  let logins = 0;
  let live = "";
  const v = await vendor((req, res, record) => {
    if (req.url === "/entity/auth/login") {
      logins++;
      assert.deepEqual(JSON.parse(record.body), { name: "admin", password: "pw", tenant: "MyStore" });
      live = `sess-${logins}`;
      res.writeHead(204, { "set-cookie": [`.ASPXAUTH=${live}; path=/; HttpOnly`, "ASP.NET_SessionId=x1; path=/"] });
      return res.end();
    }
    if (req.url === "/entity/auth/logout") {
      live = "";
      res.writeHead(204);
      return res.end();
    }
    if (!(req.headers.cookie ?? "").includes(`.ASPXAUTH=${live}`) || live === "") return json(res, 401, { message: "session expired" });
    json(res, 200, { cookie: req.headers.cookie });
  });
  t.after(() => v.close());
  const c = new Connection({
    name: "acumatica",
    http: { baseUrl: v.url },
    retry: FAST_RETRY,
    auth: (http) =>
      new CookieSession(http, {
        login: { method: "POST", path: "/entity/auth/login", body: { name: "admin", password: "pw", tenant: "MyStore" } },
        logout: { method: "POST", path: "/entity/auth/logout" },
      }),
  });
  const all = await Promise.all([1, 2, 3, 4, 5].map(() => c.request({ method: "PUT", path: "/entity/Default/24.200.001/SalesOrder", body: {} })));
  assert.equal(logins, 1);
  assert.equal(all[0].body.cookie, ".ASPXAUTH=sess-1; ASP.NET_SessionId=x1");
  live = "server-restarted";
  const res = await c.request({ method: "GET", path: "/entity/Default/24.200.001/SalesOrder" });
  assert.equal(logins, 2);
  assert.match(res.body.cookie, /\.ASPXAUTH=sess-2/);
  await c.close();
  assert.equal(v.requests[v.requests.length - 1].url, "/entity/auth/logout");
  assert.match(v.requests[v.requests.length - 1].headers.cookie, /sess-2/);
});

test("cookie jar: later Set-Cookie replaces, Max-Age=0 and past Expires delete", () => {
  const jar = new CookieJar();
  jar.update(["a=1; Path=/", "b=2", "c=3"]);
  jar.update(["a=9", "b=; Max-Age=0", "c=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]);
  assert.equal(jar.header(), "a=9");
});
