"""The stacks' real answers replayed through our real proxy, and what we expect users to see.

Each ``tests/fixtures/stacks/<stack>/<case>.http`` holds the bytes a real server sent, exactly
as received, answering a request made by ``tests/servers/stacks/capture.py`` (or, for the
reverse proxies, ``tests/servers/stacks/proxies/capture_proxies.py``). Here a raw server answers
the same request, sent again through our proxy, with those bytes verbatim; the handshake the
proxy records is then diagnosed as it would be for a user. ``expected.toml`` beside each stack's
answers says what that user should get (from the research notes in the issue, not from what our
code does today).

``python -m tests.stack_wire`` prints the baseline: how many expectations are met today.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Diagnosis, Handshake

FIXTURES = Path(__file__).parent / "fixtures" / "stacks"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # the key every capture used: the captured Accept matches it
ALLOWED = "http://allowed.example"
EVIL = "http://evil.example"
OWN = "{own}"  # the origin of the server the client talks to: a page on a dev server
BAR = 0.8  # the confidence bar for "recognised"
NEUTRAL = "any stack"  # Fix.stack of the stack-neutral fix (fixes.NEUTRAL_NAME)

# -- the request each case sent ---------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What the capture sent, but the Host (ours differs, and no answer depends on it)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]

    @property
    def is_upgrade(self) -> bool:
        """Only these reach the diagnosis: the proxy records WebSocket attempts, not pages."""
        return any(k == "Upgrade" and "websocket" in v for k, v in self.headers)

    def raw(self, port: int) -> bytes:
        """As a client sends it to a proxy: the absolute URL, then the headers."""
        host = f"127.0.0.1:{port}"
        lines = [f"{self.method} http://{host}{self.target} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v.replace(OWN, f'http://{host}')}" for k, v in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def upgrade(
    target: str,
    origin: str | None = ALLOWED,
    *extra: tuple[str, str],
    method: str = "GET",
    connection: str = "Upgrade",
    version: str = "13",
) -> Request:
    """capture.py's upgrade headers, in its order."""
    headers = [("Upgrade", "websocket"), ("Connection", connection)]
    headers += [("Sec-WebSocket-Key", KEY), ("Sec-WebSocket-Version", version)]
    if origin is not None:
        headers.append(("Origin", origin))
    return Request(method, target, (*headers, *extra))


def plain(target: str, *headers: tuple[str, str], method: str = "GET") -> Request:
    return Request(method, target, (("Accept", "*/*"), *headers))


def offering(protocols: str) -> tuple[str, str]:
    return ("Sec-WebSocket-Protocol", protocols)


def standard(ws: str = "/ws", proto: str = "/proto", nope: str = "/nope") -> dict[str, Request]:
    """capture.py's five standard cases, and the extras every group of stacks took."""
    return {
        "origin_refused": upgrade(ws, EVIL),
        "healthy": upgrade(ws),
        "subprotocol": upgrade(proto, ALLOWED, offering("chat.v1")),
        "unknown_path": upgrade(nope),
        "page": plain("/"),
        # the Python group's sweeps (notes/stacks/python.md)
        "firefox_conn": upgrade(ws, connection="keep-alive, Upgrade"),
        "no_origin": upgrade(ws, None),
        "no_upgrade": plain(ws, ("Origin", ALLOWED)),
        "page_404": plain(nope),
        "proto_v2": upgrade(proto, ALLOWED, offering("chat.v2")),
        "proto_ok": upgrade(proto, ALLOWED, offering("chat.v2")),
        # the Node/Go group's (notes/stacks/node-go.md)
        "subprotocol_v2": upgrade(proto, ALLOWED, offering("chat.v1, chat.v2")),
        "bad_version": upgrade(ws, version="7"),
        "bad_method": upgrade(ws, method="POST"),
        "missing_upgrade": upgrade(ws, connection="keep-alive"),
        "origin_no_host": upgrade(ws, "null"),
        "origin_other_port": upgrade(ws, "http://allowed.example:3000"),
        "origin_refused_verifyclient": upgrade(ws, EVIL),
        "http_get_ws_route": plain(ws, ("Origin", ALLOWED)),  # what a proxy dropping Upgrade sends
    }


def python_extras() -> dict[str, Request]:
    """The refusals in and after the 101 the Python servers have routes for."""
    return {
        "after_101_refused": upgrade("/ws_after"),
        "deny_in_connect": upgrade("/ws_deny"),
        "denial_refused": upgrade("/ws_denial", EVIL),
        "cors_mw_evil": upgrade("/ws_cors", EVIL),
        "page_evil_origin": plain("/", ("Origin", EVIL)),
        "ws_body_refused": upgrade("/ws_body", EVIL),
        "no_subprotocol_offered": upgrade("/proto"),
        "post_ws": upgrade("/ws", method="POST"),
    }


SOCKETIO = "/socket.io/?EIO=4&transport=websocket"
POLLING = "/socket.io/?EIO=4&transport=polling"


def python_socketio() -> dict[str, Request]:
    return {
        **standard(SOCKETIO, SOCKETIO),
        "bad_method": upgrade(SOCKETIO, method="PUT"),
        "bad_sid": upgrade(SOCKETIO + "&sid=bogus"),
        "bad_transport": upgrade("/socket.io/?EIO=4&transport=foo"),
        "eio3": upgrade("/socket.io/?EIO=3&transport=websocket"),
        "no_upgrade": plain(SOCKETIO, ("Origin", ALLOWED)),
        "polling_evil": plain(POLLING, ("Origin", EVIL)),
        "polling_ok": plain(POLLING, ("Origin", ALLOWED)),
    }


def node_socketio() -> dict[str, Request]:
    return {
        **standard(SOCKETIO, SOCKETIO),
        "cors_origin_refused": upgrade(SOCKETIO, EVIL),
        "cors_polling_evil_origin": plain(POLLING, ("Origin", EVIL)),
        "cors_preflight_evil_origin": plain(POLLING, ("Origin", EVIL), method="OPTIONS"),
        "eio_bad_handshake_method": plain(POLLING, method="PUT"),
        "eio_bad_handshake_method_upgrade": upgrade(SOCKETIO, method="POST"),
        "eio_bad_request_no_upgrade": plain(SOCKETIO),
        "eio_forbidden_polling": plain(POLLING, ("Origin", EVIL)),
        "eio_no_query": plain("/socket.io/"),
        "eio_session_id_unknown": upgrade(SOCKETIO + "&sid=bogus"),
        "eio_session_id_unknown_polling": plain(POLLING + "&sid=bogus"),
        "eio_transport_unknown": upgrade("/socket.io/?EIO=4&transport=foo"),
        "eio_transport_unknown_polling": plain("/socket.io/?EIO=4&transport=foo"),
        "eio_unsupported_protocol_version": upgrade("/socket.io/?EIO=3&transport=websocket"),
        "eio_unsupported_protocol_version_polling": plain("/socket.io/?EIO=3&transport=polling"),
        "healthy_polling": plain(POLLING),
    }


def sockjs() -> dict[str, Request]:
    return {
        **standard("/ws/websocket", "/proto/websocket"),
        "origin_refused_app_code": upgrade("/ws/websocket", EVIL),
        "session_websocket": upgrade("/ws/000/abcdefgh/websocket"),
        "unknown_under_prefix": upgrade("/ws/nope"),
        "connection_not_upgrade": upgrade("/ws/websocket", connection="keep-alive"),
        "websocket_without_upgrade": plain("/ws/websocket"),
        "welcome": plain("/ws"),
        "info": plain("/ws/info"),
    }


def dev_proxy() -> dict[str, Request]:
    """Vite, node-http-proxy, Next.js rewrites in front of gorilla: the page is the dev
    server's, so a same-host check sees the dev server's own origin."""
    return {
        **standard(),
        "same_host_refused": upgrade("/same", OWN),
        "hmr_upgrade": upgrade("/", OWN, offering("vite-hmr")),
    }


def reverse_proxy() -> dict[str, Request]:
    """capture_proxies.py: one upgrade to /ws with the allowed Origin per listener, each
    listener one configuration; `plain_*` were plain GETs (--plain)."""
    names = (
        *("proxied_101", "proxied_101_timeout3", "worker_sharing_fixed_101"),
        *("wstunnel_ws_scheme_101", "backend_down_502", "backend_down_503", "no_server_503"),
        *("no_upgrade_config", "no_upgrade_config_tomcat", "http11_no_upgrade_headers"),
        "worker_sharing_trap",
    )
    cases = {name: upgrade("/ws") for name in names}
    cases |= {name: plain("/") for name in ("plain_404", "plain_root")}
    return cases


def requests_for(stack: str) -> dict[str, Request]:
    """Every request a case of this stack may have been captured with, by case name."""
    special = {
        "socketio": node_socketio,
        "socketio_aiohttp": python_socketio,
        "socketio_asgi": python_socketio,
        "socketio_hypercorn": python_socketio,
        "sockjs": sockjs,
        "vite-proxy": dev_proxy,
        "http-proxy": dev_proxy,
        "next-proxy": dev_proxy,
        "nginx": reverse_proxy,
        "apache2": reverse_proxy,
        "haproxy": reverse_proxy,
        "caddy": reverse_proxy,
    }
    cases = special[stack]() if stack in special else {**standard(), **python_extras()}
    if stack == "node-ws":
        cases["subprotocol_default_echo"] = upgrade("/echo", ALLOWED, offering("chat.v1"))
        cases["unknown_path_path_option"] = upgrade("/nope")
    if stack == "uwebsockets":
        cases["page_unknown"] = plain("/nope")
        cases["ws_echoes_offer_list"] = upgrade("/ws", ALLOWED, offering("chat.v1, chat.v2"))
    if stack in ("tomcat", "jetty"):  # the Java servers were asked with version 8
        cases["bad_version"] = upgrade("/ws", version="8")
        cases["origin_null"] = upgrade("/ws", "null")
    return cases


# -- how the server ended the connection ------------------------------------------------------

Ending = Literal["close", "reset", "open", "answer"]
# close: FIN after the bytes; reset: RST after them; open: kept until the client leaves;
# answer: kept until the client answers (its close frame), then closed, as RFC 6455 asks.

ENDINGS: dict[tuple[str, str], Ending] = {
    # what the notes measured where the bytes alone do not say it
    ("sockjs", "unknown_path"): "open",  # sockjs declines, nothing else answers
    ("vite-proxy", "unknown_path"): "open",  # no proxy entry: no answer (12 s and more)
    ("next-proxy", "unknown_path"): "open",
    ("channels_daphne", "after_101_refused"): "reset",  # the close frame, then an RST
    ("socketio", "eio_unsupported_protocol_version"): "close",  # a 400 written after the 101
}


def ending_of(stack: str, case: str, answer: bytes) -> Ending:
    if (stack, case) in ENDINGS:
        return ENDINGS[stack, case]
    if not answer:
        return "close"  # ws's socket.destroy(), uWS without a route, Engine.IO after 1 s
    head, _, after = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if lines[0].split(" ")[1:2] == ["101"]:
        return "answer" if any(op == 8 for op, _ in frames(after)) else "open"
    names = {line.split(":", 1)[0].strip().lower(): line for line in lines[1:]}
    delimited = "content-length" in names or "transfer-encoding" in names
    closing = "connection" in names and "close" in names["connection"].lower()
    return "close" if closing or not delimited or len(lines) == 1 else "open"


def frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(opcode, payload) of the whole unmasked frames at the start of ``data``."""
    at = 0
    while len(data) - at >= 2:
        opcode, length, start = data[at] & 0x0F, data[at + 1] & 0x7F, at + 2
        if length == 126:
            length, start = struct.unpack("!H", data[start : start + 2])[0], start + 2
        elif length == 127:
            length, start = struct.unpack("!Q", data[start : start + 8])[0], start + 8
        if start + length > len(data):
            return
        yield opcode, data[start : start + length]
        at = start + length


def masked_close(payload: bytes) -> bytes:
    """The client's close frame: a browser echoes the server's status code."""
    mask = b"\x37\xfa\x21\x3d"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload[:2]))
    return bytes([0x88, 0x80 | len(body)]) + mask + body


# -- a case, replayed -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    stack: str
    name: str
    request: Request

    @property
    def id(self) -> str:
        return f"{self.stack}/{self.name}"

    @property
    def answer(self) -> bytes:
        return (FIXTURES / self.stack / f"{self.name}.http").read_bytes()

    @property
    def ending(self) -> Ending:
        return ending_of(self.stack, self.name, self.answer)


def stacks() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def fixture_names(stack: str) -> list[str]:
    return sorted(p.stem for p in (FIXTURES / stack).glob("*.http"))


def handshake_cases() -> list[Case]:
    """Every captured answer to a WebSocket upgrade (pages are not handshakes)."""
    cases = []
    for stack in stacks():
        requests = requests_for(stack)
        for name in fixture_names(stack):
            request = requests.get(name)
            if request is not None and request.is_upgrade:
                cases.append(Case(stack, name, request))
    return cases


async def serve(case: Case, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read one request head, answer with the captured bytes verbatim, end as the server did."""
    ending = case.ending
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, TimeoutError):
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(case.answer)
        await writer.drain()
        if ending == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        if ending == "answer":
            await asyncio.wait_for(reader.read(1024), 5)
        elif ending == "open":
            while await asyncio.wait_for(reader.read(1024), 30):
                pass
    writer.close()


async def answering(*cases: Case) -> asyncio.Server:
    """A server answering its connections in turn, each with the next case's captured bytes."""
    turns = iter(cases)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        case = next(turns, None)
        if case is None:
            writer.close()
            return
        await serve(case, reader, writer)

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@dataclass
class Exchange:
    """What the client saw, and the connection, left open when the server keeps it."""

    received: bytes = b""
    writer: asyncio.StreamWriter | None = None
    server_ended: bool = False


async def browse(proxy_port: int, server_port: int, request: Request) -> Exchange:
    """The request through the proxy, as a browser would: read the answer; after a 101 answer a
    close frame with one of its own, else stay connected (a healthy socket stays open)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    exchange = Exchange(writer=writer)
    writer.write(request.raw(server_port))
    await writer.drain()
    answered_close = False
    quiet = 1.5  # no answer at all: the proxy says so after its answer timeout (1 s here)
    while True:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), quiet)
        except (TimeoutError, ConnectionError):
            break
        if not chunk:
            exchange.server_ended = True
            break
        exchange.received += chunk
        head, sep, after = exchange.received.partition(b"\r\n\r\n")
        if not sep:
            continue
        quiet = 0.3  # the rest of an answer or the frames after a 101 come at once
        if head.startswith(b"HTTP/1.1 101") and not answered_close:
            close = next((p for op, p in frames(after) if op == 8), None)
            if close is not None:
                writer.write(masked_close(close))
                await writer.drain()
                answered_close, quiet = True, 2.0
    return exchange


@dataclass
class Outcome:
    """The handshake our proxy recorded for a case, and its diagnosis when the client was done."""

    case: Case
    handshake: Handshake | None
    diagnosis: Diagnosis | None
    problem: str = ""


async def replay(
    capture: Any, case: Case, servers: list[asyncio.Server], pages: tuple[Case, ...] = ()
) -> Outcome:
    """One case, on a port of its own (kept until every case is done, so that no other case
    gets it): the proxy learns nothing about this case from the others. ``pages``: the same
    site's other answers, fetched through the proxy first, as a browser loads the page."""
    server = await answering(*pages, case)
    servers.append(server)
    port = server.sockets[0].getsockname()[1]
    for page in pages:
        seen = await browse(capture.port, port, page.request)
        if seen.writer is not None:
            seen.writer.close()
    exchange = Exchange()
    try:
        exchange = await browse(capture.port, port, case.request)
        handshake = await recorded(capture, port, expect_close=exchange.server_ended)
        if handshake is None:
            return Outcome(case, None, None, "the proxy recorded no handshake")
        return Outcome(case, handshake, diagnosis_of(handshake))
    finally:
        if exchange.writer is not None:
            exchange.writer.close()


async def recorded(capture: Any, port: int, expect_close: bool) -> Handshake | None:
    """The handshake to this port once answered (or failed), and closed if the server ended it."""

    def mine() -> Handshake | None:
        return next((h for h in capture.session if f":{port}/" in h.url), None)

    def done() -> bool:
        h = mine()
        if h is None or (h.response is None and h.error is None):
            return False
        ws = h.websocket
        return not (expect_close and ws is not None and ws.close is None)

    for _ in range(1000):  # 10 s at most: a loaded machine answers late, never wrongly
        if done():
            break
        await asyncio.sleep(0.01)
    return mine()


def site_pages(stack: str) -> tuple[Case, ...]:
    """The stack's captured answers to plain requests (pages, 404s, polling): its site."""
    requests = requests_for(stack)
    names = [n for n in fixture_names(stack) if n in requests and not requests[n].is_upgrade]
    return tuple(Case(stack, name, requests[name]) for name in names)


async def replay_all(
    cases: Iterable[Case], sites: Iterable[Case] = (), parallel: int = 16
) -> dict[str, Outcome]:
    """Every case through one proxy, a few at a time; each of ``sites`` after its stack's pages
    (its outcome under ``<stack>/site``)."""
    from tests.conftest import start_capture

    capture = await start_capture(answer_timeout=1.0)
    gate = asyncio.Semaphore(parallel)
    servers: list[asyncio.Server] = []

    async def one(key: str, case: Case, pages: tuple[Case, ...]) -> tuple[str, Outcome]:
        async with gate:
            try:
                return key, await replay(capture, case, servers, pages)
            except Exception as error:  # one broken case must not hide the others
                return key, Outcome(case, None, None, f"replay failed: {error!r}")

    runs = [one(case.id, case, ()) for case in cases]
    runs += [one(f"{case.stack}/{SITE}", case, site_pages(case.stack)) for case in sites]
    try:
        outcomes = await asyncio.gather(*runs)
    finally:
        for server in servers:
            server.close()
        await capture.stop()
    return dict(outcomes)


SITE = "site"  # expected.toml's [site]: the headline refusal after the site's own pages


# -- what a user should get -------------------------------------------------------------------

Target = Literal["code", "stack", "fix"]
TARGETS: tuple[Target, ...] = ("code", "stack", "fix")


@dataclass(frozen=True)
class Expected:
    """One case of expected.toml: the finding, the stack, the first fix."""

    stack: str
    case: str
    name: str  # the stack it must be recognised as (the file's name unless the case says)
    kind: str
    codes: tuple[str, ...]  # acceptable first finding codes; "ok": the verdict is ok
    verdict: str  # "ok", "error" or "warning"
    not_codes: tuple[str, ...]
    recognised: bool  # from this answer alone, with confidence >= 0.8
    may_be: tuple[str, ...]  # names that may be shown (>= 0.8) when it is not recognised
    knobs: tuple[str, ...]  # the first fix must contain one of these (when recognised)
    not_yet: tuple[Target, ...]
    note: str = ""
    aliases: tuple[str, ...] = field(default=())
    replays: str = ""  # the captured case it judges ([site] judges one of the file's again)

    @property
    def id(self) -> str:
        return f"{self.stack}/{self.case}"

    def names(self) -> set[str]:
        return {n.lower() for n in (self.name, *self.aliases)}


def _tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]


def load_expectations(stack: str) -> dict[str, Expected]:
    """expected.toml's cases, by name."""
    data = stack_info(stack)
    return {
        case: _expected(stack, case, spec, data) for case, spec in data.get("cases", {}).items()
    }


def load_site(stack: str) -> Expected | None:
    """expected.toml's [site]: a case of the file again, judged after the site's own pages were
    seen (the stack named there even when the answer alone cannot name it)."""
    data = stack_info(stack)
    site = data.get("site")
    if site is None:
        return None
    spec = {**data["cases"][site["case"]], "recognised": True, "not_yet": False, **site}
    return _expected(stack, SITE, spec, data)


def _expected(stack: str, case: str, spec: dict[str, Any], data: dict[str, Any]) -> Expected:
    codes = _tuple(spec.get("code"))
    not_yet = spec.get("not_yet", False)
    return Expected(
        stack=stack,
        case=case,
        name=spec.get("name", data["name"]),
        kind=spec.get("kind", data["kind"]),
        codes=codes,
        verdict=spec.get("verdict") or ("ok" if codes == ("ok",) else "error"),
        not_codes=_tuple(spec.get("not_code")),
        recognised=bool(spec.get("recognised", False)),
        may_be=_tuple(spec.get("may_be")),
        knobs=_tuple(spec.get("knob")),
        not_yet=TARGETS if not_yet is True else tuple(_tuple(not_yet or None)),  # type: ignore[arg-type]
        note=spec.get("note", ""),
        aliases=_tuple(spec.get("aliases", data.get("aliases"))),
        replays=spec.get("case", case),
    )


def stack_info(stack: str) -> dict[str, Any]:
    path = FIXTURES / stack / "expected.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


# -- the checks: each returns what is wrong, or "" ---------------------------------------------


def first_fix_of(diagnosis: Diagnosis) -> tuple[str, str] | None:
    """(stack, snippet) of the fix shown first: the first finding's first fix."""
    for finding in diagnosis.findings:
        if finding.fixes:
            fix = finding.fixes[0]
            return fix.stack, fix.snippet
        return None
    return None


def shown_names(diagnosis: Diagnosis) -> list[str]:
    """The stack named at the bar or above (and a proxy named in its evidence as 'behind')."""
    stack = diagnosis.stack
    if stack is None or stack.confidence < BAR or stack.name == "unknown":
        return []
    behind = [e.split(":", 1)[0].removeprefix("behind ") for e in stack.evidence]
    behind = [b for e, b in zip(stack.evidence, behind, strict=True) if e.startswith("behind ")]
    return [stack.name, *(b for b in behind if b != stack.name)]


def check_code(expected: Expected, outcome: Outcome) -> str:
    d = outcome.diagnosis
    if d is None:
        return outcome.problem
    codes = [f.code for f in d.findings]
    ok_allowed = expected.verdict == "ok" or "ok" in expected.codes
    if d.verdict == "ok":
        return "" if ok_allowed else f"not flagged, expected {expected.verdict}"
    if expected.verdict == "ok":
        return "" if set(codes[:1]) & set(expected.codes) else f"flagged {d.verdict}: {codes}"
    first = codes[0]
    wanted = [c for c in expected.codes if c != "ok"]
    if wanted and first not in wanted:
        return f"first finding {first}, expected {' or '.join(wanted)}"
    if not wanted and d.verdict != expected.verdict:
        return f"verdict {d.verdict} ({codes}), expected {expected.verdict}"
    if first in expected.not_codes:
        return f"first finding {first}: must not be that"
    return ""


def check_stack(expected: Expected, outcome: Outcome) -> str:
    d = outcome.diagnosis
    if d is None:
        return outcome.problem
    shown = shown_names(d)
    said = "nothing" if d.stack is None else f"{d.stack.name} ({d.stack.confidence:.2f})"
    if expected.recognised:
        if not any(n.lower() in expected.names() for n in shown):
            return f"recognised as {said}, expected {expected.name} >= {BAR}"
        return ""
    allowed = {n.lower() for n in expected.may_be}
    wrong = [n for n in shown[:1] if n.lower() not in allowed]
    return f"claims {said}: this answer cannot tell that" if wrong else ""


def check_fix(expected: Expected, outcome: Outcome) -> str:
    """Recognised: the first fix uses the stack's knob. Not: the first fix is the neutral one
    (or the fix of a stack the answer may honestly be named as)."""
    d = outcome.diagnosis
    if d is None:
        return outcome.problem
    first = first_fix_of(d)
    if first is None:
        return "no fix shown"
    stack, snippet = first
    if expected.recognised:
        if stack.lower() not in expected.names():
            return f"first fix is {stack}'s, not {expected.name}'s"
        if not any(k in snippet for k in expected.knobs):
            return f"first fix ({stack}) lacks {list(expected.knobs)}: {snippet[:120]!r}"
        return ""
    allowed = {NEUTRAL, *(n.lower() for n in expected.may_be)}
    return "" if stack.lower() in allowed else f"first fix is {stack}'s, not the neutral one"


CHECKS = {"code": check_code, "stack": check_stack, "fix": check_fix}


def applies(target: Target, expected: Expected) -> bool:
    """Stack and fix are judged on failures only; a healthy handshake is judged on its verdict."""
    if target == "code":
        return True
    if expected.verdict == "ok":
        return False
    return target == "stack" or not expected.recognised or bool(expected.knobs)


# -- the baseline -----------------------------------------------------------------------------


def everything() -> list[Expected]:
    return [e for stack in stacks() for e in load_expectations(stack).values()]


def every_site() -> list[Expected]:
    return [e for stack in stacks() if (e := load_site(stack)) is not None]


def site_cases() -> list[Case]:
    """The cases [site] judges again, after their site's pages."""
    return [Case(e.stack, e.replays, requests_for(e.stack)[e.replays]) for e in every_site()]


def baseline(outcomes: dict[str, Outcome]) -> dict[str, tuple[int, int]]:
    """(met, of) per target of the issue."""
    expectations = [e for e in everything() if e.id in outcomes]
    refusals = [e for e in expectations if e.verdict != "ok"]
    recognised = [e for e in refusals if e.recognised]
    unknown = [e for e in refusals if not e.recognised]
    healthy = [e for e in expectations if e.verdict == "ok"]

    def met(check: str, group: list[Expected]) -> tuple[int, int]:
        return sum(not CHECKS[check](e, outcomes[e.id]) for e in group), len(group)

    heads = [h for stack in stacks() if (h := headline(stack)) is not None and h.id in outcomes]
    named = [h for h in heads if h.recognised]
    unnamed = [h for h in heads if not h.recognised]
    sites = [e for e in every_site() if e.id in outcomes]
    return {
        "stacks named by their own refusal": met("stack", named),
        "stacks whose first fix uses their knob": met("fix", [h for h in named if h.knobs]),
        "stacks not nameable: neutral first fix": met("fix", unnamed),
        "right finding code": met("code", refusals),
        "recognised >= 0.8 (where its answer can tell)": met("stack", recognised),
        "first fix uses the stack's knob": met("fix", [e for e in recognised if e.knobs]),
        "unknown: neutral first fix": met("fix", unknown),
        "unknown: no other stack claimed": met("stack", unknown),
        "healthy/accepted not flagged": met("code", healthy),
        "named after the site's own pages": met("stack", sites),
        "site-named: first fix uses the knob": met("fix", [e for e in sites if e.knobs]),
    }


def headline(stack: str) -> Expected | None:
    """The stack's own refusal: the first case its expected.toml lists."""
    return next(iter(load_expectations(stack).values()), None)


def table(outcomes: dict[str, Outcome]) -> list[str]:
    """docs/stacks.md's rows: each stack's own refusal, and what the diagnosis made of it."""
    rows = [
        "| stack (fixtures) | version | refusal on the wire | named by it? | recognised |"
        " first fix | knob it should use | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for stack in stacks():
        info, e = stack_info(stack), headline(stack)
        if e is None:
            continue
        d = outcomes[e.id].diagnosis
        said = "no answer" if d is None else "—"
        if d is not None and d.stack is not None and d.stack.name != "unknown":
            said = f"{d.stack.name} {d.stack.confidence:.2f}"
            said += "".join(f", behind {n}" for n in shown_names(d)[1:])
        fix = "—" if d is None or first_fix_of(d) is None else first_fix_of(d)[0]  # type: ignore[index]
        named = "yes" if e.recognised else "no: " + (", ".join(e.may_be) or "neutral fix")
        cases = [x for x in load_expectations(stack).values() if x.id in outcomes]
        checks = [(t, x) for x in cases for t in TARGETS if applies(t, x)]
        met = sum(not CHECKS[t](x, outcomes[x.id]) for t, x in checks)
        cells = [
            f"{info['name']} (`{stack}`)",
            info["version"],
            info["refusal"].replace("|", "\\|"),
            f"{named} ({e.case})",
            said,
            fix,
            info["knob"].replace("|", "\\|"),
            f"{met}/{len(checks)}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    outcomes = asyncio.run(replay_all(handshake_cases(), site_cases()))
    for label, (ok, of) in baseline(outcomes).items():
        print(f"{label:48} {ok:4} / {of}")
    if "--table" in sys.argv:
        print("\n".join(table(outcomes)))
    if "-v" in sys.argv:
        for e in everything():
            o = outcomes.get(e.id)
            if o is None:
                continue
            wrong = {t: CHECKS[t](e, o) for t in TARGETS if applies(t, e)}
            d = o.diagnosis
            said = "-" if d is None or d.stack is None else f"{d.stack.name} {d.stack.confidence}"
            codes = [] if d is None else [f.code for f in d.findings]
            print(f"{e.id:50} {said:40} {codes} {[t for t, w in wrong.items() if w]}")


if __name__ == "__main__":
    main()
