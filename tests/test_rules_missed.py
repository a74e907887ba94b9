"""Causes the rules used to miss (issue 15, item 5), each shown on real servers' answers.

Every case is a real server's captured answer (tests/fixtures/stacks/<stack>/<case>.http),
replayed verbatim through our real proxy by tests/stack_wire.py, and diagnosed as a user sees
it. Where no stack fixture has the answer (Spring's 500 for "*" with credentials, a server
refusing Firefox's `Connection: keep-alive, Upgrade`), it comes from tests/fixtures/rules_missed
or from a public report, served raw through the same proxy; each such case says so.
"""

from __future__ import annotations

import asyncio

import pytest

from tests import stack_wire as wire
from tests.stack_wire import Case, Outcome
from wsinspect.model import Diagnosis, Finding

# (stack, case): the first finding a user must get
CAPTURED = {
    # Engine.IO says why in its 400's body; none of these is about the Origin
    ("socketio", "eio_session_id_unknown"): "engineio-session-unknown",
    ("socketio_aiohttp", "bad_sid"): "engineio-session-unknown",
    ("socketio", "eio_transport_unknown"): "engineio-transport-unknown",
    ("socketio_aiohttp", "bad_transport"): "engineio-transport-unknown",
    ("socketio", "eio_unsupported_protocol_version"): "engineio-version-mismatch",  # 101, then 400
    ("socketio_aiohttp", "eio3"): "engineio-version-mismatch",
    ("socketio", "eio_bad_handshake_method_upgrade"): "handshake-rejected",
    # Origin refusals in the server's words: a 400 naming the Origin, an app's "origin not
    # allowed" (here to a request without Origin: the body says why, so not unauthorized)
    ("socketio_aiohttp", "origin_refused"): "origin-rejected",
    ("aiohttp", "no_origin"): "origin-rejected",
    ("sanic", "no_origin"): "origin-rejected",
    # a 403 to a request without Origin, the body silent on why
    ("starlette", "no_origin"): "refused-without-origin",
    ("quart", "no_origin"): "refused-without-origin",
    ("channels_daphne", "no_origin"): "refused-without-origin",
    # accepted, then closed at once
    ("express-ws", "origin_refused"): "refused-after-upgrade",  # close frame without a code
    ("fastapi", "after_101_refused"): "refused-after-upgrade",  # 1008 "origin not allowed"
    ("tornado", "after_101_refused"): "refused-after-upgrade",
    ("channels_daphne", "after_101_refused"): "refused-after-upgrade",  # 4003, then a reset
    ("channels_uvicorn", "after_101_refused"): "refused-after-upgrade",
}

# Accepted handshakes that must stay ok, among them Firefox's Connection header and sockets
# whose server speaks at once (Engine.IO's open packet) or that a client leaves.
HEALTHY = [(stack, "healthy") for stack in wire.stacks() if "healthy" in wire.fixture_names(stack)]
HEALTHY += [
    (stack, "firefox_conn")
    for stack in wire.stacks()
    if "firefox_conn" in wire.fixture_names(stack)
]
HEALTHY += [("socketio_aiohttp", "no_origin"), ("tornado", "no_origin")]
OTHERS = [("socketio", "origin_refused")]  # must keep their finding


def case(stack: str, name: str) -> Case:
    return Case(stack, name, wire.requests_for(stack)[name])


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    cases = [case(s, n) for s, n in [*CAPTURED, *HEALTHY, *OTHERS]]
    return asyncio.run(wire.replay_all(cases))


def diagnosed(outcomes: dict[str, Outcome], stack: str, name: str) -> Diagnosis:
    outcome = outcomes[f"{stack}/{name}"]
    assert outcome.diagnosis is not None, outcome.problem
    return outcome.diagnosis


def first(diagnosis: Diagnosis) -> Finding:
    assert diagnosis.findings, "no finding"
    return diagnosis.findings[0]


@pytest.mark.parametrize(("stack", "name"), list(CAPTURED), ids=[f"{s}/{n}" for s, n in CAPTURED])
def test_the_cause_is_named(outcomes: dict[str, Outcome], stack: str, name: str) -> None:
    diagnosis = diagnosed(outcomes, stack, name)
    assert diagnosis.verdict == "error"
    assert first(diagnosis).code == CAPTURED[stack, name], [f.code for f in diagnosis.findings]
    assert first(diagnosis).fixes, "a finding without a fix"


@pytest.mark.parametrize(("stack", "name"), HEALTHY, ids=[f"{s}/{n}" for s, n in HEALTHY])
def test_no_healthy_handshake_is_flagged(outcomes: dict[str, Outcome], stack: str, name: str):
    diagnosis = diagnosed(outcomes, stack, name)
    assert diagnosis.verdict == "ok", [(f.code, f.title) for f in diagnosis.findings]


def test_engineio_quotes_its_reason_and_blames_no_origin(outcomes: dict[str, Outcome]) -> None:
    finding = first(diagnosed(outcomes, "socketio", "eio_session_id_unknown"))
    assert finding.evidence["Engine.IO says"] == "Session ID unknown"
    assert "sticky sessions" in finding.explanation
    assert "Origin is not what it objects to" in finding.explanation
    snippets = "\n".join(fix.snippet for fix in finding.fixes)
    assert "sticky" in snippets and 'transports: ["websocket"]' in snippets
    assert "allowRequest" not in snippets and "allowed origins" not in snippets


def test_an_old_engineio_client_refused_after_the_101(outcomes: dict[str, Outcome]) -> None:
    """Node's engine.io answers EIO=3 with a 101 and then writes its 400 onto the socket."""
    finding = first(diagnosed(outcomes, "socketio", "eio_unsupported_protocol_version"))
    assert finding.evidence["EIO (protocol version asked)"] == "3"
    assert "HTTP/1.1 400 Bad Request" in finding.evidence["Status"]
    assert "answered 101, then wrote `HTTP/1.1 400 Bad Request` onto the socket" in (
        finding.explanation
    )
    assert any("allowEIO3: true" in fix.snippet for fix in finding.fixes)


def test_a_400_naming_the_origin_is_an_origin_refusal(outcomes: dict[str, Outcome]) -> None:
    finding = first(diagnosed(outcomes, "socketio_aiohttp", "origin_refused"))
    assert "http://evil.example is not an accepted origin." in finding.explanation
    assert finding.evidence["Status"].startswith("400")


def test_a_403_without_origin_is_not_called_unauthorized(outcomes: dict[str, Outcome]) -> None:
    diagnosis = diagnosed(outcomes, "starlette", "no_origin")
    finding = first(diagnosis)
    assert "unauthorized" not in [f.code for f in diagnosis.findings]
    assert finding.evidence["Origin"] == "(none)"
    assert "missing Origin may itself be the reason" in finding.explanation


@pytest.mark.parametrize(
    ("stack", "name", "close"),
    [
        ("express-ws", "origin_refused", "(none)"),
        ("fastapi", "after_101_refused", "1008"),
        ("channels_daphne", "after_101_refused", "4003"),
    ],
)
def test_a_refusal_after_the_101_shows_the_close(
    outcomes: dict[str, Outcome], stack: str, name: str, close: str
) -> None:
    diagnosis = diagnosed(outcomes, stack, name)
    finding = first(diagnosis)
    assert finding.evidence["Close code"] == close
    assert " ms after the 101" in finding.evidence["After"]
    assert [f.code for f in diagnosis.findings] == ["refused-after-upgrade"]  # not twice


# -- answers no server here gives, served raw through the same proxy ------------------------

MISSED = wire.FIXTURES.parent / "rules_missed"  # answers no stack fixture has: see its README


def raw_answer(status: str, body: str, *headers: str) -> bytes:
    data = body.encode()
    head = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(data)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


class RawCase(Case):
    """A case whose answer is given here instead of read from a fixture file."""

    def __init__(self, name: str, request: wire.Request, answer: bytes) -> None:
        super().__init__("raw", name, request)
        object.__setattr__(self, "_answer", answer)

    @property
    def answer(self) -> bytes:
        return self._answer  # type: ignore[attr-defined]

    @property
    def ending(self) -> wire.Ending:
        return "close"


def replay_raw(name: str, request: wire.Request, answer: bytes) -> Diagnosis:
    outcome = asyncio.run(wire.replay_all([RawCase(name, request, answer)]))[f"raw/{name}"]
    assert outcome.diagnosis is not None, outcome.problem
    return outcome.diagnosis


def test_spring_sockjs_wildcard_origins_with_credentials() -> None:
    """Tomcat's error report for the exception Spring throws for "*" with credentials."""
    answer = (MISSED / "tomcat_500_wildcard_with_credentials.http").read_bytes()
    request = wire.upgrade("/ws/000/abcdefgh/websocket", wire.EVIL)
    finding = first(replay_raw("spring_500", request, answer))
    assert finding.code == "wildcard-origin-with-credentials"
    assert "allowCredentials is true" in finding.evidence["Server error"]
    assert any("setAllowedOriginPatterns" in fix.snippet for fix in finding.fixes)


def test_a_500_that_says_nothing_else_stays_a_plain_refusal() -> None:
    answer = raw_answer("500 ", "Internal Server Error", "Content-Type: text/plain")
    finding = first(replay_raw("plain_500", wire.upgrade("/ws", wire.EVIL), answer))
    assert finding.code == "handshake-rejected"


# A server comparing the whole Connection header with "Upgrade": Aerys (amphp) answered Firefox's
# `Connection: keep-alive, Upgrade` so, as reported in amphp/http-server#70 (2016). No library
# here does it (every Python stack captured accepts Firefox's header: */firefox_conn.http).
EXACT_REFUSAL = raw_answer(
    "426 Upgrade Required",
    'Bad Request: "Connection: Upgrade" header required',
    "Content-Type: text/plain; charset=utf-8",
)


def test_firefox_connection_refused_by_an_exact_match_is_not_blamed_on_a_proxy() -> None:
    request = wire.upgrade("/ws", connection="keep-alive, Upgrade")
    diagnosis = replay_raw("firefox_exact", request, EXACT_REFUSAL)
    finding = first(diagnosis)
    assert finding.code == "connection-matched-exactly"
    assert finding.evidence["Connection (request)"] == "keep-alive, Upgrade"
    assert "upgrade-headers-missing" not in [f.code for f in diagnosis.findings]


def test_firefox_connection_rewritten_by_a_proxy_still_blames_the_proxy() -> None:
    """Apache without upgrade=websocket forwards `Connection: Keep-Alive` whatever the browser
    sent, and websockets behind it quotes that: not the value sent, so something rewrote it."""
    answer = (wire.FIXTURES / "apache2" / "no_upgrade_config.http").read_bytes()
    request = wire.upgrade("/ws", connection="keep-alive, Upgrade")
    finding = first(replay_raw("firefox_behind_apache", request, answer))
    assert finding.code == "upgrade-headers-missing"


def test_allow_request_refusing_the_page_s_own_origin_is_not_an_origin_refusal() -> None:
    """Socket.IO's real allowRequest refusal (the same bytes whatever the callback checked),
    to a page on the server's own host: what it refused is not the Origin."""
    answer = (wire.FIXTURES / "socketio" / "origin_refused.http").read_bytes()
    diagnosis = replay_raw(
        "allow_request_same_origin", wire.upgrade(wire.SOCKETIO, wire.OWN), answer
    )
    finding = first(diagnosis)
    assert finding.code == "unauthorized"
    assert finding.evidence["Engine.IO says"] == "Forbidden"
    assert "origin-rejected" not in [f.code for f in diagnosis.findings]


def test_allow_request_refusing_another_origin_stays_an_origin_refusal(
    outcomes: dict[str, Outcome],
) -> None:
    assert first(diagnosed(outcomes, "socketio", "origin_refused")).code == "origin-rejected"
