"""`wsinspect diagnose` on saved sessions: the report, its formats, the exit codes CI relies on."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli
from tests.test_diagnose_wire import attempt, upgraded
from wsinspect.model import Close, Session
from wsinspect.sessions import save


def session_file(tmp_path, *handshakes, name="session.json"):
    session = Session(created=0.0)
    for number, handshake in enumerate(handshakes):
        handshake.id = f"h{number}"
        session.add(handshake)
    path = tmp_path / name
    save(session, path, redact=False)
    return path


REFUSED = dict(
    status=403,
    headers=[("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
    body='request Origin "http://localhost:5173" is not authorized for Host "127.0.0.1:8080"\n',
)


async def test_text_report_names_cause_stack_fix_and_page(tmp_path):
    path = session_file(tmp_path, attempt(**REFUSED))
    code, out, _ = await run_cli("diagnose", str(path))
    assert code == 1
    assert "FAIL  403  ws://127.0.0.1:8080/ws" in out
    assert "stack: coder/websocket" in out
    assert "[error] origin-rejected" in out
    assert 'OriginPatterns: []string{"localhost:5173"}' in out
    assert "see docs/rules/origin-rejected.md" in out
    assert out.rstrip().endswith("1 handshakes: 1 failed, 0 with warnings, 0 ok")


@pytest.mark.parametrize("fail_on, expected", [("error", 0), ("warning", 1), ("never", 0)])
async def test_fail_on_thresholds(tmp_path, fail_on, expected):
    warned = attempt(
        101, upgraded(), origin="http://127.0.0.1:8080", close=Close(1011, "", "server")
    )
    path = session_file(tmp_path, warned)
    code, _, _ = await run_cli("diagnose", str(path), "--fail-on", fail_on)
    assert code == expected


async def test_json_and_markdown(tmp_path):
    path = session_file(
        tmp_path, attempt(**REFUSED), attempt(101, upgraded(), origin="http://127.0.0.1:8080")
    )
    code, out, _ = await run_cli("diagnose", str(path), "--format", "json")
    assert code == 1
    items = json.loads(out)
    assert [h["verdict"] for h in items] == ["error", "ok"]
    assert items[0]["findings"][0]["code"] == "origin-rejected"
    code, out, _ = await run_cli("diagnose", str(path), "--format", "markdown")
    assert "| error | 403 | `ws://127.0.0.1:8080/ws` |" in out
    assert "```go" in out


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "the file is empty"),
        (
            b'{"format": "wsinspect-session", "version": 1, "created": 0, "handshakes": [',
            "not valid JSON",
        ),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"hello": 1}', "neither a wsinspect session nor a HAR"),
        (b'{"log": {"entries": 3}}', 'no "entries" list'),
        (b'{"format": "wsinspect-session", "version": 1, "handshakes": {}}', "damaged session"),
        (b"# WebSocket handshakes\n", "a Markdown report is for people"),
        (b"12:not a flow,", "not a readable mitmproxy flow file"),
    ],
)
async def test_unreadable_input_is_one_line_and_exit_2(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    code, _, err = await run_cli("diagnose", str(path))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert str(path) in err and words in err
    assert "Traceback" not in err


async def test_missing_file(tmp_path):
    code, _, err = await run_cli("diagnose", str(tmp_path / "nope.json"))
    assert code == 2
    assert "cannot read" in err


def test_a_bug_while_reading_is_one_line_and_exit_2_not_a_traceback(tmp_path, monkeypatch, capsys):
    """The outer net: whatever escapes the readers' own checks still ends as a line, exit 2."""
    from wsinspect import cli, diagnose

    path = session_file(tmp_path, attempt(**REFUSED))

    def broken(handshake):
        raise RuntimeError("a bug\nwith a second line")

    monkeypatch.setattr(diagnose, "apply", broken)
    assert cli.main(["diagnose", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"wsinspect: internal error reading {path}: RuntimeError: a bug\n"
