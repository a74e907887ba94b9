// express-ws stack server for wsinspect's stack fingerprints (issue 15).
// node express_ws_server.js PORT [--verify-client]   (PORT 0 = any; prints "PORT <n>" first)
// express-ws lets `ws` accept EVERY upgrade (101) and only then runs the Express
// middleware/routes; a middleware that answers >200, or no matching app.ws route,
// makes it call socket.close() (a close frame without a code) right after the 101.
//   /ws     default: an Express middleware refuses Origins other than http://allowed.example
//           with 403 (so: 101, then a close). --verify-client: the refusal happens before
//           the 101 instead, through expressWs(app, null, { wsOptions: { verifyClient } })
//           (ws answers 401) -- the fix.
//   /proto  wsOptions.handleProtocols selects only chat.v2
//   /       a plain Express page (X-Powered-By: Express)
const express = require("express");
const expressWs = require("express-ws");

const port = Number(process.argv[2] || 0);
const ALLOWED = "http://allowed.example";
const wsOptions = {
  // express-ws 5 depends on ws 7, whose handleProtocols gets an Array (ws 8: a Set)
  handleProtocols: (protocols) => (protocols.includes("chat.v2") ? "chat.v2" : false),
};
if (process.argv.includes("--verify-client")) {
  wsOptions.verifyClient = (info) => info.origin === ALLOWED;
}
const app = express();
expressWs(app, null, { wsOptions });
const echo = (ws) => ws.on("message", (data) => ws.send(data));

app.use("/ws", (req, res, next) => {
  if (req.headers.origin !== ALLOWED) return res.status(403).send("Forbidden origin");
  next();
});
app.ws("/ws", echo);
app.ws("/proto", echo);
app.get("/", (req, res) => res.send("express-ws stack server\n"));

const server = app.listen(port, "127.0.0.1", () => console.log(`PORT ${server.address().port}`));
