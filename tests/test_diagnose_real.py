"""Real servers refuse real handshakes through the real proxy: cause, stack and fix are named.

Every client sends a browser-like Origin. For each server: the finding code, the recognised stack,
and the fix's knob with the observed value in the form that stack wants. Every accepted handshake
must come out ok: a false alarm is a bug.
"""

from __future__ import annotations

import asyncio
import sys

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.typing import Origin, Subprotocol

from tests.servers import (
    free_port,
    go_server,
    nginx_without_upgrade,
    node_script,
    process_server,
    wait_for_port,
)
from wsinspect.diagnose import diagnosis_of
from wsinspect.diagnose.fixes import NEUTRAL_NAME, TABLE_NAME

PAGE = "http://localhost:5173"  # the developer's page, on a dev server


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def attempt(capture, url: str, origin: str = PAGE, subprotocols=None, succeed=False):
    """One handshake through the proxy; returns the captured, diagnosed handshake."""
    try:
        async with connect(
            url,
            proxy=capture.url,
            origin=Origin(origin),
            subprotocols=subprotocols,
            open_timeout=10,
        ):
            pass
    except (InvalidStatus, InvalidHandshake):
        assert not succeed, "the handshake was expected to succeed"
    handshake = await capture.one()
    if handshake.websocket is not None:
        await capture.closed(handshake)
    return handshake


def codes(handshake) -> list[str]:
    return [f.code for f in diagnosis_of(handshake).findings]


def fix_for(handshake, code: str, stack: str) -> str:
    finding = next(f for f in diagnosis_of(handshake).findings if f.code == code)
    return next(fix.snippet for fix in finding.fixes if fix.stack == stack)


def assert_ok(handshake) -> None:
    assert handshake.status == 101
    assert diagnosis_of(handshake).verdict == "ok", [
        f.title for f in diagnosis_of(handshake).findings
    ]
    assert not [f for f in diagnosis_of(handshake).findings if f.severity == "error"]


# -- Python websockets ----------------------------------------------------------------------


async def test_python_websockets_origin_refusal(capture):
    async with serve(echo, "127.0.0.1", 0, origins=[Origin("http://localhost:3000")]) as server:
        port = server.sockets[0].getsockname()[1]
        handshake = await attempt(capture, f"ws://127.0.0.1:{port}/chat")
    assert diagnosis_of(handshake).verdict == "error"
    assert codes(handshake) == ["origin-rejected"]
    assert diagnosis_of(handshake).stack.name == "Python websockets"
    finding = diagnosis_of(handshake).findings[0]
    assert finding.evidence["Origin"] == PAGE
    assert "CORS" in finding.explanation
    assert finding.fixes[0].stack == "Python websockets"
    assert 'origins=["http://localhost:5173"]' in finding.fixes[0].snippet


async def test_python_websockets_subprotocol_refusal(capture):
    async with serve(echo, "127.0.0.1", 0, subprotocols=[Subprotocol("v2.chat")]) as server:
        port = server.sockets[0].getsockname()[1]
        handshake = await attempt(capture, f"ws://127.0.0.1:{port}/", subprotocols=["v1.chat"])
    assert handshake.status == 400
    assert codes(handshake) == ["subprotocol-not-selected"]
    assert 'subprotocols=["v1.chat"]' in fix_for(
        handshake, "subprotocol-not-selected", "Python websockets"
    )


async def test_python_websockets_accepted_is_ok(capture):
    async with serve(echo, "127.0.0.1", 0, subprotocols=[Subprotocol("chat")]) as server:
        port = server.sockets[0].getsockname()[1]
        handshake = await attempt(
            capture, f"ws://127.0.0.1:{port}/", subprotocols=["chat"], succeed=True
        )
    assert_ok(handshake)
    # "Server: Python/… websockets/…" on the 101, Date first and Server last: the new server's
    assert diagnosis_of(handshake).stack.name == "Python websockets"


# -- coder/websocket and gorilla/websocket (Go) -----------------------------------------------


async def test_coder_same_host_default_refuses_the_dev_page(capture):
    async with process_server([str(go_server("coder"))]) as port:
        handshake = await attempt(capture, f"ws://127.0.0.1:{port}/ws")
    assert handshake.status == 403
    assert codes(handshake) == ["origin-rejected"]
    assert diagnosis_of(handshake).stack.name == "coder/websocket"
    assert diagnosis_of(handshake).stack.confidence >= 0.9
    snippet = diagnosis_of(handshake).findings[0].fixes[0].snippet
    assert diagnosis_of(handshake).findings[0].fixes[0].stack == "coder/websocket"
    assert 'OriginPatterns: []string{"localhost:5173"}' in snippet  # host[:port], never a URL
    assert "http://localhost:5173" not in snippet
    assert "InsecureSkipVerify" in snippet  # named as the unsafe choice


async def test_coder_subprotocol_ignored(capture):
    async with process_server([str(go_server("coder")), "-subprotocols", "chat"]) as port:
        handshake = await attempt(
            capture,
            f"ws://127.0.0.1:{port}/",
            origin=f"http://127.0.0.1:{port}",
            subprotocols=["other"],
        )
    assert handshake.status == 101
    assert handshake.selected_subprotocol is None
    assert "subprotocol-not-selected" in codes(handshake)
    # coder's 101 goes through net/http (Sec-Websocket-Accept in Go's casing, names sorted),
    # unlike gorilla's and ws's hand-written one: coder is named, and its own fix leads
    fixes = diagnosis_of(handshake).findings[0].fixes
    assert diagnosis_of(handshake).stack.name == "coder/websocket"
    assert fixes[0].stack == "coder/websocket"
    assert 'websocket.AcceptOptions{Subprotocols: []string{"other"}}' in fixes[0].snippet


async def test_coder_accepted_is_ok(capture):
    async with process_server([str(go_server("coder"))]) as port:
        handshake = await attempt(
            capture, f"ws://127.0.0.1:{port}/", origin=f"http://127.0.0.1:{port}", succeed=True
        )
    assert_ok(handshake)


async def test_gorilla_same_host_default_refuses_the_dev_page(capture):
    async with process_server([str(go_server("gorilla"))]) as port:
        handshake = await attempt(capture, f"ws://127.0.0.1:{port}/ws")
    assert handshake.status == 403
    assert codes(handshake) == ["origin-rejected"]
    assert diagnosis_of(handshake).stack.name == "gorilla/websocket"
    snippet = fix_for(handshake, "origin-rejected", "gorilla/websocket")
    assert '"http://localhost:5173": true' in snippet  # full origin
    assert "CheckOrigin" in snippet


async def test_gorilla_accepted_is_ok(capture):
    async with process_server([str(go_server("gorilla")), "-subprotocols", "chat"]) as port:
        handshake = await attempt(
            capture,
            f"ws://127.0.0.1:{port}/",
            origin=f"http://127.0.0.1:{port}",
            subprotocols=["chat"],
            succeed=True,
        )
    assert_ok(handshake)


# -- Node ws and Socket.IO ---------------------------------------------------------------------


async def test_node_ws_verify_client_refusal_is_an_origin_refusal(capture):
    command = [*node_script("ws-server.js"), "--origin", "http://localhost:3000"]
    async with process_server(command) as port:
        handshake = await attempt(capture, f"ws://127.0.0.1:{port}/")
    assert handshake.status == 401
    assert codes(handshake) == ["origin-rejected"]
    assert diagnosis_of(handshake).stack.name == "Node ws"
    assert 'new Set(["http://localhost:5173"])' in fix_for(handshake, "origin-rejected", "Node ws")


async def test_node_ws_ignoring_the_subprotocol_fails_in_chrome(capture):
    async with process_server([*node_script("ws-server.js"), "--ignore-protocols"]) as port:
        handshake = await attempt(capture, f"ws://127.0.0.1:{port}/", subprotocols=["graphql-ws"])
    assert codes(handshake) == ["subprotocol-not-selected"]
    assert "Chrome" in diagnosis_of(handshake).findings[0].explanation
    neutral, table = diagnosis_of(handshake).findings[0].fixes[:2]
    assert "`Sec-WebSocket-Protocol: graphql-ws`" in neutral.snippet
    assert 'handleProtocols: (p) => p.has("graphql-ws") ? "graphql-ws"' in table.snippet


async def test_node_ws_accepted_is_ok(capture):
    async with process_server(node_script("ws-server.js")) as port:
        handshake = await attempt(
            capture, f"ws://127.0.0.1:{port}/", subprotocols=["a"], succeed=True
        )
    assert_ok(handshake)


async def test_socketio_allow_request_refusal(capture):
    command = [*node_script("socketio-server.js"), "--origin", "http://localhost:3000"]
    async with process_server(command) as port:
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        handshake = await attempt(capture, url)
    assert handshake.status in (400, 403)
    assert codes(handshake) == ["origin-rejected"]
    assert diagnosis_of(handshake).stack.name == "Socket.IO"
    snippet = fix_for(handshake, "origin-rejected", "Socket.IO")
    assert 'req.headers.origin === "http://localhost:5173"' in snippet
    assert "`cors` option governs HTTP long-polling only" in snippet


async def test_socketio_accepted_is_ok(capture):
    async with process_server(node_script("socketio-server.js")) as port:
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        handshake = await attempt(capture, url, succeed=True)
    assert_ok(handshake)


# -- nginx in front, without the upgrade lines ---------------------------------------------


@pytest.mark.parametrize("backend", ["gorilla", "socket.io"])
async def test_nginx_without_upgrade_headers(capture, backend):
    if backend == "gorilla":
        server, path = [str(go_server("gorilla"))], "/ws"
    else:
        server, path = node_script("socketio-server.js"), "/socket.io/?EIO=4&transport=websocket"
    async with process_server(server) as port, nginx_without_upgrade(port) as front:
        handshake = await attempt(capture, f"ws://127.0.0.1:{front}{path}")
    assert codes(handshake) == ["upgrade-headers-missing"]
    assert handshake.response.headers.get("Server").startswith("nginx")
    assert any(e.startswith("behind nginx") for e in diagnosis_of(handshake).stack.evidence)
    snippet = fix_for(handshake, "upgrade-headers-missing", "nginx")
    for line in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_set_header Host $host;",
    ):
        assert line in snippet


# -- Python websockets' legacy server, and Starlette on a real uvicorn ------------------------


async def test_legacy_websockets_ignores_an_unknown_subprotocol(capture):
    from websockets.legacy.server import serve as legacy_serve

    async def hello(ws, path=None):
        await ws.close()

    async with legacy_serve(hello, "127.0.0.1", 0, subprotocols=[Subprotocol("v2")]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        handshake = await attempt(capture, f"ws://127.0.0.1:{port}/", subprotocols=["v1"])
    assert handshake.status == 101  # the legacy server answers without the header; new ones 400
    assert "subprotocol-not-selected" in codes(handshake)


async def test_legacy_websockets_origin_refusal(capture):
    from websockets.legacy.server import serve as legacy_serve

    async with legacy_serve(
        echo, "127.0.0.1", 0, origins=[Origin("http://localhost:3000")]
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        handshake = await attempt(capture, f"ws://127.0.0.1:{port}/")
    assert codes(handshake) == ["origin-rejected"]
    assert diagnosis_of(handshake).stack.name == "Python websockets (legacy)"
    assert (
        'origins=["http://localhost:5173"]' in diagnosis_of(handshake).findings[0].fixes[0].snippet
    )


@pytest.fixture(params=["websockets-sansio", "wsproto"])
async def uvicorn_app(request):
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "tests.servers.asgi_app:app",
        "--port",
        str(port),
        "--ws",
        request.param,
        "--log-level",
        "warning",
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_for_port(port, "uvicorn")
        yield port
    finally:
        process.terminate()
        await process.wait()


async def test_starlette_on_uvicorn_refusing_the_origin(capture, uvicorn_app):
    handshake = await attempt(capture, f"ws://127.0.0.1:{uvicorn_app}/guarded")
    assert handshake.status == 403
    assert codes(handshake) == ["origin-rejected"]
    # uvicorn's empty 403 names uvicorn (its exact refusal through websockets-sansio; wsproto's
    # bare "403 " only makes it the closest), never the framework behind it
    named = "uvicorn" if handshake.response.reason else "unknown"
    assert diagnosis_of(handshake).stack.name == named
    fixes = diagnosis_of(handshake).findings[0].fixes
    by_stack = {fix.stack: fix for fix in fixes}
    assert fixes[0].stack == NEUTRAL_NAME
    assert "Add `http://localhost:5173` — the full origin" in fixes[0].snippet
    assert any(
        line.startswith("Starlette/FastAPI (uvicorn) ")
        and 'websocket.headers.get("origin") != "http://localhost:5173"' in line
        for line in by_stack[TABLE_NAME].snippet.splitlines()
    )
    # the closest framework, in full, after the neutral fix
    assert (
        'ALLOWED_ORIGINS = {"http://localhost:5173"}'
        in by_stack["Starlette/FastAPI (uvicorn)"].snippet
    )


async def test_starlette_accept_without_subprotocol(capture, uvicorn_app):
    handshake = await attempt(capture, f"ws://127.0.0.1:{uvicorn_app}/echo", subprotocols=["chat"])
    assert codes(handshake) == ["subprotocol-not-selected"]
    # server: uvicorn on the 101 names the server; Starlette's fix follows the neutral one
    assert diagnosis_of(handshake).stack.name == "uvicorn"
    fixes = diagnosis_of(handshake).findings[0].fixes
    assert fixes[0].stack == NEUTRAL_NAME
    by_stack = {fix.stack: fix for fix in fixes}
    assert 'accept(subprotocol="chat")' in by_stack["Starlette/FastAPI (uvicorn)"].snippet
