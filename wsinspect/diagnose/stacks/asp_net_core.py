"""ASP.NET Core WebSockets middleware: ``WebSocketOptions.AllowedOrigins``."""

from wsinspect.diagnose.stacks._match import header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord

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
