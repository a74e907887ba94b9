"""Next.js rewrites: a rewrite to another server proxies WebSocket upgrades too, through Next's
bundled node-http-proxy with ``changeOrigin: true`` and no switch to turn it off. Its relayed
answers look like any Node proxy's (lowercased names); Next's own pages say ``X-Powered-By:
Next.js``."""

from wsinspect.diagnose.stacks._match import both
from wsinspect.diagnose.stacks._record import Refusal, Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_powered_by
from wsinspect.diagnose.stacks.dev_server_proxy_vite_webpack_dev_server import (
    all_lowercase,
    page_origin_refused,
)

NEXT_PAGES = site_powered_by(r"^Next\.js")

REWRITE = Snippet(
    "javascript",
    """\
// next.config.js: a rewrite forwards the upgrade, but always with changeOrigin: the server
// behind sees its own address as Host while the Origin stays the page's ({{origin}}).
module.exports = {
  async rewrites() {
    return [{ source: "{{path}}", destination: "http://localhost:8080{{path}}" }];
  },
};
// So a same-host Origin check behind it refuses the page's own origin: list {{origin}} in
// the WebSocket server's allowed origins (and your production origin), or let the page
// connect to the WebSocket server directly.""",
    knob='rewrites: [{ source: "{{path}}", destination: "http://localhost:8080{{path}}" }], '
    "and {{origin}} in the server's allowed origins",
)

STACK = StackRecord(
    name="Next.js rewrites",
    kind="proxy",
    docs="https://nextjs.org/docs/app/api-reference/config/next-config-js/rewrites",
    language="javascript",
    signals=(
        Signal(
            SITE + "X-Powered-By: Next.js, and this answer relayed with lowercased names "
            "(Next's rewrites run node-http-proxy)",
            0.9,
            both(NEXT_PAGES, all_lowercase),
        ),
    ),
    site_signals=(Signal(SITE + "X-Powered-By: Next.js", 0.3, NEXT_PAGES),),
    refusals=(
        Refusal(
            "origin-rejected",
            "the page's own origin was refused behind a Next.js rewrite: it proxies with "
            "changeOrigin, so the server behind sees its own address as Host and a same-host "
            "check refuses",
            page_origin_refused,
        ),
    ),
    fixes={
        "origin-rejected": REWRITE,
        "upgrade-headers-missing": REWRITE,
        "not-upgraded": REWRITE,
    },
)
