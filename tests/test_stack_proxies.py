"""Reverse proxies' own fixes, from their real answers replayed through our real proxy: an idle
tunnel the proxy cuts (measured: a bare TCP FIN, no close frame; idle_timeout.txt beside each
proxy's captures) and Apache's worker-sharing trap, whose answer is the backend's."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests import stack_wire as wire
from tests.conftest import start_capture
from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Diagnosis

IDLE = 1.5  # seconds before the proxy's cut: past the 1 s under which a close is a refusal


async def cut_when_idle(stack: str) -> Diagnosis:
    """The proxy's healthy 101 as captured, then, with nothing sent either way, the connection
    ended as the proxy ends an idle tunnel: a FIN without a close frame."""
    case = wire.Case(stack, "proxied_101", wire.upgrade("/ws"))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(case.answer)
            await writer.drain()
            await asyncio.sleep(IDLE)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    capture = await start_capture(answer_timeout=1.0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", capture.port)
        writer.write(case.request.raw(port))
        while await asyncio.wait_for(reader.read(65536), IDLE + 3):
            pass
        writer.close()
        handshake = await wire.recorded(capture, port, expect_close=True)
        assert handshake is not None and handshake.websocket is not None
        return diagnosis_of(handshake)
    finally:
        server.close()
        await capture.stop()


@pytest.mark.parametrize(
    ("stack", "name", "knob"),
    [("nginx", "nginx", "proxy_read_timeout"), ("caddy", "Caddy", "read_timeout")],
)
async def test_a_proxy_that_names_itself_on_the_101_gets_its_own_idle_timeout(
    stack: str, name: str, knob: str
) -> None:
    diagnosis = await cut_when_idle(stack)
    finding = diagnosis.findings[0]
    assert finding.code == "idle-timeout" and "1006" in finding.title
    assert diagnosis.stack is not None and diagnosis.stack.name == name
    assert finding.fixes[0].stack == name and knob in finding.fixes[0].snippet


@pytest.mark.parametrize(
    ("stack", "name", "knob"),
    [("haproxy", "HAProxy", "timeout tunnel 1h"), ("apache2", "Apache", "ProxyTimeout 3600")],
)
async def test_a_proxy_invisible_on_the_101_is_in_the_table_with_its_own_knob(
    stack: str, name: str, knob: str
) -> None:
    """HAProxy and Apache keep the backend's Server: nothing names them, so the neutral fix
    comes first, and their knob is a line of the table, not nginx's."""
    finding = (await cut_when_idle(stack)).findings[0]
    assert finding.code == "idle-timeout"
    first, *rest = finding.fixes
    assert name not in first.stack and "proxy_read_timeout" not in first.snippet
    table = next(fix.snippet for fix in rest if fix.stack == "popular stacks")
    assert any(line.startswith(name) and knob in line for line in table.splitlines())


async def test_the_worker_sharing_trap_is_named_in_apaches_fix() -> None:
    """Apache relays the backend's refusal under the backend's Server: the backend's complaint
    about `Connection: Keep-Alive` hints at Apache, whose fix then follows the neutral one and
    says why upgrade=websocket can be silently ignored."""
    case = wire.Case("apache2", "worker_sharing_trap", wire.upgrade("/ws"))
    outcome = (await wire.replay_all([case]))[case.id]
    assert outcome.diagnosis is not None, outcome.problem
    finding = outcome.diagnosis.findings[0]
    assert finding.code == "upgrade-headers-missing"
    apache = [fix.snippet for fix in finding.fixes if fix.stack == "Apache"]
    assert apache and "upgrade=websocket" in apache[0] and "Worker sharing" in apache[0]
    table = next(fix.snippet for fix in finding.fixes if fix.stack == "popular stacks")
    assert table.splitlines()[0].startswith("Apache")
