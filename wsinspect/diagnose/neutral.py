"""Stack-neutral fixes: what to change, in words, whatever the server is.

Filled with the values seen on the wire like any snippet (fixes.values). Shown after a recognised
stack's own fix, and alone when nothing is known about the stack.
"""

from __future__ import annotations

from wsinspect.diagnose.stacks import Snippet

NEUTRAL: dict[str, Snippet] = {
    "subprotocol-not-offered": Snippet(
        "text",
        "Select only a subprotocol the client offered ({{offered}}), or none at all;\n"
        'or make the client offer {{selected}}: new WebSocket(url, ["{{selected}}"]).',
    ),
    "not-upgraded": Snippet(
        "text",
        "A page came back instead of a WebSocket: the path {{path}} is served by a static or "
        "SPA fallback. Route it to the WebSocket server before the fallback.",
    ),
    "not-found": Snippet(
        "text",
        "Nothing serves WebSockets at {{path}} on {{host}}: check the route the server "
        "registers and the URL the page opens.",
    ),
    "redirected": Snippet(
        "text",
        "Browsers never follow a redirect on a WebSocket handshake. Open the final URL "
        "directly: {{location}}",
    ),
    "unauthorized": Snippet(
        "javascript",
        """\
// Browsers cannot set Authorization (or any header) on a WebSocket. Either rely on a cookie
// the browser sends to this host, or pass a short-lived token in the URL:
const socket = new WebSocket("{{url_without_query}}?token=" + encodeURIComponent(token));""",
    ),
    "upstream-failed": Snippet(
        "text",
        "Nothing answered at {{host}}: start the WebSocket server there, or fix the address "
        "the page (or the proxy in front) connects to.",
    ),
    "version-unsupported": Snippet(
        "text", "Send Sec-WebSocket-Version: 13, the only version RFC 6455 defines."
    ),
    "accept-mismatch": Snippet(
        "text",
        "Sec-WebSocket-Accept must be base64(SHA-1(Sec-WebSocket-Key + "
        '"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): expected {{expected_accept}}. Something '
        "between client and server rewrote the key or the answer, or the server computes it "
        "wrongly.",
    ),
    "closed-abnormally": Snippet(
        "text",
        "Send a ping or an application heartbeat more often than the shortest idle timeout "
        "between client and server (nginx 60 s, AWS ALB 60 s by default).",
    ),
    "handshake-rejected": Snippet(
        "text",
        "The server refused the upgrade with {{status}}: its body says why. Look for what "
        "it expects in the request (path, headers, authentication).",
    ),
}
