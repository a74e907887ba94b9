"""`wsinspect diagnose` on saved sessions: the report, its formats, the exit codes CI relies on."""

from __future__ import annotations

import json
from typing import Any

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


REFUSED: dict[str, Any] = dict(
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

    def broken(handshake, declared=None):
        raise RuntimeError("a bug\nwith a second line")

    monkeypatch.setattr(diagnose, "diagnose", broken)
    assert cli.main(["diagnose", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"wsinspect: internal error reading {path}: RuntimeError: a bug\n"


def refused_attempts(tmp_path, count: int):
    """A session of ``count`` refused cross-origin attempts from an unknown server: each gets a
    dozen fixes, the largest report per attempt there is."""
    handshakes = []
    for number in range(count):
        handshake = attempt(403, url=f"ws://127.0.0.1:8080/ws/{number % 10}", reason="Forbidden")
        handshake.request.headers.append(("Cookie", f"session=secret-{number}"))
        handshakes.append(handshake)
    return session_file(tmp_path, *handshakes, name="refused.json")


@pytest.mark.parametrize(
    "command",
    [
        ["diagnose"],
        ["diagnose", "--format", "json"],
        ["diagnose", "--format", "markdown"],
        # not .json or .har: they hold the capture, no larger than what was read
        ["export", "-o", "out.md"],
    ],
)
def test_reports_and_exports_are_written_as_rendered_not_held_whole(tmp_path, monkeypatch, command):
    """Issue 13: 200,000 attempts make gigabytes of report; memory must follow what is read, not
    what is written. Here the report or file is several times what the command holds at most."""
    import tracemalloc

    from wsinspect import cli
    from wsinspect.sessions import files

    path = refused_attempts(tmp_path, 1_000)
    monkeypatch.chdir(tmp_path)
    read = files.read_regular

    def read_then_reset_peak(path):
        data = read(path)  # asks for a 1 GiB buffer the OS never gives it: peak from here
        tracemalloc.reset_peak()
        return data

    monkeypatch.setattr(files, "read_regular", read_then_reset_peak)
    stdout = tmp_path / "stdout"
    with stdout.open("w") as sink:
        monkeypatch.setattr("sys.stdout", sink)
        tracemalloc.start()
        try:
            assert cli.main([command[0], str(path), *command[1:]]) in (0, 1)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    written = (tmp_path / command[-1] if command[0] == "export" else stdout).stat().st_size
    assert written > 1_000_000
    assert peak < written, f"held {peak:,} bytes to write {written:,}"


def test_a_diagnosis_shares_what_it_repeats():
    """The same refusal, diagnosed twice, holds its fixes (the table of every stack's knob
    among them) and its explanation once: a session of 200,000 attempts would otherwise hold
    ~6 KB more per attempt."""
    from wsinspect import diagnose

    first, second = (diagnose.diagnose(attempt(403, reason="Forbidden")) for _ in range(2))
    assert len(first.findings[0].fixes) >= 2
    assert len(first.findings[0].fixes[1].snippet.splitlines()) > 10
    for a, b in zip(first.findings[0].fixes, second.findings[0].fixes, strict=True):
        assert a.snippet is b.snippet
    assert first.findings[0].explanation is second.findings[0].explanation
