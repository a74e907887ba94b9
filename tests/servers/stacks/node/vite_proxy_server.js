// Vite dev-server proxy in front of a WebSocket backend, for wsinspect's stack fingerprints.
// node vite_proxy_server.js PORT BACKEND [SAME_HOST_BACKEND]   (prints "PORT <n>" first)
//   /ws, /proto  proxied to 127.0.0.1:BACKEND with { ws: true, changeOrigin: true }
//   /same        (optional) proxied the same way to SAME_HOST_BACKEND, a server whose origin
//                check is "Origin host == Host" (gorilla's or coder's default): changeOrigin
//                rewrites Host to the backend's while the browser's Origin stays the dev
//                server's, so the check fails although everything runs on 127.0.0.1.
//   /            Vite's own index page (an empty root)
const fs = require("fs");
const os = require("os");
const path = require("path");

(async () => {
  const { createServer } = await import("vite");
  const [port, backend, sameHost] = process.argv.slice(2).map(Number);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "vite-stack-"));
  fs.writeFileSync(path.join(root, "index.html"), "<!doctype html><title>vite stack</title>\n");
  const proxy = {};
  for (const p of ["/ws", "/proto"]) {
    proxy[p] = { target: `http://127.0.0.1:${backend}`, ws: true, changeOrigin: true };
  }
  if (sameHost) proxy["/same"] = { target: `http://127.0.0.1:${sameHost}`, ws: true, changeOrigin: true };
  const server = await createServer({
    configFile: false,
    root,
    logLevel: "silent",
    server: { host: "127.0.0.1", port, strictPort: port !== 0, proxy },
  });
  await server.listen();
  console.log(`PORT ${server.httpServer.address().port}`);
})();
