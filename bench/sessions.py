"""Session files at scale: write and read each format, print seconds and sizes.

Targets (sessions issue): 10,000 handshakes with 100 messages each; HAR and native JSON each
written in under 2 s and read in under 2 s.

Run: python bench/sessions.py [--handshakes N] [--messages M]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from wsinspect.model import (
    Client,
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
from wsinspect.sessions import load, save

TARGETS = {".json": 2.0, ".har": 2.0}


def build(handshakes: int, messages: int) -> Session:
    """A realistic session: every handshake upgraded, JSON text both ways, closed normally."""
    session = Session(created=1_700_000_000.0)
    headers = Headers(
        [
            ("Host", "127.0.0.1:8080"),
            ("Origin", "http://localhost:5173"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Protocol", "graphql-transport-ws"),
        ]
    )
    answer = Headers(
        [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            ("Sec-WebSocket-Protocol", "graphql-transport-ws"),
        ]
    )
    template = Handshake(
        id="t",
        started=0.0,
        url="ws://127.0.0.1:8080/graphql",
        request=Request(headers=headers),
        response=Response(101, "Switching Protocols", headers=answer),
    )
    for n in range(handshakes):
        started = 1_700_000_000.0 + n
        payloads = [
            f'{{"id":"{k}","type":"next","payload":{{"n":{n}}}}}'.encode() for k in range(5)
        ]
        sent = []
        for k in range(messages):
            data = payloads[k % 5]
            side = "client" if k % 2 == 0 else "server"
            sent.append(Message.of(side, started + k * 0.01, 1, len(data), data))
        ws = WebSocketSummary(
            subprotocol="graphql-transport-ws",
            messages=sent,
            counts=Counts(messages // 2, messages - messages // 2, 3000, 3000),
            close=Close(1000, "bye", "client", started + 60),
        )
        session.add(
            Handshake(
                id=f"h{n}",
                started=started,
                answered=started + 0.002,
                url=f"ws://127.0.0.1:8080/graphql?n={n}",
                client=Client(f"127.0.0.1:{40000 + n % 20000}"),
                request=Request(headers=headers),
                response=template.response,
                websocket=ws,
            )
        )
    return session


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--handshakes", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=100)
    args = parser.parse_args()
    session = build(args.handshakes, args.messages)
    print(f"{args.handshakes:,} handshakes x {args.messages} messages")
    print(f"{'format':<8} {'write s':>8} {'read s':>8} {'size MB':>8} {'redacted':>9}  target")
    with tempfile.TemporaryDirectory() as folder:
        for extension in (".json", ".har", ".mitm", ".md"):
            path = Path(folder) / f"session{extension}"
            began = time.perf_counter()
            save(session, path, redact=False)
            wrote = time.perf_counter() - began
            began = time.perf_counter()  # as users save by default: redacted on the way out
            save(session, path.with_suffix(f".redacted{extension}"), redact=True)
            redacted = time.perf_counter() - began
            read = float("nan")
            if extension != ".md":
                began = time.perf_counter()
                loaded = load(path)
                read = time.perf_counter() - began
                assert len(loaded) == args.handshakes
                del loaded  # freed here, not inside the next format's timing
            size = path.stat().st_size / 1e6
            target = TARGETS.get(extension)
            verdict = ""
            if target is not None:
                met = wrote < target and read < target
                verdict = f"< {target:.0f} s each: {'ok' if met else 'BELOW TARGET'}"
            figures = f"{wrote:>8.2f} {read:>8.2f} {size:>8.1f} {redacted:>9.2f}"
            print(f"{extension:<8} {figures}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
