"""Django Channels: OriginValidator / AllowedHostsOriginValidator around the URL router."""

from wsinspect.diagnose.stacks._match import empty_refusal, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord

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
