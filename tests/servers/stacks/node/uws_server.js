// uWebSockets.js stack server for wsinspect's stack fingerprints (issue 15).
// node uws_server.js PORT   (PORT 0 = any; prints "PORT <n>" first)
// uWebSockets.js itself is published only on GitHub; this uses the npm republish
// @trufflesuite/uws-js-unofficial 20.30.0-unofficial.0, which ships uWS v20.30.0's
// prebuilt binaries (Linux x64 for Node ABI 93/108/115) -- no network build.
//   /ws     the `upgrade` handler (uWS's only knob) refuses Origins other than
//           http://allowed.example with res.writeStatus("403 Forbidden").end()
//   /proto  the `upgrade` handler passes "chat.v2" to res.upgrade() only when offered
//   /       a plain uWS page; unknown paths are left to uWS's default
const uWS = require("@trufflesuite/uws-js-unofficial");

const port = Number(process.argv[2] || 0);
const ALLOWED = "http://allowed.example";
const echo = { message: (ws, message, isBinary) => ws.send(message, isBinary) };
const accept = (res, req, context, protocol) =>
  res.upgrade(
    {},
    req.getHeader("sec-websocket-key"),
    protocol,
    req.getHeader("sec-websocket-extensions"),
    context,
  );

const app = uWS
  .App()
  .ws("/ws", {
    ...echo,
    upgrade: (res, req, context) => {
      if (req.getHeader("origin") !== ALLOWED) {
        res.writeStatus("403 Forbidden").end("origin not allowed");
        return;
      }
      accept(res, req, context, req.getHeader("sec-websocket-protocol"));
    },
  })
  .ws("/proto", {
    ...echo,
    upgrade: (res, req, context) => {
      const offered = req.getHeader("sec-websocket-protocol").split(",").map((p) => p.trim());
      accept(res, req, context, offered.includes("chat.v2") ? "chat.v2" : "");
    },
  })
  .get("/", (res) => res.end("uws stack server\n"));

app.listen("127.0.0.1", port, (token) => {
  if (!token) throw new Error(`cannot listen on ${port}`);
  console.log(`PORT ${uWS.us_socket_local_port(token)}`);
});
