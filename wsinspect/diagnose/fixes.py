"""Fix templates as data: per finding code and stack, a snippet in the form that stack wants.

Placeholders in ``{{…}}`` are filled with the values seen on the wire (see ``values``). Every origin
fix names the safe choice first, an explicit list, and warns where a wildcard or a skipped check
would let any site in (cross-site WebSocket hijacking). None of them suggests CORS headers: those
play no part in a WebSocket handshake.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from wsinspect.diagnose.facts import Facts, expected_accept
from wsinspect.model import Fix

# code -> stack -> (language, snippet)
Templates = dict[str, dict[str, tuple[str, str]]]

_ORIGIN_ALLOWLIST: dict[str, tuple[str, str]] = {
    "coder/websocket": (
        "go",
        """\
// OriginPatterns match the Origin's host[:port] only: "{{origin_host}}", never a URL.
conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
	OriginPatterns: []string{"{{origin_host}}"},
})
// Not InsecureSkipVerify: true — it admits every site (cross-site WebSocket hijacking).""",
    ),
    "gorilla/websocket": (
        "go",
        """\
var allowedOrigins = map[string]bool{"{{origin}}": true} // full origins

var upgrader = websocket.Upgrader{
	CheckOrigin: func(r *http.Request) bool { return allowedOrigins[r.Header.Get("Origin")] },
}
// Never `return true`: that admits every site (cross-site WebSocket hijacking).""",
    ),
    "Python websockets": (
        "python",
        """\
# origins= takes full origins, exactly as the browser sends them.
async with serve(handler, host, port, origins=["{{origin}}"]):
    ...
# Leaving origins unset admits every site; with cookie auth that is cross-site hijacking.""",
    ),
    "Python websockets (legacy)": (
        "python",
        """\
# origins= takes full origins, exactly as the browser sends them.
server = await websockets.serve(handler, host, port, origins=["{{origin}}"])""",
    ),
    "Node ws": (
        "javascript",
        """\
const allowedOrigins = new Set(["{{origin}}"]); // full origins
const wss = new WebSocketServer({
  server,
  verifyClient: (info) => allowedOrigins.has(info.origin),
});
// A verifyClient that returns true for everyone admits every site.""",
    ),
    "Socket.IO": (
        "javascript",
        """\
// The `cors` option governs HTTP long-polling only: it never admits or blocks the WebSocket
// transport. allowRequest is what decides the upgrade.
const io = new Server(httpServer, {
  allowRequest: (req, callback) => callback(null, req.headers.origin === "{{origin}}"),
  cors: { origin: ["{{origin}}"], credentials: true }, // for polling
});""",
    ),
    "Starlette/FastAPI (uvicorn)": (
        "python",
        """\
ALLOWED_ORIGINS = {"{{origin}}"}  # full origins

@app.websocket("{{path}}")
async def endpoint(websocket: WebSocket):
    if websocket.headers.get("origin") not in ALLOWED_ORIGINS:
        await websocket.close(code=1008)  # before accept(): the browser sees a 403
        return
    await websocket.accept()
# CORSMiddleware does not apply to WebSocket routes.""",
    ),
    "Django Channels": (
        "python",
        """\
# asgi.py: OriginValidator takes full origins.
application = ProtocolTypeRouter({
    "websocket": OriginValidator(URLRouter(websocket_urlpatterns), ["{{origin}}"]),
})
# With AllowedHostsOriginValidator, add the page's host to settings.ALLOWED_HOSTS instead:
# ALLOWED_HOSTS = ["{{origin_hostname}}"]  (a host pattern; the port is ignored)""",
    ),
    "Spring": (
        "java",
        """\
@Override
public void registerWebSocketHandlers(WebSocketHandlerRegistry registry) {
    registry.addHandler(handler, "{{path}}")
            .setAllowedOrigins("{{origin}}"); // full origins; or setAllowedOriginPatterns(...)
}
// STOMP: registry.addEndpoint("{{path}}").setAllowedOrigins("{{origin}}");
// Avoid "*": it admits every site.""",
    ),
    "ASP.NET Core": (
        "csharp",
        """\
var webSocketOptions = new WebSocketOptions();
webSocketOptions.AllowedOrigins.Add("{{origin}}"); // full origins
app.UseWebSockets(webSocketOptions);
// CORS policies (UseCors) do not apply to the WebSocket handshake.""",
    ),
    "Phoenix": (
        "elixir",
        """\
# lib/my_app_web/endpoint.ex
socket "/socket", MyAppWeb.UserSocket,
  websocket: [check_origin: ["{{origin}}"]]
# check_origin: false admits every site.""",
    ),
    "Rails ActionCable": (
        "ruby",
        """\
# config/environments/development.rb (and production.rb with the real origin)
config.action_cable.allowed_request_origins = ["{{origin}}"]
# ActionCable answers a refused Origin with 404 "Page not found", not 403.""",
    ),
    "aiohttp": (
        "python",
        """\
ALLOWED_ORIGINS = {"{{origin}}"}  # aiohttp does not check the Origin itself

async def websocket_handler(request):
    if request.headers.get("Origin") not in ALLOWED_ORIGINS:
        raise web.HTTPForbidden()
    ws = web.WebSocketResponse()
    await ws.prepare(request)""",
    ),
}

_NGINX_UPGRADE = (
    "nginx",
    """\
map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
}

location {{path}} {
    proxy_pass http://backend;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_set_header Host $host;
    proxy_read_timeout 1h;
}""",
)

_DEV_SERVER = (
    "javascript",
    """\
// vite.config.js (webpack-dev-server's devServer.proxy takes the same keys)
export default {
  server: {
    proxy: {
      "{{path}}": { target: "http://localhost:8080", ws: true, changeOrigin: false },
    },
  },
};
// ws: true forwards the upgrade; changeOrigin: true rewrites Host to the backend's while the
// Origin stays the page's, which same-host Origin checks then refuse.""",
)

TEMPLATES: Templates = {
    "origin-rejected": {
        **_ORIGIN_ALLOWLIST,
        "nginx": (
            "nginx",
            """\
location {{path}} {
    proxy_pass http://backend;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_set_header Host $host;  # the backend's same-host Origin check needs the browser's Host
}""",
        ),
        "dev-server proxy (Vite, webpack-dev-server)": _DEV_SERVER,
    },
    "cross-origin-accepted": _ORIGIN_ALLOWLIST,
    "subprotocol-not-selected": {
        "coder/websocket": (
            "go",
            'websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"{{protocol}}"}})',
        ),
        "gorilla/websocket": (
            "go",
            'var upgrader = websocket.Upgrader{Subprotocols: []string{"{{protocol}}"}}',
        ),
        "Python websockets": (
            "python",
            'async with serve(handler, host, port, subprotocols=["{{protocol}}"]):\n    ...',
        ),
        "Python websockets (legacy)": (
            "python",
            'await websockets.serve(handler, host, port, subprotocols=["{{protocol}}"])',
        ),
        "Node ws": (
            "javascript",
            """\
const wss = new WebSocketServer({
  server,
  handleProtocols: (protocols) => (protocols.has("{{protocol}}") ? "{{protocol}}" : false),
});""",
        ),
        "Starlette/FastAPI (uvicorn)": (
            "python",
            'await websocket.accept(subprotocol="{{protocol}}")',
        ),
        "Django Channels": (
            "python",
            'async def connect(self):\n    await self.accept(subprotocol="{{protocol}}")',
        ),
        "Spring": (
            "java",
            """\
public class Handler extends TextWebSocketHandler implements SubProtocolCapable {
    @Override
    public List<String> getSubProtocols() { return List.of("{{protocol}}"); }
}""",
        ),
        "ASP.NET Core": (
            "csharp",
            'using var socket = await context.WebSockets.AcceptWebSocketAsync("{{protocol}}");',
        ),
        "aiohttp": ("python", 'ws = web.WebSocketResponse(protocols=("{{protocol}}",))'),
    },
    "subprotocol-not-offered": {
        "any": (
            "text",
            "Select only a subprotocol the client offered ({{offered}}), or none at all;\n"
            'or make the client offer {{selected}}: new WebSocket(url, ["{{selected}}"]).',
        ),
    },
    "upgrade-headers-missing": {
        "nginx": _NGINX_UPGRADE,
        "Caddy": (
            "caddyfile",
            "# Caddy forwards WebSocket upgrades by itself; remove any header_up that drops them.\n"
            "reverse_proxy {{path}}* localhost:8080",
        ),
        "Traefik": (
            "yaml",
            "# Traefik forwards upgrades by itself: check middlewares that rewrite Connection/Upgrade.",
        ),
        "AWS ALB": (
            "text",
            "ALB forwards WebSocket upgrades on HTTP/HTTPS listeners; a Classic ELB needs a TCP/SSL "
            "listener.",
        ),
        "Cloudflare": ("text", "Dashboard → Network → WebSockets: On."),
        "dev-server proxy (Vite, webpack-dev-server)": _DEV_SERVER,
        "Apache": (
            "apache",
            'ProxyPass "{{path}}" "ws://localhost:8080{{path}}" upgrade=websocket  # httpd >= 2.4.47\n'
            "# older httpd: LoadModule proxy_wstunnel_module and ProxyPass to ws://",
        ),
        "Envoy": (
            "yaml",
            """\
# the HTTP connection manager must allow the upgrade
http_connection_manager:
  upgrade_configs:
  - upgrade_type: websocket""",
        ),
        "HAProxy": (
            "haproxy",
            "# HAProxy forwards upgrades by itself; keep upgraded connections open:\n"
            "defaults\n    timeout tunnel 1h",
        ),
    },
    "not-upgraded": {
        "dev-server proxy (Vite, webpack-dev-server)": _DEV_SERVER,
        "nginx": _NGINX_UPGRADE,
        "any": (
            "text",
            "A page came back instead of a WebSocket: the path {{path}} is served by a static or "
            "SPA fallback. Route it to the WebSocket server before the fallback.",
        ),
    },
    "not-found": {
        "Socket.IO": (
            "javascript",
            '// server and client must agree on the path (default "/socket.io")\n'
            'const io = new Server(httpServer, { path: "/socket.io" });\n'
            'const socket = io("{{origin}}", { path: "/socket.io" });',
        ),
        "Rails ActionCable": (
            "ruby",
            '# config/routes.rb\nmount ActionCable.server => "/cable"',
        ),
        "Traefik": ("yaml", "# add a router whose rule matches the path: PathPrefix(`{{path}}`)"),
        "any": (
            "text",
            "Nothing serves WebSockets at {{path}} on {{host}}: check the route the server "
            "registers and the URL the page opens.",
        ),
    },
    "redirected": {
        "any": (
            "text",
            "Browsers never follow a redirect on a WebSocket handshake. Open the final URL "
            "directly: {{location}}",
        ),
    },
    "unauthorized": {
        "any": (
            "javascript",
            """\
// Browsers cannot set Authorization (or any header) on a WebSocket. Either rely on a cookie
// the browser sends to this host, or pass a short-lived token in the URL:
const socket = new WebSocket("{{url_without_query}}?token=" + encodeURIComponent(token));""",
        ),
    },
    "upstream-failed": {
        "nginx": (
            "nginx",
            "upstream backend { server 127.0.0.1:8080; }  # must point at the running WebSocket "
            "server\nproxy_connect_timeout 5s;",
        ),
        "any": (
            "text",
            "Nothing answered at {{host}}: start the WebSocket server there, or fix the address "
            "the page (or the proxy in front) connects to.",
        ),
    },
    "version-unsupported": {
        "any": ("text", "Send Sec-WebSocket-Version: 13, the only version RFC 6455 defines."),
    },
    "accept-mismatch": {
        "any": (
            "text",
            "Sec-WebSocket-Accept must be base64(SHA-1(Sec-WebSocket-Key + "
            '"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): expected {{expected_accept}}. Something '
            "between client and server rewrote the key or the answer, or the server computes it "
            "wrongly.",
        ),
    },
    "closed-abnormally": {
        "HAProxy": ("haproxy", "defaults\n    timeout tunnel 1h  # idle upgraded connections"),
        "AWS ALB": (
            "text",
            "Raise the load balancer's idle timeout (default 60 s), or send pings.",
        ),
        "nginx": (
            "nginx",
            "proxy_read_timeout 1h;  # nginx closes idle upgraded connections after 60 s "
            "(close 1006)\nproxy_send_timeout 1h;",
        ),
        "any": (
            "text",
            "Send a ping or an application heartbeat more often than the shortest idle timeout "
            "between client and server (nginx 60 s, AWS ALB 60 s by default).",
        ),
    },
    "handshake-rejected": {
        "any": (
            "text",
            "The server refused the upgrade with {{status}}: its body says why. Look for what "
            "it expects in the request (path, headers, authentication).",
        ),
    },
}


def values(facts: Facts) -> dict[str, str]:
    """The observed values a template may use."""
    handshake = facts.handshake
    host = facts.host or (facts.target.authority if facts.target else "")
    scheme = "https" if handshake.url.startswith("wss:") else "http"
    key = facts.request.get("Sec-WebSocket-Key") or ""
    return {
        "origin": facts.origin or f"{scheme}://{host}",
        "origin_host": facts.origin_host or host,
        "origin_hostname": facts.origin_endpoint.host if facts.origin_endpoint else host,
        "own_origin": f"{scheme}://{host}",
        "host": host,
        "path": facts.path,
        "url_without_query": handshake.url.split("?", 1)[0],
        "protocol": facts.offered[0] if facts.offered else "",
        "offered": ", ".join(facts.offered) or "none",
        "selected": facts.selected or "",
        "status": str(facts.status) if facts.status is not None else "no answer",
        "location": facts.response.get("Location") or "(no Location header)",
        "expected_accept": expected_accept(key) if key else "",
    }


_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def fixes_for(code: str, stacks: Iterable[str], facts: Facts, *, own: bool = False) -> list[Fix]:
    """Fixes for ``code``: one per stack in the order given (the recognised one first), then the
    generic one. ``own``: fill origin lists with the server's own origin instead of the seen one
    (cross-origin-accepted must not allow-list the foreign site it warns about)."""
    templates = TEMPLATES.get(code, {})
    filled = values(facts)
    if own:
        filled["origin"] = filled["own_origin"]
        filled["origin_host"] = filled["host"]
    chosen = [s for s in dict.fromkeys(stacks) if s in templates]
    if "any" in templates:
        chosen.append("any")
    result = []
    for stack in chosen:
        language, snippet = templates[stack]
        used = tuple(filled.get(name) for name in _placeholders(snippet))
        result.append(_fix("generic" if stack == "any" else stack, language, snippet, used))
    return result


@functools.cache
def _placeholders(snippet: str) -> tuple[str, ...]:
    return tuple(_PLACEHOLDER.findall(snippet))


@functools.lru_cache(maxsize=4096)
def _fix(stack: str, language: str, snippet: str, used: tuple[str | None, ...]) -> Fix:
    """One Fix per template and values it uses, shared by every handshake that needs it: a
    session of 200,000 refused attempts would otherwise hold 200,000 copies of a dozen snippets
    (~7 KB each attempt). Nothing changes a Fix once made; redaction copies what it changes."""
    filled = iter(used)

    def fill(match: re.Match[str]) -> str:
        value = next(filled)
        return match.group(0) if value is None else value

    text = _PLACEHOLDER.sub(fill, snippet)
    return Fix(stack=stack, language=language, snippet=text)


def popular(code: str) -> list[str]:
    """When no stack is recognised: every stack with a fix for this code, in the table's order."""
    return [s for s in TEMPLATES.get(code, {}) if s != "any"]
