"use strict";
// Starts a real Node-RED process with its own user dir, for packaging, flow and admin tests.
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");

const RED_JS = require.resolve("node-red/red.js");

// The runtime's "flows started" log line, whatever level the test's console logs at, reaches the test on its own pipe
// (fd 3) so red.log stays what Node-RED printed. Only when this helper started the process: the env says which fd.
const READY_FD = 3;
const READY_LOGGER = `settings.logging = Object.assign({}, settings.logging, {
  keelsonTestReady: {
    level: "info", metrics: false, audit: false,
    handler() {
      const fd = Number(process.env.KEELSON_TEST_READY_FD);
      return (entry) => {
        if (fd && /^(Started flows|Waiting for missing types|Error loading flows)/.test(String(entry.msg))) {
          try { require("fs").writeSync(fd, "settled\\n"); } catch {}
        }
      };
    },
  },
});
`;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Writes settings.js (and flows.json when given) into userDir and starts Node-RED on 127.0.0.1.
 * `settings` is merged into a minimal settings object; functions are not supported, keep it JSON.
 * `execArgv` are node's own options for the process (e.g. --cpu-prof, which NODE_OPTIONS does not take).
 */
async function startNodeRed({ userDir, settings = {}, flows, env = {}, execArgv = [], timeoutMs = 30000 }) {
  fs.mkdirSync(userDir, { recursive: true });
  const port = await freePort();
  const full = { uiHost: "127.0.0.1", uiPort: port, flowFile: "flows.json", credentialSecret: "keelson-test-secret", telemetry: { enabled: false }, editorTheme: { tours: false }, logging: { console: { level: "info", metrics: false, audit: false } }, ...settings };
  fs.writeFileSync(path.join(userDir, "settings.js"), `const settings = ${JSON.stringify(full, null, 2)};\n${READY_LOGGER}module.exports = settings;\n`);
  if (flows) fs.writeFileSync(path.join(userDir, "flows.json"), JSON.stringify(flows));
  const proc = spawn(process.execPath, [...execArgv, RED_JS, "--userDir", userDir, "--settings", path.join(userDir, "settings.js")], {
    env: { ...process.env, ...env, KEELSON_TEST_READY_FD: String(READY_FD) },
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  let log = "";
  let flowsSettled = false;
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  proc.stdio[READY_FD].on("data", () => (flowsSettled = true));
  const url = `http://127.0.0.1:${port}`;
  // Ready when the admin API answers and the runtime has started the flows (or is waiting for missing types, or could
  // not load them). The server listens before the flows start, and with adminAuth /flows/state answers only 401, so
  // the runtime's own log line is the signal: a request sent in between would meet no http-in route (404).
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`Node-RED exited with ${proc.exitCode}:\n${log}`);
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`Node-RED did not start within ${timeoutMs} ms:\n${log}`);
    }
    try {
      const res = await fetch(`${url}/flows/state`, { headers: { Accept: "application/json" } });
      if ((res.ok || res.status === 401) && flowsSettled) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    proc,
    get log() {
      return log;
    },
    async stop(signal = "SIGTERM") {
      if (proc.exitCode !== null) return;
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10000);
      await exited;
      clearTimeout(timer);
    },
  };
}

module.exports = { startNodeRed, freePort };
