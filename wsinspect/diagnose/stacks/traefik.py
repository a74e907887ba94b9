"""Traefik: forwards upgrades by itself; a router must match the path.

Its own answers are Go's bare texts (``404 page not found``, ``Bad Gateway``) with no Server
header: weak evidence alone, since other Go servers write the same.
"""

from wsinspect.diagnose.stacks._match import body_matches, both, status_is
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord

# An idle upgraded connection cut short (research: tests/fixtures/stacks/*/idle_timeout.txt).
IDLE_TIMEOUT = Snippet(
    "yaml",
    """\
# since v2.11.2 / v3.0.1 an entry point's readTimeout (default 60s) also ends WebSockets
entryPoints:
  websecure:
    transport:
      respondingTimeouts:
        readTimeout: 0s   # zero: no limit
        idleTimeout: 3600s""",
    knob="entryPoints.<name>.transport.respondingTimeouts.readTimeout: 0s  # default 60s",
)


STACK = StackRecord(
    name="Traefik",
    kind="proxy",
    docs="https://doc.traefik.io/traefik/routing/routers/",
    language="yaml",
    signals=(
        Signal(
            '"404 page not found" (Traefik: no router matched; Go\'s http.NotFound says the same)',
            0.3,
            both(status_is(404), body_matches(r"^404 page not found\n$")),
        ),
        Signal(
            '502 "Bad Gateway" body (Traefik)',
            0.4,
            both(status_is(502), body_matches(r"^Bad Gateway$")),
        ),
    ),
    fixes={
        "upgrade-headers-missing": Snippet(
            "yaml",
            "# Traefik forwards upgrades by itself: check middlewares that rewrite "
            "Connection/Upgrade.",
            knob="no middleware rewriting Connection/Upgrade (Traefik forwards upgrades itself)",
        ),
        "upstream-failed": Snippet(
            "yaml",
            """\
# Traefik's 502 "Bad Gateway": the service's server did not answer (504: not in time)
http:
  services:
    ws:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:8080"  # the running WebSocket server""",
            knob='loadBalancer: servers: [{url: "http://127.0.0.1:8080"}]  # the running server',
        ),
        "idle-timeout": IDLE_TIMEOUT,
        "not-found": Snippet(
            "yaml",
            "# add a router whose rule matches the path: PathPrefix(`{{path}}`)",
            knob="rule: PathPrefix(`{{path}}`)  # a router for the WebSocket path",
        ),
    },
)
