// Next.js 16 dev server (Turbopack) whose `rewrites()` send /ws and /proto -- WebSocket upgrades
// included -- to a backend, for wsinspect's stack fingerprints (issue 15).
// node next_proxy_server.js PORT BACKEND [SAME_HOST_BACKEND]   (prints "PORT <n>" first)
//   /same  (optional) rewritten to SAME_HOST_BACKEND, a server with a same-host origin check
//   /      the app's page (app/ dir in next_proxy/)
const { spawn } = require("child_process");
const path = require("path");

const [port, backend, sameHost] = process.argv.slice(2);
const next = spawn(
  process.execPath,
  [require.resolve("next/dist/bin/next"), "dev", "-p", port || "0", "-H", "127.0.0.1"],
  {
    cwd: path.join(__dirname, "next_proxy"),
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", WS_BACKEND: backend, WS_SAME_HOST_BACKEND: sameHost || "" },
    stdio: ["ignore", "pipe", "inherit"],
  },
);
let printed = false;
next.stdout.on("data", (chunk) => {
  const match = !printed && /Local:\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(chunk.toString());
  if (match) {
    printed = true;
    console.log(`PORT ${match[1]}`);
  }
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => next.kill(signal));
next.on("exit", (code) => process.exit(code ?? 0));
