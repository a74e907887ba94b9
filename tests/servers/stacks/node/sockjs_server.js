// sockjs-node stack server for wsinspect's stack fingerprints (issue 15).
// node sockjs_server.js PORT   (PORT 0 = any; prints "PORT <n>" first)
//   /ws/...     sockjs prefix /ws: raw WebSocket at /ws/websocket, SockJS sessions at
//               /ws/<server>/<session>/websocket, /ws/info, the /ws welcome page.
//               sockjs has NO origin option (its connections do not even expose the Origin
//               header), so the origin check is app code in front of sockjs's 'upgrade'
//               handler: Origins other than http://allowed.example get a hand-written 403.
//   /proto/...  sockjs prefix /proto: sockjs (faye-websocket) never selects a subprotocol
//   /           the app's own page; unknown upgrade paths are left unanswered by sockjs
const http = require("http");
const sockjs = require("sockjs");

const port = Number(process.argv[2] || 0);
const ALLOWED = "http://allowed.example";
const server = http.createServer((req, res) => {
  res.writeHead(req.url === "/" ? 200 : 404, { "Content-Type": "text/plain" });
  res.end(req.url === "/" ? "sockjs stack server\n" : "not found\n");
});
for (const prefix of ["/ws", "/proto"]) {
  const service = sockjs.createServer({ prefix, log: () => {} });
  service.on("connection", (conn) => conn.on("data", (data) => conn.write(data)));
  service.installHandlers(server);
}
const sockjsUpgrade = server.listeners("upgrade");
server.removeAllListeners("upgrade");
server.on("upgrade", (req, socket, head) => {
  if (req.url.startsWith("/ws/") && req.headers.origin !== ALLOWED) {
    socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  for (const listener of sockjsUpgrade) listener.call(server, req, socket, head);
});
server.listen(port, "127.0.0.1", () => console.log(`PORT ${server.address().port}`));
