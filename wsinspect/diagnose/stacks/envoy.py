"""Envoy: the HTTP connection manager forwards upgrades listed in ``upgrade_configs``."""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import body_matches, has_header, header_matches
from wsinspect.diagnose.stacks._record import Refusal, Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_header, site_server


def upgrade_refused(f: Facts) -> bool:
    """Envoy's own 403 for an upgrade its connection manager or route does not allow: empty,
    ``server: envoy``, and no ``x-envoy-upstream-service-time`` (no backend answered)."""
    return (
        f.status == 403
        and not f.body
        and any(v.lower() == "envoy" for v in f.response.get_all("Server"))
        and not f.response.has("x-envoy-upstream-service-time")
    )


# An idle upgraded connection cut short (research: tests/fixtures/stacks/*/idle_timeout.txt).
IDLE_TIMEOUT = Snippet(
    "yaml",
    """\
# an upgraded WebSocket is one stream: stream_idle_timeout (default 300s) ends it when idle
http_connection_manager:
  stream_idle_timeout: 3600s
# and a route's own idle_timeout, if set: route: {cluster: ws, idle_timeout: 3600s}""",
    knob="http_connection_manager: stream_idle_timeout: 3600s  # default 300s",
)


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
        Signal('body "no healthy upstream"', 0.8, body_matches(r"^no healthy upstream$")),
    ),
    site_signals=(
        Signal(SITE + "server: envoy", 0.5, site_server(r"^envoy")),
        Signal(
            SITE + "x-envoy-upstream-service-time header",
            0.5,
            site_header("x-envoy-upstream-service-time"),
        ),
    ),
    refusals=(
        Refusal(
            "upgrade-headers-missing",
            "Envoy's own empty 403 (no backend answered): the connection manager or route "
            "has no upgrade_configs entry for websocket",
            upgrade_refused,
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
        "upstream-failed": Snippet(
            "yaml",
            """\
# 503 "upstream connect error …" / "no healthy upstream": the cluster has no reachable endpoint
clusters:
- name: ws
  load_assignment:
    cluster_name: ws
    endpoints:
    - lb_endpoints:
      - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8080}}}""",
            knob="clusters: load_assignment endpoints: 127.0.0.1:8080  # the running server",
        ),
        "idle-timeout": IDLE_TIMEOUT,
    },
)
