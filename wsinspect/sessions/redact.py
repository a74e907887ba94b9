"""Redaction of secrets before a session leaves the process.

Header values of ``Cookie``, ``Set-Cookie``, ``Authorization`` and ``Proxy-Authorization``, and the
values of secret-looking query parameters, become ``[redacted]`` wherever they appear in the
handshake: headers, URL, finding evidence and fix snippets. Message payloads are not redacted.
"""

from __future__ import annotations

import copy
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from wsinspect.model import Handshake, Headers, Session

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
SECRET_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "id_token",
        "refresh_token",
        "auth",
        "key",
        "api_key",
        "apikey",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "jwt",
        "session",
        "sessionid",
        "signature",
        "sig",
    }
)


def redact_session(session: Session) -> Session:
    """A copy of the session with every handshake redacted; the original is left as it was."""
    result = Session(created=session.created, proxy=dict(session.proxy))
    for handshake in session:
        result.add(redact_handshake(handshake))
    return result


def redact_handshake(handshake: Handshake) -> Handshake:
    """A redacted copy; the handshake itself when it holds no secret. The original is never
    modified."""
    secrets = _secret_values(handshake)
    if not secrets:
        return handshake
    result = copy.deepcopy(handshake)
    result.url = _redact_url(result.url)
    result.request.headers = _redact_headers(result.request.headers)
    if result.response is not None:
        result.response.headers = _redact_headers(result.response.headers)
    for finding in result.findings:
        finding.evidence = {k: _scrub(v, secrets) for k, v in finding.evidence.items()}
        finding.explanation = _scrub(finding.explanation, secrets)
        for fix in finding.fixes:
            fix.snippet = _scrub(fix.snippet, secrets)
    return result


def _secret_values(handshake: Handshake) -> list[str]:
    headers = list(handshake.request.headers)
    if handshake.response is not None:
        headers += handshake.response.headers
    values = [v for k, v in headers if k.lower() in SECRET_HEADERS and v]
    for name, value in _query_pairs(handshake.url):
        if value and unquote_plus(name).lower() in SECRET_PARAMS:
            values += [value, unquote_plus(value)]
    # Longest first, so that a value containing another is replaced whole; values this short
    # would garble the text around them if replaced inside free text.
    return sorted({v for v in values if len(v) >= 3}, key=len, reverse=True)


def _query_pairs(url: str) -> list[tuple[str, str]]:
    query = urlsplit(url).query
    return [(name, value) for name, _, value in (p.partition("=") for p in query.split("&"))]


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    pieces = []
    for piece in parts.query.split("&"):
        name, _, value = piece.partition("=")
        if value and unquote_plus(name).lower() in SECRET_PARAMS:
            piece = f"{name}={REDACTED}"
        pieces.append(piece)
    return urlunsplit(parts._replace(query="&".join(pieces)))


def _redact_headers(headers: Headers) -> Headers:
    return Headers((k, REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in headers)


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text
