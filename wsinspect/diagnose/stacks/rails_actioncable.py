"""Rails ActionCable: ``allowed_request_origins``; a refused Origin gets a 404."""

from wsinspect.diagnose.stacks._match import (
    body_matches,
    both,
    offers,
    path_has,
    status_is,
    with_origin,
)
from wsinspect.diagnose.stacks._record import Refusal, Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_cookie, site_error_page

ALLOW_ORIGIN = Snippet(
    "ruby",
    """\
# config/environments/development.rb (and production.rb with the real origin)
config.action_cable.allowed_request_origins = ["{{origin}}"]
# ActionCable answers a refused Origin with 404 "Page not found", not 403.""",
    knob='config.action_cable.allowed_request_origins = ["{{origin}}"]',
)

STACK = StackRecord(
    name="Rails ActionCable",
    kind="server",
    docs="https://guides.rubyonrails.org/action_cable_overview.html#allowed-request-origins",
    language="ruby",
    signals=(
        Signal(
            '404 "Page not found" as text/plain (ActionCable refusing the Origin)',
            0.8,
            both(status_is(404), body_matches(r"^Page not found$")),
        ),
        Signal("offered subprotocol actioncable-v1-json", 0.7, offers("actioncable-v1-json")),
        Signal("request path /cable", 0.3, path_has(r"^/cable$")),
    ),
    refusals=(
        Refusal(
            "origin-rejected",
            "ActionCable answers a refused Origin with 404 Page not found",
            both(status_is(404), with_origin),
        ),
    ),
    site_signals=(
        Signal(
            SITE + "a _<app>_session cookie (Rails)", 0.45, site_cookie(r"_[A-Za-z0-9_]+_session")
        ),
        Signal(
            SITE + "Rails' 404 page",
            0.5,
            site_error_page(r"The page you were looking for doesn.t exist"),
        ),
    ),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "not-found": Snippet(
            "ruby",
            '# config/routes.rb\nmount ActionCable.server => "/cable"',
            knob='mount ActionCable.server => "/cable"  # config/routes.rb',
        ),
    },
)
