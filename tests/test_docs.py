"""The README and docs/ stay true: their links lead somewhere, their commands run, and the test
command they give is the one CI runs.

A newcomer copies commands from the README and clicks its links; a wrong option or a dead link is
the first thing they meet.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from pathlib import Path

import pytest

from wsinspect.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
SHELL_END = re.compile(r"\s(?:&&|\|\|?|;|>|2>|&)(?:\s|$)")


def prose(text: str) -> str:
    """The text without code: links and headings inside code are examples, not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(document: Path) -> list[str]:
    return LINK.findall(prose(document.read_text()))


def is_relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens."""
    text = CODE_SPAN.sub(r"\2", heading).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading: its text
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in ("L", "N", "M"))
    return kept.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", document.read_text())):
        name = anchor(heading)
        number = 0
        while (f"{name}-{number}" if number else name) in found:
            number += 1
        found.add(f"{name}-{number}" if number else name)
    return found


def broken(document: Path, root: Path = ROOT) -> list[str]:
    """Each relative link of ``document`` that leads nowhere, as ``target: why``."""
    problems = []
    for target in links(document):
        if not is_relative(target):
            continue
        path, _, fragment = target.partition("#")
        place = (document.parent / path).resolve() if path else document
        if not place.exists():
            problems.append(f"{target}: no such file")
        elif root not in place.parents and place != root:
            problems.append(f"{target}: outside the repository")
        elif fragment and place.suffix == ".md" and fragment not in anchors(place):
            problems.append(f"{target}: {place.name} has no heading #{fragment}")
    return problems


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_somewhere(document: Path):
    problems = broken(document)
    assert not problems, f"{document.relative_to(ROOT)}: broken links: {problems}"


def test_the_link_check_sees_a_dead_link_and_a_dead_anchor(tmp_path: Path):
    """The check itself: a link to a missing file or heading is found, code is not a link."""
    (tmp_path / "other.md").write_text("# What is kept, and why\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#what-is-kept-and-why) [gone](missing.md) [bad](other.md#nope)\n"
        "![shot](img/none.svg) <https://example.com> [web](https://example.com/x)\n"
        "`[not a link](nowhere.md)`\n```\n[nor](this.md)\n```\n"
    )
    problems = [p.split(":")[0] for p in broken(page, tmp_path)]
    assert problems == ["missing.md", "other.md#nope", "img/none.svg"]


# -- commands ---------------------------------------------------------------------------------


def commands(document: Path) -> list[str]:
    """Every concrete ``wsinspect …`` command line, in code blocks and code spans, up to a shell
    operator or comment. Not usage synopses (with ``[`` or ``…``: ``--help`` says those), nor a
    command only named (``wsinspect record``)."""
    text = document.read_text()
    candidates = []
    for block in FENCE.finditer(text):
        candidates += block.group(0).splitlines()[1:-1]
    candidates += [span[1] for span in CODE_SPAN.findall(FENCE.sub("", text))]
    found = []
    for line in candidates:
        line = line.strip().removeprefix("$ ")
        if "[" in line or "…" in line or "..." in line:
            continue
        line = SHELL_END.split(f" {line} ".replace(" #", " ; #"), maxsplit=1)[0].strip()
        words = line.split()
        if not words or words[0] != "wsinspect":
            continue
        if len(words) == 2 and words[1].isalpha():
            continue  # a command named, not run: `wsinspect record`
        found.append(line)
    return found


def parses(command: str) -> str | None:
    """None when ``wsinspect``'s parser takes the command line, else what it said."""
    arguments = shlex.split(command)[1:]
    if not arguments or (arguments[0].startswith("-") and arguments[0] not in ("-h", "--help")):
        arguments.insert(0, "watch")  # as cli.main does: `wsinspect [options]` is `watch`
    try:
        build_parser().parse_args(arguments)
    except SystemExit as e:  # --help and --version exit 0
        return None if e.code == 0 else f"exit {e.code}"
    return None


def documented_commands() -> list[tuple[str, str]]:
    return [(p.relative_to(ROOT).as_posix(), c) for p in DOCUMENTS for c in commands(p)]


def test_the_docs_show_commands():
    """The command check has something to check (it would pass on none)."""
    shown = {command for _, command in documented_commands()}
    assert any(c.startswith("wsinspect record -o") for c in shown)
    assert any(c.startswith("wsinspect --mode reverse:") for c in shown)
    assert parses("wsinspect record --no-such-option") is not None


@pytest.mark.parametrize("where,command", documented_commands())
def test_every_documented_command_parses(where: str, command: str, capsys):
    said = parses(command)
    assert said is None, f"{where}: `{command}` is refused: {capsys.readouterr().err.strip()}"


def test_the_readme_gives_the_test_command_ci_runs():
    """.ci/run runs the README's test command; both must say the same."""
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = [m.group(0) for m in FENCE.finditer(readme)]
    assert any("\nbash scripts/test.sh\n" in block for block in blocks)
    assert re.search(r"^bash scripts/test\.sh\b", ci, re.MULTILINE)
    assert any("\npip install . && wsinspect demo\n" in block for block in blocks)


# -- the file format --------------------------------------------------------------------------


def test_every_field_of_the_session_file_is_documented():
    """docs/format.md describes the native file field by field; the file is model.py's records,
    so a field added there and not described here fails."""
    import msgspec

    from wsinspect import model

    page = (ROOT / "docs" / "format.md").read_text()
    records = [
        model.Handshake,
        model.Client,
        model.Request,
        model.Response,
        model.WebSocketSummary,
        model.Message,
        model.Counts,
        model.Close,
    ]
    missing = [
        f"{record.__name__}.{field.encode_name}"
        for record in records
        for field in msgspec.structs.fields(record)
        if f"`{field.encode_name}`" not in page
    ]
    assert not missing, f"docs/format.md does not describe: {missing}"
    assert f'"version": {model.SESSION_VERSION}' in page
