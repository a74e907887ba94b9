"""The WebSocket host's other HTTP answers, seen by the real proxy, as evidence of its stack.

The servers replay real captures byte for byte (tests/fixtures/stacks/<stack>/*.http, made by
tests/servers/stacks/capture.py): Django Channels on Daphne answers a refused Origin with a bare
``403 Access denied`` and no header at all, while its pages say ``Server: daphne`` and set a
``csrftoken`` cookie. A hostile server floods the proxy with names, values and hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.conftest import Capture, until
from tests.test_split_mode import mitmdump_with_addon
from wsinspect.capture.proxy import ProxyConfig
from wsinspect.capture.service import Capture as Service
from wsinspect.capture.site import (
    ERROR_BODY,
    MAX_ERROR_PAGES,
    MAX_HOSTS,
    MAX_NAMES,
    MAX_TEXT,
    MAX_VALUES,
)
from wsinspect.diagnose import diagnosis_of
from wsinspect.diagnose.stacks._site import SITE
from wsinspect.model import ErrorPage, Handshake, SiteEvidence, to_builtins
from wsinspect.sessions import load, save

STACKS = Path(__file__).parent / "fixtures" / "stacks"
DAPHNE = STACKS / "channels_daphne"
PAGE = (DAPHNE / "page.http").read_bytes()
PAGE_404 = (DAPHNE / "page_404.http").read_bytes()
REFUSED = (DAPHNE / "origin_refused.http").read_bytes()  # b"HTTP/1.1 403 Access denied\r\n\r\n"
CSRF_VALUE = "DmbsIRC0JFVSEQi5ghGtW886eJhe0ijN"  # the csrftoken Daphne's page set
PAGE_ORIGIN = Origin("http://localhost:5173")

Answer = Callable[[bytes], bytes]  # the request's head -> the bytes to send back


def daphne(head: bytes) -> bytes:
    """What the real Daphne sent for each request, replayed verbatim."""
    if b"upgrade: websocket" in head.lower():
        return REFUSED
    return PAGE_404 if b" /missing " in head else PAGE


@contextlib.asynccontextmanager
async def replaying(answer: Answer) -> AsyncIterator[int]:
    """A server answering each request with ``answer``'s bytes, then closing: as a stack's
    answers were captured. Yields its port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(answer(head))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def fetch(proxy_port: int, port: int, path: str = "/", extra: str = "") -> bytes:
    """A plain GET through the proxy, as the browser loads the page; the bytes that came back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(
        f"GET http://127.0.0.1:{port}{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}"
        "Connection: close\r\n\r\n".encode("latin-1")
    )
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def refused_websocket(capture: Capture, port: int, **options: object) -> Handshake:
    """The page's WebSocket, by a real client through the proxy (a CONNECT tunnel, unlike the
    page's plain GET): refused; its handshake as recorded."""
    before = len(capture.session)
    with pytest.raises(InvalidStatus):
        await connect(
            f"ws://127.0.0.1:{port}/ws/chat/",
            proxy=capture.url,
            origin=PAGE_ORIGIN,
            open_timeout=10,
            **options,  # type: ignore[arg-type]
        )
    await until(lambda: len(capture.session) > before and capture.handshakes[-1].answered)
    return capture.handshakes[-1]


def body_of(answer: bytes) -> bytes:
    return answer.partition(b"\r\n\r\n")[2]


async def test_a_bare_refusal_gets_the_servers_name_and_cookie_names_from_its_pages(
    capture: Capture, tmp_path: Path
):
    """Daphne's refusal names nothing; its page and its 404 do. The handshake carries what they
    said, cookie names without their values, in memory and in every file written."""
    async with replaying(daphne) as port:
        page = await fetch(capture.port, port)
        missing = await fetch(capture.port, port, "/missing")
        handshake = await refused_websocket(capture, port)

    assert handshake.status == 403 and handshake.response is not None
    assert handshake.response.headers == []  # the refusal itself says nothing of the server
    site = handshake.site
    assert site is not None
    assert site.responses == 2
    assert site.servers == ("daphne",)
    assert site.cookie_names == ("csrftoken",)
    assert {"Server", "Set-Cookie", "X-Frame-Options", "Vary"} <= set(site.header_names)
    [not_found] = site.error_pages
    assert (not_found.status, not_found.reason) == (404, "Not Found")
    assert not_found.content_type == "text/html; charset=utf-8"
    assert "<h1>Not Found</h1>" in not_found.body

    # the proxy changed no byte of what it relayed
    digest = hashlib.sha256
    assert digest(page).digest() == digest(PAGE).digest()
    assert digest(missing).digest() == digest(PAGE_404).digest()

    # the cookie's value is kept nowhere: not in memory, not in any file
    assert CSRF_VALUE not in json.dumps(to_builtins(handshake))
    for name in ("session.json", "session.har", "session.md"):
        save(capture.session, tmp_path / name)
        assert CSRF_VALUE not in (tmp_path / name).read_text()
    unredacted = tmp_path / "unredacted.json"
    save(capture.session, unredacted, redact=False)
    assert CSRF_VALUE not in unredacted.read_text()
    # and the evidence is part of the session file: read back as captured
    [read] = load(unredacted)
    assert read.site == site


async def test_a_websocket_to_another_host_gets_none_of_it(capture: Capture):
    """Evidence is per scheme, host and port: a separate WebSocket server on another port of
    the same machine is another server, and what the page's server said is not its evidence."""
    async with replaying(daphne) as page_port, replaying(daphne) as other_port:
        await fetch(capture.port, page_port)
        elsewhere = await refused_websocket(capture, other_port)
        same_host = await refused_websocket(capture, page_port)
    assert elsewhere.site is None
    assert same_host.site is not None and same_host.site.servers == ("daphne",)


def flood(head: bytes) -> bytes:
    """A hostile site: every answer a new Server and X-Powered-By (10 KB each), 30 new cookies
    and 30 new header names, a status and content type of its own, and a 100 kB body."""
    if b"upgrade: websocket" in head.lower():
        return b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    n = int(head.split(b" ", 2)[1].rsplit(b"/", 1)[1])
    lines = [
        f"HTTP/1.1 {400 + n % 200} Hostile",
        f"Server: {n}-" + "s" * 10_000,
        f"X-Powered-By: {n}-" + "p" * 10_000,
        f"Content-Type: text/x-{n}",
        f"Content-Length: {len(BIG)}",
    ]
    lines += [f"Set-Cookie: c{n}_{i}=secret{n}_{i}; Path=/" for i in range(30)]
    lines += [f"X-Header-{n}-{i}: v" for i in range(30)]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + BIG


BIG = b"<html>" + b"x" * 100_000


async def test_a_hostile_site_cannot_grow_the_evidence(capture: Capture):
    """Thousands of distinct cookie names, header names, Server values and error pages from one
    host, and more hosts than are remembered: every list stays within its bound, every value
    is cut, and each error page keeps only its start. The relay is untouched."""
    async with replaying(flood) as port:
        answers = [await fetch(capture.port, port, f"/{n}") for n in range(120)]
        handshake = await refused_websocket(capture, port)
    assert all(body_of(answer) == BIG for answer in answers)
    site = handshake.site
    assert site is not None and site.responses == 120
    assert len(site.servers) == len(site.powered_by) == MAX_VALUES
    assert len(site.cookie_names) == MAX_NAMES and len(site.header_names) == MAX_NAMES
    assert site.cookie_names[:3] == ("c0_0", "c0_1", "c0_2")  # the first seen are kept
    assert max(map(len, (*site.servers, *site.powered_by, *site.header_names))) <= MAX_TEXT
    assert len(site.error_pages) == MAX_ERROR_PAGES
    assert all(len(page.body) <= ERROR_BODY and page.body_truncated for page in site.error_pages)
    assert "secret" not in json.dumps(to_builtins(handshake))  # cookie values: never

    # a crowd of hosts: only so many are remembered (the newest), whatever comes
    async with contextlib.AsyncExitStack() as servers:
        ports = [await servers.enter_async_context(replaying(daphne)) for _ in range(300)]
        for some in range(0, len(ports), 50):
            await asyncio.gather(*(fetch(capture.port, p) for p in ports[some : some + 50]))
        assert capture.recorder is not None
        assert len(capture.recorder.sites) == MAX_HOSTS
        newest = await refused_websocket(capture, ports[-1])
        oldest = await refused_websocket(capture, ports[0])
    assert newest.site is not None and oldest.site is None


def echoing_404(head: bytes) -> bytes:
    """A debug error page that prints the request's headers back, as many frameworks' do."""
    if b"upgrade: websocket" in head.lower():
        return REFUSED
    body = b"<h1>Page not found</h1><pre>" + head + b"</pre>"
    return b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )


async def test_an_error_page_that_echoes_a_cookie_is_redacted_in_files(
    capture: Capture, tmp_path: Path
):
    """The browser sends its cookies to the page and to the WebSocket alike; an error page that
    prints them back is redacted like a refusal's body, in every file."""
    secret = "sessionid=k3y9secretvalue2026"
    cookie = f"Cookie: {secret}\r\n"
    async with replaying(echoing_404) as port:
        await fetch(capture.port, port, "/nope", extra=cookie)
        handshake = await refused_websocket(capture, port, additional_headers={"Cookie": secret})
    assert handshake.site is not None
    assert "k3y9secretvalue2026" in handshake.site.error_pages[0].body  # captured as it came
    for name in ("session.json", "session.md", "session.har"):
        save(capture.session, tmp_path / name)
        assert "k3y9secretvalue2026" not in (tmp_path / name).read_text()
    [read] = load(tmp_path / "session.json")
    assert read.site is not None and "[redacted]" in read.site.error_pages[0].body


def test_files_written_before_the_evidence_existed_still_load():
    """A session written by an older version has no ``site``: it reads as none."""
    session = load(Path(__file__).parent / "fixtures" / "session-v1.json")
    assert len(session) > 0 and all(h.site is None for h in session)
    decoded = msgspec.json.decode(b'{"responses": 1, "servers": ["daphne"]}', type=SiteEvidence)
    assert decoded.cookie_names == () and decoded.error_pages == ()


def test_docs_describe_every_field_of_the_evidence():
    """docs/format.md describes the native file field by field (as tests/test_docs.py checks for
    the older records)."""
    page = (Path(__file__).parents[1] / "docs" / "format.md").read_text()
    missing = [
        f"{record.__name__}.{field.encode_name}"
        for record in (SiteEvidence, ErrorPage)
        for field in msgspec.structs.fields(record)
        if f"`{field.encode_name}`" not in page
    ]
    assert not missing and "`site`" in page


async def test_the_dashboards_proxy_process_feeds_it():
    """``watch`` runs its proxy in a process of its own: the evidence crosses the feed."""
    async with Service.separate(ProxyConfig(port=0)) as dashboard, replaying(daphne) as port:
        await fetch(dashboard.port, port)
        with pytest.raises(InvalidStatus):
            await connect(
                f"ws://127.0.0.1:{port}/ws/chat/",
                proxy=f"http://127.0.0.1:{dashboard.port}",
                origin=PAGE_ORIGIN,
                open_timeout=10,
            )
        await until(lambda: any(h.answered for h in dashboard.session))
        [handshake] = dashboard.session
    assert handshake.site is not None and handshake.site.servers == ("daphne",)
    assert handshake.site.cookie_names == ("csrftoken",)


async def test_split_mode_gets_it_too(tmp_path: Path):
    """In somebody else's mitmdump, whose large bodies are streamed on unread
    (``stream_large_bodies``): the names still count; an error page's body is left unread."""
    saved = tmp_path / "split.json"
    settings = (f"wsinspect_save={saved}", "wsinspect_feed=", "stream_large_bodies=100")
    async with mitmdump_with_addon(*settings) as proxy, replaying(daphne) as port:
        proxy_port = int(proxy.rpartition(":")[2])
        await fetch(proxy_port, port)
        await fetch(proxy_port, port, "/missing")
        with pytest.raises(InvalidStatus):
            await connect(
                f"ws://127.0.0.1:{port}/ws/chat/", proxy=proxy, origin=PAGE_ORIGIN, open_timeout=10
            )
    [handshake] = load(saved)
    assert handshake.site is not None
    assert handshake.site.servers == ("daphne",) and handshake.site.cookie_names == ("csrftoken",)
    [not_found] = handshake.site.error_pages
    assert not_found.status == 404 and not_found.body == ""  # 179 bytes > 100: streamed


# -- the diagnosis: site signals of the stack registry --------------------------------------


def replaying_stack(stack: str) -> Answer:
    """A real stack's captured answers: its refusal of a foreign Origin, its page, its 404."""
    folder = STACKS / stack
    refusal, page = (
        (folder / "origin_refused.http").read_bytes(),
        (folder / "page.http").read_bytes(),
    )
    missing = (folder / "page_404.http").read_bytes()

    def answer(head: bytes) -> bytes:
        if b"upgrade: websocket" in head.lower():
            return refusal
        return missing if b" /missing " in head else page

    return answer


@pytest.mark.parametrize(
    ("stack", "name"),
    [
        ("channels_daphne", "Django Channels"),
        ("channels_uvicorn", "Django Channels"),
        ("fastapi", "Starlette/FastAPI (uvicorn)"),
    ],
)
async def test_the_sites_pages_add_their_evidence_to_the_refusals(
    capture: Capture, stack: str, name: str
):
    """The same refusal, once from a host whose page and 404 went through the proxy first and
    once from a host seen for the first time: with the pages, the stack is recognised (uvicorn's
    empty 403 alone fits Starlette and Django Channels alike) or recognised more surely, shown
    with their evidence, and its own fix comes first; the finding is the same."""
    async with replaying(replaying_stack(stack)) as port, replaying(replaying_stack(stack)) as bare:
        await fetch(capture.port, port)
        await fetch(capture.port, port, "/missing")
        seen = diagnosis_of(await refused_websocket(capture, port))
        alone = diagnosis_of(await refused_websocket(capture, bare))
    assert seen.stack is not None and seen.stack.name == name and seen.stack.confidence >= 0.8
    assert any(e.startswith(SITE) for e in seen.stack.evidence)
    assert (
        alone.stack is None
        or alone.stack.name != name
        or alone.stack.confidence < (seen.stack.confidence)
    )
    assert [f.code for f in seen.findings] == [f.code for f in alone.findings]
    assert seen.findings[0].fixes[0].stack == name
