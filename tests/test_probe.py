"""The probe against real servers: the matrix, the policy in words, and care for the server."""

from __future__ import annotations

import asyncio
import base64
import json

from websockets.asyncio.server import serve
from websockets.typing import Origin, Subprotocol

from tests.conftest import until
from tests.helpers import run_cli, start_record
from tests.servers import free_port, go_server, node_script, process_server
from tests.test_tui import SIZE, screen_text, shown
from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Handshake, Headers, Request, Session
from wsinspect.probe import ProbeReport, Target, probe, variants
from wsinspect.tui.app import WsinspectApp

PAGE = Origin("http://localhost:5173")


async def echo(ws) -> None:
    async for message in ws:
        await ws.send(message)


def row(report: ProbeReport, name: str) -> tuple[int | None, str | None, list[str]]:
    """What one variant got: status, selected subprotocol, finding codes."""
    trial = next(t for t in report.trials if t.variant.name == name)
    h = trial.handshake
    return h.status, h.selected_subprotocol, [f.code for f in diagnosis_of(h).findings]


def policy(report: ProbeReport) -> list[str]:
    return [s.text for s in report.policy]


# -- Python websockets ----------------------------------------------------------------------


async def test_allow_list_and_required_subprotocol_and_care_for_the_server():
    seen: list[tuple[str | None, int | None, int]] = []

    async def record(ws) -> None:
        messages = 0
        async for _ in ws:
            messages += 1
        seen.append((ws.request.headers.get("Cookie"), ws.close_code, messages))

    async with serve(
        record, "127.0.0.1", 0, origins=[PAGE], subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as server:
        port = server.sockets[0].getsockname()[1]
        target = Target(
            f"ws://127.0.0.1:{port}/graphql",
            origins=(PAGE,),
            subprotocols=("graphql-transport-ws", "graphql-ws"),
            headers=(("Cookie", "session=secret"),),
        )
        report = await probe(target)
        await until(lambda: len(seen) == 2)  # the two upgraded variants have closed

    assert [t.variant.name for t in report.trials] == [
        "as given",
        "same-origin",
        "no Origin",
        "foreign Origin",
        "null Origin",
        "only graphql-transport-ws",
        "only graphql-ws",
        "no subprotocol",
    ]
    assert row(report, "as given") == (101, "graphql-transport-ws", [])
    assert row(report, "same-origin")[:2] == (403, None)
    assert "origin-rejected" in row(report, "foreign Origin")[2]
    assert row(report, "null Origin")[0] == 403
    assert row(report, "only graphql-transport-ws")[:2] == (101, "graphql-transport-ws")
    assert row(report, "only graphql-ws")[0] == 400
    assert diagnosis_of(report.trials[0].handshake).stack.name == "Python websockets"
    assert policy(report) == [
        f"accepts these origins: {PAGE}",
        "requires subprotocol graphql-transport-ws",
    ]
    assert report.verdict == "ok"
    # Every WebSocket the probe opened was closed with 1000, without a message or the cookie.
    assert seen == [(None, 1000, 0), (None, 1000, 0)]
    assert report.target.left_out() == ["Cookie"]


async def test_open_server_accepts_any_origin_and_cookies_make_it_a_hijacking_risk():
    async with serve(echo, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        without = await probe(Target(url, origins=(PAGE,)))
        with_cookie = await probe(Target(url, origins=(PAGE,), headers=(("Cookie", "sid=1"),)))
    assert row(without, "foreign Origin")[0] == 101
    assert without.policy[0].severity == "ok"
    assert without.policy[0].text.startswith("accepts any Origin")
    assert with_cookie.policy[0].severity == "warning"
    assert "cross-site WebSocket hijacking" in with_cookie.policy[0].text
    assert with_cookie.verdict == "warning"


async def test_an_allow_list_with_null_is_a_warning():
    """``origins=[page, "null"]``: any page can reach the endpoint from a sandboxed iframe."""
    async with serve(echo, "127.0.0.1", 0, origins=[PAGE, Origin("null")]) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        report = await probe(Target(url, origins=(PAGE,)))
    assert row(report, "null Origin")[0] == 101
    assert row(report, "foreign Origin")[0] == 403
    assert [(s.severity, s.text) for s in report.policy] == [
        ("ok", f"accepts these origins: {PAGE}"),
        (
            "warning",
            "accepts Origin: null — sandboxed iframes and file:// pages send it, so any web page "
            "can reach this endpoint through one; do not allow null",
        ),
    ]
    assert report.verdict == "warning"


# -- coder/websocket and gorilla/websocket (Go) -----------------------------------------------


async def test_coder_default_is_same_origin_only():
    async with process_server([str(go_server("coder"))]) as port:
        report = await probe(Target(f"ws://127.0.0.1:{port}/", origins=(PAGE,)))
    assert row(report, "as given")[0] == 403
    assert row(report, "same-origin")[0] == 101
    assert diagnosis_of(report.trials[0].handshake).stack.name == "coder/websocket"
    assert policy(report) == [
        "accepts same-origin only (and clients that send no Origin: scripts, not browsers)",
        f"refuses the page's Origin {PAGE}: allow it (the diagnosis of the handshake as given "
        "has the fix for this stack)",
    ]
    assert report.verdict == "error"  # the page's own handshake still fails


async def test_coder_subprotocols_the_server_does_not_know_get_a_bare_101():
    command = [str(go_server("coder")), "-subprotocols", "chat", "-origins", "localhost:5173"]
    async with process_server(command) as port:
        report = await probe(
            Target(f"ws://127.0.0.1:{port}/", origins=(PAGE,), subprotocols=("chat", "superchat"))
        )
    assert row(report, "as given")[:2] == (101, "chat")
    assert row(report, "only superchat") == (101, None, ["subprotocol-not-selected"])
    assert "selects chat when offered; no subprotocol is fine too" in policy(report)
    assert (
        "answers 101 without a subprotocol when offered superchat: a browser offering that aborts"
        in policy(report)
    )


async def test_gorilla_default_and_allow_list():
    async with process_server([str(go_server("gorilla"))]) as port:
        default = await probe(Target(f"ws://127.0.0.1:{port}/", origins=(PAGE,)))
    command = [str(go_server("gorilla")), "-origins", f"{PAGE},http://localhost:3000"]
    async with process_server(command) as port:
        listed = await probe(
            Target(f"ws://127.0.0.1:{port}/", origins=(PAGE, "http://localhost:3000"))
        )
    assert diagnosis_of(default.trials[0].handshake).stack.name == "gorilla/websocket"
    assert policy(default)[0] == (
        "accepts same-origin only (and clients that send no Origin: scripts, not browsers)"
    )
    assert row(listed, "Origin http://localhost:3000")[0] == 101
    assert policy(listed) == [f"accepts these origins: {PAGE}, http://localhost:3000"]


# -- Node ws --------------------------------------------------------------------------------


async def test_node_ws_without_verify_client_ignores_subprotocols():
    async with process_server([*node_script("ws-server.js"), "--ignore-protocols"]) as port:
        report = await probe(
            Target(f"ws://127.0.0.1:{port}/", origins=(PAGE,), subprotocols=("chat",))
        )
    assert row(report, "foreign Origin")[0] == 101
    assert policy(report)[0].startswith("accepts any Origin")
    assert policy(report)[1].startswith("ignores subprotocols")
    assert report.verdict == "error"


async def test_node_ws_with_verify_client_accepts_its_origin_only():
    command = [*node_script("ws-server.js"), "--origin", PAGE]
    async with process_server(command) as port:
        report = await probe(Target(f"ws://127.0.0.1:{port}/", origins=(PAGE,)))
    assert row(report, "no Origin")[0] == 401
    assert diagnosis_of(report.trials[1].handshake).stack.name == "Node ws"
    assert row(report, "foreign Origin")[0] == 401
    assert policy(report) == [f"accepts these origins: {PAGE}"]
    assert report.verdict == "ok"


# -- the command ----------------------------------------------------------------------------


async def test_the_probes_handshakes_show_up_in_a_running_recorder(tmp_path):
    async with serve(echo, "127.0.0.1", 0, origins=[Origin("http://localhost:3000")]) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/chat"
        recorder = await start_record("-o", str(tmp_path / "s.json"))
        proxy = f"http://127.0.0.1:{recorder.port}"
        sent = len(variants(Target(url, origins=(PAGE,))))
        code, out, err = await run_cli("probe", url, "--origin", PAGE, "--proxy", proxy)
        lines = [await recorder.line() for _ in range(sent)]
        recorder.process.terminate()
        await recorder.finish()
    assert code == 1, err  # the page's own Origin is refused
    assert "accepts these origins" not in out and "origin-rejected" in out
    assert all(url in line for line in lines)
    assert all(" 403 " in line for line in lines)  # websockets refuses a missing Origin too


async def test_json_and_fail_on():
    async with serve(echo, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        code, out, _ = await run_cli(
            "probe", url, "-H", "Cookie: a=b", "--format", "json", "--fail-on", "warning"
        )
        relaxed, _, _ = await run_cli("probe", url, "-H", "Cookie: a=b", "--fail-on", "error")
    document = json.loads(out)
    assert code == 1 and relaxed == 0
    assert document["policy"][0]["severity"] == "warning"
    assert [v["status"] for v in document["variants"]] == [101] * len(document["variants"])
    assert document["not_sent"] == ["Cookie"]


async def test_unreachable_and_bad_input_are_one_line_and_exit_2():
    port = free_port()
    for args, words in (
        ([f"ws://127.0.0.1:{port}/"], "cannot reach"),
        (["http://example.com/"], "ws:// or wss://"),
        (["ws://127.0.0.1:1/", "-H", "no colon"], "expected 'Name: value'"),
        (["ws://127.0.0.1:99999/"], "not a WebSocket URL"),
        (["ws://[::1/"], "not a WebSocket URL"),
    ):
        code, out, err = await run_cli("probe", *args)
        assert code == 2, (args, err)
        # One line says why, the last; before it at most the line saying what is probed: no
        # usage text, no traceback, no reason spread over lines.
        *before, reason = err.strip().splitlines()
        assert reason.startswith("wsinspect") and words in reason, (args, err)
        assert len(before) <= 1, err
        assert all(line.startswith(f"wsinspect: probing {args[0]} with ") for line in before), err
        assert "Traceback" not in err and out == ""


# -- the dashboard --------------------------------------------------------------------------


async def test_dashboard_probes_the_selected_handshake_and_tells_whether_the_fix_took():
    port = free_port()
    url = f"ws://127.0.0.1:{port}/chat"
    captured = Handshake(
        id="h0",
        started=0.0,
        url=url,
        request=Request(headers=Headers([("Host", f"127.0.0.1:{port}"), ("Origin", PAGE)])),
    )
    captured.error = "refused"
    session = Session(created=0.0)
    session.add(captured)
    app = WsinspectApp(session=session)
    async with app.run_test(size=SIZE) as pilot:
        async with serve(echo, "127.0.0.1", port, origins=[Origin("http://localhost:3000")]):
            await pilot.press("t")
            await until(lambda: "policy:" in shown(app, "detail-probe"), timeout=10)
            before = shown(app, "detail-probe")
        async with serve(echo, "127.0.0.1", port, origins=[PAGE]):  # the developer's fix
            await asyncio.sleep(0.1)
            await pilot.press("t")
            await until(lambda: "since the last probe" in shown(app, "detail-probe"), timeout=10)
            after = shown(app, "detail-probe")
    assert "as given" in before and "403" in before
    assert "refuses every Origin tried" in before and "allows other origins only" in before
    assert f"accepts these origins: {PAGE}" in after
    assert "the fix took" in after


async def test_a_refusal_that_is_not_about_the_origin_is_called_so():
    async def login_first(connection, request):
        return connection.respond(401, "log in first\n")

    async with serve(echo, "127.0.0.1", 0, process_request=login_first) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        report = await probe(Target(url, origins=(PAGE,)))
    assert {t.handshake.status for t in report.trials} == {401}
    assert policy(report) == [
        "refuses every variant, with any Origin and without (unauthorized): the refusal is not "
        "about the Origin"
    ]


# -- credentials ----------------------------------------------------------------------------


def recording(seen: list[tuple[str, Headers]]):
    """A server's ``process_request`` that keeps the path and headers of every handshake."""

    def record(connection, request) -> None:
        seen.append((request.path, Headers(request.headers.raw_items())))

    return record


async def test_url_userinfo_is_sent_only_with_credentials():
    seen: list[tuple[str, Headers]] = []
    async with serve(echo, "127.0.0.1", 0, process_request=recording(seen)) as server:
        url = f"ws://alice:pa55word@127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        code, out, err = await run_cli("probe", url, "--format", "json")
        without = list(seen)
        seen.clear()
        _, shown, said = await run_cli("probe", url, "--with-credentials")
    assert code == 0, err
    assert "pa55word" not in out + err + shown + said  # sent when asked, never printed
    assert without and all(not headers.has("Authorization") for _, headers in without)
    assert json.loads(out)["not_sent"] == ["the URL's user:password"]
    basic = "Basic " + base64.b64encode(b"alice:pa55word").decode()
    assert seen and all(headers.get("Authorization") == basic for _, headers in seen)


async def test_dashboard_probe_leaves_captured_secrets_out_unless_asked_and_hides_them():
    secret = "abc123xyz"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    seen: list[tuple[str, Headers]] = []
    async with serve(echo, "127.0.0.1", 0, process_request=recording(seen)) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/chat;jsessionid={secret}?room=1&token={secret}"
        headers = [
            ("Host", f"127.0.0.1:{port}"),
            ("Origin", PAGE),
            ("X-Auth-Token", secret),
            ("Api-Key", f"k-{secret}"),
            ("Cookie", f"sid={secret}"),
            ("Sec-WebSocket-Protocol", f"access_token, {jwt}, chat"),
            ("Accept-Language", "en"),
        ]
        captured = Handshake(
            id="h0", started=0.0, url=url, request=Request(headers=Headers(headers))
        )
        captured.error = "refused"
        session = Session(created=0.0)
        session.add(captured)
        app = WsinspectApp(session=session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("t")
            await until(lambda: "policy:" in shown(app, "detail-probe"), timeout=10)
            without = list(seen)
            tab = shown(app, "detail-probe")
            seen.clear()
            app.action_probe_with_credentials()
            await until(lambda: "since the last probe" in shown(app, "detail-probe"), timeout=10)
            await pilot.pause()
            on_screen = screen_text(app)

    sent = "\n".join(f"{path} {list(h)}" for path, h in without)
    assert secret not in sent and jwt not in sent
    assert all(path == "/chat?room=1" for path, _ in without)
    assert all(h.get("Accept-Language") == "en" for _, h in without)  # the rest goes as captured
    assert (
        "not sent: X-Auth-Token, Api-Key, Cookie, URL parameter jsessionid, URL parameter "
        "token, a token offered as a subprotocol" in tab.replace("\n", " ")
    )
    # Asked for: everything as captured. The screen still hides it (redaction is on).
    assert all(path == f"/chat;jsessionid={secret}?room=1&token={secret}" for path, _ in seen)
    assert all(h.get("X-Auth-Token") == secret and h.get("Cookie") for _, h in seen)
    assert any(jwt in (h.get("Sec-WebSocket-Protocol") or "") for _, h in seen)
    assert secret not in on_screen and jwt not in on_screen


async def test_dashboard_probe_of_a_url_websockets_cannot_open_says_so():
    """A loaded file can hold any URL: the probe reports it instead of ending the dashboard."""
    captured = Handshake(id="h0", started=0.0, url="ws://127.0.0.1:99999/chat", request=Request())
    captured.error = "refused"
    session = Session(created=0.0)
    session.add(captured)
    app = WsinspectApp(session=session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await until(lambda: "not a WebSocket URL" in shown(app, "detail-probe"))
        assert app.return_code is None
