"""Capture a server's raw answers to WebSocket opening handshakes, byte for byte.

Usage:
    python capture.py PORT OUTDIR [--ws /ws] [--proto /proto] [--nope /nope] [--page /]
                      [--extra NAME METHOD TARGET [HEADER ...]] ...

Writes OUTDIR/<case>.http with the bytes exactly as received (the body after the
header block capped at 4 KiB) for the standard cases:
    origin_refused   upgrade to --ws with Origin: http://evil.example
    healthy          upgrade to --ws with Origin: http://allowed.example
    subprotocol      upgrade to --proto offering Sec-WebSocket-Protocol: chat.v1
    unknown_path     upgrade to --nope
    page             GET --page without Upgrade
and any --extra case: METHOD TARGET, then headers as "Name: value"; the word
"+upgrade" adds the standard upgrade headers (with the allowed Origin unless an
Origin is given). A 101 is read on for a short while so that frames the server
sends at once (a close right after accepting) are captured too; the client
never sends a frame. Prints one summary line per case (status line, how the
connection ended, time to the first and last byte).
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ALLOWED = "http://allowed.example"
EVIL = "http://evil.example"
BODY_CAP = 4096


def upgrade_headers(
    port: int, origin: str | None = ALLOWED, extra: list[str] | None = None
) -> list[str]:
    headers = [
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {KEY}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        headers.append(f"Origin: {origin}")
    return headers + (extra or [])


def request(method: str, target: str, headers: list[str], body: bytes = b"") -> bytes:
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    return head.encode("latin-1") + body


def exchange(port: int, raw: bytes, idle: float = 1.0, after_101: float = 1.5, total: float = 5.0):
    """Send raw, read until the server closes, falls silent for `idle` s, or `total` s pass."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=total)
    start = time.monotonic()
    sock.sendall(raw)
    data = b""
    first = last = None
    ended = "timeout"
    while True:
        head_end = data.find(b"\r\n\r\n")
        is_101 = data.startswith(b"HTTP/1.1 101") or data.startswith(b"HTTP/1.0 101")
        wait = after_101 if is_101 else idle
        if head_end >= 0 and len(data) - head_end - 4 >= BODY_CAP:
            ended = "capped"
            break
        now = time.monotonic()
        remaining = min(wait, total - (now - start))
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            ended = "silent (connection left open)"
            break
        except ConnectionResetError:
            ended = "reset"
            break
        if not chunk:
            ended = "closed by server"
            break
        t = time.monotonic() - start
        first = t if first is None else first
        last = t
        data += chunk
    sock.close()
    head_end = data.find(b"\r\n\r\n")
    if head_end >= 0:
        data = data[: head_end + 4 + BODY_CAP]
    return data, ended, first, last


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("outdir")
    p.add_argument("--ws", default="/ws")
    p.add_argument("--proto", default="/proto")
    p.add_argument("--nope", default="/nope")
    p.add_argument("--page", default="/")
    p.add_argument("--only", nargs="*", help="capture only these standard cases (none: all)")
    p.add_argument("--extra", nargs="+", action="append", default=[], metavar="ARG")
    a = p.parse_args()
    port = a.port
    cases: dict[str, bytes] = {
        "origin_refused": request("GET", a.ws, upgrade_headers(port, EVIL)),
        "healthy": request("GET", a.ws, upgrade_headers(port, ALLOWED)),
        "subprotocol": request(
            "GET", a.proto, upgrade_headers(port, ALLOWED, ["Sec-WebSocket-Protocol: chat.v1"])
        ),
        "unknown_path": request("GET", a.nope, upgrade_headers(port, ALLOWED)),
        "page": request("GET", a.page, [f"Host: 127.0.0.1:{port}", "Accept: */*"]),
    }
    if a.only is not None:
        cases = {k: v for k, v in cases.items() if k in a.only}
    for extra in a.extra:
        if len(extra) < 3:
            sys.exit("--extra NAME METHOD TARGET [HEADER ...]")
        name, method, target, *hdrs = extra
        if "+upgrade" in hdrs:
            hdrs = [h for h in hdrs if h != "+upgrade"]
            has_origin = any(h.lower().startswith("origin:") for h in hdrs)
            headers = upgrade_headers(port, None if has_origin else ALLOWED, hdrs)
        else:
            headers = [f"Host: 127.0.0.1:{port}", *hdrs]
        cases[name] = request(method, target, headers)
    out = Path(a.outdir)
    out.mkdir(parents=True, exist_ok=True)
    for name, raw in cases.items():
        data, ended, first, last = exchange(port, raw)
        (out / f"{name}.http").write_bytes(data)
        status = data.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        timing = (
            "no bytes"
            if first is None
            else f"first {first * 1000:.0f} ms, last {last * 1000:.0f} ms"
        )
        print(f"{name:16} {status!r:40} {len(data):5} B  {ended}; {timing}")


if __name__ == "__main__":
    main()
