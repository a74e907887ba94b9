// Socket.IO v4 stack server for wsinspect's stack fingerprints (issue 15).
// node socketio_server.js PORT [--cors]   (PORT 0 = any; prints "PORT <n>" first)
//   /socket.io/  default: allowRequest admits only Origin http://allowed.example -- the knob
//                that gates the WebSocket transport (refused: Engine.IO's plain-text 400
//                `Forbidden` on an upgrade, JSON 403 {"code":4,...} on polling).
//                --cors: `cors: { origin: "http://allowed.example" }` instead and no
//                allowRequest -- which does NOT stop a WebSocket upgrade from another Origin.
//   /            the app's own page (Node's http server)
// Socket.IO has no subprotocol option: Engine.IO's ws server keeps ws's default and echoes
// the client's first offered subprotocol.
const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 0);
const ALLOWED = "http://allowed.example";
const httpServer = http.createServer((req, res) => {
  res.writeHead(req.url === "/" ? 200 : 404, { "Content-Type": "text/plain" });
  res.end(req.url === "/" ? "socket.io stack server\n" : "not found\n");
});
const options = process.argv.includes("--cors")
  ? { cors: { origin: ALLOWED } }
  : { allowRequest: (req, callback) => callback(null, req.headers.origin === ALLOWED) };
const io = new Server(httpServer, options);
io.on("connection", (socket) => socket.on("echo", (message, ack) => ack(message)));
httpServer.listen(port, "127.0.0.1", () => console.log(`PORT ${httpServer.address().port}`));
