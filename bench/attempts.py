"""Many WebSocket attempts through `diagnose` and `export`: peak memory (RSS) and seconds each.

Target (issue 13): a session of 200,000 attempts (refusals with findings and fixes, upgrades with
messages) goes through `diagnose` in each format and `export` to each file within ~2 GB.
--unique gives every attempt its own Origin and path (nothing in the diagnoses can be shared).

Run: python bench/attempts.py [--attempts N] [--unique]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wsinspect.model import (
    Close,
    Counts,
    Handshake,
    Headers,
    Message,
    Request,
    Response,
    Session,
    WebSocketSummary,
)
from wsinspect.sessions import save

TARGET_MB = 2048
COMMANDS = (
    ["diagnose"],
    ["diagnose", "--format", "json"],
    ["diagnose", "--format", "markdown"],
    ["export", "-o", "out.json"],
    ["export", "-o", "out.har"],
    ["export", "-o", "out.md"],
)
# Runs one command in a fresh interpreter and prints its peak RSS: ru_maxrss of a child.
MEASURE = """\
import resource, sys
from wsinspect.cli import main
main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, file=sys.stderr)
"""


def build(attempts: int, unique: bool) -> Session:
    """Three refused cross-origin, two 404s behind nginx, one unreachable, four upgraded (five
    messages each, one of them closed with 1006 and one cross-site with a cookie) in ten."""
    session = Session(created=1_700_000_000.0)
    for n in range(attempts):
        kind, started = n % 10, 1_700_000_000.0 + n
        path = f"/socket/{n if unique else n % 100}"
        origin = f"http://app{n}.example" if unique else "http://localhost:5173"
        headers = [("Host", "127.0.0.1:8080"), ("Origin", origin), ("Upgrade", "websocket")]
        headers += [("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13")]
        headers += [("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Cookie", f"sid=s{n}")]
        if kind == 8:
            headers[1] = ("Origin", "https://evil.example")
        handshake = Handshake(
            id=f"h{n}",
            started=started,
            answered=started + 0.01,
            url=f"ws://127.0.0.1:8080{path}?token=t{n:08}",
            request=Request(headers=Headers(headers)),
        )
        if kind < 3:
            handshake.response = Response(403, "Forbidden")
        elif kind < 5:
            server = Headers([("Server", "nginx/1.25.3"), ("Content-Type", "text/html")])
            handshake.response = Response(404, "Not Found", headers=server, body="Not Found")
        elif kind == 5:
            handshake.error = "Connection refused"
        else:
            accept = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
            accept.append(("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
            handshake.response = Response(101, "Switching Protocols", headers=Headers(accept))
            close = Close(1006 if kind == 9 else 1000, "", "server", started + 5)
            messages = []
            for k in range(5):
                data = f'{{"id":{k},"n":{n}}}'.encode()
                side = "client" if k % 2 == 0 else "server"
                messages.append(Message.of(side, started + k, 1, len(data), data))
            handshake.websocket = WebSocketSummary(
                messages=messages, counts=Counts(3, 2, 300, 300), close=close
            )
        session.add(handshake)
    return session


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=200_000)
    parser.add_argument("--unique", action="store_true", help="every Origin and path its own")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        session_file = Path(folder) / "attempts.json"
        save(build(args.attempts, args.unique), session_file, redact=False)
        size = session_file.stat().st_size / 1e6
        print(f"{args.attempts:,} attempts, {size:.0f} MB; target: < {TARGET_MB} MB each")
        for command in COMMANDS:
            began = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", MEASURE, command[0], str(session_file), *command[1:]],
                cwd=folder,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            seconds = time.perf_counter() - began
            peak = int(done.stderr.strip().splitlines()[-1])
            verdict = "ok" if peak < TARGET_MB else "ABOVE TARGET"
            print(f"{' '.join(command):<28} {peak:>6} MB {seconds:>7.1f} s  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
