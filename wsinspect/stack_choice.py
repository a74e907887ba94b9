"""Which stack answers a host, in the user's words: ``--stack``, the dashboard's "Which stack is
this?", and the choices remembered per host:port between runs.

The diagnosis takes the choice as an input (``diagnose.declare``); this module decides which
choice applies to a handshake and keeps the dashboard's choices in a small private file:
``$XDG_CONFIG_HOME/wsinspect/stacks.json`` (else ``~/.config/wsinspect/stacks.json``), a JSON
object of ``"host:port": "stack name"``. A file that cannot be read is one warning, then
ignored: a remembered choice is a convenience, never a reason not to start.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from wsinspect.diagnose import declare, declared
from wsinspect.diagnose.facts import parse_endpoint
from wsinspect.diagnose.stacks import REGISTRY, slug
from wsinspect.model import Handshake
from wsinspect.sessions.files import OutputError, write_atomic
from wsinspect.text import printable

FILE_NAME = "stacks.json"
MAX_FILE_BYTES = 1 << 20  # a choice per host: thousands fit in far less
MAX_KEY = 300  # a host name is at most 253 characters, then ":port"
DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}


class UnknownStack(ValueError):
    """A name the registry does not know; the message names the close ones (one line)."""


def stack_names() -> list[str]:
    """Every stack the user may name, in the registry's order."""
    return [record.name for record in REGISTRY]


def resolve(name: str) -> str:
    """The registry's own spelling of ``name`` (any case, or its module's name), or
    UnknownStack."""
    by_lower = {known.lower(): known for known in stack_names()}
    by_lower |= {slug(known): known for known in stack_names()}  # flask_sock_werkzeug: no quotes
    known = by_lower.get(name.strip().lower())
    if known is not None:
        return known
    close = difflib.get_close_matches(name.strip().lower(), list(by_lower), n=6, cutoff=0.5)
    if close:
        hint = "close: " + ", ".join(list(dict.fromkeys(by_lower[c] for c in close))[:4])
    else:
        hint = "known ones include " + ", ".join(stack_names()[:6]) + " (docs/usage.md lists all)"
    raise UnknownStack(f"no stack named {name!r}; {hint}")


def host_port(handshake: Handshake) -> str | None:
    """The host:port a handshake went to (the port filled in from the scheme): the key a
    choice is kept under."""
    endpoint = parse_endpoint(handshake.url)
    if endpoint is None or not endpoint.host:
        return None
    port = endpoint.port or DEFAULT_PORTS.get(endpoint.scheme.lower())
    return None if port is None else _key(endpoint.host, port)


def parse_host_port(text: str) -> str:
    """``HOST:PORT`` as typed (``[::1]:8080`` for IPv6) -> the key; ValueError if not one."""
    host, colon, port = text.strip().rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, not {text!r}")
    return _key(host.strip("[]"), int(port))


def _key(host: str, port: int) -> str:
    host = host.lower().rstrip(".")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def config_file() -> Path:
    """Where the choices are remembered: the XDG config folder, as other terminal tools use."""
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    folder = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return folder / "wsinspect" / FILE_NAME


@dataclass
class StackChoices:
    """The stack each host runs, as the user said: this run's (``--stack``, the dashboard's
    choices) win over the remembered ones. A host mapped to None: "I don't know", the wire
    decides."""

    everywhere: str | None = None  # --stack NAME
    hosts: dict[str, str | None] = field(default_factory=dict)  # --stack HOST:PORT=NAME
    remembered: dict[str, str] = field(default_factory=dict)  # read from ``path``
    path: Path | None = None  # where choices are remembered; None: for this run only

    @classmethod
    def load(
        cls,
        given: Iterable[tuple[str | None, str]] = (),
        warn: Callable[[str], None] | None = None,
        path: Path | None = None,
    ) -> StackChoices:
        """The remembered choices, and the command line's ``(host or None, name)`` pairs."""
        path = path or config_file()
        choices = cls(remembered=read_choices(path, warn), path=path)
        for host, name in given:
            if host is None:
                choices.everywhere = name
            else:
                choices.hosts[host] = name
        return choices

    def name_for(self, key: str | None) -> str | None:
        if key is not None and key in self.hosts:
            return self.hosts[key]
        if self.everywhere is not None:
            return self.everywhere
        return None if key is None else self.remembered.get(key)

    def apply(self, handshake: Handshake) -> Handshake:
        """Declare the stack the user named for this handshake's host, if any."""
        name = self.name_for(host_port(handshake))
        if name is not None or declared(handshake) is not None:
            declare(handshake, name)
        return handshake

    def choose(self, key: str, name: str | None) -> str | None:
        """The dashboard's choice for ``key``: for this run, and remembered for the next ones.
        Returns why it could not be remembered, if it could not."""
        self.hosts[key] = name
        if self.path is None:
            return None
        remembered = read_choices(self.path, None)  # another run may have added its own
        if name is None:
            remembered.pop(key, None)
        else:
            remembered[key] = name
        self.remembered = remembered
        try:
            write_choices(self.path, remembered)
        except (OSError, OutputError) as e:
            return f"cannot remember the choice in {self.path}: {_why(e)}"
        return None


def read_choices(path: Path, warn: Callable[[str], None] | None) -> dict[str, str]:
    """The remembered choices; a missing file is none, a bad one is said once and ignored."""
    try:
        data = _read_small(path)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        _say(warn, f"{path}: cannot read remembered stacks ({_why(e)}); ignored")
        return {}
    try:
        raw = msgspec.json.decode(data, type=dict[str, str])
    except msgspec.DecodeError as e:
        _say(warn, f"{path}: not a list of remembered stacks ({e}); ignored")
        return {}
    known = set(stack_names())
    return {k: v for k, v in raw.items() if len(k) <= MAX_KEY and v in known}


def write_choices(path: Path, choices: dict[str, str]) -> None:
    """Atomically, readable by the user only: host names say where one works."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = msgspec.json.format(msgspec.json.encode(dict(sorted(choices.items()))), indent=2)
    write_atomic(path, data + b"\n")


def _read_small(path: Path) -> bytes:
    """Opened without blocking, then looked at: a FIFO or a device is refused, not waited on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES >> 20} MiB")
    return data


def _why(error: Exception) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error)


def _say(warn: Callable[[str], None] | None, message: str) -> None:
    if warn is not None:
        warn(printable(message))
