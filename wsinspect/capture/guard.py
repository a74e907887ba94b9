"""Clients from other machines may not reach this machine's loopback through the proxy.

Services often listen on 127.0.0.1 because only this machine should reach them: a dev server,
a database, an admin page. A proxy listening beyond loopback (``--listen-host 0.0.0.0``) would
otherwise fetch ``http://127.0.0.1:6379`` or tunnel ``CONNECT localhost:5432`` for anyone who
can reach its port. So, for clients whose address is not loopback, a loopback destination is
answered 403 — named literally (``localhost``, ``127.0.0.0/8``, ``::1``, ``0.0.0.0``) or by a
name that resolves to one — unless ``--allow-loopback-targets``. A refusal is a log line, not a
handshake in the session: no server answered it.

A name whose DNS answer changes between our look-up and mitmproxy's connect (DNS rebinding
within seconds) is not caught; literal addresses and ordinary names are.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import TYPE_CHECKING

from wsinspect.capture.addon import REFUSED

if TYPE_CHECKING:
    from mitmproxy import connection, http

REFUSAL = (
    "wsinspect: loopback targets are refused for clients from other machines; "
    "--allow-loopback-targets allows them (only where every machine that can reach this proxy "
    "may use this machine's local services)"
)

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> Address | None:
    """An IP address as written, or in the shorthand forms a resolver accepts (``127.1``,
    ``2130706433``, ``0x7f000001``)."""
    text = text.strip("[]").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(text))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_local(address: Address) -> bool:
    """Loopback, or the unspecified address, which a connect also takes to this machine."""
    return address.is_loopback or address.is_unspecified


def names_loopback(host: str) -> bool:
    """Whether ``host`` as written means this machine's loopback (no look-up)."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = _address(host)
    return address is not None and _is_local(address)


def from_elsewhere(client: connection.Client) -> bool:
    """Whether the client connected from another address than loopback."""
    peer = client.peername
    if not peer:
        return False
    address = _address(str(peer[0]))
    return address is not None and not address.is_loopback


async def resolves_to_loopback(host: str, port: int) -> bool:
    """Whether a name's addresses include a loopback one (``localtest.me``, /etc/hosts)."""
    if _address(host) is not None:
        return False  # an address as written: names_loopback judges it
    try:
        answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return False  # mitmproxy will say it cannot resolve the name
    resolved = [_address(str(answer[4][0])) for answer in answers]
    return any(address is not None and _is_local(address) for address in resolved)


class LoopbackGuard:
    """A mitmproxy addon; see the module's docstring. Loaded only when the proxy listens beyond
    loopback in regular mode (a reverse proxy's target is the user's own choice)."""

    def __init__(self) -> None:
        self._tunnels: set[tuple[str, str, int]] = set()  # (client, host, port) let through

    async def http_connect(self, flow: http.HTTPFlow) -> None:
        if await self._judge(flow):
            self._tunnels.add((flow.client_conn.id, flow.request.host, flow.request.port))

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        """Plain HTTP through the proxy, and requests in a tunnel (judged once, at CONNECT)."""
        if (flow.client_conn.id, flow.request.host, flow.request.port) not in self._tunnels:
            await self._judge(flow)

    def client_disconnected(self, client: connection.Client) -> None:
        self._tunnels = {tunnel for tunnel in self._tunnels if tunnel[0] != client.id}

    async def _judge(self, flow: http.HTTPFlow) -> bool:
        """Whether the request may go on; if not, it is answered 403 and logged."""
        if flow.response is not None or not from_elsewhere(flow.client_conn):
            return True
        host, port = flow.request.host, flow.request.port
        if not names_loopback(host) and not await resolves_to_loopback(host, port):
            return True
        from mitmproxy import http

        self._said(f"{flow.request.method} {flow.request.pretty_host}:{port}", flow)
        flow.metadata[REFUSED] = True  # no handshake to record: no server answered
        flow.response = http.Response.make(
            403, REFUSAL + "\n", {"Content-Type": "text/plain; charset=utf-8"}
        )
        return False

    @staticmethod
    def _said(target: str, flow: http.HTTPFlow) -> None:
        peer = flow.client_conn.peername
        client = f"[{peer[0]}]:{peer[1]}" if ":" in peer[0] else f"{peer[0]}:{peer[1]}"
        reason = REFUSAL.removeprefix("wsinspect: ")
        log.warning(f"refused {target} from {client}: {reason}")
