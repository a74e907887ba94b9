"""ASP.NET Core WebSockets middleware: ``WebSocketOptions.AllowedOrigins``."""

from wsinspect.diagnose.stacks._match import header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_cookie, site_powered_by, site_server

ALLOW_ORIGIN = Snippet(
    "csharp",
    """\
var webSocketOptions = new WebSocketOptions();
webSocketOptions.AllowedOrigins.Add("{{origin}}"); // full origins
app.UseWebSockets(webSocketOptions);
// CORS policies (UseCors) do not apply to the WebSocket handshake.""",
    knob='webSocketOptions.AllowedOrigins.Add("{{origin}}");',
)

STACK = StackRecord(
    name="ASP.NET Core",
    kind="server",
    docs="https://learn.microsoft.com/en-us/aspnet/core/fundamentals/websockets",
    language="csharp",
    signals=(Signal("Server: Kestrel", 0.9, header_matches("Server", r"^Kestrel")),),
    site_signals=(
        Signal(SITE + "Server: Kestrel", 0.6, site_server(r"^Kestrel")),
        Signal(SITE + "a .AspNetCore.* cookie", 0.45, site_cookie(r"\.AspNetCore\..+")),
        Signal(SITE + "X-Powered-By: ASP.NET", 0.25, site_powered_by(r"^ASP\.NET")),
    ),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "csharp",
            'using var socket = await context.WebSockets.AcceptWebSocketAsync("{{protocol}}");',
            knob='await context.WebSockets.AcceptWebSocketAsync("{{protocol}}");',
        ),
    },
)
