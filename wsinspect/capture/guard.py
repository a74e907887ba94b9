"""Clients from other machines may not reach this machine's loopback through the proxy.

Services often listen on 127.0.0.1 because only this machine should reach them: a dev server,
a database, an admin page. A proxy listening beyond loopback (``--listen-host 0.0.0.0``) would
otherwise fetch ``http://127.0.0.1:6379`` or tunnel ``CONNECT localhost:5432`` for anyone who
can reach its port. So, for clients whose address is not loopback, a loopback destination is
answered 403 — named literally (``localhost``, ``127.0.0.0/8``, ``::1``, ``0.0.0.0``) or by a
name that resolves to one — unless ``--allow-loopback-targets``. A refusal is a log line.

A name whose DNS answer changes between our look-up and mitmproxy's connect (DNS rebinding
within seconds) is not caught; literal addresses and ordinary names are.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mitmproxy import connection, http
    from mitmproxy.proxy.server_hooks import ServerConnectionHookData

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


def _where(client: connection.Client) -> str:
    host, port = client.peername[0], client.peername[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class LoopbackGuard:
    """A mitmproxy addon; see the module's docstring. Loaded only when the proxy listens beyond
    loopback in regular mode (a reverse proxy's target is the user's own choice)."""

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self._refuse_named(flow)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._refuse_named(flow)

    def _refuse_named(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or not from_elsewhere(flow.client_conn):
            return
        if names_loopback(flow.request.host):
            from mitmproxy import http

            target = f"{flow.request.method} {flow.request.pretty_host}:{flow.request.port}"
            self._said(target, flow.client_conn)
            flow.response = http.Response.make(
                403, REFUSAL + "\n", {"Content-Type": "text/plain; charset=utf-8"}
            )

    async def server_connect(self, data: ServerConnectionHookData) -> None:
        """A name that resolves to loopback (``localtest.me``, an /etc/hosts entry)."""
        if data.server.address is None or not from_elsewhere(data.client):
            return
        host, port = data.server.address[0], data.server.address[1]
        if _address(host) is not None:
            return  # an address as written: judged by the hooks above
        try:
            answers = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError:
            return  # mitmproxy will say it cannot resolve the name
        resolved = [_address(str(answer[4][0])) for answer in answers]
        if any(address is not None and _is_local(address) for address in resolved):
            self._said(f"connection to {host}:{port} (a loopback address)", data.client)
            data.server.error = REFUSAL

    @staticmethod
    def _said(target: str, client: connection.Client) -> None:
        reason = REFUSAL.removeprefix("wsinspect: ")
        log.warning(f"refused {target} from {_where(client)}: {reason}")
