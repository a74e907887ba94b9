"""wsinspect: find out why a WebSocket handshake failed, and how to fix the server."""

__version__ = "0.1.0"
