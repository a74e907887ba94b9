"""A dev server's proxy (Vite, webpack-dev-server, node-http-proxy): ``ws``, ``changeOrigin``.

They all run node-http-proxy (Vite bundles http-proxy-3), which relays the backend's answer with
every header name lowercased (Node's parser lowercases them); Vite's also appends
``connection: Upgrade`` to a relayed refusal. ``changeOrigin: true`` rewrites Host to the
backend's while the browser's Origin stays the dev page's: a same-host Origin check behind it then
refuses the page's own origin.
"""

import re

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import header_matches, refused
from wsinspect.diagnose.stacks._record import Refusal, Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_powered_by

# Servers that write every header name in lowercase themselves, and say so in Server.
LOWERCASE_SERVERS = re.compile(r"uvicorn|hypercorn|envoy", re.IGNORECASE)


def all_lowercase(f: Facts) -> bool:
    """Every header name lowercase, from no server known to write them so (uvicorn, Hypercorn,
    Envoy); Rust's hyper and others do too, so this alone names no one."""
    names = [k for k, _ in f.response]
    return (
        bool(names)
        and all(name == name.lower() for name in names)
        and not LOWERCASE_SERVERS.search(f.response.get("Server") or "")
    )


def go_error_lowercased(f: Facts) -> bool:
    """Go net/http's http.Error headers (nosniff, text/plain; charset=utf-8), names lowercased:
    Go writes them capitalised, so something relayed them; Node's proxies do exactly this."""
    return (
        refused(f)
        and all_lowercase(f)
        and f.response.get("x-content-type-options") == "nosniff"
        and f.response.get("content-type") == "text/plain; charset=utf-8"
    )


def vite_appended_connection(f: Facts) -> bool:
    """http-proxy-3 (Vite) adds ``connection: Upgrade`` to a refusal it relays."""
    names = [k for k, _ in f.response]
    return (
        refused(f)
        and all_lowercase(f)
        and names[-1:] == ["connection"]
        and (f.response.get("connection") == "Upgrade")
    )


def page_origin_refused(f: Facts) -> bool:
    """A 403 to the page's own origin (Origin's host[:port] is the Host the browser used): the
    server behind saw another Host, the one changeOrigin put there."""
    return f.status == 403 and f.origin_endpoint is not None and not f.cross_origin


FORWARD_UPGRADE = Snippet(
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
// node-http-proxy itself: createProxyServer({ target, ws: true, changeOrigin: false }) and
// server.on("upgrade", (req, socket, head) => proxy.ws(req, socket, head)).
// ws: true forwards the upgrade; changeOrigin: true rewrites Host to the backend's while the
// Origin stays the page's ({{origin}}), which same-host Origin checks then refuse: keep
// changeOrigin false for the socket, or list {{origin}} in the backend's allowed origins.""",
    knob='server.proxy: { "{{path}}": { target: "http://localhost:8080", ws: true, '
    "changeOrigin: false } }",
)

STACK = StackRecord(
    name="dev-server proxy (Vite, webpack-dev-server)",
    kind="proxy",
    docs="https://vite.dev/config/server-options#server-proxy",
    language="javascript",
    signals=(
        Signal("X-Powered-By: Express", 0.4, header_matches("X-Powered-By", r"Express")),
        Signal(
            "page on a dev server's port (3000, 4200, 5173, 8080), server elsewhere",
            0.2,
            lambda f: (
                f.origin_endpoint is not None
                and f.cross_origin
                and f.origin_endpoint.host in ("localhost", "127.0.0.1")
                and f.origin_endpoint.port in (3000, 4200, 5173, 8080)
            ),
        ),
        Signal(
            "every header name lowercase (a Node proxy relaying; Rust's hyper writes them so too)",
            0.25,
            all_lowercase,
        ),
        Signal(
            "Go's http.Error headers with lowercased names: a Go server's refusal relayed by a "
            "Node proxy (node-http-proxy, Vite, Next.js rewrites)",
            0.8,
            go_error_lowercased,
        ),
        Signal(
            "connection: Upgrade appended to a relayed refusal (Vite's http-proxy-3)",
            0.8,
            vite_appended_connection,
        ),
    ),
    refusals=(
        Refusal(
            "origin-rejected",
            "the page's own origin was refused behind a dev-server proxy: with changeOrigin "
            "the server behind sees its own address as Host, and a same-host check refuses",
            page_origin_refused,
        ),
    ),
    site_signals=(
        Signal(
            SITE + "X-Powered-By: Express (webpack-dev-server)", 0.2, site_powered_by(r"^Express$")
        ),
    ),
    fixes={
        "origin-rejected": FORWARD_UPGRADE,
        "upgrade-headers-missing": FORWARD_UPGRADE,
        "not-upgraded": FORWARD_UPGRADE,
    },
)
