"""Failed TLS handshakes on either side of the proxy, as records.

Neither leaves an HTTP exchange of its own that says why. A client that does not trust
wsinspect's CA hangs up before it sends a request: without this it leaves no trace at all, so it
becomes an attempt of its own, one per client and destination, its repeats counted. A server
whose certificate the proxy cannot verify makes mitmproxy answer 502 with "Certificate verify
failed"; its certificate (subject, issuer, expiry) is kept for the handshake that failed.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import TYPE_CHECKING

from msgspec.structs import replace

from wsinspect.diagnose.tls import CLIENT_FAILED
from wsinspect.model import Client, Handshake, Request, Session, TlsFailure

if TYPE_CHECKING:
    from cryptography import x509
    from mitmproxy.tls import TlsData

MAX_PENDING = 256  # server failures waiting for their flow's error hook
MAX_GROUPS = 256  # client failures grouped by client and destination
DISTRUST = "trust"  # mitmproxy says "does not trust" / "may not trust" the proxy's certificate
_ids = itertools.count(1)


def _host_port(address: tuple[str, int] | None) -> str:
    if not address:
        return "?"
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _certificate(data: TlsData) -> x509.Certificate | None:
    """The server's own certificate, from the chain it sent: mitmproxy keeps the chain only after
    a handshake that succeeded, but the TLS connection still holds it."""
    chain = data.ssl_conn.get_peer_cert_chain() if data.ssl_conn is not None else None
    return chain[0].to_cryptography() if chain else None


def server_failure(data: TlsData) -> TlsFailure:
    cert = _certificate(data)
    conn = data.conn
    return TlsFailure(
        side="server",
        error=conn.error or "TLS handshake failed",
        sni=conn.sni or "",
        subject=cert.subject.rfc4514_string() if cert else "",
        issuer=cert.issuer.rfc4514_string() if cert else "",
        not_after=cert.not_valid_after_utc.timestamp() if cert else None,
    )


class TlsFailures:
    """What failed TLS handshakes left, bounded: server failures until their flow's error hook
    takes them, and one attempt per (client host, destination) for clients that distrust us."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, TlsFailure] = OrderedDict()  # by client connection
        self._groups: OrderedDict[tuple[str, str], Handshake] = OrderedDict()

    def server_failed(self, data: TlsData) -> None:
        self._pending[data.context.client.id] = server_failure(data)
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)

    def take(self, client_id: str) -> TlsFailure | None:
        """The server failure on this client's connection, once."""
        return self._pending.pop(client_id, None)

    def client_failed(self, data: TlsData, session: Session, now: float) -> Handshake | None:
        """The attempt recording a client that refused our certificate: new, or its group's
        with one more repeat. None for other failures (a client that spoke no TLS, say)."""
        error = data.conn.error or ""
        if DISTRUST not in error:
            return None
        client = data.context.client
        peer = client.peername[0] if client.peername else "?"
        destination = _host_port(data.context.server.address)
        key = (peer, destination)
        known = self._groups.get(key)
        if known is not None and known.tls is not None:
            self._groups.move_to_end(key)
            # replaced, not edited: the diagnosis kept beside the record sees the change
            known.tls = replace(known.tls, count=known.tls.count + 1, error=error, last=now)
            if session.get(known.id) is None:  # forgotten once sent (the dashboard's feed)
                session.add(known)
            return known
        handshake = Handshake(
            id=f"tls-client-{next(_ids)}-{client.id}",
            started=now,
            answered=now,
            url=_url(data),
            client=Client(_host_port(client.peername)),
            request=Request(method="CONNECT"),
            error=CLIENT_FAILED + error,
            tls=TlsFailure(side="client", error=error, sni=data.conn.sni or "", last=now),
        )
        session.add(handshake)
        self._groups[key] = handshake
        while len(self._groups) > MAX_GROUPS:
            self._groups.popitem(last=False)
        return handshake


def _url(data: TlsData) -> str:
    """Where the client was going: the name it asked for (SNI), else the CONNECT destination.
    Its path is unknown (no request came), and it may not even have been a WebSocket."""
    address = data.context.server.address
    if not data.conn.sni:
        return f"wss://{_host_port(address)}/"
    port = f":{address[1]}" if address and address[1] != 443 else ""
    return f"wss://{data.conn.sni}{port}/"
