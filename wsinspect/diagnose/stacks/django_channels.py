"""Django Channels: OriginValidator / AllowedHostsOriginValidator around the URL router."""

from wsinspect.diagnose.stacks._match import empty_refusal, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_cookie, site_error_page, site_server

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
            0.45,
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
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "python",
            'async def connect(self):\n    await self.accept(subprotocol="{{protocol}}")',
            knob='await self.accept(subprotocol="{{protocol}}")  # in the consumer\'s connect()',
        ),
    },
)
