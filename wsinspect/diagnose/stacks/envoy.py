"""Envoy: the HTTP connection manager forwards upgrades listed in ``upgrade_configs``."""

from wsinspect.diagnose.stacks._match import body_matches, has_header, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_header, site_server

STACK = StackRecord(
    name="Envoy",
    kind="proxy",
    docs="https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/http/upgrades",
    language="yaml",
    signals=(
        Signal("server: envoy", 0.9, header_matches("Server", r"^envoy")),
        Signal(
            "x-envoy-upstream-service-time header",
            0.6,
            has_header("x-envoy-upstream-service-time"),
        ),
        Signal(
            'body "upstream connect error or disconnect/reset before headers"',
            0.8,
            body_matches(r"^upstream connect error or disconnect/reset before headers"),
        ),
    ),
    site_signals=(
        Signal(SITE + "server: envoy", 0.5, site_server(r"^envoy")),
        Signal(
            SITE + "x-envoy-upstream-service-time header",
            0.5,
            site_header("x-envoy-upstream-service-time"),
        ),
    ),
    fixes={
        "upgrade-headers-missing": Snippet(
            "yaml",
            """\
# the HTTP connection manager must allow the upgrade
http_connection_manager:
  upgrade_configs:
  - upgrade_type: websocket""",
            knob="http_connection_manager: upgrade_configs: [{upgrade_type: websocket}]",
        ),
    },
)
