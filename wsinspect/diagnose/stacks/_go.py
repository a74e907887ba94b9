"""What Go's net/http itself says, whichever Go WebSocket library answers: weak evidence that
every Go stack shares (coder/websocket, gorilla/websocket)."""

from __future__ import annotations

from wsinspect.diagnose.stacks._match import go_http_error
from wsinspect.diagnose.stacks._record import Signal
from wsinspect.diagnose.stacks._site import SITE, site_error_page

HTTP_ERROR = Signal(
    "Go http.Error headers (text/plain; charset=utf-8, nosniff)", 0.1, go_http_error
)
NOT_FOUND_PAGE = Signal(
    SITE + "Go net/http's 404 page not found", 0.15, site_error_page(r"^404 page not found\n$")
)
