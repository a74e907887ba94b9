"""The policy read off the probe's answers (``diagnose/policy.py``), one server behaviour a row.

Each row is a server as the real ones in tests/test_probe.py behave (Python websockets, coder and
gorilla/websocket, Node ws), written as a function from the variant the probe sends to the answer
it gets. The variants are the probe's own (``probe.variants``), the handshakes are built as they
travel and diagnosed as the probe diagnoses them, so only the network is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.test_diagnose_wire import attempt, upgraded
from wsinspect.diagnose.policy import Statement, Trial, Variant, infer
from wsinspect.model import Verdict
from wsinspect.probe import FOREIGN_ORIGIN, Target, same_origin, variants

URL = "ws://127.0.0.1:8080/graphql"
PAGE = "http://localhost:5173"
OTHER = "http://localhost:3000"
OWN = same_origin(URL)  # http://127.0.0.1:8080


@dataclass(frozen=True)
class Reply:
    """What the server answered: a status, the subprotocol it selected, the body of a refusal."""

    status: int
    selected: str | None = None
    body: str = ""


Server = Callable[[Variant], Reply]


def websockets_origin_check(origin: str | None) -> Reply:
    """Python websockets' refusal of an Origin not in ``origins=[...]``."""
    why = "missing Origin header" if origin is None else f"invalid Origin header: {origin}"
    return Reply(403, body=f"Failed to open a WebSocket connection: {why}.\n")


def coder_origin_check(origin: str | None) -> Reply:
    """coder/websocket's refusal of an Origin whose host is not the Host (nor allowed)."""
    return Reply(
        403, body=f'request Origin "{origin}" is not authorized for Host "127.0.0.1:8080"\n'
    )


def allowing(
    *origins: str | None,
    refuse: Callable[[str | None], Reply] = websockets_origin_check,
    subprotocols: Callable[[Variant], Reply] | None = None,
) -> Server:
    """A server that accepts these Origins (None: no Origin header) and refuses the others."""

    def answer(variant: Variant) -> Reply:
        if variant.origin not in origins:
            return refuse(variant.origin)
        return Reply(101) if subprotocols is None else subprotocols(variant)

    return answer


def selecting(*known: str, required: bool) -> Callable[[Variant], Reply]:
    """Python websockets' negotiation: the first offered subprotocol it knows; offered none it
    knows, 400; offered none at all, 400 when ``required``."""

    def answer(variant: Variant) -> Reply:
        chosen = next((p for p in variant.subprotocols if p in known), None)
        if chosen is None and (variant.subprotocols or required):
            return Reply(400, body="Failed to open a WebSocket connection: invalid subprotocol.\n")
        return Reply(101, chosen)

    return answer


def coder_selecting(*known: str) -> Callable[[Variant], Reply]:
    """coder/websocket: the first offered subprotocol it knows, else a bare 101."""
    return lambda variant: Reply(101, next((p for p in variant.subprotocols if p in known), None))


def trials(target: Target, server: Server) -> list[Trial]:
    """The probe's variants of ``target``, each answered by ``server`` and diagnosed."""
    return [
        Trial(variant, _handshake(target, variant, server(variant))) for variant in variants(target)
    ]


def _handshake(target: Target, variant: Variant, reply: Reply):
    extra = list(target.sent_headers())
    if variant.subprotocols:
        extra.append(("Sec-WebSocket-Protocol", ", ".join(variant.subprotocols)))
    if reply.status == 101:
        selected = [("Sec-WebSocket-Protocol", reply.selected)] if reply.selected else []
        headers = upgraded(*selected)
    else:
        headers = [("Content-Type", "text/plain; charset=utf-8")]
    handshake = attempt(
        reply.status, headers, reply.body, url=URL, origin=variant.origin, extra=extra
    )
    return handshake


def says(statements: list[Statement]) -> list[tuple[Verdict, str]]:
    return [(s.severity, s.text) for s in statements]


ANY_ORIGIN_COOKIES = (
    "accepts any Origin, and the handshake carries cookies: any web page the user visits can "
    "open this WebSocket as the user (cross-site WebSocket hijacking); check the Origin against "
    "an allow-list"
)
ANY_ORIGIN = (
    "accepts any Origin (fine for public data or a token sent in a message; if the endpoint "
    "relies on cookies, any web page can use it as the user: cross-site WebSocket hijacking)"
)
NULL_ORIGIN = (
    "accepts Origin: null — sandboxed iframes and file:// pages send it, so any web page can "
    "reach this endpoint through one; do not allow null"
)
REFUSES_PAGE = (
    f"refuses the page's Origin {PAGE}: allow it (the diagnosis of the handshake as given has the "
    "fix for this stack)"
)
SCRIPTS = " (and clients that send no Origin: scripts, not browsers)"

CASES: list[tuple[str, Target, Server, list[tuple[Verdict, str]]]] = [
    (
        "allow-list (websockets origins=[page])",
        Target(URL, origins=(PAGE,)),
        allowing(PAGE),
        [("ok", f"accepts these origins: {PAGE}")],
    ),
    (
        "allow-list of two, and same-origin, and no Origin (gorilla with a list)",
        Target(URL, origins=(PAGE, OTHER)),
        allowing(PAGE, OTHER, OWN, None, refuse=coder_origin_check),
        [("ok", f"accepts these origins: {PAGE}, {OTHER}, and same-origin{SCRIPTS}")],
    ),
    (
        "same-origin only, scripts too (coder's default): the page's Origin refused",
        Target(URL, origins=(PAGE,)),
        allowing(OWN, None, refuse=coder_origin_check),
        [("ok", f"accepts same-origin only{SCRIPTS}"), ("error", REFUSES_PAGE)],
    ),
    (
        "same-origin only, and the page is served from the WebSocket's own origin",
        Target(URL, origins=(OWN,)),
        allowing(OWN),
        [("ok", f"accepts these origins: {OWN}")],
    ),
    (
        "same-origin only, browsers only (Node ws verifyClient against the host)",
        Target(URL, origins=(PAGE,)),
        allowing(OWN),
        [("ok", "accepts same-origin only"), ("error", REFUSES_PAGE)],
    ),
    (
        "no Origin only: every browser refused",
        Target(URL, origins=(PAGE,)),
        allowing(None),
        [
            (
                "error",
                "accepts only handshakes without an Origin: browsers always send one, so every "
                "browser is refused",
            ),
            ("error", REFUSES_PAGE),
        ],
    ),
    (
        "allow-list with null (origins=[page, 'null'])",
        Target(URL, origins=(PAGE,)),
        allowing(PAGE, "null"),
        [("ok", f"accepts these origins: {PAGE}"), ("warning", NULL_ORIGIN)],
    ),
    (
        "same-origin and null, the page refused",
        Target(URL, origins=(PAGE,)),
        allowing(OWN, "null", refuse=coder_origin_check),
        [("ok", "accepts same-origin only"), ("error", REFUSES_PAGE), ("warning", NULL_ORIGIN)],
    ),
    (
        "null accepted, and the page's own Origin is null (a sandboxed iframe)",
        Target(URL, origins=("null",)),
        allowing(OWN, "null"),
        [("ok", "accepts same-origin only"), ("warning", NULL_ORIGIN)],
    ),
    (
        "any Origin, with cookies (websockets without origins=)",
        Target(URL, origins=(PAGE,), headers=(("Cookie", "sid=1"),)),
        lambda variant: Reply(101),
        [("warning", ANY_ORIGIN_COOKIES)],
    ),
    (
        "any Origin, no cookies",
        Target(URL, origins=(PAGE,)),
        lambda variant: Reply(101),
        [("ok", ANY_ORIGIN)],
    ),
    (
        "any Origin but the null one, with cookies: still any web page",
        Target(URL, origins=(PAGE,), headers=(("Cookie", "sid=1"),)),
        allowing(PAGE, OWN, None, FOREIGN_ORIGIN),
        [("warning", ANY_ORIGIN_COOKIES)],
    ),
    (
        "refuses every Origin: allows other origins only",
        Target(URL, origins=(PAGE,)),
        allowing(OTHER),
        [
            (
                "error",
                "refuses every Origin tried, and no Origin: it allows other origins only (add the "
                "page's Origin to its list: see the fix)",
            )
        ],
    ),
    (
        "refuses everything with 401: not about the Origin",
        Target(URL, origins=(PAGE,), subprotocols=("chat",)),
        lambda variant: Reply(401, body="log in first\n"),
        [
            (
                "error",
                "refuses every variant, with any Origin and without (unauthorized): the refusal "
                "is not about the Origin",
            )
        ],
    ),
    (
        "requires subprotocol graphql-transport-ws (websockets subprotocols=[...])",
        Target(URL, origins=(PAGE,), subprotocols=("graphql-transport-ws", "graphql-ws")),
        allowing(PAGE, subprotocols=selecting("graphql-transport-ws", required=True)),
        [
            ("ok", f"accepts these origins: {PAGE}"),
            ("ok", "requires subprotocol graphql-transport-ws"),
        ],
    ),
    (
        "requires one of two subprotocols",
        Target(URL, origins=(PAGE,), subprotocols=("graphql-transport-ws", "graphql-ws")),
        allowing(PAGE, subprotocols=selecting("graphql-transport-ws", "graphql-ws", required=True)),
        [
            ("ok", f"accepts these origins: {PAGE}"),
            ("ok", "requires one of the subprotocols graphql-transport-ws, graphql-ws"),
        ],
    ),
    (
        "selects chat when offered, none is fine; a bare 101 for superchat (coder)",
        Target(URL, origins=(PAGE,), subprotocols=("chat", "superchat")),
        allowing(PAGE, refuse=coder_origin_check, subprotocols=coder_selecting("chat")),
        [
            ("ok", f"accepts these origins: {PAGE}"),
            ("ok", "selects chat when offered; no subprotocol is fine too"),
            (
                "error",
                "answers 101 without a subprotocol when offered superchat: a browser offering "
                "that aborts",
            ),
        ],
    ),
    (
        "ignores subprotocols (Node ws without handleProtocols)",
        Target(URL, origins=(PAGE,), subprotocols=("chat",)),
        lambda variant: Reply(101),
        [
            ("ok", ANY_ORIGIN),
            (
                "error",
                "ignores subprotocols: it answers 101 without Sec-WebSocket-Protocol when "
                "offered chat, and browsers then abort the connection",
            ),
        ],
    ),
    (
        "selects a subprotocol that was not offered (a hard-coded header)",
        Target(URL, origins=(PAGE,), subprotocols=("graphql-transport-ws",)),
        allowing(PAGE, subprotocols=lambda variant: Reply(101, "graphql-ws")),
        [
            ("ok", f"accepts these origins: {PAGE}"),
            (
                "error",
                "selects graphql-ws, which was not offered (graphql-transport-ws): browsers "
                "abort the connection",
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("target", "server", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_policy(target: Target, server: Server, expected: list[tuple[Verdict, str]]) -> None:
    assert says(infer(trials(target, server), target.carries_cookies)) == expected


def test_variants_are_named_as_the_probe_prints_them() -> None:
    target = Target(URL, origins=(PAGE, OTHER), subprotocols=("chat", "superchat"))
    assert [variant.name for variant in variants(target)] == [
        "as given",
        "same-origin",
        f"Origin {OTHER}",
        "no Origin",
        "foreign Origin",
        "null Origin",
        "only chat",
        "only superchat",
        "no subprotocol",
    ]
