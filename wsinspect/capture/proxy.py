"""The embedded mitmproxy: a plain ``Master`` running in the caller's asyncio loop.

Not ``DumpMaster``: its error check calls ``sys.exit`` on a busy port, and we want to say what went
wrong in one line (or in the dashboard) instead. ``Master.shutdown()`` leaves the listening socket
open, so ``stop()`` also stops the servers: afterwards the port is free again.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mitmproxy.addons.proxyserver import Proxyserver
    from mitmproxy.master import Master

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8877


class ProxyError(Exception):
    """The proxy cannot run as configured; the message is one line meant for the user."""


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    listen_host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    mode: str = "regular"
    upstream_ca: str | None = None  # PEM file: trust servers' certificates it signed (mkcert)
    allow_loopback_targets: bool = False  # clients from elsewhere may reach our loopback

    @property
    def address(self) -> str:
        host = f"[{self.listen_host}]" if ":" in self.listen_host else self.listen_host
        return f"{host}:{self.port}"

    def describe(self) -> dict[str, Any]:
        return {"listen_host": self.listen_host, "port": self.port, "mode": self.mode}

    @property
    def guards_loopback(self) -> bool:
        """Whether clients from other machines are refused loopback destinations: when they
        can connect, and name the destination themselves (regular mode)."""
        return (
            not is_loopback(self.listen_host)
            and self.mode == "regular"
            and not self.allow_loopback_targets
        )

    @property
    def exposure(self) -> str | None:
        """A warning when the proxy is reachable from other machines, else None."""
        if is_loopback(self.listen_host):
            return None
        loopback = ""
        if self.guards_loopback:
            loopback = (
                "; their requests to this machine's loopback (localhost, 127.0.0.1) are refused "
                "(--allow-loopback-targets would let other machines reach services bound to this "
                "machine's loopback through the proxy)"
            )
        elif self.mode == "regular":
            loopback = (
                "; --allow-loopback-targets lets other machines reach services bound to this "
                "machine's loopback through the proxy"
            )
        return (
            f"listening on {self.listen_host}, not only this machine: anyone who can reach "
            f"the port can use the proxy and have their traffic captured here{loopback}; "
            "listen on 127.0.0.1 unless another device must connect"
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def check_mode(mode: str) -> str:
    """Validate a ``--mode`` value with mitmproxy's own parser; raises ProxyError."""
    if mode != "regular" and not mode.startswith(("reverse:", "upstream:")):
        raise ProxyError(f"unknown mode {mode!r}: use regular, reverse:URL or upstream:URL")
    from mitmproxy.proxy.mode_specs import ProxyMode

    try:
        ProxyMode.parse(mode)
    except ValueError as e:
        raise ProxyError(f"invalid mode {mode!r}: {e}") from None
    return mode


def proxy_addons(server: Proxyserver) -> list[object]:
    """The mitmproxy addons a capturing proxy needs, instead of mitmdump's thirty-one, around
    the ``server`` that listens (its owner keeps it: mitmproxy's lookup by name is untyped).

    mitmproxy offers every event — each relayed chunk of every WebSocket — to every loaded addon;
    with the full set that was half the proxy's CPU under load (bench/load.py, 500 connections:
    12.5 of 24 s in hook dispatch). The ones left out (playback, map/modify, sticky cookies,
    anticache, Alt-Svc rewriting, saving, scripts…) would only ever change traffic or do work
    wsinspect does not ask for.
    """
    from mitmproxy.addons import (
        block,
        core,
        disable_h2c,
        next_layer,
        onboarding,
        proxyauth,
        tlsconfig,
        upstream_auth,
    )

    return [
        core.Core(),  # commands and option checks
        block.Block(),  # refuses clients from public addresses unless told otherwise
        disable_h2c.DisableH2C(),
        onboarding.Onboarding(),  # http://mitm.it: the CA for download
        proxyauth.ProxyAuth(),
        server,
        next_layer.NextLayer(),
        tlsconfig.TlsConfig(),
        upstream_auth.UpstreamAuth(),  # upstream:URL with credentials
    ]


def trust_bundle(extra_ca: str, folder: Path) -> str:
    """One PEM file holding the default roots and ``extra_ca``, written in ``folder``.

    mitmproxy's ``ssl_verify_upstream_trusted_ca`` replaces its default roots (certifi's bundle)
    rather than adding to them: with only a mkcert CA trusted, every public wss:// server would
    fail. So the user's CA is appended to the very bundle mitmproxy would have read.
    """
    import certifi

    try:
        extra = Path(extra_ca).read_bytes()
    except OSError as e:
        raise ProxyError(f"--upstream-ca: cannot read {extra_ca}: {e.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in extra:
        raise ProxyError(
            f"--upstream-ca: no PEM certificate in {extra_ca} (a DER file converts with "
            "openssl x509 -inform der -in FILE -out ca.pem)"
        )
    bundle = folder / "upstream-roots.pem"
    defaults = Path(certifi.where()).read_bytes()
    bundle.write_bytes(defaults.rstrip(b"\n") + b"\n" + extra)
    return str(bundle)


class EmbeddedProxy:
    """Starts and stops one mitmproxy Master with our addons, in the running event loop."""

    def __init__(self, config: ProxyConfig, addons: Sequence[object]) -> None:
        self.config = config
        self._addons = list(addons)
        self._master: Master | None = None
        self._server: Proxyserver | None = None
        self._task: asyncio.Task[None] | None = None
        self._private: Path | None = None  # our 0700 folder: the upstream trust bundle

    @property
    def port(self) -> int:
        """The port actually bound (differs from the config's when that was 0)."""
        if self._master is not None and self._server is not None:
            for address in self._server.listen_addrs():
                return int(address[1])
        return self.config.port

    async def start(self) -> None:
        from mitmproxy import options
        from mitmproxy.addons.proxyserver import Proxyserver
        from mitmproxy.master import Master

        check_mode(self.config.mode)
        opts = options.Options()
        master = Master(opts, event_loop=asyncio.get_running_loop())
        server = Proxyserver()
        master.addons.add(*proxy_addons(server))
        if self.config.guards_loopback:
            from wsinspect.capture.guard import LoopbackGuard

            master.addons.add(LoopbackGuard())  # before the recorder: it sees the refusal
        master.addons.add(*self._addons)
        opts.update(
            mode=[self.config.mode],
            listen_host=self.config.listen_host,
            listen_port=self.config.port,
            # After a 101 relay raw TCP; capture/frames.py reads the frames (10x faster).
            websocket=False,
            # Accept a CONNECT tunnel before reaching the server, so that an unreachable server
            # fails the upgrade request itself: the attempt is seen and recorded.
            connection_strategy="lazy",
        )
        if self.config.upstream_ca:
            self._private = Path(tempfile.mkdtemp(prefix="wsinspect-"))
            try:
                bundle = trust_bundle(self.config.upstream_ca, self._private)
            except ProxyError:
                self._remove_private()
                raise
            opts.update(ssl_verify_upstream_trusted_ca=bundle)
        if not await server.setup_servers():
            failure = next((s.last_exception for s in server.servers if s.last_exception), None)
            await server.servers.update([])
            self._remove_private()
            raise ProxyError(self._explain(failure))
        self._master, self._server = master, server
        self._task = asyncio.create_task(master.run(), name="wsinspect proxy")

    async def stop(self) -> None:
        master, server, task = self._master, self._server, self._task
        if master is None or server is None or task is None:
            return
        master.shutdown()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await server.servers.update([])
        self._master = self._server = self._task = None
        self._remove_private()

    def _remove_private(self) -> None:
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None

    def _explain(self, failure: BaseException | None) -> str:
        where = self.config.address
        if isinstance(failure, OSError):
            if failure.errno == errno.EADDRINUSE:
                return f"cannot listen on {where}: the address is in use (choose another --port)"
            if failure.errno == errno.EACCES:
                return f"cannot listen on {where}: permission denied (choose a --port above 1023)"
            if failure.errno == errno.EADDRNOTAVAIL:
                return (
                    f"cannot listen on {where}: no such address on this machine "
                    "(check --listen-host)"
                )
        reason = str(failure).splitlines()[0] if failure else "unknown error"
        return f"cannot listen on {where}: {reason} (check --listen-host and --port)"
