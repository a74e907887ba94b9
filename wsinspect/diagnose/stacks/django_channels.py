"""Django Channels: OriginValidator / AllowedHostsOriginValidator around the URL router."""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import empty_refusal, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_cookie, site_error_page, site_server


def daphne_bare_refusal(f: Facts) -> bool:
    """Daphne's ``ConnectionDeny``: its own reason phrase, no headers at all, then close."""
    response = f.handshake.response
    return (
        response is not None
        and not response.headers
        and (f.status, response.reason) in ((403, "Access denied"), (500, "Internal server error"))
    )


ALLOW_ORIGIN = Snippet(
    "python",
    """\
# asgi.py: OriginValidator takes full origins.
application = ProtocolTypeRouter({
    "websocket": OriginValidator(URLRouter(websocket_urlpatterns), ["{{origin}}"]),
})
# With AllowedHostsOriginValidator, add the page's host to settings.ALLOWED_HOSTS instead:
# ALLOWED_HOSTS = ["{{origin_hostname}}"]  (a host pattern; the port is ignored)""",
    knob='OriginValidator(URLRouter(websocket_urlpatterns), ["{{origin}}"])',
)

STACK = StackRecord(
    name="Django Channels",
    kind="server",
    docs="https://channels.readthedocs.io/en/stable/topics/security.html",
    language="python",
    signals=(
        Signal(
            "empty 403 with no Server header (Channels' OriginValidator behind an ASGI server)",
            0.4,
            empty_refusal,
        ),
        Signal("Server: daphne", 0.9, header_matches("Server", r"daphne")),
        Signal(
            'status line "403 Access denied" or "500 Internal server error" and not one header '
            "(Daphne refusing for the app: a close before accept, or the app raised)",
            0.9,
            daphne_bare_refusal,
        ),
    ),
    site_signals=(
        Signal(SITE + "Server: daphne", 0.6, site_server(r"^daphne\b")),
        Signal(
            SITE + "Django's csrftoken or sessionid cookie",
            0.4,
            site_cookie(r"csrftoken|sessionid"),
        ),
        Signal(
            SITE + "Django's 404 page",
            0.6,
            site_error_page(
                r"<h1>Not Found</h1><p>The requested resource was not found on this server\.</p>"
            ),
        ),
        Signal(
            SITE + "Django's debug 404 page",
            0.6,
            site_error_page(
                r"<title>Page not found at /.*</title>\s*"
                r"<meta name=\"robots\" content=\"NONE,NOARCHIVE\">"
            ),
        ),
    ),
    fixes={
        "refused-after-upgrade": Snippet(
            "python",
            """\
class Consumer(AsyncWebsocketConsumer):
    async def connect(self):
        # close() before accept() refuses the handshake itself (a 403); after accept() the
        # page sees open, then the close code
        if self.scope["user"].is_anonymous:
            await self.close()
            return
        await self.accept()""",
            knob="await self.close() before self.accept() in connect()",
        ),
        "refused-without-origin": Snippet(
            "python",
            """\
# OriginValidator refuses a handshake without Origin unless "*" is allowed. Browsers always
# send one; a script must send the page's (websocat -H "Origin: {{own_origin}}" …), or admit
# clients that send none (no browser, so no user's cookies for another site to ride on):
class OriginValidatorAllowingNone(OriginValidator):
    def valid_origin(self, parsed_origin):
        return parsed_origin is None or super().valid_origin(parsed_origin)""",
            knob="OriginValidator refuses no Origin: send the page's, or subclass valid_origin to "
            "admit None",
        ),
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "python",
            'async def connect(self):\n    await self.accept(subprotocol="{{protocol}}")',
            knob='await self.accept(subprotocol="{{protocol}}")  # in the consumer\'s connect()',
        ),
    },
)
