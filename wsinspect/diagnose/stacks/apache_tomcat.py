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
    """An HTTP/1.1 status line with nothing after the code, and capitalised header names:
    Tomcat's since 8.5. h11-based servers (Hypercorn, uvicorn with wsproto) leave the reason
    out too, but write every name in lower case; HTTP/2 has no reason phrase at all."""
    response = f.handshake.response
    if response is None or response.http_version != "HTTP/1.1" or response.reason:
        return False
    names = [k for k, _ in f.response]
    return bool(names) and all(k[:1].isupper() for k in names)


_TOMCAT_101 = ["Upgrade", "Connection", "Sec-WebSocket-Accept", "Date"]
_OPTIONAL = ("Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions")


def tomcat_101(f: Facts) -> bool:
    """A 101 with Tomcat's headers in Tomcat's order and spelling: ``Connection: upgrade`` in
    lower case, ``Date`` last, no Server."""
    names = [k for k, _ in f.response if k not in _OPTIONAL]
    return f.status == 101 and names == _TOMCAT_101 and f.response.get("Connection") == "upgrade"


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
        Signal(
            "status line without a reason phrase, header names capitalised (e.g. HTTP/1.1 403 )",
            0.3,  # alone, not even a close guess: other servers and hand-made answers omit it too
            no_reason_phrase,
        ),
        Signal(
            "101 headers in Tomcat's order (Upgrade, Connection: upgrade, Sec-WebSocket-Accept, "
            "Date; no Server)",
            0.6,
            tomcat_101,
        ),
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
