"""Secrets never leave the process unless asked: a real capture carrying every usual token
carrier, written in every format and printed by every command, holds none of them; with
--no-redact it holds them all; and the diagnosis reads the same either way."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import deque
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin, Subprotocol

from tests.helpers import run_cli, start_record
from wsinspect.diagnose import diagnosis_of
from wsinspect.model import (
    Handshake,
    Headers,
    Message,
    Request,
    Response,
    Session,
    WebSocketSummary,
)
from wsinspect.sessions import load, save
from wsinspect.sessions.redact import (
    REDACTED,
    is_secret_header,
    redact_handshake,
    redact_text,
    redact_url,
)

COOKIE = "c00kie-s3ss10n-value"
SET_COOKIE = "s3t-c00kie-value"
AUTHORIZATION = "4uthz-bearer-value"
X_AUTH_TOKEN = "x-4uth-t0ken-value"
QUERY_TOKEN = "qu3ry-t0ken-value"
QUERY_CODE = "0auth-c0de-value"
QUERY_T = "sh0rt-t-value"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlLXZhbHVl"
GRAPHQL_AUTH = "gr4phql-auth-value"
USER, PASSWORD = "us3r-name-value", "p4ss-w0rd-value"
SECRETS = (
    *(COOKIE, SET_COOKIE, AUTHORIZATION, X_AUTH_TOKEN, QUERY_TOKEN, QUERY_CODE, QUERY_T, JWT),
    *(GRAPHQL_AUTH, USER, PASSWORD),
)
QUERY = f"token={QUERY_TOKEN}&code={QUERY_CODE}&t={QUERY_T}&room=blue"
PROTOCOLS = [Subprotocol(p) for p in ("access_token", JWT, "graphql-transport-ws")]


def leaked(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [secret for secret in SECRETS if secret.encode() in data]


async def graphql(ws):
    async for message in ws:
        if json.loads(message)["type"] == "connection_init":
            await ws.send(json.dumps({"type": "connection_ack"}))


def refuse_with_echo(connection, request):
    """A 403 whose body quotes the token back, as many frameworks' error pages do."""
    if request.path.startswith("/refuse"):
        token = parse_qs(urlsplit(request.path).query)["token"][0]
        return connection.respond(403, f"token {token} is not valid for this socket\n")
    return None


def set_cookie(connection, request, response):
    response.headers["Set-Cookie"] = f"srv={SET_COOKIE}; Path=/; HttpOnly"


@pytest.fixture
async def server():
    async with serve(
        graphql,
        "127.0.0.1",
        0,
        process_request=refuse_with_echo,
        process_response=set_cookie,
        subprotocols=[Subprotocol("graphql-transport-ws")],
    ) as running:
        yield running.sockets[0].getsockname()[1]


async def browse(server_port: int, proxy: str) -> None:
    """One refused handshake, one upgraded that authenticates the graphql-ws way."""
    headers = {
        "Cookie": f"sid={COOKIE}; theme=dark",
        "Authorization": f"Bearer {AUTHORIZATION}",
        "X-Auth-Token": X_AUTH_TOKEN,
    }
    with pytest.raises(InvalidStatus):
        async with connect(
            f"ws://127.0.0.1:{server_port}/refuse?{QUERY}",
            proxy=proxy,
            origin=Origin("http://localhost:3000"),
            additional_headers=headers,
        ):
            pass
    async with connect(
        f"ws://127.0.0.1:{server_port}/graphql?{QUERY}",
        proxy=proxy,
        origin=Origin("http://localhost:3000"),
        subprotocols=PROTOCOLS,
        additional_headers=headers,
    ) as ws:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {GRAPHQL_AUTH}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}


@pytest.fixture
async def raw_session(capture, server, tmp_path):
    """The capture saved as it was (--no-redact), with userinfo in the URLs as a HAR or a
    hand-made file may have it (a proxy never sees it)."""
    await browse(server, capture.url)
    await asyncio.wait_for(_closed(capture), 5)
    path = tmp_path / "raw.json"
    save(capture.session, path, redact=False)
    document = json.loads(path.read_text())
    for handshake in document["handshakes"]:
        handshake["url"] = handshake["url"].replace("://", f"://{USER}:{PASSWORD}@", 1)
    path.write_text(json.dumps(document))
    assert set(leaked(path.read_bytes())) == set(SECRETS)
    return path


async def _closed(capture) -> None:
    while not (
        len(capture.session) == 2
        and all(h.status == 403 or (h.websocket and h.websocket.close) for h in capture.session)
    ):
        await asyncio.sleep(0.01)


def codes(handshakes) -> list[list[str]]:
    return [[f.code for f in diagnosis_of(h).findings] for h in handshakes]


async def test_no_output_holds_a_secret_unless_told(raw_session, tmp_path):
    formats = ("json", "har", "mitm", "md")
    exports = [tmp_path / f"out.{ext}" for ext in formats]
    kept = tmp_path / "kept.json"
    runs = await asyncio.gather(
        *(run_cli("export", str(raw_session), "-o", str(out)) for out in exports),
        run_cli("export", str(raw_session), "-o", str(kept), "--no-redact"),
        *(run_cli("diagnose", str(raw_session), "--format", f) for f in ("text", "json")),
        run_cli("diagnose", str(raw_session), "--format", "markdown"),
        *(
            run_cli("diagnose", str(raw_session), "--no-redact", "--format", f)
            for f in ("text", "json")
        ),
    )
    exported, kept_run = runs[:4], runs[4]
    text, as_json, as_markdown, text_kept, json_kept = runs[5:]
    assert all(code == 0 for code, _, _ in [*exported, kept_run])
    for out in exports:
        assert leaked(out.read_bytes()) == [], out.name
    for name, (code, out, _) in zip(
        ("text", "json", "markdown"), (text, as_json, as_markdown), strict=True
    ):
        assert code == 1 and leaked(out) == [], name
    assert REDACTED in as_markdown[1] and REDACTED in text[1]

    # Told not to: everything is there, as captured.
    assert set(leaked(kept.read_bytes())) == set(SECRETS)
    assert set(leaked(json_kept[1])) == set(SECRETS)
    assert {QUERY_TOKEN, USER, PASSWORD} <= set(leaked(text_kept[1]))

    # The diagnosis reads the same: in the report, and again from the redacted file.
    assert codes(load(exports[0])) == codes(load(kept))
    redacted_findings = [[f["code"] for f in h["findings"]] for h in json.loads(as_json[1])]
    assert redacted_findings == [
        [f["code"] for f in h["findings"]] for h in json.loads(json_kept[1])
    ]
    again = [h for h in load(exports[0])]
    assert codes(again) == codes(load(kept))
    assert codes(again)[0], "the refusal is explained"

    # The shape stays: names kept, values gone, the nonce and the subprotocol names still read.
    refused, upgraded = load(exports[0])
    assert upgraded.request.headers.get("Sec-WebSocket-Protocol") == (
        f"access_token, {REDACTED}, graphql-transport-ws"
    )
    assert upgraded.selected_subprotocol == "graphql-transport-ws"
    original = load(kept).get(upgraded.id)
    assert upgraded.request.headers.get("Sec-WebSocket-Key") == (
        original.request.headers.get("Sec-WebSocket-Key")
    )
    for name in ("Cookie", "Authorization", "X-Auth-Token"):
        assert refused.request.headers.get(name) == REDACTED
    assert refused.response.body == f"token {REDACTED} is not valid for this socket\n"
    assert urlsplit(refused.url).query == (
        f"token={REDACTED}&code={REDACTED}&t={REDACTED}&room=blue"
    )
    assert json.loads(upgraded.websocket.messages[0].preview) == {
        "type": "connection_init",
        "payload": {"authorization": REDACTED},
    }


async def test_record_prints_and_saves_no_secret_unless_told(server, tmp_path):
    redacted, kept = tmp_path / "redacted.json", tmp_path / "kept.json"
    runs = [
        await start_record("-o", str(redacted)),
        await start_record("-o", str(kept), "--no-redact"),
    ]
    await asyncio.gather(*(browse(server, f"http://127.0.0.1:{r.port}") for r in runs))
    lines = [[await r.line(), await r.line()] for r in runs]
    for running in runs:
        running.process.send_signal(signal.SIGINT)
    (code, rest, err), (kept_code, _, _) = await asyncio.gather(*(r.finish() for r in runs))
    assert code == kept_code == 0
    printed, printed_kept = "".join(lines[0]) + rest, "".join(lines[1])
    assert "403" in printed and f"token={REDACTED}" in printed
    assert leaked(printed) == [] and leaked(err) == [] and leaked(redacted.read_bytes()) == []
    assert QUERY_TOKEN in printed_kept
    assert set(leaked(kept.read_bytes())) == set(SECRETS) - {USER, PASSWORD}


# -- the policy, carrier by carrier ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        *("Cookie", "Set-Cookie", "Authorization", "Proxy-Authorization", "X-Auth-Token"),
        *("Api-Key", "X-CSRF-Token", "X-Session-Token", "X-Amz-Security-Token", "X-Amz-Date"),
    ],
)
def test_secret_headers(name):
    assert is_secret_header(name)


@pytest.mark.parametrize(
    "name",
    [
        *("Sec-WebSocket-Key", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol", "Origin"),
        *("Host", "WWW-Authenticate", "Keep-Alive", "Sec-WebSocket-Extensions", "User-Agent"),
    ],
)
def test_headers_the_diagnosis_needs_stay(name):
    assert not is_secret_header(name)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("wss://h/ws?token=abc&v=2&key=", f"wss://h/ws?token={REDACTED}&v=2&key="),
        (
            "wss://h/ws?code=1&sid=2&t=3&ticket=4&sig=5",
            "wss://h/ws?"
            + "&".join(f"{n}={REDACTED}" for n in ("code", "sid", "t", "ticket", "sig")),
        ),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=ff&X-Amz-Date=1",
            f"https://b.s3.amazonaws.com/k?X-Amz-Credential={REDACTED}"
            f"&X-Amz-Signature={REDACTED}&X-Amz-Date=1",
        ),
        (
            "wss://h/a;jsessionid=XYZ/ws;token=abc",
            f"wss://h/a;jsessionid={REDACTED}/ws;token={REDACTED}",
        ),
        ("wss://me:pw@h:8443/ws", "wss://redacted@h:8443/ws"),
        (f"wss://h/ws?x={JWT}", f"wss://h/ws?x={REDACTED}"),
        (
            "wss://h/socket.io/?EIO=4&transport=websocket",
            "wss://h/socket.io/?EIO=4&transport=websocket",
        ),
    ],
)
def test_urls(url, expected):
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            '{"type":"connection_init","payload":{"authorization":"Bearer x"}}',
            f'{{"type":"connection_init","payload":{{"authorization":"{REDACTED}"}}}}',
        ),
        ('40{"token":"abc"}', f'40{{"token":"{REDACTED}"}}'),  # Socket.IO CONNECT with auth
        ('40/admin,{"authToken": "abc"}', f'40/admin,{{"authToken": "{REDACTED}"}}'),
        ('{"author":"bob","t":"MESSAGE_CREATE"}', '{"author":"bob","t":"MESSAGE_CREATE"}'),
        ('{"token":"cut short by the prev', f'{{"token":"{REDACTED}'),
        (f"see {JWT} here", f"see {REDACTED} here"),
        ("go to https://x/cb?code=abc.", f"go to https://x/cb?code={REDACTED}"),
    ],
)
def test_text(text, expected):
    assert redact_text(text) == expected


def handshake(messages: int, secret_message: int | None = None) -> Handshake:
    window = deque(
        Message.of("server", float(i), 1, 40, json.dumps({"type": "tick", "n": i}).encode())
        for i in range(messages)
    )
    if secret_message is not None:
        window[secret_message] = Message.of("client", 0.0, 1, 40, b'{"token":"hunter22"}')
    return Handshake(
        id="h",
        started=0.0,
        url="wss://h/ws?token=abcdef123",
        request=Request(headers=Headers([("Cookie", "sid=abcdef456"), ("Host", "h")])),
        response=Response(101, "Switching Protocols"),
        websocket=WebSocketSummary(messages=window),
    )


def test_redaction_copies_only_what_changes():
    """It used to deep-copy every handshake with all its messages (5.2 s for 5,000 x 100)."""
    plain = Handshake(
        id="p", started=0.0, url="wss://h/ws", request=Request(headers=Headers([("Host", "h")]))
    )
    assert redact_handshake(plain) is plain

    sessions = [handshake(100) for _ in range(50)]
    for original in sessions:
        redacted = redact_handshake(original)
        assert redacted.request.headers.get("Cookie") == REDACTED
        assert redacted.websocket.messages is original.websocket.messages
        assert redacted.response is original.response
        assert original.request.headers.get("Cookie") == "sid=abcdef456"

    original = handshake(100, secret_message=7)
    redacted = redact_handshake(original)
    new = [
        i
        for i, (a, b) in enumerate(
            zip(original.websocket.messages, redacted.websocket.messages, strict=True)
        )
        if a is not b
    ]
    assert new == [7]
    assert redacted.websocket.messages[7].data == b'{"token":"[redacted]"}'
    assert original.websocket.messages[7].data == b'{"token":"hunter22"}'


def test_a_crafted_url_is_redacted_whole():
    crafted = Handshake(id="c", started=0.0, url="ws://h/`'\"?token=abcdef123&room=1")
    assert redact_handshake(crafted).url == f"ws://h/`'\"?token={REDACTED}&room=1"


def test_a_session_is_copied_not_changed():
    from wsinspect.sessions.redact import redact_session

    session = Session(created=0.0, proxy={"mode": "reverse:https://me:pw@backend", "port": 1})
    session.add(handshake(3, secret_message=1))
    copy = redact_session(session)
    assert [h.url for h in copy] == [f"wss://h/ws?token={REDACTED}"]
    assert copy.proxy == {"mode": "reverse:https://redacted@backend", "port": 1}
    assert next(iter(session)).url == "wss://h/ws?token=abcdef123"
    assert session.proxy["mode"] == "reverse:https://me:pw@backend"
