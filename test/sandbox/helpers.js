"use strict";
// Shared by the sandbox tests: JSON calls and control-plane shortcuts. Not a test file itself.

async function call(base, method, path, { body, headers = {}, form } = {}) {
  const init = { method, headers: { ...headers } };
  if (form) {
    init.body = new URLSearchParams(form).toString();
    init.headers["content-type"] = "application/x-www-form-urlencoded";
  } else if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["content-type"] ??= "application/json";
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const control = {
  faults: (base, faults) => call(base, "PUT", "/__sandbox/faults", { body: { faults } }),
  clearFaults: (base) => call(base, "DELETE", "/__sandbox/faults"),
  limits: (base, limits) => call(base, "PUT", "/__sandbox/limits", { body: limits }),
  expireTokens: (base) => call(base, "POST", "/__sandbox/tokens/expire"),
  stats: async (base) => (await call(base, "GET", "/__sandbox/stats")).json,
  records: async (base, type) => (await call(base, "GET", `/__sandbox/records/${type}`)).json.records,
  reset: (base) => call(base, "POST", "/__sandbox/reset"),
};

module.exports = { call, control };
