// A Node `ws` echo server for wsinspect's tests. Prints its port, serves until killed.
//   --origin O          verifyClient admits only this full origin (refused: 401)
//   --ignore-protocols  handleProtocols selects none: a 101 without Sec-WebSocket-Protocol
const { WebSocketServer } = require("ws");

const args = process.argv.slice(2);
const origin = args.includes("--origin") ? args[args.indexOf("--origin") + 1] : null;
const options = { host: "127.0.0.1", port: 0 };
if (origin) options.verifyClient = (info) => info.origin === origin;
if (args.includes("--ignore-protocols")) options.handleProtocols = () => false;

const server = new WebSocketServer(options);
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
});
server.on("listening", () => console.log(server.address().port));
