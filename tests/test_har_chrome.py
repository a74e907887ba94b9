"""HARs as Chromium's DevTools writes them: a failed handshake is status 0 and Chrome's words.

A real headless Chromium opens WebSockets to real servers (one refusing with 403, one ignoring the
offered subprotocol, a closed port, a self-signed wss:// server, a healthy echo) and its Network
events are turned into the HAR DevTools would export (tests/cdp.py). The same recording is kept as
tests/fixtures/chromium-156.har (rewrite it: ``python -m tests.test_har_chrome``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.cdp import CHROMIUM, chromium
from tests.conftest import require
from tests.helpers import run_cli
from tests.test_browser import page_server, self_signed
from wsinspect.diagnose import diagnosis_of
from wsinspect.model import OP_CLOSE
from wsinspect.sessions import load, save

FIXTURE = Path(__file__).parent / "fixtures" / "chromium-156.har"

# What each socket's path must be diagnosed as: the first finding's code and words it must say.
# A bare 403 cannot tell an Origin check from a missing token: the rules for any 403 decide.
EXPECTED = {
    "/forbidden": ({"origin-rejected", "unauthorized", "handshake-rejected"}, "403"),
    "/ignores-subprotocol": ({"subprotocol-not-selected"}, "chat"),
    "/closed-port": ({"upstream-failed"}, "connection refused"),
    "/self-signed": ({"upstream-failed", "upstream-cert-invalid"}, "certificate"),
}


async def _echo(ws: ServerConnection) -> None:
    with contextlib.suppress(ConnectionClosed):  # Chromium drops the one it refuses
        async for message in ws:
            await ws.send(message)


def _refuse_forbidden(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/forbidden":
        return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
    return None  # any other path: a 101 that selects no subprotocol (none configured)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PAGE = """<!doctype html><title>app</title><script>
new WebSocket("ws://127.0.0.1:{port}/forbidden");
new WebSocket("ws://127.0.0.1:{port}/ignores-subprotocol", ["chat"]);
new WebSocket("ws://127.0.0.1:{closed}/closed-port");
new WebSocket("wss://127.0.0.1:{tls}/self-signed");
const ok = new WebSocket("ws://127.0.0.1:{port}/echo?room=1");
ok.onopen = () => ok.send("hello");
ok.onmessage = () => ok.close(1000, "done");
</script>"""


@asynccontextmanager
async def _servers(folder: Path) -> AsyncIterator[str]:
    """The page and its servers; yields the page's URL."""
    cert, key = self_signed(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    async with (
        serve(_echo, "127.0.0.1", 0, process_request=_refuse_forbidden) as plain,
        serve(_echo, "127.0.0.1", 0, ssl=context) as tls,
    ):
        page = PAGE.format(
            port=plain.sockets[0].getsockname()[1],
            tls=tls.sockets[0].getsockname()[1],
            closed=_closed_port(),
        )
        with page_server({"/": page}) as page_port:
            yield f"http://localhost:{page_port}/"


async def chromium_har(folder: Path) -> dict[str, Any]:
    """What Chromium's DevTools would export for the page above."""
    async with _servers(folder) as url, chromium() as browser:
        version = await browser.version()
        log = await browser.record(url, sockets=5)
    return log.har(version)


def _first_findings(har: Path) -> dict[str, tuple[str, str]]:
    """Each attempt's path and its first finding's code and text ("ok" when it has none)."""
    warnings: list[str] = []
    seen: dict[str, tuple[str, str]] = {}
    for h in load(har, warnings.append):
        path = "/" + h.url.split("?")[0].rsplit("/", 1)[-1]
        diagnosis = diagnosis_of(h)
        findings = diagnosis.findings
        if findings:  # Chrome's words name no server: nothing read from them may point at one
            assert diagnosis.stack is None, (path, diagnosis.stack)
        if not findings:
            seen[path] = ("ok", "")
        else:
            first = findings[0]
            seen[path] = (first.code, f"{first.title} {first.explanation} {first.evidence}")
    assert warnings == []  # no entry skipped
    return seen


def _assert_diagnosed(har: Path) -> None:
    seen = _first_findings(har)
    assert seen.pop("/echo")[0] == "ok"
    assert set(seen) == set(EXPECTED)
    for path, (code, words) in EXPECTED.items():
        assert seen[path][0] in code, (path, seen[path])
        assert words.lower() in seen[path][1].lower(), (path, seen[path])


@pytest.fixture(scope="module")
def live_har(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require("chromium", Path(CHROMIUM).exists(), "apt-get install chromium")
    folder = tmp_path_factory.mktemp("chromium")
    path = folder / "live.har"
    path.write_text(json.dumps(asyncio.run(chromium_har(folder))))
    return path


def test_chromiums_har_shape_is_what_devtools_writes(live_har: Path) -> None:
    """Status 0 and one ``error`` message, opcode -1, for each failure; the echo's frames."""
    entries = json.loads(live_har.read_text())["log"]["entries"]
    said = {e["request"]["url"].rsplit("/", 1)[-1]: e["_webSocketMessages"] for e in entries}
    assert {e["response"]["status"] for e in entries} == {0, 101}
    assert said["forbidden"] == [
        {
            **said["forbidden"][0],
            "type": "error",
            "opcode": -1,
            "data": "Error during WebSocket handshake: Unexpected response code: 403",
        }
    ]
    assert "net::ERR_CONNECTION_REFUSED" in said["closed-port"][0]["data"]
    assert "net::ERR_CERT_AUTHORITY_INVALID" in said["self-signed"][0]["data"]
    assert [(m["type"], m["data"]) for m in said["echo?room=1"]] == [
        ("send", "hello"),
        ("receive", "hello"),
    ]  # no close frame: Chromium reports none


def test_live_chromium_har_failures_are_diagnosed(live_har: Path) -> None:
    _assert_diagnosed(live_har)


def test_recorded_chromium_har_failures_are_diagnosed() -> None:
    _assert_diagnosed(FIXTURE)


async def test_diagnose_fails_a_ci_gate_on_chromiums_har() -> None:
    code, out, _ = await run_cli("diagnose", str(FIXTURE), "--format", "json")
    assert code == 1
    verdicts = sorted(h["verdict"] for h in json.loads(out))
    assert verdicts == ["error", "error", "error", "error", "ok"]


def test_chromes_words_are_kept_bounded(tmp_path: Path) -> None:
    """A file is hostile: words far longer than Chrome's are cut, an opcode -1 frame is refused."""
    document = json.loads(FIXTURE.read_text())
    refused, echo = (
        next(e for e in document["log"]["entries"] if e["request"]["url"].endswith(end))
        for end in ("/closed-port", "room=1")
    )
    refused["_webSocketMessages"][0]["data"] += " net::ERR_CONNECTION_REFUSED" * 100_000
    echo["_webSocketMessages"][0]["opcode"] = -1
    path = tmp_path / "hostile.har"
    path.write_text(json.dumps(document))
    warnings: list[str] = []
    read = {h.url.rsplit("/", 1)[-1]: h for h in load(path, warnings.append)}
    assert "REFUSED" in (read["closed-port"].error or "")
    assert len(read["closed-port"].error or "") < 600
    assert "echo?room=1" not in read and len(warnings) == 1 and "opcode -1" in warnings[0]


def test_our_har_lists_no_close_frame(tmp_path: Path) -> None:
    """A close is kept in ``_wsinspect``, never as a message: Chrome never lists one."""
    session = load(FIXTURE.parent / "session-v1.json")  # a real capture, closes and all
    closes = sum(m.opcode == OP_CLOSE for h in session if h.websocket for m in h.websocket.messages)
    assert closes > 0
    save(session, tmp_path / "s.har", redact=False)
    entries = json.loads((tmp_path / "s.har").read_text())["log"]["entries"]
    opcodes = {m["opcode"] for e in entries for m in e.get("_webSocketMessages", ())}
    assert OP_CLOSE not in opcodes and opcodes
    again = load(tmp_path / "s.har")
    assert sum(1 for h in again if h.websocket and h.websocket.close) == sum(
        1 for h in session if h.websocket and h.websocket.close
    )


if __name__ == "__main__":  # rewrite the recorded fixture from a real Chromium
    with tempfile.TemporaryDirectory() as scratch:
        document = asyncio.run(chromium_har(Path(scratch)))
    FIXTURE.write_text(json.dumps(document, indent=1) + "\n")
    sys.exit(0)
