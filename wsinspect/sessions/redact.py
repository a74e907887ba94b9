"""One redaction policy for everything that leaves the process or reaches a screen.

A secret keeps its place and its name and loses its value, which becomes ``[redacted]``, so that
the diagnosis still reads ("the request carried Cookie and Authorization"). What counts as a
secret is written once, here; docs/security.md lists it for users.

Where it is applied: ``sessions.save`` (every format, hence ``--save``, the autosave, ``record
-o``, ``export`` and the dashboard's save), ``diagnose``'s output in every format, ``record``'s
lines, and the dashboard's screen. ``--no-redact`` (``r`` on screen) turns it off knowingly.

Deliberately not applied: the split-mode feed (``capture/feed.py``). It is a socket private to
one user that carries the capture from that user's mitmproxy to that user's dashboard, which
redacts on screen and on save like any other; redacting before it would leave the dashboard
nothing to show when asked (``r``) and nothing exact to diagnose.

Redaction copies only what it changes: a handshake without a secret is returned as it is, and a
redacted one shares every part (messages included) that held none.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

import msgspec
from msgspec.structs import replace

from wsinspect.diagnose import diagnosis_of, remember
from wsinspect.model import (
    Close,
    Diagnosis,
    ErrorPage,
    Finding,
    Handshake,
    Headers,
    Message,
    Request,
    Response,
    Session,
    SiteEvidence,
    Stack,
    WebSocketSummary,
    is_over,
    keep_beside,
    kept_beside,
)

REDACTED = "[redacted]"
REDACTED_USERINFO = "redacted"  # brackets are not allowed before a URL's host: it would not parse

# -- the policy ----------------------------------------------------------------------------------

# A header, query parameter or JSON key whose name contains one of these is a secret.
# "auth" but not "author": a chat message's author is not a credential (its authorization is).
_SECRET_WORDS = re.compile(
    r"token|auth(?!or(?!i))|key|secret|session|csrf|xsrf|signature|passw|credential|jwt|cookie",
    re.I,
)
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
# Named like secrets, but nonces and challenges the diagnosis needs and nobody can log in with.
PUBLIC_HEADERS = frozenset(
    {
        "sec-websocket-key",  # a random nonce: accept-mismatch recomputes the answer from it
        "sec-websocket-key1",  # the same, in the pre-RFC 6455 handshake
        "sec-websocket-key2",
        "www-authenticate",  # the server's challenge: a scheme and a realm
        "proxy-authenticate",
        "access-control-allow-credentials",  # "true"
        ":authority",  # the HTTP/2 Host
    }
)
# Names too short or too common to match by word: secret as query and matrix parameters.
SECRET_PARAMS = frozenset({"code", "sid", "t", "ticket", "sig", "pass", "pwd", "otp"})
# As JSON keys, "code" and "t" are mostly error codes and event names (Discord's "t").
SECRET_KEYS = SECRET_PARAMS - {"code", "t"}
# Subprotocol names after which the browser's next offered "subprotocol" is the token itself:
# new WebSocket(url, ["access_token", token]).
TOKEN_CARRIERS = frozenset(
    {"access_token", "access-token", "token", "bearer", "authorization", "auth", "jwt"}
)
KUBERNETES_BEARER = "base64url.bearer.authorization.k8s.io."
# A value this short is replaced where it stands, but not searched for in other text: "1" or
# "true" would garble every body that happens to contain it.
MIN_ECHOED = 6

_JWT = re.compile(
    r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}"
)
_URL = re.compile(r"\b(?:wss?|https?)://[^\s\"'<>`]+", re.I)
# A JSON string member, possibly cut short by the preview: "name" : "value
_JSON_MEMBER = re.compile(r'"(?P<name>[^"\\]{1,64})"\s*:\s*"(?P<value>(?:[^"\\]|\\.)*)(?:"|\Z)')
# Worth a closer look: a message without any of these (searched in lower case) holds no secret
# we could recognise. Plain substring searches over all of a handshake's messages at once are
# several times faster than a regular expression, or than message by message.
_SUSPECT_WORDS = (
    *("eyj", "://", "token", "auth", "key", "secret", "sess", "csrf", "xsrf", "sig", "pass"),
    *("pwd", "otp", "credential", "jwt", "cookie", "sid", "ticket"),
)


@functools.lru_cache(maxsize=4096)  # a capture repeats a few dozen names
def is_secret_header(name: str) -> bool:
    lowered = name.lower()
    if lowered in PUBLIC_HEADERS:
        return False
    return (
        lowered in SECRET_HEADERS
        or lowered.startswith("x-amz-")
        or _SECRET_WORDS.search(lowered) is not None
    )


@functools.lru_cache(maxsize=4096)
def is_secret_param(name: str) -> bool:
    """A query or matrix parameter (``?token=``, ``;jsessionid=``) whose value is a secret."""
    lowered = unquote_plus(name).lower()
    return lowered in SECRET_PARAMS or _SECRET_WORDS.search(lowered) is not None


@functools.lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """A JSON member (``"authorization": …``) whose string value is a secret."""
    return name.lower() in SECRET_KEYS or _SECRET_WORDS.search(name) is not None


# -- text ----------------------------------------------------------------------------------------


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Free text (a body, a message, an error, evidence) with its secrets replaced: the given
    values, secret parameters of URLs in it, JSON members named like secrets, and JWTs."""
    if "://" in text:  # first: a secret replaced in a URL's userinfo would leave it unparsable
        text = _URL.sub(lambda m: redact_url(m.group()), text)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if '"' in text:
        text = _JSON_MEMBER.sub(_redact_member, text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    return text


def _redact_member(match: re.Match[str]) -> str:
    if not match.group("value") or not is_secret_key(match.group("name")):
        return match.group()
    text, (start, end) = match.string, match.span("value")
    return text[match.start() : start] + REDACTED + text[end : match.end()]


def redact_url(url: str) -> str:
    """The URL with its userinfo, secret query, fragment and matrix parameters, and JWTs
    replaced; the URL itself when it holds none."""
    if not any(mark in url for mark in "@;?#") and "eyJ" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL after all: still no JWT
        return _JWT.sub(REDACTED, url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED_USERINFO}@{netloc.rpartition('@')[2]}"
    redacted = parts._replace(
        netloc=netloc,
        path="/".join(_redact_params(segment, ";", 1) for segment in parts.path.split("/")),
        query=_redact_params(parts.query, "&"),
        fragment=_redact_params(parts.fragment, "&"),
    )
    result = url if redacted == parts else urlunsplit(redacted)
    return _JWT.sub(REDACTED, result) if "eyJ" in result else result


def _redact_params(text: str, separator: str, skip: int = 0) -> str:
    """``name=value`` pairs joined by ``separator`` (the first ``skip`` pieces are not pairs)."""
    if "=" not in text:
        return text
    pieces = text.split(separator)
    for i, piece in enumerate(pieces[skip:], start=skip):
        name, equals, value = piece.partition("=")
        if equals and value and value != REDACTED and is_secret_param(name):
            pieces[i] = f"{name}={REDACTED}"
    return separator.join(pieces)


# -- finding the secrets of a handshake ----------------------------------------------------------


def _secrets(handshake: Handshake, texts: Iterable[str]) -> list[str]:
    """The secret values a handshake carries, longest first (so that a value containing another
    is replaced whole), that ``redact_text`` should also replace wherever they are echoed.
    ``texts``: those of the messages that may hold one (``_suspects``)."""
    found: list[str] = []
    for name, value in _all_headers(handshake):
        found += _header_secrets(name, value)
    for url in [handshake.url, *_urls_in_headers(handshake)]:
        found += _url_secrets(url)
    if handshake.response is not None:
        found += _member_secrets(handshake.response.body)
    if handshake.site is not None:
        for page in handshake.site.error_pages:
            found += _member_secrets(page.body)
    for text in texts:
        found += _member_secrets(text)
    return sorted(
        {s for s in found if len(s) >= MIN_ECHOED and s != REDACTED}, key=len, reverse=True
    )


class _Payloads:
    """A handshake's messages and their payloads as text, searched all at once (``blob``) before
    message by message: most windows hold no secret, and one search says so."""

    __slots__ = ("blob", "messages", "texts")

    def __init__(self, messages: Sequence[Message]) -> None:
        self.messages = messages
        self.texts = [_text_of(m) for m in messages]
        self.blob = "\0".join(self.texts)

    @classmethod
    def of(cls, handshake: Handshake) -> _Payloads:
        return cls(_messages(handshake))

    def each(self) -> Iterator[tuple[Message, str]]:
        return zip(self.messages, self.texts, strict=True)


def _text_of(message: Message) -> str:
    """The payload as text to search and redact: the preview itself, or the bytes of a base64
    preview decoded losslessly (``_decode``)."""
    return message.preview if message.preview_encoding == "text" else _decode(message.data)


def _suspects(payloads: _Payloads) -> list[tuple[Message, str]]:
    """The messages that may hold a secret of their own (a token under a JSON key, a JWT, a URL),
    with their text."""
    if not _suspicious(payloads.blob):
        return []
    return [(m, text) for m, text in payloads.each() if _suspicious(text)]


def _suspicious(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _SUSPECT_WORDS)


def _echoing(payloads: _Payloads, secrets: Sequence[str]) -> list[Message]:
    """The messages that repeat a secret found elsewhere (a cookie's value, the URL's token)."""
    if not any(s in payloads.blob for s in secrets):
        return []
    return [m for m, text in payloads.each() if any(s in text for s in secrets)]


def _all_headers(handshake: Handshake) -> list[tuple[str, str]]:
    headers = list(handshake.request.headers)
    if handshake.response is not None:
        headers += handshake.response.headers
    return headers


def _header_secrets(name: str, value: str) -> list[str]:
    lowered = name.lower()
    if lowered == "sec-websocket-protocol":
        offered, shown = _split_list(value), _split_list(_redact_subprotocols(value))
        return [token for token, redacted in zip(offered, shown, strict=True) if token != redacted]
    if not is_secret_header(name) or not value:
        return []
    found = [value.strip()]
    if lowered == "cookie":
        found += [v.strip() for _, _, v in (c.partition("=") for c in value.split(";"))]
    elif lowered == "set-cookie":
        found.append(value.split(";", 1)[0].partition("=")[2].strip())
    else:  # "Bearer abc", "Basic dXNlcjpwYXNz": the credentials without the scheme
        scheme, _, credentials = value.strip().partition(" ")
        found.append(credentials.strip())
        if scheme.lower() == "basic":
            found += _basic_secrets(credentials.strip())
    return found


def _basic_secrets(credentials: str) -> list[str]:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return []
    return [decoded, decoded.partition(":")[2]]


def _urls_in_headers(handshake: Handshake) -> list[str]:
    """URLs in other headers (Referer, Location, Link) carry their own tokens."""
    return [
        m.group()
        for name, value in _all_headers(handshake)
        if "://" in value and not is_secret_header(name)
        for m in _URL.finditer(value)
    ]


def _url_secrets(url: str) -> list[str]:
    if not any(mark in url for mark in "@;?#"):  # no userinfo, no parameters
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        user, _, password = userinfo.partition(":")
        found += [userinfo, user, password, unquote(user), unquote(password)]
    pairs = [p for segment in parts.path.split("/") for p in segment.split(";")[1:]]
    pairs += parts.query.split("&") + parts.fragment.split("&")
    for name, _, value in (p.partition("=") for p in pairs):
        if value and is_secret_param(name):
            found += [value, unquote_plus(value)]
    return found


def _member_secrets(text: str) -> list[str]:
    if '"' not in text:
        return []
    return [
        m.group("value")
        for m in _JSON_MEMBER.finditer(text)
        if m.group("value") and is_secret_key(m.group("name"))
    ]


def _split_list(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]


# -- redacting a handshake -----------------------------------------------------------------------


def redact_session(session: Session) -> Session:
    """A copy of the session with every handshake redacted; the original is left as it was.

    The proxy's description is too: a mode such as ``reverse:https://user:pass@host`` names one.
    """
    result = Session(created=session.created, proxy=_proxy(session.proxy))
    for handshake in session:
        result.add(redact_handshake(handshake))
    return result


def redacted_view(session: Session, *, messages: bool = True) -> Session:
    """``redact_session`` for a writer: each handshake is redacted as it is iterated over, and
    let go after, where a redacted copy of them all would be a second session in memory. Only
    iterating redacts (``get`` and ``since`` do not): a view to write, not one to keep.

    ``messages=False``: for a writer that shows none (the Markdown report), a message window
    that holds a secret is left out rather than redacted.
    """
    view = _RedactedView(session.created, _proxy(session.proxy))
    view._handshakes, view._order = session._handshakes, session._order
    view.messages = messages
    return view


class _RedactedView(Session):
    messages = True

    def __iter__(self) -> Iterator[Handshake]:
        redact = functools.partial(redact_handshake, messages=self.messages)
        return map(redact, Session.__iter__(self))


class RedactedHandshakes(Iterable[Handshake]):
    """Handshakes redacted one at a time, each time they are gone through (the Markdown report
    goes through them twice, the table then the details): a redacted copy of them all would be
    a second session in memory. ``redacted_view`` is the same for a whole session."""

    def __init__(self, handshakes: Sequence[Handshake]) -> None:
        self._handshakes = handshakes

    def __iter__(self) -> Iterator[Handshake]:
        return map(redact_handshake, self._handshakes)


def _proxy(proxy: dict[str, object]) -> dict[str, object]:
    return {k: redact_text(v) if isinstance(v, str) else v for k, v in proxy.items()}


def redact_handshake(handshake: Handshake, *, messages: bool = True) -> Handshake:
    """The handshake as it may leave the process; the same object when it holds no secret.

    The original is never modified; the copy shares whatever held no secret. Its diagnosis is
    the original's, redacted: what is left after redaction is not what the server saw.
    ``messages=False``: a message window holding a secret is left out instead of redacted.
    """
    plan = _plan(handshake)
    if plan.unchanged:
        return handshake
    secrets = plan.secrets
    changes = {
        "url": _url_text(handshake.url, secrets),
        "request": _request(handshake.request, secrets),
        "response": _response(handshake.response, secrets),
        "error": _optional_text(handshake.error, secrets),
        "websocket": _websocket(handshake.websocket, secrets, plan.targets, messages),
        "site": _site(handshake.site, secrets),
    }
    diagnosis = diagnosis_of(handshake)
    shown = _diagnosis(diagnosis, secrets)
    copy = _replace(handshake, changes)
    if copy is handshake and shown is diagnosis:
        plan.unchanged = True
        return handshake
    return remember(replace(copy) if copy is handshake else copy, shown)


class _Plan(msgspec.Struct, gc=False):
    """What redacting a handshake takes: the secrets it carries, and the messages that hold one
    (most hold none, and finding that out reads them all). Kept beside a handshake that is over,
    which no longer changes: saves, autosaves and the screen redact it again and again. Tuples
    in an untracked record: thousands of these are invisible to the cycle collector (model.py).
    """

    secrets: tuple[str, ...]
    targets: tuple[Message, ...]
    unchanged: bool = False  # redacting it changes nothing: the handshake itself will do

    @classmethod
    def of(cls, handshake: Handshake) -> _Plan:
        payloads = _Payloads.of(handshake)
        suspects = _suspects(payloads)
        secrets = _secrets(handshake, [text for _, text in suspects])
        targets = [m for m, _ in suspects] + _echoing(payloads, secrets)
        return cls(tuple(secrets), tuple(targets))


_KEPT = "_redaction"


def _plan(handshake: Handshake) -> _Plan:
    state = _state(handshake)
    plan = kept_beside(handshake, _KEPT, state)
    if plan is None:
        plan = _Plan.of(handshake)
        if is_over(handshake):  # else messages keep coming, or an answer
            keep_beside(handshake, _KEPT, state, plan)
    return plan


def _state(handshake: Handshake) -> tuple[object, ...]:
    """Everything a plan is made from."""
    ws = handshake.websocket
    window = None if ws is None else ws.messages
    response, site = handshake.response, handshake.site
    return (handshake.url, handshake.request, response, handshake.error, ws, window, site)


T = TypeVar("T")


def _replace(item: T, changes: dict[str, object]) -> T:
    """``item`` when no field changed, else a shallow copy with the changed fields."""
    changed = {k: v for k, v in changes.items() if v is not getattr(item, k)}
    return replace(item, **changed) if changed else item  # type: ignore[type-var]


def _same_or_new(old: tuple[T, ...], new: list[T]) -> tuple[T, ...]:
    return old if all(a is b for a, b in zip(old, new, strict=True)) else tuple(new)


def _text(text: str, secrets: Sequence[str]) -> str:
    """``text`` itself (the same object) when nothing in it is secret."""
    if len(text) > _REPEATED or any(secret in text for secret in secrets):
        redacted = redact_text(text, secrets)
    else:  # the diagnosis repeats its snippets and explanations in every handshake
        redacted = _redact_repeated(text)
    return text if redacted == text else redacted


_REPEATED = 4096  # longer: a body or a message, not worth remembering


@functools.lru_cache(maxsize=4096)
def _redact_repeated(text: str) -> str:
    """``redact_text`` without secrets, remembered: a session of 200,000 refused attempts would
    otherwise search the same dozen fix snippets 200,000 times (most of ``diagnose``'s time)."""
    return redact_text(text)


def _url_text(url: str, secrets: Sequence[str]) -> str:
    """As a whole: in text, a URL ends at a quote or a backtick, which a crafted one may hold."""
    redacted = _text(redact_url(url), secrets)
    return url if redacted == url else redacted


def _optional_text(text: str | None, secrets: Sequence[str]) -> str | None:
    return None if text is None else _text(text, secrets)


def _headers(headers: Headers, secrets: Sequence[str]) -> Headers:
    pairs = [(name, _header_value(name, value, secrets)) for name, value in headers]
    if all(new is old for (_, new), (_, old) in zip(pairs, headers, strict=True)):
        return headers
    return Headers(pairs)


def _header_value(name: str, value: str, secrets: Sequence[str]) -> str:
    if not value:
        return value
    if is_secret_header(name):
        return value if value == REDACTED else REDACTED
    if name.lower() == "sec-websocket-protocol":
        return _subprotocols_text(value, secrets)
    return _text(value, secrets)


def _subprotocols_text(value: str, secrets: Sequence[str]) -> str:
    redacted = _text(_redact_subprotocols(value), secrets)
    return value if redacted == value else redacted


def token_subprotocols(offered: Sequence[str]) -> set[str]:
    """The offered "subprotocols" that are tokens (``access_token, eyJ…``): what a probe leaves
    out unless asked to send credentials."""
    previous: str | None = None
    tokens = set()
    for protocol in offered:
        if _redact_subprotocol(protocol, previous) != protocol:
            tokens.add(protocol)
        previous = protocol
    return tokens


@functools.lru_cache(maxsize=4096)  # a capture offers the same few lists over and over
def _redact_subprotocols(value: str) -> str:
    """``access_token, eyJ…, graphql-ws`` -> ``access_token, [redacted], graphql-ws``: the names
    stay, for the subprotocol findings; the token goes."""
    pieces = re.split(r"(\s*,\s*)", value)  # tokens at even indexes, separators kept
    previous: str | None = None
    for i in range(0, len(pieces), 2):
        token = pieces[i]
        pieces[i] = _redact_subprotocol(token, previous)
        if token.strip():
            previous = token.strip()
    return "".join(pieces)


def _redact_subprotocol(token: str, previous: str | None) -> str:
    if previous is not None and previous.lower() in TOKEN_CARRIERS and token.strip():
        return REDACTED
    if token.startswith(KUBERNETES_BEARER) and len(token) > len(KUBERNETES_BEARER):
        return KUBERNETES_BEARER + REDACTED
    return _JWT.sub(REDACTED, token) if "eyJ" in token else token


def _request(request: Request, secrets: Sequence[str]) -> Request:
    return _replace(request, {"headers": _headers(request.headers, secrets)})


def _response(response: Response | None, secrets: Sequence[str]) -> Response | None:
    if response is None:
        return None
    changes = {
        "headers": _headers(response.headers, secrets),
        "reason": _text(response.reason, secrets),
        "body": _text(response.body, secrets),
    }
    return _replace(response, changes)


def _site(site: SiteEvidence | None, secrets: Sequence[str]) -> SiteEvidence | None:
    """The host's other answers: its error pages as a refusal's body, and the values it sent;
    the names (of cookies, of headers) are no secret, and no cookie's value was kept."""
    if site is None:
        return None
    servers = [_text(v, secrets) for v in site.servers]
    powered_by = [_text(v, secrets) for v in site.powered_by]
    pages = [_error_page(page, secrets) for page in site.error_pages]
    changes = {
        "servers": _same_or_new(site.servers, servers),
        "powered_by": _same_or_new(site.powered_by, powered_by),
        "error_pages": _same_or_new(site.error_pages, pages),
    }
    return _replace(site, changes)


def _error_page(page: ErrorPage, secrets: Sequence[str]) -> ErrorPage:
    changes: dict[str, object] = {
        "reason": _text(page.reason, secrets),
        "content_type": _text(page.content_type, secrets),
        "body": _text(page.body, secrets),
    }
    return _replace(page, changes)


def _websocket(
    ws: WebSocketSummary | None, secrets: Sequence[str], targets: Sequence[Message], keep: bool
) -> WebSocketSummary | None:
    if ws is None:
        return None
    window = ws.messages
    if targets:
        window = _messages_redacted(window, secrets, targets) if keep else []
    changes = {
        "subprotocol": ws.subprotocol and _subprotocols_text(ws.subprotocol, secrets),
        "messages": window,
        "close": _close(ws.close, secrets),
    }
    return _replace(ws, changes)


def _messages(handshake: Handshake) -> Sequence[Message]:
    return () if handshake.websocket is None else handshake.websocket.messages


def _messages_redacted(
    messages: Sequence[Message], secrets: Sequence[str], targets: Sequence[Message]
) -> Sequence[Message]:
    """The same sequence when no message holds a secret; else a list sharing those that hold
    none. Only ``targets`` (the suspects and the messages echoing a secret) are read."""
    if not targets:
        return messages
    wanted = {id(m) for m in targets}
    result: list[Message] | None = None
    for i, message in enumerate(messages):
        redacted = _message(message, secrets) if id(message) in wanted else message
        if redacted is not message and result is None:
            result = list(itertools.islice(messages, i))
        if result is not None:
            result.append(redacted)
    return messages if result is None else result


def _message(message: Message, secrets: Sequence[str]) -> Message:
    if message.preview_encoding == "text":
        preview = redact_text(message.preview, secrets)
    else:  # base64 of bytes that may hold text: redacted as bytes, kept as they were around it
        data = message.data
        redacted = redact_text(_decode(data), secrets).encode("utf-8", "surrogateescape")
        preview = message.preview if redacted == data else base64.b64encode(redacted).decode()
    return message if preview == message.preview else replace(message, preview=preview)


def _decode(data: bytes) -> str:
    """Lossless for any bytes (binary payloads, a code point cut by the preview): what is not
    UTF-8 comes back unchanged on encoding."""
    return data.decode("utf-8", "surrogateescape")


def _close(close: Close | None, secrets: Sequence[str]) -> Close | None:
    if close is None:
        return None
    return _replace(close, {"reason": _text(close.reason, secrets)})


def _stack(stack: Stack | None, secrets: Sequence[str]) -> Stack | None:
    if stack is None:
        return None
    evidence = [_text(e, secrets) for e in stack.evidence]
    return _replace(stack, {"evidence": _same_or_new(stack.evidence, evidence)})


def _diagnosis(diagnosis: Diagnosis, secrets: Sequence[str]) -> Diagnosis:
    findings = [_finding(f, secrets) for f in diagnosis.findings]
    changes = {
        "stack": _stack(diagnosis.stack, secrets),
        "findings": _same_or_new(diagnosis.findings, findings),
    }
    return _replace(diagnosis, changes)


def _finding(finding: Finding, secrets: Sequence[str]) -> Finding:
    evidence = {name: _text(value, secrets) for name, value in finding.evidence.items()}
    same = all(evidence[k] is v for k, v in finding.evidence.items())
    fixes = [_replace(fix, {"snippet": _text(fix.snippet, secrets)}) for fix in finding.fixes]
    changes = {
        "title": _text(finding.title, secrets),
        "explanation": _text(finding.explanation, secrets),
        "evidence": finding.evidence if same else evidence,
        "fixes": _same_or_new(finding.fixes, fixes),
    }
    return _replace(finding, changes)


__all__ = [
    "REDACTED",
    "RedactedHandshakes",
    "is_secret_header",
    "is_secret_key",
    "is_secret_param",
    "redact_handshake",
    "redact_session",
    "redact_text",
    "redact_url",
    "redacted_view",
]
