"""The real servers of other stacks (tests/servers/stacks), started for a test on free ports.

``async with stack_server("tornado") as server:`` starts one stack's real server and stops it
after (its whole process group: Tomcat, nginx and Next.js run children). The names are the
fixture folders of tests/fixtures/stacks, so a live answer and its captured bytes line up.

What each needs (scripts/test.sh installs all of it):
- Python frameworks: a venv of their own (their pins conflict with mitmproxy's), found at
  $WSINSPECT_STACKS_VENV, else ~/.cache/wsinspect-stacks-venv;
- Node: ``npm ci`` in tests/servers/stacks/node; Go: Debian's packages, built offline;
- Java: Debian's tomcat10 / libjetty9 and a JDK; proxies: Debian's nginx, apache2, haproxy,
  caddy, run from the configs beside the servers with their ports moved to free ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import require
from tests.servers import BIN, GOPATH, free_port, wait_for_port

STACKS = Path(__file__).parent / "servers" / "stacks"
NODE_MODULES = STACKS / "node" / "node_modules"
INSTALL = "scripts/test.sh installs it"
START_TIMEOUT = 90.0  # Tomcat compiles and boots in ~10 s alone; CI runs many at once


def stacks_python() -> Path:
    """The Python of the stacks' own venv (made by scripts/test.sh)."""
    default = Path.home() / ".cache" / "wsinspect-stacks-venv"
    venv = Path(os.environ.get("WSINSPECT_STACKS_VENV") or default)
    return venv / "bin" / "python"


def _program(name: str, *fallbacks: str) -> str | None:
    found = shutil.which(name)
    return found or next((path for path in fallbacks if os.access(path, os.X_OK)), None)


# -- what each kind of server needs, and how it is started --------------------------------------


async def _venv_python(script: Path) -> list[str]:
    return [str(stacks_python()), str(script)]


async def _node(script: Path) -> list[str]:
    return [_program("node") or "node", str(script)]


async def _plain_python(script: Path) -> list[str]:
    """The Java runners use only the standard library: any Python runs them."""
    return [sys.executable, str(script)]


async def _go_build(source: Path) -> list[str]:
    """Build the Go server in ``source`` (again when changed) with Debian's packages, offline,
    as tests/servers does. Built beside, then renamed: two servers fronting the same Go server
    may build it at once."""
    binary = BIN / f"{source.name}-stack"
    if binary.exists() and binary.stat().st_mtime >= (source / "main.go").stat().st_mtime:
        return [str(binary)]
    BIN.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BIN) as scratch:
        built = Path(scratch) / binary.name
        build = await asyncio.create_subprocess_exec(
            *(_program("go") or "go", "build", "-o", str(built), "."),
            cwd=source,
            env={**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOFLAGS": ""},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, errors = await asyncio.wait_for(build.communicate(), START_TIMEOUT)
        finally:
            if build.returncode is None:
                build.kill()
        if build.returncode != 0:
            raise RuntimeError(f"go build in {source} failed: {errors.decode()[-400:]}")
        built.replace(binary)
    return [str(binary)]


@dataclass(frozen=True)
class Kind:
    """A family of servers: what it needs installed, what to say when it is missing, and the
    command that runs one of its servers (a script, or the folder of a Go program)."""

    needs: Callable[[], bool]
    how: str
    launcher: Callable[[Path], Awaitable[list[str]]]


PYTHON = Kind(
    lambda: os.access(stacks_python(), os.X_OK),
    f"the stacks' venv ({stacks_python().parent.parent}); {INSTALL}",
    _venv_python,
)
NODE = Kind(
    lambda: _program("node") is not None and NODE_MODULES.is_dir(),
    f"node and npm ci in tests/servers/stacks/node; {INSTALL}",
    _node,
)
GO = Kind(
    lambda: _program("go") is not None,
    f"apt-get install golang-go and the Go WebSocket packages; {INSTALL}",
    _go_build,
)
TOMCAT = Kind(
    lambda: _program("javac") is not None and Path("/usr/share/tomcat10/bin/catalina.sh").exists(),
    f"apt-get install tomcat10 libtomcat10-java and a JDK; {INSTALL}",
    _plain_python,
)
JETTY = Kind(
    lambda: _program("javac") is not None and Path("/usr/share/java/jetty9-server.jar").exists(),
    f"apt-get install libjetty9-java libjetty9-extra-java and a JDK; {INSTALL}",
    _plain_python,
)


@dataclass(frozen=True)
class Server:
    """One stack's real server: it takes the port (0 = any) as its first argument and prints
    ``PORT <n>`` first. A dev proxy also takes the port of the stack server it fronts."""

    kind: Kind
    target: str  # under tests/servers/stacks
    args: tuple[str, ...] = ()
    backend: str | None = None


def _py(script: str, *args: str) -> Server:
    return Server(PYTHON, f"python/{script}", args)


def _js(script: str, *args: str, backend: str | None = None) -> Server:
    return Server(NODE, f"node/{script}", args, backend)


SERVERS: Mapping[str, Server] = {
    # Python (the stacks' venv)
    "tornado": _py("tornado_server.py"),
    "aiohttp": _py("aiohttp_server.py"),
    "channels_daphne": _py("channels_server.py", "daphne"),
    "channels_uvicorn": _py("channels_server.py", "uvicorn"),
    "socketio_asgi": _py("socketio_server.py", "asgi"),
    "socketio_hypercorn": _py("socketio_server.py", "hypercorn"),
    "socketio_aiohttp": _py("socketio_server.py", "aiohttp"),
    "flask_sock": _py("flask_sock_server.py"),
    "sanic": _py("sanic_server.py"),
    "hypercorn": _py("hypercorn_server.py"),
    "quart": _py("quart_server.py"),
    "litestar": _py("litestar_server.py"),
    "fastapi": _py("fastapi_server.py"),
    "fastapi_uvicorn_websockets": _py("fastapi_server.py", "websockets"),
    "fastapi_uvicorn_wsproto": _py("fastapi_server.py", "wsproto"),
    "starlette": _py("starlette_server.py"),
    "websockets_new": _py("websockets_server.py", "new"),
    "websockets_legacy": _py("websockets_server.py", "legacy"),
    # Node (npm ci in tests/servers/stacks/node)
    "node-ws": _js("ws_server.js"),
    "express-ws": _js("express_ws_server.js"),
    "fastify-websocket": _js("fastify_ws_server.js"),
    "sockjs": _js("sockjs_server.js"),
    "socketio": _js("socketio_server.js"),
    "uwebsockets": _js("uws_server.js"),
    "vite-proxy": _js("vite_proxy_server.js", backend="gorilla-websocket"),
    "http-proxy": _js("http_proxy_server.js", backend="gorilla-websocket"),
    # Go (Debian's packages, built offline)
    "coder-websocket": Server(GO, "go/coder"),
    "gorilla-websocket": Server(GO, "go/gorilla"),
    # Java (Debian's Tomcat 10.1 and Jetty 9.4, compiled with javac at start)
    "tomcat": Server(TOMCAT, "java/tomcat/run_tomcat.py"),
    "jetty": Server(JETTY, "java/jetty/run_jetty.py"),
}


def _proxy_kind(program: str, package: str) -> Kind:
    return Kind(
        lambda: _program(program, f"/usr/sbin/{program}") is not None,
        f"apt-get install {package}; {INSTALL}",
        _venv_python,  # unused: a proxy runs from its config (Proxy.command)
    )


@dataclass(frozen=True)
class Proxy:
    """A reverse proxy run from its committed config, in front of the echo backend."""

    kind: Kind
    config: str  # beside the servers, in proxies/
    listen: str  # where the config says it listens: the port is the pattern's group
    command: Callable[[str, Path, Path], list[str]]  # (program, config, scratch dir)
    program: str
    env: Callable[[Path], dict[str, str]] = field(default=lambda _scratch: {})


PROXIES: Mapping[str, Proxy] = {
    "nginx": Proxy(
        _proxy_kind("nginx", "nginx-light"),
        "nginx.conf",
        r"^\s*listen 127\.0\.0\.1:(\d+);",
        lambda nginx, conf, scratch: [nginx, "-p", str(scratch), "-c", str(conf)],
        "nginx",
    ),
    "apache2": Proxy(
        _proxy_kind("apache2", "apache2"),
        "apache2.conf",
        r"^Listen 127\.0\.0\.1:(\d+)$",
        lambda apache, conf, _scratch: [apache, "-f", str(conf), "-DFOREGROUND"],
        "apache2",
    ),
    "haproxy": Proxy(
        _proxy_kind("haproxy", "haproxy"),
        "haproxy.cfg",
        r"^\s*bind 127\.0\.0\.1:(\d+)$",
        lambda haproxy, conf, _scratch: [haproxy, "-f", str(conf), "-db"],
        "haproxy",
    ),
    "caddy": Proxy(
        _proxy_kind("caddy", "caddy"),
        "Caddyfile",
        r"^http://127\.0\.0\.1:(\d+) \{$",
        lambda caddy, conf, _scratch: [
            caddy,
            "run",
            "--config",
            str(conf),
            "--adapter",
            "caddyfile",
        ],
        "caddy",
        lambda scratch: {"XDG_DATA_HOME": str(scratch), "XDG_CONFIG_HOME": str(scratch)},
    ),
}

BACKEND_PORT = 18901  # the echo backend in the proxies' configs
SCRATCH_DIRS = ("/tmp/pj_nginx", "/tmp/pj_apache")  # where the configs put their own files


def missing(name: str) -> str | None:
    """Why the stack ``name`` cannot run here, or None when everything it needs is installed."""
    reasons = [kind.how for kind in _needs(name) if not kind.needs()]
    return "; ".join(dict.fromkeys(reasons)) or None


def _needs(name: str) -> list[Kind]:
    if name in PROXIES:
        return [PROXIES[name].kind, PYTHON]  # the echo backend runs in the stacks' venv
    server = SERVERS[name]
    return [server.kind, *(_needs(server.backend) if server.backend else [])]


# -- running them -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Running:
    """A started stack server. A proxy's config has several listeners (one per case): ``ports``
    maps each port written in the config to where it listens now."""

    port: int
    ports: Mapping[int, int] = field(default_factory=dict)


@asynccontextmanager
async def stack_server(name: str) -> AsyncIterator[Running]:
    """Start the real server of stack ``name`` on a free port; stop it (and its children) after.

    Skips when something it needs is not installed (a failure under CI=true)."""
    reason = missing(name)
    require(f"the {name} stack's real server", reason is None, reason or "")
    async with contextlib.AsyncExitStack() as stack:
        if name in PROXIES:
            yield await stack.enter_async_context(_proxy(name))
            return
        server = SERVERS[name]
        fronted: list[str] = []
        if server.backend:
            backend = await stack.enter_async_context(stack_server(server.backend))
            fronted.append(str(backend.port))
        launch = await server.kind.launcher(STACKS / server.target)
        command = [*launch, "0", *server.args, *fronted]
        yield Running(await stack.enter_async_context(_printing_port(name, command)))


@asynccontextmanager
async def stack_servers(names: Iterable[str]) -> AsyncIterator[dict[str, Running | Exception]]:
    """Several stacks' servers, started together and stopped together (Tomcat alone takes
    seconds either way); one that does not start is its exception, the others run."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    started: dict[str, asyncio.Future[Running]] = {name: loop.create_future() for name in names}

    async def serve(name: str) -> None:
        future = started[name]
        try:
            async with stack_server(name) as running:
                future.set_result(running)
                await stop.wait()
        except BaseException as error:  # a skip too: told to whoever waits for this server
            if future.done():
                raise
            future.set_exception(error)

    tasks = [asyncio.create_task(serve(name)) for name in started]
    try:
        ready = await asyncio.gather(*started.values(), return_exceptions=True)
        yield {name: _started(result) for name, result in zip(started, ready, strict=True)}
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def _started(result: Running | BaseException) -> Running | Exception:
    if isinstance(result, BaseException) and not isinstance(result, Exception):
        raise result  # a skip, a failure under CI, an interrupt: not one server's problem
    return result


@asynccontextmanager
async def _process(
    command: list[str], env: Mapping[str, str] | None = None
) -> AsyncIterator[tuple[asyncio.subprocess.Process, Path]]:
    """A process in a group of its own (so its children stop with it); stderr kept in a file."""
    with tempfile.NamedTemporaryFile(prefix="wsinspect-stack-", suffix=".err") as errors:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            stdin=asyncio.subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        try:
            yield process, Path(errors.name)
        finally:
            await _stop(process)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the group (Tomcat's runner stops Tomcat on it), SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            await asyncio.wait_for(process.wait(), grace)
            return
        except TimeoutError:
            continue


@asynccontextmanager
async def _printing_port(name: str, command: list[str]) -> AsyncIterator[int]:
    """Run a server that prints ``PORT <n>`` first; yield n, keep reading what it prints."""
    async with _process(command) as (process, errors):
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
        except TimeoutError:
            line = b""
        match = re.fullmatch(rb"PORT (\d+)\s*", line)
        if match is None:
            tail = errors.read_text(errors="replace")[-600:]
            raise RuntimeError(f"the {name} server printed {line!r}, not PORT <n>: {tail}")
        drain = asyncio.create_task(_drain(process.stdout))
        try:
            # Some print the port they chose before their server binds it (uvicorn's, run
            # from a script): ready means accepting connections.
            await wait_for_port(int(match[1]), name, timeout=START_TIMEOUT)
            yield int(match[1])
        finally:
            drain.cancel()


async def _drain(stream: asyncio.StreamReader) -> None:
    """Read what a server prints, so a full pipe never blocks it."""
    while await stream.read(65536):
        pass


@asynccontextmanager
async def _proxy(name: str) -> AsyncIterator[Running]:
    """The proxy from its committed config, every port moved: the backend's to the echo
    backend started here, the others (its listeners, a dead backend) to free ports."""
    proxy = PROXIES[name]
    program = _program(proxy.program, f"/usr/sbin/{proxy.program}") or proxy.program
    backend_cmd = [str(stacks_python()), str(STACKS / "proxies" / "echo_backend.py"), "0"]
    with tempfile.TemporaryDirectory(prefix=f"wsinspect-{name}-") as directory:
        scratch = Path(directory)
        (scratch / "logs").mkdir()
        async with _printing_port(f"{name}'s echo backend", backend_cmd) as backend:
            text = (STACKS / "proxies" / proxy.config).read_text()
            ports = _moved_ports(text, backend)
            conf = scratch / proxy.config
            conf.write_text(_rewritten(text, ports, scratch))
            command = proxy.command(program, conf, scratch)
            listeners = [ports[int(port)] for port in re.findall(proxy.listen, text, re.M)]
            async with _process(command, proxy.env(scratch)) as (process, errors):
                assert process.stdout is not None
                drain = asyncio.create_task(_drain(process.stdout))
                try:
                    await _until_listening(listeners, errors, name)
                    yield Running(listeners[0], ports)
                finally:
                    drain.cancel()


def _moved_ports(config: str, backend: int) -> dict[int, int]:
    moved = {BACKEND_PORT: backend}
    for port in re.findall(r"127\.0\.0\.1:(\d+)", config):
        moved.setdefault(int(port), free_port())
    return moved


def _rewritten(config: str, ports: Mapping[int, int], scratch: Path) -> str:
    text = re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{ports[int(m[1])]}", config)
    for directory in SCRATCH_DIRS:
        text = text.replace(directory, str(scratch))
    return text


async def _until_listening(ports: list[int], errors: Path, name: str) -> None:
    try:
        for port in ports:
            await wait_for_port(port, name, timeout=START_TIMEOUT)
    except AssertionError as error:
        tail = errors.read_text(errors="replace")[-600:]
        raise RuntimeError(f"{error}: {tail}") from None
