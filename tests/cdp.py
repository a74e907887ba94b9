"""A real headless Chromium driven over the DevTools protocol, and the HAR DevTools would export.

The HAR is built from the Network events the way DevTools' front end builds it
(``SDK.NetworkManager`` collects the events into a ``NetworkRequest``, ``HAR.Log.Entry.build``
writes it): a WebSocket is an entry with ``_resourceType: "websocket"``, its status is 0 until a
handshake response came, and ``_webSocketMessages`` holds every frame event in order as
``{type, time, opcode, data}``: ``send``/``receive`` for frames (close frames are not among them:
Chromium reports no event for them), ``error`` with opcode -1 and Chromium's own words for
``webSocketFrameError``. Times are DevTools' "pseudo wall time": the wall time of the handshake
request plus the monotonic time since; before any handshake request, the monotonic time itself.
Only what a WebSocket entry carries is built (no pages, no timings beyond ``wait``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.client import ClientConnection, connect

CHROMIUM = "/usr/bin/chromium"
WEBSOCKET_EVENTS = (
    "Network.webSocketCreated",
    "Network.webSocketWillSendHandshakeRequest",
    "Network.webSocketHandshakeResponseReceived",
    "Network.webSocketFrameSent",
    "Network.webSocketFrameReceived",
    "Network.webSocketFrameError",
    "Network.webSocketClosed",
)


@dataclass
class _Socket:
    """What DevTools' NetworkRequest holds for one WebSocket, fed by the events in order."""

    url: str
    initiator: dict[str, Any] | None = None
    issue_time: float = -1.0
    wall_issue_time: float = 0.0
    request_headers: list[dict[str, str]] = field(default_factory=list)
    request_headers_text: str = ""
    status: int = 0
    status_text: str = ""
    response_headers: list[dict[str, str]] = field(default_factory=list)
    response_headers_text: str = ""
    answered_at: float = -1.0
    ended_at: float = -1.0
    frames: list[dict[str, Any]] = field(default_factory=list)

    def wall(self, monotonic: float) -> float:
        """DevTools' ``pseudoWallTime``."""
        return (
            self.wall_issue_time - self.issue_time + monotonic
            if self.wall_issue_time
            else monotonic
        )


def _headers(mapping: dict[str, str]) -> list[dict[str, str]]:
    """DevTools' ``headersMapToHeadersArray``: one header per line of a multi-line value."""
    return [
        {"name": name, "value": line}
        for name, value in mapping.items()
        for line in str(value).split("\n")
    ]


@dataclass
class NetworkLog:
    """The Network events of one page, as DevTools' NetworkManager keeps them."""

    sockets: dict[str, _Socket] = field(default_factory=dict)
    closed: int = 0

    def feed(self, method: str, params: dict[str, Any]) -> None:
        if method == "Network.webSocketCreated":
            self.sockets[params["requestId"]] = _Socket(params["url"], params.get("initiator"))
            return
        socket = self.sockets.get(params.get("requestId", ""))
        if socket is None:
            return
        time = float(params.get("timestamp", 0.0))
        if method == "Network.webSocketWillSendHandshakeRequest":
            socket.request_headers = _headers(params["request"]["headers"])
            socket.issue_time, socket.wall_issue_time = time, float(params["wallTime"])
        elif method == "Network.webSocketHandshakeResponseReceived":
            response = params["response"]
            socket.status, socket.status_text = response["status"], response["statusText"]
            socket.response_headers = _headers(response["headers"])
            socket.response_headers_text = response.get("headersText") or ""
            if response.get("requestHeaders"):
                socket.request_headers = _headers(response["requestHeaders"])
            socket.request_headers_text = response.get("requestHeadersText") or ""
            socket.answered_at = time
        elif method in ("Network.webSocketFrameSent", "Network.webSocketFrameReceived"):
            frame = params["response"]
            kind = "send" if method.endswith("Sent") else "receive"
            socket.frames.append(
                {
                    "type": kind,
                    "time": socket.wall(time),
                    "opcode": frame["opcode"],
                    "data": frame["payloadData"],
                }
            )
            socket.answered_at = time
        elif method == "Network.webSocketFrameError":
            socket.frames.append(
                {
                    "type": "error",
                    "time": socket.wall(time),
                    "opcode": -1,
                    "data": params["errorMessage"],
                }
            )
            socket.answered_at = time
        elif method == "Network.webSocketClosed":
            socket.ended_at = time
            self.closed += 1

    def har(self, webkit_version: str) -> dict[str, Any]:
        entries = [_entry(s) for s in self.sockets.values()]
        creator = {"name": "WebInspector", "version": webkit_version}
        return {"log": {"version": "1.2", "creator": creator, "pages": [], "entries": entries}}


def _http_version(headers_text: str, fallback: str) -> str:
    first = headers_text.split("\r\n", 1)[0]
    return first.split(" ", 1)[0] if first.startswith("HTTP/") else fallback


def _initiator(initiator: dict[str, Any] | None) -> dict[str, Any] | None:
    """DevTools keeps the initiator's type, url, lineNumber and stack, when given."""
    if initiator is None:
        return None
    keys = ("type", "url", "lineNumber", "stack")
    return {k: initiator[k] for k in keys if initiator.get(k) is not None}


def _entry(s: _Socket) -> dict[str, Any]:
    """``HAR.Log.Entry.build`` for a WebSocket request."""
    wait = (s.answered_at - s.issue_time) * 1000 if s.answered_at >= 0 <= s.issue_time else 0.0
    request_line = s.request_headers_text.split("\r\n", 1)[0]
    location = next((h["value"] for h in s.response_headers if h["name"].lower() == "location"), "")
    return {
        "_initiator": _initiator(s.initiator),
        "_priority": None,
        "_resourceType": "websocket",
        "cache": {},
        "request": {
            "method": "GET",
            "url": s.url.split("#", 1)[0],
            "httpVersion": request_line.rsplit(" ", 1)[-1] if request_line else "HTTP/1.1",
            "headers": s.request_headers,
            "queryString": [
                {"name": k, "value": v}
                for k, v in parse_qsl(urlsplit(s.url).query, keep_blank_values=True)
            ],
            "cookies": [],
            "headersSize": len(s.request_headers_text) if s.request_headers_text else -1,
            "bodySize": 0,
        },
        "response": {
            "status": s.status,
            "statusText": s.status_text,
            "httpVersion": _http_version(s.response_headers_text, "websocket" if s.status else ""),
            "headers": s.response_headers,
            "cookies": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": location,
            "headersSize": len(s.response_headers_text) if s.response_headers_text else -1,
            "bodySize": -1,
            "_transferSize": 0,
            "_error": None,
        },
        "serverIPAddress": "",
        "startedDateTime": datetime.fromtimestamp(s.wall(s.issue_time), UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "time": max(wait, 0.0),
        "timings": {
            "blocked": -1,
            "dns": -1,
            "ssl": -1,
            "connect": -1,
            "send": 0,
            "wait": max(wait, 0.0),
            "receive": 0,
            "_blocked_queueing": -1,
        },
        "_webSocketMessages": s.frames,
    }


class Chromium:
    """One headless Chromium and its browser-level DevTools connection."""

    def __init__(self, process: subprocess.Popen[bytes], cdp: ClientConnection) -> None:
        self.process, self.cdp = process, cdp
        self._ids = 0
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[tuple[str, dict[str, Any], str]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.cdp:
            message = json.loads(raw)
            if "id" in message and message["id"] in self._answers:
                self._answers.pop(message["id"]).set_result(message)
            elif "method" in message:
                await self._events.put(
                    (message["method"], message.get("params", {}), message.get("sessionId", ""))
                )

    async def send(self, method: str, session: str = "", **params: Any) -> dict[str, Any]:
        self._ids += 1
        answer = asyncio.get_running_loop().create_future()
        self._answers[self._ids] = answer
        command: dict[str, Any] = {"id": self._ids, "method": method, "params": params}
        if session:
            command["sessionId"] = session
        await self.cdp.send(json.dumps(command))
        reply = await asyncio.wait_for(answer, 10)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def record(self, url: str, sockets: int, timeout: float = 20) -> NetworkLog:
        """Open ``url`` in a new tab and keep its WebSocket events until ``sockets`` have closed."""
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        session = attached["sessionId"]
        await self.send("Network.enable", session)
        await self.send("Page.navigate", session, url=url)
        log = NetworkLog()
        async with asyncio.timeout(timeout):
            while log.closed < sockets:
                method, params, from_session = await self._events.get()
                if from_session == session and method in WEBSOCKET_EVENTS:
                    log.feed(method, params)
        await self.send("Target.closeTarget", targetId=target["targetId"])
        return log

    async def version(self) -> str:
        """What DevTools writes as the HAR's creator version: the AppleWebKit version."""
        agent = (await self.send("Browser.getVersion"))["userAgent"]
        found = re.search(r"AppleWebKit/([^ ]+)", agent)
        return found.group(1) if found else "n/a"


@contextlib.asynccontextmanager
async def chromium(*flags: str) -> AsyncIterator[Chromium]:
    """Headless Chromium with a throwaway profile, its DevTools port chosen by itself."""
    profile = Path(tempfile.mkdtemp(prefix="wsinspect-cdp-"))
    command = [
        CHROMIUM,
        "--headless",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        *flags,
    ]
    if os.geteuid() == 0:
        command.append("--no-sandbox")
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        endpoint = await _endpoint(profile / "DevToolsActivePort", process)
        async with connect(endpoint, max_size=None) as cdp:
            browser = Chromium(process, cdp)
            try:
                yield browser
            finally:
                browser._reader.cancel()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        shutil.rmtree(profile, ignore_errors=True)


async def _endpoint(active_port: Path, process: subprocess.Popen[bytes]) -> str:
    """``ws://127.0.0.1:PORT/devtools/browser/ID`` from the file Chromium writes when ready."""
    async with asyncio.timeout(20):
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"chromium exited with {process.returncode}")
            lines = active_port.read_text().splitlines() if active_port.exists() else []
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            await asyncio.sleep(0.05)
