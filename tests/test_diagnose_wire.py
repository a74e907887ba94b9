"""Diagnosis of answers from stacks that cannot run here, written from their sources' behaviour
(../shared/FINGERPRINTS.md), and of every finding code a status alone would miss."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from wsinspect.diagnose import diagnose
from wsinspect.diagnose.facts import expected_accept
from wsinspect.diagnose.fixes import NEUTRAL_NAME, TABLE_NAME
from wsinspect.model import Close, Handshake, Headers, Request, Response, WebSocketSummary

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
PAGE = "http://localhost:5173"


def attempt(
    status: int | None,
    headers: Sequence[tuple[str, str]] = (),
    body: str = "",
    *,
    reason: str = "",
    url: str = "ws://127.0.0.1:8080/ws",
    origin: str | None = PAGE,
    extra: Sequence[tuple[str, str]] = (),
    error: str | None = None,
    close: Close | None = None,
) -> Handshake:
    host = url.split("/")[2]
    request = [("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade")]
    request += [("Sec-WebSocket-Key", KEY), ("Sec-WebSocket-Version", "13")]
    if origin is not None:
        request.append(("Origin", origin))
    request += list(extra)
    response = None
    if status is not None:
        response = Response(status, reason, headers=Headers(headers), body=body)
    handshake = Handshake(
        id="h", started=0.0, url=url, request=Request(headers=Headers(request)), response=response
    )
    handshake.error = error
    if status == 101:
        handshake.websocket = WebSocketSummary(close=close)
    return handshake


def upgraded(*extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", expected_accept(KEY)),
        *extra,
    ]


def only(handshake: Handshake):
    result = diagnose(handshake)
    assert len(result.findings) == 1, [f.code for f in result.findings]
    return result, result.findings[0]


def snippet(finding, stack: str) -> str:
    return next(f.snippet for f in finding.fixes if f.stack == stack)


def test_actioncable_answers_a_refused_origin_with_404():
    handshake = attempt(
        404,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "14")],
        "Page not found",
        url="ws://localhost:3000/cable",
        extra=[("Sec-WebSocket-Protocol", "actioncable-v1-json, actioncable-unsupported")],
    )
    result, finding = only(handshake)
    assert finding.code == "origin-rejected"
    assert result.stack.name == "Rails ActionCable"
    assert 'allowed_request_origins = ["http://localhost:5173"]' in finding.fixes[0].snippet


def test_spring_refusal_is_close_but_not_recognised():
    """Spring's CORS Vary triple alone weighs 0.75: named as the closest, its fix offered, but
    below the bar the fix in words comes first."""
    vary = [("Vary", "Origin"), ("Vary", "Access-Control-Request-Method")]
    vary.append(("Vary", "Access-Control-Request-Headers"))
    result, finding = only(
        attempt(403, [*vary, ("Content-Length", "0")], url="ws://localhost:8080/ws")
    )
    assert (finding.code, result.stack.name) == ("origin-rejected", "unknown")
    assert "closest: Spring (75%)" in result.stack.evidence[0]
    assert finding.fixes[0].stack == NEUTRAL_NAME
    assert '.setAllowedOrigins("http://localhost:5173")' in snippet(finding, "Spring")


def test_aspnet_core_refusal():
    result, finding = only(attempt(403, [("Content-Length", "0"), ("Server", "Kestrel")]))
    assert (finding.code, result.stack.name) == ("origin-rejected", "ASP.NET Core")
    assert 'AllowedOrigins.Add("http://localhost:5173")' in finding.fixes[0].snippet


def test_phoenix_refusal():
    headers = [("cache-control", "max-age=0, private, must-revalidate"), ("server", "Cowboy")]
    handshake = attempt(403, headers, url="ws://localhost:4000/socket/websocket?vsn=2.0.0")
    result, finding = only(handshake)
    assert (finding.code, result.stack.name) == ("origin-rejected", "Phoenix")
    assert 'check_origin: ["http://localhost:5173"]' in finding.fixes[0].snippet


def test_uvicorn_empty_403_ranks_the_asgi_stacks():
    headers = [("Content-Length", "0"), ("Connection", "close")]
    result, finding = only(attempt(403, headers, reason="Forbidden"))
    assert finding.code == "origin-rejected"
    assert result.stack.name == "unknown"
    assert "Starlette/FastAPI (uvicorn)" in result.stack.evidence[0]
    stacks = [fix.stack for fix in finding.fixes]
    assert stacks[:2] == [NEUTRAL_NAME, TABLE_NAME]
    assert stacks.index("Starlette/FastAPI (uvicorn)") < stacks.index("Django Channels")
    assert "Spring" not in stacks  # not a candidate: a line of the table only


def test_an_unknown_stack_gets_the_fix_in_words_then_every_stack_s_knob():
    """The page on a dev server's port made the dev-server proxy a 20% guess: its snippet used
    to lead. The fix in words leads, with the origin seen; then one line per stack, filled."""
    headers = [("Content-Length", "0"), ("Connection", "close")]
    result, finding = only(
        attempt(403, headers, reason="Forbidden", origin="http://localhost:3000")
    )
    assert result.stack.name == "unknown"
    neutral, table = finding.fixes[:2]
    assert neutral.stack == NEUTRAL_NAME
    assert "`http://localhost:3000` — the full origin" in neutral.snippet
    assert "`localhost:3000` against the Host header, `127.0.0.1:8080`" in neutral.snippet
    assert table.stack == TABLE_NAME
    lines = table.snippet.splitlines()
    assert len(lines) >= 10
    assert any(
        line.startswith("coder/websocket ") and 'OriginPatterns: []string{"localhost:3000"}' in line
        for line in lines
    )
    assert any(
        line.startswith("Spring ") and '.setAllowedOrigins("http://localhost:3000")' in line
        for line in lines
    )
    assert not any(fix.stack.startswith("dev-server") for fix in finding.fixes)


def test_a_recognised_proxy_does_not_lead_an_origin_refusal():
    """nginx's Host fix is a cause among others: the unknown server's allow-list comes first."""
    result, finding = only(attempt(403, [("Server", "nginx/1.22.1"), ("Content-Length", "0")]))
    assert (finding.code, result.stack.name) == ("origin-rejected", "nginx")
    assert [fix.stack for fix in finding.fixes[:3]] == [NEUTRAL_NAME, TABLE_NAME, "nginx"]


def test_uvicorn_wsproto_403_without_reason_phrase_is_the_closest():
    result, finding = only(attempt(403, [("Content-Length", "0")], reason=""))
    assert result.stack.name == "unknown"
    assert "closest: Starlette/FastAPI (uvicorn) (62%)" in result.stack.evidence[0]
    assert snippet(finding, "Starlette/FastAPI (uvicorn)")


def test_aiohttp_without_upgrade():
    handshake = attempt(
        400,
        [("Content-Type", "text/plain; charset=utf-8"), ("Server", "Python/3.12 aiohttp/3.10.5")],
        '400: No WebSocket UPGRADE hdr: None\n Can "Upgrade" only to "WebSocket".',
    )
    result, finding = only(handshake)
    assert (finding.code, result.stack.name) == ("upgrade-headers-missing", "aiohttp")


@pytest.mark.parametrize(
    "status, headers, body, stack",
    [
        (
            502,
            [("Server", "cloudflare"), ("CF-RAY", "8d3f-AMS")],
            "<html>Bad gateway</html>",
            "Cloudflare",
        ),
        (504, [("Server", "awselb/2.0")], "<html>504 Gateway Time-out</html>", "AWS ALB"),
        (502, [("Server", "Caddy"), ("Content-Length", "0")], "", "Caddy"),
        (502, [("Server", "nginx/1.22.1")], "<hr><center>nginx/1.22.1</center>", "nginx"),
    ],
)
def test_gateways_that_could_not_reach_the_server(status, headers, body, stack):
    result, finding = only(attempt(status, headers, body))
    assert (finding.code, result.stack.name) == ("upstream-failed", stack)


def test_traefik_unmatched_router():
    """Go's net/http answers the same bytes: Traefik is a guess, its router rule in the table."""
    result, finding = only(
        attempt(404, [("Content-Type", "text/plain; charset=utf-8")], "404 page not found\n")
    )
    assert (finding.code, result.stack.name) == ("not-found", "unknown")
    assert "Traefik (" in result.stack.evidence[0]  # among the closest
    assert "Nothing serves WebSockets at /ws on 127.0.0.1:8080" in finding.fixes[0].snippet
    assert "rule: PathPrefix(`/ws`)" in finding.fixes[1].snippet


def test_no_answer_at_all():
    result, finding = only(attempt(None, error="[Errno 111] Connect call failed ('127.0.0.1', 9)"))
    assert finding.code == "upstream-failed"
    assert "connection refused" in finding.explanation
    assert result.verdict == "error"


def test_redirect():
    handshake = attempt(301, [("Location", "wss://example.com/ws")], url="ws://example.com/ws")
    _, finding = only(handshake)
    assert finding.code == "redirected"
    assert "wss://example.com/ws" in finding.fixes[-1].snippet


def test_spa_fallback_page():
    headers = [("Content-Type", "text/html"), ("X-Powered-By", "Express")]
    _, finding = only(attempt(200, headers, "<!doctype html><div id=root>"))
    assert finding.code == "not-upgraded"
    assert "the path /ws is served by a static or SPA fallback" in finding.fixes[0].snippet
    assert "ws: true" in snippet(finding, "dev-server proxy (Vite, webpack-dev-server)")


def test_version_refused():
    handshake = attempt(426, [("Sec-WebSocket-Version", "13")], "Upgrade Required")
    handshake.request.headers = Headers(
        (k, "8" if k == "Sec-WebSocket-Version" else v) for k, v in handshake.request.headers
    )
    _, finding = only(handshake)
    assert finding.code == "version-unsupported"


def test_wrong_accept():
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", "bogus="),
    ]
    _, finding = only(attempt(101, headers, origin="http://127.0.0.1:8080"))
    assert finding.code == "accept-mismatch"
    assert finding.evidence["expected"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_selected_a_subprotocol_nobody_offered():
    handshake = attempt(
        101,
        upgraded(("Sec-WebSocket-Protocol", "v2")),
        origin="http://127.0.0.1:8080",
        extra=[("Sec-WebSocket-Protocol", "v1")],
    )
    _, finding = only(handshake)
    assert finding.code == "subprotocol-not-offered"


def test_cross_site_accept_with_cookies_is_a_hijacking_warning():
    handshake = attempt(
        101,
        upgraded(("Server", "Python/3.11 websockets/17.4")),
        url="wss://api.bank.example/ws",
        origin="https://evil.example",
        extra=[("Cookie", "session=1")],
    )
    result, finding = only(handshake)
    assert (finding.code, finding.severity, result.verdict) == (
        "cross-origin-accepted",
        "warning",
        "warning",
    )
    fix = snippet(finding, "Python websockets")
    assert (
        'origins=["https://api.bank.example"]' in fix
    )  # the server's own site, not the attacker's
    assert "evil.example" not in fix


def test_same_site_accept_with_cookies_is_fine():
    handshake = attempt(
        101,
        upgraded(),
        url="wss://api.shop.example/ws",
        origin="https://www.shop.example",
        extra=[("Cookie", "session=1")],
    )
    assert diagnose(handshake).verdict == "ok"


@pytest.mark.parametrize(
    "code, words",
    [
        (4401, "graphql-ws: unauthorized"),
        (1006, "abnormal closure"),
        (1011, "internal server error"),
    ],
)
def test_abnormal_close_is_explained(code, words):
    handshake = attempt(
        101, upgraded(), origin="http://127.0.0.1:8080", close=Close(code, "", "server")
    )
    result, finding = only(handshake)
    assert (finding.code, result.verdict) == ("closed-abnormally", "warning")
    assert words in finding.explanation


def test_normal_close_is_ok():
    handshake = attempt(
        101, upgraded(), origin="http://127.0.0.1:8080", close=Close(1000, "", "client")
    )
    assert diagnose(handshake).findings == ()


def test_unknown_refusal_is_never_ok():
    result, finding = only(
        attempt(500, [("Content-Type", "text/plain")], "boom", origin="http://127.0.0.1:8080")
    )
    assert (finding.code, result.verdict) == ("handshake-rejected", "error")


def test_same_origin_401_is_about_credentials():
    _, finding = only(
        attempt(401, [("Content-Type", "text/plain")], "no", origin="http://127.0.0.1:8080")
    )
    assert finding.code == "unauthorized"
    assert finding.evidence["Credentials sent"] == "no Cookie and no Authorization header"


@pytest.mark.parametrize(
    "body, variant",
    [
        (
            'request Origin "http://localhost:5173" is not authorized for Host "localhost:8080"\n',
            "full origin",
        ),
        (
            'request Origin "localhost:5173" is not authorized for Host "localhost:8080"\n',
            "host only",
        ),
    ],
)
def test_coder_old_and_new_bodies_and_a_rewritten_host(body, variant):
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")]
    handshake = attempt(403, headers, body, url="ws://localhost:8080/ws")
    result, finding = only(handshake)
    assert (finding.code, result.stack.name) == ("origin-rejected", "coder/websocket"), variant
    assert "rewrote Host" in finding.explanation
    assert finding.evidence["Host"] == "localhost:8080"


def test_no_fix_ever_recommends_cors_headers():
    every = [
        attempt(403, [("Server", "Kestrel")]),
        attempt(403, [("Content-Length", "0")]),
        attempt(
            401,
            [("Connection", "close"), ("Content-Type", "text/html"), ("Content-Length", "12")],
            "Unauthorized",
        ),
        attempt(
            400,
            [("Content-type", "text/html")],
            "Forbidden",
            url="ws://h:1/socket.io/?EIO=4&transport=websocket",
        ),
    ]
    for handshake in every:
        for finding in diagnose(handshake).findings:
            for fix in finding.fixes:
                assert "Access-Control-Allow" not in fix.snippet


def test_apache_without_upgrade_in_front_of_gorilla():
    headers = [
        ("Server", "Apache/2.4.62 (Debian)"),
        ("Sec-Websocket-Version", "13"),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    result, finding = only(attempt(400, headers, "Bad Request\n"))
    assert finding.code == "upgrade-headers-missing"
    assert result.stack.name == "gorilla/websocket"
    assert any(e.startswith("behind Apache") for e in result.stack.evidence)
    assert "upgrade=websocket" in snippet(finding, "Apache")


@pytest.mark.parametrize(
    "headers, body, stack",
    [
        (
            [("server", "envoy"), ("content-type", "text/plain")],
            "upstream connect error or disconnect/reset before headers. reset reason: "
            "connection failure",
            "Envoy",
        ),
        (
            [],
            "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle "
            "this request.\n</body></html>",
            "HAProxy",
        ),
    ],
)
def test_more_gateways(headers, body, stack):
    result, finding = only(attempt(503, headers, body))
    assert (finding.code, result.stack.name) == ("upstream-failed", stack)


def test_a_refusal_for_sending_no_origin_says_so_not_origin_none():
    """What Python websockets answers a client (a script, the probe) that sends no Origin."""
    body = "Failed to open a WebSocket connection: missing Origin header.\n"
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Server", "Python/3.11 websockets")]
    _, finding = only(attempt(403, headers, body, reason="Forbidden", origin=None))
    assert finding.code == "origin-rejected"
    assert finding.title == "Refused for sending no Origin"
    assert finding.evidence["Origin"] == "(none)"


def test_the_text_report_indents_go_snippets_with_spaces_not_escapes():
    """Go fixes are gofmt'd with tabs; the terminal report must show them indented, not \\x09."""
    from wsinspect import report

    body = 'request Origin "http://localhost:5173" is not authorized for Host "localhost:8080"\n'
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")]
    refused = attempt(403, headers, body, reason="Forbidden", url="ws://localhost:8080/ws")
    text = report.text([refused])
    assert "OriginPatterns: []string" in text
    assert "\\x09" not in text and "\t" not in text
