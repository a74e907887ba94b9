// Node `ws` stack server for wsinspect's stack fingerprints (issue 15).
// node ws_server.js PORT [--path-option]   (PORT 0 = any; prints "PORT <n>" first)
//   /ws     verifyClient admits only Origin http://allowed.example (ws refuses with 401)
//   /proto  handleProtocols selects only chat.v2 (else false: a 101 without the header)
//   /echo   no handleProtocols: ws's default echoes the client's first offered subprotocol
//   /       a plain page from Node's http server
// Default routing is ws's documented "multiple servers sharing one HTTP server" pattern
// (noServer + the server's 'upgrade' event; unknown paths: socket.destroy()). With
// --path-option a single `new WebSocketServer({ server, path: "/ws" })` owns every
// upgrade instead, so an unknown path gets ws's own 400 (shouldHandle() false).
const http = require("http");
const { WebSocketServer } = require("ws");

const port = Number(process.argv[2] || 0);
const ALLOWED = "http://allowed.example";
const verifyClient = (info) => info.origin === ALLOWED;
const handleProtocols = (protocols) => (protocols.has("chat.v2") ? "chat.v2" : false);
const echo = (socket) => socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));

const server = http.createServer((req, res) => {
  res.writeHead(req.url === "/" ? 200 : 404, { "Content-Type": "text/plain" });
  res.end(req.url === "/" ? "ws stack server\n" : "not found\n");
});

if (process.argv.includes("--path-option")) {
  new WebSocketServer({ server, path: "/ws", verifyClient }).on("connection", echo);
} else {
  const routes = {
    "/ws": new WebSocketServer({ noServer: true, verifyClient }),
    "/proto": new WebSocketServer({ noServer: true, handleProtocols }),
    "/echo": new WebSocketServer({ noServer: true }),
  };
  for (const wss of Object.values(routes)) wss.on("connection", echo);
  server.on("upgrade", (req, socket, head) => {
    const wss = routes[new URL(req.url, "http://x").pathname];
    if (!wss) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
}
server.listen(port, "127.0.0.1", () => console.log(`PORT ${server.address().port}`));
