// Next.js dev server whose rewrites proxy WebSocket upgrades to a backend (see ../next_proxy_server.js).
const backend = `http://127.0.0.1:${process.env.WS_BACKEND}`;
const sameHost = process.env.WS_SAME_HOST_BACKEND;
module.exports = {
  async rewrites() {
    const rules = [
      { source: "/ws", destination: `${backend}/ws` },
      { source: "/proto", destination: `${backend}/proto` },
    ];
    if (sameHost) rules.push({ source: "/same", destination: `http://127.0.0.1:${sameHost}/same` });
    return rules;
  },
};
