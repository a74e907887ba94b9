"""Caddy's reverse_proxy: forwards WebSocket upgrades by itself.

It adds its own ``Server: Caddy`` next to the backend's (two Server headers) and writes header
names in Go's canonical form (``Sec-Websocket-Accept``); when the backend is unreachable it
answers an empty 502.
"""

from wsinspect.diagnose.stacks._match import header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_server

# An idle upgraded connection cut short (research: tests/fixtures/stacks/*/idle_timeout.txt).
IDLE_TIMEOUT = Snippet(
    "caddyfile",
    """\
reverse_proxy {{path}}* 127.0.0.1:8080 {
    transport http {
        # read_timeout also bounds an idle upgraded connection: remove it, or raise it
        read_timeout 1h
    }
    # Caddy >= 2.7: stream_timeout bounds every upgraded connection; a config reload closes
    # them unless stream_close_delay keeps them open, e.g. stream_close_delay 5m
}""",
    knob="transport http { read_timeout 1h }  # bounds idle upgraded connections too",
)


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
        "upstream-failed": Snippet(
            "caddyfile",
            "# Caddy's empty 502: it could not reach the upstream (its log says why, e.g.\n"
            '# "dial tcp 127.0.0.1:8080: connect: connection refused")\n'
            "reverse_proxy {{path}}* 127.0.0.1:8080  # the running WebSocket server",
            knob="reverse_proxy {{path}}* 127.0.0.1:8080  # the running WebSocket server",
        ),
        "idle-timeout": IDLE_TIMEOUT,
    },
)
