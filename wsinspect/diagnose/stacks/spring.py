"""Spring WebSocket (and STOMP endpoints): ``setAllowedOrigins``, same origin by default."""

from wsinspect.diagnose.stacks._match import path_has
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_cookie, site_error_page

ALLOW_ORIGIN = Snippet(
    "java",
    """\
@Override
public void registerWebSocketHandlers(WebSocketHandlerRegistry registry) {
    registry.addHandler(handler, "{{path}}")
            .setAllowedOrigins("{{origin}}"); // full origins; or setAllowedOriginPatterns(...)
}
// STOMP: registry.addEndpoint("{{path}}").setAllowedOrigins("{{origin}}");
// Avoid "*": it admits every site.""",
    knob='registry.addHandler(handler, "{{path}}").setAllowedOrigins("{{origin}}");',
)

STACK = StackRecord(
    name="Spring",
    kind="server",
    docs="https://docs.spring.io/spring-framework/reference/web/websocket/server.html",
    language="java",
    signals=(
        Signal(
            "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers "
            "(Spring's CORS processing on the handshake)",
            0.75,
            lambda f: (
                {"origin", "access-control-request-method", "access-control-request-headers"}
                <= {t.lower() for t in f.response.tokens("Vary")}
            ),
        ),
        Signal(
            "SockJS path …/{server}/{session}/websocket",
            0.3,
            path_has(r"/\d+/[^/]+/websocket$"),
        ),
    ),
    site_signals=(
        Signal(
            SITE + "JSESSIONID cookie (a Java servlet container)", 0.3, site_cookie(r"JSESSIONID")
        ),
        Signal(
            SITE + "Spring Boot's Whitelabel Error Page",
            0.6,
            site_error_page(r"<h1>Whitelabel Error Page</h1>"),
        ),
        Signal(
            SITE + "Spring Boot's JSON error body",
            0.45,
            site_error_page(r'^\{"timestamp":"[^"]*","status":\d{3},"error":"'),
        ),
    ),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "wildcard-origin-with-credentials": Snippet(
            "java",
            """\
// SockJS uses credentials, and "*" with credentials throws (a 500 on every handshake):
// list the origins, or use patterns.
registry.addHandler(handler, "/ws")
        .setAllowedOriginPatterns("{{origin}}") // or setAllowedOrigins("{{origin}}")
        .withSockJS();""",
            knob='.setAllowedOriginPatterns("{{origin}}") instead of .setAllowedOrigins("*")',
        ),
        "subprotocol-not-selected": Snippet(
            "java",
            """\
public class Handler extends TextWebSocketHandler implements SubProtocolCapable {
    @Override
    public List<String> getSubProtocols() { return List.of("{{protocol}}"); }
}""",
            knob='public List<String> getSubProtocols() { return List.of("{{protocol}}"); }',
        ),
    },
)
