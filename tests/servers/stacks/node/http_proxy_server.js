// node-http-proxy 1.18.1 (what http-proxy-middleware, webpack-dev-server's and Create React
// App's `proxy` run on) in front of a WebSocket backend, for wsinspect's stack fingerprints.
// node http_proxy_server.js PORT BACKEND [SAME_HOST_BACKEND]   (prints "PORT <n>" first)
//   every path      proxied to 127.0.0.1:BACKEND, upgrades too, with changeOrigin: true
//   /same...        (optional) to SAME_HOST_BACKEND, a server whose origin check is
//                   "Origin host == Host" (gorilla's/coder's default): changeOrigin rewrites
//                   Host, the browser's Origin stays the dev server's, the check fails.
const http = require("http");
const httpProxy = require("http-proxy");

const [port, backend, sameHost] = process.argv.slice(2).map(Number);
const proxy = httpProxy.createProxyServer({ changeOrigin: true, ws: true });
proxy.on("error", (err, req, res) => res.destroy && res.destroy());
const target = (req) =>
  `http://127.0.0.1:${sameHost && req.url.startsWith("/same") ? sameHost : backend}`;
const server = http.createServer((req, res) => proxy.web(req, res, { target: target(req) }));
server.on("upgrade", (req, socket, head) => proxy.ws(req, socket, head, { target: target(req) }));
server.listen(port, "127.0.0.1", () => console.log(`PORT ${server.address().port}`));
