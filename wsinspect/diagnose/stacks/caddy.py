"""Caddy's reverse_proxy: forwards WebSocket upgrades by itself."""

from wsinspect.diagnose.stacks._match import header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_server

STACK = StackRecord(
    name="Caddy",
    kind="proxy",
    docs="https://caddyserver.com/docs/caddyfile/directives/reverse_proxy",
    language="caddyfile",
    signals=(Signal("Server: Caddy", 0.9, header_matches("Server", r"^Caddy")),),
    site_signals=(Signal(SITE + "Server: Caddy", 0.4, site_server(r"^Caddy")),),
    fixes={
        "upgrade-headers-missing": Snippet(
            "caddyfile",
            "# Caddy forwards WebSocket upgrades by itself; remove any header_up that drops them.\n"
            "reverse_proxy {{path}}* localhost:8080",
            knob="reverse_proxy {{path}}* localhost:8080  # no header_up dropping Upgrade",
        ),
    },
)
