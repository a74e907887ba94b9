"""A dev server's proxy (Vite, webpack-dev-server, node-http-proxy): ``ws``, ``changeOrigin``."""

from wsinspect.diagnose.stacks._match import header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_powered_by

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
// ws: true forwards the upgrade; changeOrigin: true rewrites Host to the backend's while the
// Origin stays the page's, which same-host Origin checks then refuse.""",
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
