"""Raw-socket captures of a reverse proxy's answers to a WebSocket upgrade.

Usage:
  python3 capture_proxies.py PORT PATH OUTFILE [--plain] [--echo] [--idle SECONDS]

Sends a fixed opening handshake (or a plain GET with --plain) to 127.0.0.1:PORT and writes
the bytes received, exactly as received (body capped at 4 KiB), to OUTFILE.
--echo: after a 101, send one masked text frame "hello" and report the echoed frame.
--idle N: after a 101, send nothing and report what ends the connection within N seconds
(a close frame and its code, or a bare TCP FIN) and when.
"""

import socket
import struct
import sys
import time

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
CAP = 4096


def request(port: int, path: str, plain: bool) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if not plain:
        lines += [
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {KEY}",
            "Sec-WebSocket-Version: 13",
            "Origin: http://allowed.example",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, sep, rest = data.partition(b"\r\n\r\n")
    return head + sep, rest


def read_body(sock: socket.socket, head: bytes, rest: bytes) -> bytes:
    text = head.decode("latin-1").lower()
    length = None
    for line in text.split("\r\n"):
        if line.startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    body = rest
    sock.settimeout(2.0)
    try:
        while (length is None or len(body) < length) and len(body) < CAP:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except TimeoutError:
        pass
    return body[:CAP]


def frame(payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


def describe(data: bytes) -> str:
    if not data:
        return "TCP FIN (no close frame)"
    opcode = data[0] & 0x0F
    if opcode == 8 and len(data) >= 4:
        code = struct.unpack("!H", data[2:4])[0]
        return f"close frame code={code} reason={data[4:].decode('utf-8', 'replace')!r}"
    return f"frame opcode={opcode} bytes={data[:64]!r}"


def main() -> None:
    port, path, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    flags = sys.argv[4:]
    plain = "--plain" in flags
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(request(port, path, plain))
    head, rest = read_head(sock)
    upgraded = head.startswith(b"HTTP/1.1 101")
    body = b"" if upgraded else read_body(sock, head, rest)
    with open(out, "wb") as f:
        f.write(head + body)
    print(head.decode("latin-1") + body.decode("latin-1", "replace"))
    if upgraded and "--echo" in flags:
        sock.sendall(frame(b"hello"))
        sock.settimeout(5)
        print("echo:", describe(rest or sock.recv(1024)))
    if upgraded and "--idle" in flags:
        limit = float(flags[flags.index("--idle") + 1])
        sock.settimeout(limit)
        start = time.monotonic()
        try:
            data = rest or sock.recv(1024)
            print(f"idle: after {time.monotonic() - start:.2f}s: {describe(data)}")
            if data:
                more = sock.recv(1024)
                print(f"then after {time.monotonic() - start:.2f}s: {describe(more)}")
        except TimeoutError:
            print(f"idle: still open after {limit}s")
        except ConnectionResetError:
            print(f"idle: after {time.monotonic() - start:.2f}s: TCP RST")
    sock.close()


if __name__ == "__main__":
    main()
