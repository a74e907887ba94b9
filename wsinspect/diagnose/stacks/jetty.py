"""Jetty (Jakarta WebSocket, JSR-356, or its own API): the endpoint's Configurator decides the
Origin, and a refusal says so: 403 "Origin mismatch" (Jetty 9.4 to 12)."""

from wsinspect.diagnose.stacks._jsr356 import CHECK_ORIGIN, SUBPROTOCOLS
from wsinspect.diagnose.stacks._match import body_matches, header_matches
from wsinspect.diagnose.stacks._record import Refusal, Signal, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page, site_server

# Jetty's error page for it, as HTML (<title>Error 403 …) or text (HTTP ERROR 403 …)
ORIGIN_MISMATCH = body_matches(r"(?:Error|ERROR) 403 Origin mismatch")


STACK = StackRecord(
    name="Jetty",
    kind="server",
    docs="https://jakarta.ee/specifications/websocket/2.1/apidocs/server/jakarta/websocket/server/serverendpointconfig.configurator",
    language="java",
    signals=(
        Signal("Server: Jetty(…)", 0.9, header_matches("Server", r"^Jetty\(")),
        Signal('403 "Origin mismatch"', 0.9, ORIGIN_MISMATCH),
        Signal("Jetty error page (Powered by Jetty://)", 0.9, body_matches(r"Powered by Jetty://")),
    ),
    site_signals=(
        Signal(SITE + "Server: Jetty(…)", 0.5, site_server(r"^Jetty\(")),
        Signal(SITE + "Jetty error page", 0.5, site_error_page(r"Powered by Jetty://")),
    ),
    refusals=(
        Refusal(
            "origin-rejected",
            'Jetty says "Origin mismatch": the endpoint\'s Configurator.checkOrigin returned false',
            ORIGIN_MISMATCH,
        ),
    ),
    fixes={
        "origin-rejected": CHECK_ORIGIN,
        "cross-origin-accepted": CHECK_ORIGIN,
        "subprotocol-not-selected": SUBPROTOCOLS,
    },
)
