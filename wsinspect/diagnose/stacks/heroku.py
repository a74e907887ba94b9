"""Heroku's router: forwards WebSockets, and closes one idle for 55 s (H15).

Its answers carry ``Via: 1.1 vegur`` (the legacy router) or ``Via: 2.0 heroku-router``
(Router 2.0); its own error pages are an iframe of herokucdn.com's error pages.
"""

from wsinspect.diagnose.stacks._match import body_matches, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page

ERROR_PAGE = r"herokucdn\.com/error-pages/"

# An idle upgraded connection cut short (research: tests/fixtures/stacks/*/idle_timeout.txt).
IDLE_TIMEOUT = Snippet(
    "text",
    "Heroku's router closes a WebSocket after 55 s without a byte either way (H15 Idle "
    "connection); there is no setting for it: send a ping or a heartbeat message every "
    "30 s from the app or the client.",
    knob="a ping or heartbeat every 30 s (the router's 55 s idle window)",
)


STACK = StackRecord(
    name="Heroku",
    kind="proxy",
    docs="https://devcenter.heroku.com/articles/websockets",
    language="text",
    signals=(
        Signal(
            "Via: … vegur / heroku-router", 0.9, header_matches("Via", r"\b(vegur|heroku-router)\b")
        ),
        Signal("Heroku error page (herokucdn.com/error-pages)", 0.9, body_matches(ERROR_PAGE)),
    ),
    site_signals=(Signal(SITE + "Heroku error page", 0.6, site_error_page(ERROR_PAGE)),),
    fixes={
        "upstream-failed": Snippet(
            "text",
            "Heroku's router got no answer from the app (`heroku logs --tail` names it: H10 the "
            "app crashed, H12 no answer within 30 s, H14 no web dynos running). The app must "
            "listen on $PORT and answer the handshake within 30 s.",
            knob="the app listens on $PORT (heroku logs --tail: H10/H12/H14)",
        ),
        "idle-timeout": IDLE_TIMEOUT,
    },
)
