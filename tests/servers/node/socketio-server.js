// A Socket.IO server for wsinspect's tests. Prints its port, serves until killed.
//   --origin O   allowRequest admits only this full origin (the WebSocket transport's only gate)
const http = require("http");
const { Server } = require("socket.io");

const args = process.argv.slice(2);
const origin = args.includes("--origin") ? args[args.indexOf("--origin") + 1] : null;
const httpServer = http.createServer();
const io = new Server(httpServer, {
  allowRequest: (req, callback) => callback(null, !origin || req.headers.origin === origin),
});
io.on("connection", (socket) => socket.on("echo", (message, ack) => ack(message)));
httpServer.listen(0, "127.0.0.1", () => console.log(httpServer.address().port));
