"""Every stack's real server, live, through our real proxy: what a user sees of its refusal.

For each stack in tests/servers/stacks: the server's own Origin refusal (Origin
http://evil.example, the one its knob is configured to refuse) and its healthy upgrade (Origin
http://allowed.example). A reverse proxy refuses nothing by Origin: its cases are its own
failures (no upgrade config, the backend down) and the upgrades it proxies. Each case is judged
as tests/fixtures/stacks/<stack>/expected.toml says, with tests/stack_wire.py's checks (the ones
the replayed captures get): the first finding's code, the stack recognised (confidence >= 0.8)
or honestly not, the first fix in that stack's knob or the neutral one; what it marks
``not_yet`` is a strict xfail. A case it does not list must still read as an error with the
finding named here, or as ok.

The same requests made the fixtures (tests/servers/stacks/capture.py): a case is named after
its capture, and the live answer must still have the captured status. The selected cases'
servers start at once and every handshake is made once, for the module.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Origin, Subprotocol

from tests.conftest import Capture, require, start_capture, until
from tests.stack_servers import PROXIES, SERVERS, Running, missing, stack_servers
from tests.stack_wire import CHECKS, TARGETS, applies, load_expectations, requests_for
from tests.stack_wire import Case as WireCase
from tests.stack_wire import Outcome as WireOutcome
from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Handshake

EVIL = "http://evil.example"
ALLOWED = "http://allowed.example"
SOCKET_IO = "/socket.io/?EIO=4&transport=websocket"
HOLD = 1.0  # how long an accepted socket stays open: a refusal right after the 101 shows by then

# Where each server's WebSocket endpoints are, when not at /ws and /proto (the one that supports
# only the subprotocol chat.v2).
PATHS = {
    "sockjs": ("/ws/websocket", "/proto/websocket"),
    "socketio": (SOCKET_IO, SOCKET_IO),
    "socketio_asgi": (SOCKET_IO, SOCKET_IO),
    "socketio_hypercorn": (SOCKET_IO, SOCKET_IO),
    "socketio_aiohttp": (SOCKET_IO, SOCKET_IO),
}


@dataclass(frozen=True)
class Case:
    """One request, named after the fixture that captured the same request's answer."""

    stack: str
    name: str
    code: str | None  # the finding a user must see first; None: healthy, must read as ok
    origin: str = EVIL
    path: str = "/ws"
    offer: tuple[str, ...] = ()  # the subprotocols the client offers
    listener: int | None = None  # a proxy config's listener (the port written in its config)

    @property
    def id(self) -> str:
        return f"{self.stack}-{self.name}"


# sockjs has no Origin check: its server refuses in app code around it, named so.
REFUSAL_NAMES = {"sockjs": "origin_refused_app_code"}
# Servers whose /proto was captured from another mode of the server (websockets' new server
# refuses a client offering no subprotocol once it has a list) or not at all.
NO_PROTO = {"websockets_new", "fastapi_uvicorn_websockets", "fastapi_uvicorn_wsproto"}


def _server_cases(stack: str) -> list[Case]:
    ws, proto = PATHS.get(stack, ("/ws", "/proto"))
    cases = [
        Case(stack, REFUSAL_NAMES.get(stack, "origin_refused"), "origin-rejected", EVIL, ws),
        Case(stack, "healthy", None, ALLOWED, ws),
    ]
    if stack not in NO_PROTO:
        unselected = "subprotocol-not-selected"
        cases.append(Case(stack, "subprotocol", unselected, ALLOWED, proto, ("chat.v1",)))
    return cases


def _proxy_cases(stack: str, listeners: Mapping[str, tuple[int, str | None]]) -> list[Case]:
    return [
        Case(stack, name, code, ALLOWED, listener=port) for name, (port, code) in listeners.items()
    ]


# A proxy's listeners: the ports in tests/servers/stacks/proxies/<its config>.
NO_UPGRADE, DOWN = "upgrade-headers-missing", "upstream-failed"
CASES = [
    *(case for stack in SERVERS for case in _server_cases(stack)),
    *_proxy_cases(
        "nginx",
        {
            "proxied_101": (18911, None),
            "no_upgrade_config": (18912, NO_UPGRADE),
            "http11_no_upgrade_headers": (18914, NO_UPGRADE),
            "backend_down_502": (18913, DOWN),
        },
    ),
    *_proxy_cases(
        "apache2",
        {
            "proxied_101": (18921, None),
            "wstunnel_ws_scheme_101": (18927, None),
            "worker_sharing_fixed_101": (18925, None),
            "no_upgrade_config": (18922, NO_UPGRADE),
            "worker_sharing_trap": (18924, NO_UPGRADE),
            "backend_down_503": (18923, DOWN),
        },
    ),
    *_proxy_cases(
        "haproxy",
        {
            "proxied_101": (18931, None),
            "backend_down_503": (18933, DOWN),
            "no_server_503": (18934, DOWN),
        },
    ),
    *_proxy_cases("caddy", {"proxied_101": (18941, None), "backend_down_502": (18943, DOWN)}),
]
assert {case.stack for case in CASES} == {*SERVERS, *PROXIES}


# -- what expected.toml says (its schema and checks: tests/stack_wire.py) ----------------------


def _checks(case: Case) -> Iterator[Any]:
    """One test per check expected.toml asks of this case; ``not_yet`` ones as strict xfails.
    Without an expectation, the case's own: the refusal's finding, or ok."""
    expectation = load_expectations(case.stack).get(case.name)
    if expectation is None:
        yield pytest.param(case, "default", id=case.id)
        return
    for target in TARGETS:
        if applies(target, expectation):
            marks = []
            if target in expectation.not_yet:
                why = f"expected.toml: {case.stack}/{case.name}'s {target} is not_yet"
                marks.append(pytest.mark.xfail(strict=True, reason=why))
            yield pytest.param(case, target, id=f"{case.id}-{target}", marks=marks)


# -- every server up, every handshake made once ----------------------------------------------


Made = Handshake | str  # the handshake, or why it could not be made


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest) -> dict[str, Made]:
    """Start the selected cases' stack servers at once, make their handshakes through one proxy
    of ours, stop everything; the tests then read what the user would see."""
    with asyncio.Runner() as runner:
        return runner.run(_run_all(_selected(request)))


def _selected(request: pytest.FixtureRequest) -> list[Case]:
    """The cases of the tests pytest will run here (``-k tornado`` starts Tornado alone)."""
    chosen = set()
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if isinstance(item, pytest.Function) and item.module is request.module and callspec:
            chosen.add(callspec.params.get("case"))
    return [case for case in CASES if case in chosen]


async def _run_all(cases: list[Case]) -> dict[str, Made]:
    runnable = sorted({case.stack for case in cases if missing(case.stack) is None})
    capture = await start_capture()
    try:
        async with stack_servers(runnable) as servers:
            made = await asyncio.gather(
                *(_attempt(capture, case, servers.get(case.stack)) for case in cases),
                return_exceptions=True,
            )
    finally:
        await capture.stop()
    return {
        case.id: outcome if isinstance(outcome, Handshake) else f"{outcome!r}"
        for case, outcome in zip(cases, made, strict=True)
    }


async def _attempt(capture: Capture, case: Case, server: Running | Exception | None) -> Made:
    """One handshake through the proxy, as a browser page at ``case.origin`` makes it."""
    if server is None:
        return "not installed"
    if isinstance(server, Exception):
        return f"the server did not start: {server!r}"
    port = server.ports[case.listener] if case.listener else server.port
    url = f"ws://127.0.0.1:{port}{case.path}"
    with contextlib.suppress(InvalidHandshake, OSError, TimeoutError):
        async with connect(
            url,
            proxy=capture.url,
            origin=Origin(case.origin),
            subprotocols=[Subprotocol(offer) for offer in case.offer] or None,
            open_timeout=15,
        ) as websocket:
            await _hold(websocket)
    handshake = await _captured(capture, url, case)
    if handshake.websocket is not None:
        await capture.closed(handshake)
    return handshake


async def _hold(websocket: ClientConnection) -> None:
    """Stay open like a page would, reading what the server sends, until it closes or HOLD."""
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(HOLD):
            async for _ in websocket:
                pass


async def _captured(capture: Capture, url: str, case: Case) -> Handshake:
    def mine() -> list[Handshake]:
        return [
            h
            for h in capture.handshakes
            if (h.url, h.origin, tuple(h.offered_subprotocols)) == (url, case.origin, case.offer)
        ]

    await until(lambda: mine(), timeout=10)
    return mine()[0]


def outcome(outcomes: dict[str, Made], case: Case) -> Handshake:
    """The case's handshake; a skip (locally) when its stack is not installed."""
    reason = missing(case.stack)
    require(f"the {case.stack} stack's real server", reason is None, reason or "")
    made = outcomes.get(case.id, "not run: the case was not selected")
    assert isinstance(made, Handshake), f"{case.id}: {made}"
    return made


# -- what the user sees ----------------------------------------------------------------------


@pytest.mark.parametrize(("case", "target"), [p for case in CASES for p in _checks(case)])
def test_what_the_user_sees(outcomes: dict[str, Made], case: Case, target: str) -> None:
    handshake = outcome(outcomes, case)
    diagnosis = diagnosis_of(handshake)
    found = [f"{f.code}: {f.title}" for f in diagnosis.findings]
    expectation = load_expectations(case.stack).get(case.name)
    if expectation is not None:
        replayed = WireCase(case.stack, case.name, requests_for(case.stack)[case.name])
        wrong = CHECKS[target](expectation, WireOutcome(replayed, handshake, diagnosis))
        assert not wrong, (wrong, found)
    elif case.code is None:
        assert diagnosis.verdict == "ok", found
    else:
        assert diagnosis.verdict == "error", found
        assert [f.code for f in diagnosis.findings][:1] == [case.code], found


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
def test_the_live_answer_is_the_captured_one(outcomes: dict[str, Made], case: Case) -> None:
    """The fixtures' bytes came from these servers: live, they still answer with that status."""
    captured = WireCase(case.stack, case.name, requests_for(case.stack)[case.name]).answer
    status_line = captured.split(b"\r\n", 1)[0].decode("latin-1")
    assert outcome(outcomes, case).status == int(status_line.split(" ")[1]), status_line
