// @fastify/websocket stack server for wsinspect's stack fingerprints (issue 15).
// node fastify_ws_server.js PORT [--verify-client]   (PORT 0 = any; prints "PORT <n>" first)
//   /ws     a route-level preValidation hook refuses Origins other than http://allowed.example
//           with reply.code(403) -- Fastify writes that answer on the upgrade socket (before
//           any 101). --verify-client: the plugin's options.verifyClient (passed to ws) does
//           it instead (ws's raw 401).
//   /proto  options.handleProtocols selects only chat.v2
//   /       a plain Fastify page; unknown paths get Fastify's JSON 404
const fastify = require("fastify")();

const port = Number(process.argv[2] || 0);
const ALLOWED = "http://allowed.example";
const verify = process.argv.includes("--verify-client");
const options = { handleProtocols: (protocols) => (protocols.has("chat.v2") ? "chat.v2" : false) };
if (verify) options.verifyClient = (info) => info.origin === ALLOWED;

fastify.register(require("@fastify/websocket"), { options });
fastify.register(async (app) => {
  const echo = (socket) => socket.on("message", (data) => socket.send(data));
  const checkOrigin = async (request, reply) => {
    if (request.headers.origin !== ALLOWED) return reply.code(403).send({ error: "origin not allowed" });
  };
  app.get("/ws", verify ? { websocket: true } : { websocket: true, preValidation: checkOrigin }, echo);
  app.get("/proto", { websocket: true }, echo);
  app.get("/", async () => "fastify stack server\n");
});
fastify.listen({ port, host: "127.0.0.1" }, (err) => {
  if (err) throw err;
  console.log(`PORT ${fastify.server.address().port}`);
});
