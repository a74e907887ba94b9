"""Tornado: ``WebSocketHandler.check_origin`` (same host by default), ``select_subprotocol``."""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import (
    body_matches,
    both,
    header_matches,
    status_is,
)
from wsinspect.diagnose.stacks._record import Refusal, Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page, site_server

CROSS_ORIGIN = r"^Cross origin websockets not allowed$"


def tornado_101(f: Facts) -> bool:
    names = [name for name, _ in f.response]
    three = ["Upgrade", "Connection", "Sec-Websocket-Accept"]
    return any(names[i : i + 3] == three for i in range(len(names) - 2))


ALLOW_ORIGIN = Snippet(
    "python",
    """\
class Handler(tornado.websocket.WebSocketHandler):
    ALLOWED_ORIGINS = {"{{origin}}"}  # full origins, as the browser sends them

    def check_origin(self, origin):
        # The default admits only an Origin whose host is the Host header's.
        # Never return True for every origin: any site could open this socket as the user.
        return origin in self.ALLOWED_ORIGINS""",
    knob='def check_origin(self, origin): return origin in {"{{origin}}"}',
)

STACK = StackRecord(
    name="Tornado",
    kind="server",
    docs="https://www.tornadoweb.org/en/stable/websocket.html#tornado.websocket.WebSocketHandler.check_origin",
    language="python",
    signals=(
        Signal("Server: TornadoServer/…", 0.9, header_matches("Server", r"^TornadoServer/")),
        Signal(
            'body "Cross origin websockets not allowed" (check_origin said no)',
            0.9,
            body_matches(CROSS_ORIGIN),
        ),
        Signal(
            "Upgrade, Connection, Sec-Websocket-Accept in that order and so spelled (Tornado "
            "normalises names; Go's net/http spells it alike but sorts the headers)",
            0.6,
            tornado_101,
        ),
        Signal(
            "Tornado's 404 page <html><title>404: Not Found</title>…",
            0.6,
            body_matches(r"^<html><title>\d{3}: [^<]*</title><body>\d{3}: "),
        ),
    ),
    refusals=(
        Refusal(
            "origin-rejected",
            "Tornado's check_origin refused it (403 Cross origin websockets not allowed)",
            both(status_is(403), body_matches(CROSS_ORIGIN)),
        ),
    ),
    site_signals=(
        Signal(SITE + "Server: TornadoServer/…", 0.6, site_server(r"^TornadoServer/")),
        Signal(
            SITE + "Tornado's error page <html><title>404: Not Found</title>…",
            0.5,
            site_error_page(r"^<html><title>\d{3}: [^<]*</title><body>\d{3}: "),
        ),
    ),
    fixes={
        "refused-after-upgrade": Snippet(
            "python",
            """\
# A check in open() runs after the 101: the page sees open, then close 1008. Refuse during
# the handshake instead, so that the browser gets a 403:
def check_origin(self, origin):
    return origin in {"{{origin}}"}

async def prepare(self):  # runs before the upgrade: authentication goes here
    if not self.current_user:
        raise tornado.web.HTTPError(403)""",
            knob="check in check_origin() or prepare() (raise HTTPError(403)), not in open()",
        ),
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "python",
            """\
def select_subprotocol(self, subprotocols):
    # Return one the client offered, or None (then the 101 names none and browsers fail).
    return "{{protocol}}" if "{{protocol}}" in subprotocols else None""",
            knob='def select_subprotocol(self, subprotocols): return "{{protocol}}"',
        ),
    },
)
