"""Real WebSocket servers of other stacks, started as processes for the tests.

Go servers are built from the sources beside this file with Debian's Go packages; Node servers use
the npm packages installed by scripts/test.sh; nginx is Debian's. Each prints or is told its port.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from tests.conftest import require, require_program

HERE = Path(__file__).parent
BIN = HERE / "bin"
GOPATH = "/usr/share/gocode"


def go_server(name: str) -> Path:
    """Build (once) the Go server ``go/<name>`` and return its binary."""
    binary = BIN / f"{name}-server"
    source = HERE / "go" / name / "main.go"
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    go = require_program("go", "apt-get install golang-go; scripts/test.sh does")
    BIN.mkdir(exist_ok=True)
    build = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=source.parent,
        env={**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOFLAGS": ""},
        capture_output=True,
        text=True,
    )
    require(
        f"the {name} Go server",
        build.returncode == 0,
        f"go build failed: {build.stderr.strip()[-300:]} — scripts/test.sh installs the packages",
    )
    return binary


def node_script(name: str) -> list[str]:
    node = require_program("node", "apt-get install nodejs")
    modules = HERE / "node" / "node_modules"
    require("npm packages ws and socket.io", modules.is_dir(), "scripts/test.sh runs npm ci")
    return [node, str(HERE / "node" / name)]


@asynccontextmanager
async def process_server(command: list[str]) -> AsyncIterator[int]:
    """Run a server that prints its port on its first line; yield the port."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert line.strip().isdigit(), f"{command[0]} printed {line!r}"
        yield int(line)
    finally:
        process.kill()
        await process.wait()


async def wait_for_port(port: int, what: str, timeout: float = 10.0) -> None:
    """Wait until a server started as a process accepts connections on ``port``."""
    for _ in range(int(timeout / 0.02)):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.02)
    raise AssertionError(f"{what} did not start listening on port {port}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NGINX_CONF = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
{location}
        }}
    }}
}}
"""


@asynccontextmanager
async def nginx(location: str) -> AsyncIterator[int]:
    """Debian's nginx on a free port, ``location`` the body of its ``location /`` block
    (``$connection_upgrade`` is mapped as nginx's docs do); yields the port."""
    program = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    require("nginx", program is not None, "apt-get install nginx-light; scripts/test.sh does")
    assert program is not None
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="wsinspect-nginx-") as directory:
        conf = Path(directory) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=directory, port=port, location=location))
        process = await asyncio.create_subprocess_exec(
            program, "-p", directory, "-c", str(conf), stderr=asyncio.subprocess.DEVNULL
        )
        try:
            await wait_for_port(port, "nginx")
            yield port
        finally:
            process.terminate()
            await process.wait()


def nginx_without_upgrade(backend: int) -> AbstractAsyncContextManager[int]:
    """nginx in front of ``backend`` with a plain proxy_pass (no Upgrade/Connection lines):
    the classic mistake."""
    return nginx(f"proxy_pass http://127.0.0.1:{backend};")
