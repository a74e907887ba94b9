"""Traefik: forwards upgrades by itself; a router must match the path."""

from wsinspect.diagnose.stacks._match import body_matches, both, status_is
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord

STACK = StackRecord(
    name="Traefik",
    kind="proxy",
    docs="https://doc.traefik.io/traefik/routing/routers/",
    language="yaml",
    signals=(
        Signal(
            '"404 page not found" (Traefik: no router matched)',
            0.5,
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
        "not-found": Snippet(
            "yaml",
            "# add a router whose rule matches the path: PathPrefix(`{{path}}`)",
            knob="rule: PathPrefix(`{{path}}`)  # a router for the WebSocket path",
        ),
    },
)
