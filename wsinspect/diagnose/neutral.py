"""Stack-neutral fixes: what to change, in words, whatever the server is.

Filled with the values seen on the wire like any snippet (fixes.values). Shown first when the
stack is not recognised (then a table of each popular stack's knob follows), and after a
recognised stack's own fix. Every finding code has one.
"""

from __future__ import annotations

from wsinspect.diagnose.stacks import Snippet
from wsinspect.diagnose.tls import NEUTRAL as TLS

NEUTRAL: dict[str, Snippet] = {
    **TLS,  # diagnose/tls.py: the two TLS findings
    "origin-rejected": Snippet(
        "text",
        "Add `{{origin}}` — the full origin, as the browser sends it — to the server's allowed "
        "origins.\n"
        "A same-host check compares host[:port]: the page's `{{origin_host}}` against the Host "
        "header, `{{host}}`.\n"
        "List origins one by one: allowing every origin lets any site open this socket as the "
        "user.",
    ),
    "cross-origin-accepted": Snippet(
        "text",
        "Make the server's Origin check accept only your own origins, such as `{{origin}}`, "
        "and refuse the rest before the upgrade (a 403).",
    ),
    "subprotocol-not-selected": Snippet(
        "text",
        "Make the server select one of the subprotocols the client offers ({{offered}}): its "
        "101 must carry `Sec-WebSocket-Protocol: {{protocol}}`.\n"
        "Or let the client offer none: new WebSocket(url) without protocols.",
    ),
    "upgrade-headers-missing": Snippet(
        "text",
        "Whatever stands between the browser and the WebSocket server (reverse proxy, load "
        "balancer, dev server) must forward `Upgrade: websocket` and `Connection: Upgrade` for "
        "{{path}}, over HTTP/1.1.\n"
        "Proxies drop these hop-by-hop headers unless told to keep them.",
    ),
    "subprotocol-not-offered": Snippet(
        "text",
        "Select only a subprotocol the client offered ({{offered}}), or none at all;\n"
        'or make the client offer {{selected}}: new WebSocket(url, ["{{selected}}"]).',
    ),
    "not-upgraded": Snippet(
        "text",
        "A page came back instead of a WebSocket: the path {{path}} is served by a static or "
        "SPA fallback. Route it to the WebSocket server before the fallback.",
    ),
    "not-found": Snippet(
        "text",
        "Nothing serves WebSockets at {{path}} on {{host}}: check the route the server "
        "registers and the URL the page opens.",
    ),
    "redirected": Snippet(
        "text",
        "Browsers never follow a redirect on a WebSocket handshake. Open the final URL "
        "directly: {{location}}",
    ),
    "unauthorized": Snippet(
        "javascript",
        """\
// Browsers cannot set Authorization (or any header) on a WebSocket. Either rely on a cookie
// the browser sends to this host, or pass a short-lived token in the URL:
const socket = new WebSocket("{{url_without_query}}?token=" + encodeURIComponent(token));""",
    ),
    "upstream-failed": Snippet(
        "text",
        "Nothing answered at {{host}}: start the WebSocket server there, or fix the address "
        "the page (or the proxy in front) connects to.",
    ),
    "version-unsupported": Snippet(
        "text", "Send Sec-WebSocket-Version: 13, the only version RFC 6455 defines."
    ),
    "accept-mismatch": Snippet(
        "text",
        "Sec-WebSocket-Accept must be base64(SHA-1(Sec-WebSocket-Key + "
        '"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): expected {{expected_accept}}. Something '
        "between client and server rewrote the key or the answer, or the server computes it "
        "wrongly.",
    ),
    "closed-abnormally": Snippet(
        "text",
        "The close code says why, and the log of the side that closed says more: 1011 is an "
        "error in the server's handler; 1008 and 4000-4999 are the application refusing after "
        "it accepted (graphql-ws 4401/4403: authenticate in connection_init); 1006 is a dropped "
        "TCP connection (a crash, a restart or reload of a proxy in between, a network change).\n"
        "A drop after a silence is reported as idle-timeout, with the proxy's setting; handle "
        "the close event in the page and reconnect with a backoff.",
    ),
    "handshake-rejected": Snippet(
        "text",
        "The server refused the upgrade with {{status}}: its body says why. Look for what "
        "it expects in the request (path, headers, authentication).",
    ),
    "engineio-session-unknown": Snippet(
        "text",
        "Every request of one Engine.IO session must reach the same server process: turn on "
        "sticky sessions in the load balancer in front (nginx `ip_hash`, HAProxy `cookie`/"
        "`balance source`, a cloud load balancer's session affinity), and in Node's cluster "
        "mode use @socket.io/sticky; share events between instances with an adapter (Redis).\n"
        "Or skip long-polling, so there is no session to find: "
        'io("{{own_origin}}", { transports: ["websocket"] }).',
    ),
    "engineio-version-mismatch": Snippet(
        "text",
        "Use client and server of the same Engine.IO protocol: Socket.IO 3/4 servers speak "
        "EIO=4, Socket.IO 2 clients EIO=3.\n"
        "Upgrade the client (socket.io-client 4.x; python-socketio's client 5.x), or let a "
        "Node Socket.IO 3/4 server accept old clients: "
        "new Server(httpServer, { allowEIO3: true }).\n"
        "python-socketio 5 speaks EIO=4 only: old clients must be upgraded.",
    ),
    "engineio-transport-unknown": Snippet(
        "text",
        "Let the server accept the WebSocket transport: its `transports` option must include "
        '"websocket" (Node: new Server(httpServer, { transports: ["polling", "websocket"] }); '
        "python-socketio: transports=['polling', 'websocket']), and make the client ask for "
        'transport "websocket" or "polling", the only names Engine.IO knows.',
    ),
    "refused-without-origin": Snippet(
        "text",
        "Send an Origin header, as every browser does: the page's origin, such as "
        "`{{own_origin}}` (websocat: -H 'Origin: {{own_origin}}'; Python websockets: "
        'connect(..., origin="{{own_origin}}")).\n'
        "If the server still refuses with the Origin, the 403 is about something else "
        "(credentials, path): its body and its log say what.",
    ),
    "protocol-violation": Snippet(
        "text",
        "Let exactly one WebSocket implementation write to this connection after its 101: one "
        "upgrade handler per path (a second WebSocket server attached to the same HTTP server "
        "answers the same upgrade: give each its own path), no proxy or middleware writing an "
        "HTTP answer into an upgraded connection, one sender at a time per socket, and "
        "compressed frames only when the 101 accepted permessage-deflate.\n"
        "The evidence names the first bad bytes and where they start.",
    ),
    "refused-after-upgrade": Snippet(
        "text",
        "Refuse before accepting, so the client gets an HTTP status instead of an open-then-"
        "closed socket: do the origin or authentication check in the handshake hook (ws "
        "verifyClient, websockets process_request, Channels' validators wrapping the "
        "consumer, raising before accept()).\n"
        "If accepting first is intended, send the reason as the close reason (a 4000-4999 "
        "code) and handle the close event in the page. The server's log says which check "
        "closed it.",
    ),
    "wildcard-origin-with-credentials": Snippet(
        "text",
        'Allowed origins "*" cannot go with credentials: list the origins, such as '
        "`{{origin}}`, or use origin patterns.\n"
        'Spring: registry.addHandler(handler, "/ws").setAllowedOriginPatterns("{{origin}}")'
        '.withSockJS(); (or setAllowedOrigins("{{origin}}")).\n'
        'ASP.NET Core: policy.WithOrigins("{{origin}}").AllowCredentials() instead of '
        "AllowAnyOrigin().",
    ),
    "idle-timeout": Snippet(
        "text",
        "Keep the connection from falling silent: a ping (or a small heartbeat message) every "
        "25-30 s, shorter than the shortest idle limit in between (Heroku 55 s; nginx, AWS ALB "
        "60 s; Cloudflare ~100 s). Pings from the server are enough: browsers answer them with "
        "a pong by themselves.\n"
        "Python websockets: serve(..., ping_interval=25) / connect(..., ping_interval=25) (20 s "
        "by default; None turns it off).\n"
        "Node ws: setInterval(() => ws.ping(), 25000) per client on the server, and terminate() "
        "one that missed its pong.\n"
        "Browser: no ping API; send a message the server ignores, e.g. setInterval(() => "
        'ws.send(\'{"type":"ping"}\'), 25000), and reconnect on close.\n'
        "Socket.IO and SignalR ping by themselves (25 s / 15 s): check that nothing lengthened "
        "the interval. Or raise the idle limit of the proxy in between (its setting follows).",
    ),
    "closed-while-connecting": Snippet(
        "javascript",
        """\
// The client closed a socket that was still connecting. In React, open it in an effect whose
// cleanup closes it: StrictMode mounts, unmounts and mounts again in development, so the first
// socket is closed at once (Chrome: "WebSocket is closed before the connection is established").
useEffect(() => {
  const ws = new WebSocket("{{url_without_query}}");
  let closedByUs = false;
  ws.onmessage = (event) => { /* … */ };
  ws.onclose = () => {
    if (closedByUs) return;  // our own cleanup: not an error, do not reconnect
    /* reconnect or report */
  };
  return () => { closedByUs = true; ws.close(); };
}, []);""",
    ),
    "connection-matched-exactly": Snippet(
        "text",
        "Read Connection as a comma-separated list of tokens, without case: accept the request "
        "when one of its tokens is `upgrade` (Firefox sends `keep-alive, Upgrade`).\n"
        "Where a proxy in front tests the header, the same: in nginx, "
        "`$http_connection ~* upgrade`, not `= Upgrade`.",
    ),
}


# An opaque Origin (``null``: a file:// page, a sandboxed iframe, a data: or blob: URL, a
# cross-origin redirect) names no site, so it can never be the value to allow: every sandboxed
# page on every site sends it. Shown first for such a refusal, and origin snippets show a
# stand-in instead (fixes.STAND_IN).
OPAQUE_ORIGIN = Snippet(
    "text",
    "The page has no origin of its own (`Origin: {{sent_origin}}`): it was opened from file://, "
    "a sandboxed iframe, a data: or blob: URL, or reached through a cross-origin redirect.\n"
    "Serve the page over http(s) (for a local file: `python3 -m http.server` in its folder) and "
    "allow that origin; the fixes below show `{{origin}}` in its place.\n"
    "Never allow `null`: any sandboxed page on any site sends it, so it would let every site in.",
)
