"""Apache Tomcat (Jakarta WebSocket, JSR-356): the endpoint's Configurator decides the Origin.

Tomcat writes no reason phrase (``HTTP/1.1 403 ``) and no Server header; its error pages end in
``<h3>Apache Tomcat/x.y.z</h3>`` unless the ErrorReportValve hides the server info, and keep
their title ``HTTP Status 403 - Forbidden`` (an en dash) even then. The page comes back
unchanged through a proxy (nginx keeps even the empty reason phrase).
"""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._jsr356 import CHECK_ORIGIN, SUBPROTOCOLS
from wsinspect.diagnose.stacks._match import body_matches
from wsinspect.diagnose.stacks._record import Signal, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_cookie, site_error_page


def no_reason_phrase(f: Facts) -> bool:
    """An HTTP/1.1 status line with nothing after the code: Tomcat's since 8.5 (HTTP/2 has
    no reason phrase at all, so only an HTTP/1.1 answer tells)."""
    response = f.handshake.response
    return response is not None and response.http_version == "HTTP/1.1" and not response.reason


def bare_lowercase_101(f: Facts) -> bool:
    """Tomcat's 101: ``Connection: upgrade`` in lower case, and no Server header."""
    return (
        f.status == 101
        and f.response.get("Connection") == "upgrade"
        and not f.response.has("Server")
    )


STACK = StackRecord(
    name="Apache Tomcat",
    kind="server",
    docs="https://tomcat.apache.org/tomcat-10.1-doc/web-socket-howto.html",
    language="java",
    signals=(
        Signal(
            "Tomcat error page (<h3>Apache Tomcat/…)", 0.95, body_matches(r"<h3>Apache Tomcat/")
        ),
        Signal(
            "Tomcat error page title (HTTP Status 4xx – …)",
            0.9,
            body_matches(r"^<!doctype html><html lang=\"\w+\"><head><title>HTTP Status \d{3} – "),
        ),
        Signal("status line without a reason phrase (e.g. HTTP/1.1 403 )", 0.6, no_reason_phrase),
        Signal("101 with Connection: upgrade in lower case and no Server", 0.3, bare_lowercase_101),
    ),
    site_signals=(
        Signal(SITE + "Tomcat error page", 0.6, site_error_page(r"<h3>Apache Tomcat/")),
        Signal(
            SITE + "JSESSIONID cookie (a Java servlet container)", 0.3, site_cookie(r"JSESSIONID")
        ),
    ),
    fixes={
        "origin-rejected": CHECK_ORIGIN,
        "cross-origin-accepted": CHECK_ORIGIN,
        "subprotocol-not-selected": SUBPROTOCOLS,
    },
)
