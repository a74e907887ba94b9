"""Issue 15's targets on the wire: every researched stack's real answers, replayed verbatim
through our proxy, diagnosed as a user sees them, against tests/fixtures/stacks/*/expected.toml.

Targets: each stack recognised from its own refusal (confidence >= 0.8) where its answer can
tell; the first fix uses that stack's knob; where the answer cannot name the stack, the first
fix is the neutral one and no other stack is claimed; no healthy handshake flagged.
An expectation our code does not meet yet carries ``not_yet = [targets]`` and runs as a strict
xfail: whoever makes it pass must remove the flag. ``python -m tests.stack_wire`` prints the
counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests import stack_wire as wire
from tests.stack_wire import Expected, Outcome, Target
from wsinspect.model import Diagnosis, Finding, Fix, Stack

EXPECTED = wire.everything()
SITES = wire.every_site()


def expectations(target: Target, among: list[Expected] = EXPECTED) -> Iterator[object]:
    for expected in among:
        if not wire.applies(target, expected):
            continue
        marks = []
        if target in expected.not_yet:
            marks.append(pytest.mark.xfail(strict=True, reason=f"not yet: {target}"))
        yield pytest.param(expected, id=expected.id, marks=marks)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    """Every captured handshake answer through one real proxy, each case on its own port; and
    the [site] ones again, each after its site's own pages."""
    return asyncio.run(wire.replay_all(wire.handshake_cases(), wire.site_cases()))


def outcome_of(outcomes: dict[str, Outcome], expected: Expected) -> Outcome:
    assert expected.id in outcomes, f"{expected.id}: no such handshake fixture"
    return outcomes[expected.id]


@pytest.mark.parametrize("expected", expectations("code"))
def test_the_finding_is_the_right_one(expected: Expected, outcomes: dict[str, Outcome]) -> None:
    problem = wire.check_code(expected, outcome_of(outcomes, expected))
    assert not problem, f"{expected.id}: {problem} ({expected.note})"


@pytest.mark.parametrize("expected", expectations("stack"))
def test_the_stack_is_named_only_when_its_answer_tells(
    expected: Expected, outcomes: dict[str, Outcome]
) -> None:
    problem = wire.check_stack(expected, outcome_of(outcomes, expected))
    assert not problem, f"{expected.id}: {problem} ({expected.note})"


@pytest.mark.parametrize("expected", expectations("fix"))
def test_the_first_fix_is_the_stacks_own_or_the_neutral_one(
    expected: Expected, outcomes: dict[str, Outcome]
) -> None:
    problem = wire.check_fix(expected, outcome_of(outcomes, expected))
    assert not problem, f"{expected.id}: {problem} ({expected.note})"


@pytest.mark.parametrize("expected", expectations("stack", SITES))
def test_the_sites_own_pages_name_the_stack(
    expected: Expected, outcomes: dict[str, Outcome]
) -> None:
    """Issue 15 item 3: the host's other answers (Server, X-Powered-By, error pages) name the
    stack its refusal alone cannot (uvicorn's empty 403 under FastAPI, Litestar, Channels)."""
    problem = wire.check_stack(expected, outcome_of(outcomes, expected))
    assert not problem, f"{expected.id}: {problem} ({expected.note})"


@pytest.mark.parametrize("expected", expectations("fix", SITES))
def test_the_site_named_stack_leads_with_its_fix(
    expected: Expected, outcomes: dict[str, Outcome]
) -> None:
    problem = wire.check_fix(expected, outcome_of(outcomes, expected))
    assert not problem, f"{expected.id}: {problem} ({expected.note})"


def test_the_proxy_recorded_each_answer_as_captured(outcomes: dict[str, Outcome]) -> None:
    """The harness itself: what the proxy recorded is the fixture's status line and headers,
    names spelled and ordered as the server sent them (else nothing above means anything)."""
    for case_id, outcome in outcomes.items():
        answer = outcome.case.answer
        handshake = outcome.handshake
        assert handshake is not None, f"{case_id}: {outcome.problem}"
        if not answer:
            assert handshake.response is None and handshake.error, case_id
            continue
        head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        assert handshake.response is not None, f"{case_id}: {handshake.error}"
        assert handshake.response.status == int(head[0].split(" ")[1]), case_id
        names = [line.split(":", 1)[0] for line in head[1:]]
        assert [k for k, _ in handshake.response.headers] == names, case_id


def test_every_captured_answer_has_its_request_and_expectation() -> None:
    """A new fixture needs the request it answered (stack_wire.requests_for) and, when that
    was an upgrade, what a user should get (expected.toml); every healthy answer is ok."""
    for stack in wire.stacks():
        requests = wire.requests_for(stack)
        expected = wire.load_expectations(stack)
        info = wire.stack_info(stack)
        assert {"name", "kind", "version", "refusal", "knob", "docs"} <= info.keys(), stack
        assert info["kind"] in ("server", "proxy"), stack
        names = wire.fixture_names(stack)
        for name in names:
            assert name in requests, f"{stack}/{name}: which request did it answer?"
            if requests[name].is_upgrade:
                assert name in expected, f"{stack}/{name}: no expectation in expected.toml"
        for name, e in expected.items():
            assert name in names and requests[name].is_upgrade, f"{stack}/{name}: no handshake"
            assert set(e.not_yet) <= set(wire.TARGETS), f"{stack}/{name}: {e.not_yet}"
            assert e.codes or e.verdict in ("error", "warning"), f"{stack}/{name}: what finding?"
            if name.startswith("healthy") or name.startswith("proxied_101"):
                assert e.codes == ("ok",), f"{stack}/{name}: a healthy handshake must be ok"
        site = wire.load_site(stack)
        if site is not None:
            assert site.replays in expected and site.verdict != "ok", f"{stack}: [site] case"
            assert wire.site_pages(stack), f"{stack}: [site] without pages"


def test_the_checks_catch_what_the_issue_complains_of() -> None:
    """The judge itself: another stack's snippet first, a stack named below the bar, a guess
    named for an answer that cannot tell, a healthy handshake flagged: each is caught."""
    tornado = wire.load_expectations("tornado")
    refused, healthy = tornado["origin_refused"], tornado["healthy"]
    litestar = wire.load_expectations("litestar")["origin_refused"]
    case = wire.Case("tornado", "origin_refused", wire.requests_for("tornado")["origin_refused"])

    def judged(stack: Stack | None, *fixes: Fix, code: str = "origin-rejected") -> Outcome:
        finding = Finding(code, "error", "refused", fixes=fixes)
        return Outcome(case, None, Diagnosis("error", stack, (finding,)))

    own = Fix("Tornado", "python", "def check_origin(self, origin): ...")
    vite = Fix("dev-server proxy (Vite, webpack-dev-server)", "javascript", "changeOrigin")
    neutral = Fix(wire.NEUTRAL, "text", "add the page's origin to the allowed origins")
    sure, unsure = Stack("Tornado", 0.9), Stack("Tornado", 0.6)
    guess = Stack("Starlette/FastAPI (uvicorn)", 0.85)

    assert not wire.check_stack(refused, judged(sure, own))
    assert not wire.check_fix(refused, judged(sure, own))
    assert wire.check_stack(refused, judged(unsure, own))
    assert wire.check_fix(refused, judged(sure, vite, own))
    assert wire.check_fix(refused, judged(sure, Fix("Tornado", "python", "pass")))
    assert wire.check_code(refused, judged(sure, own, code="unauthorized"))
    assert not wire.check_stack(litestar, judged(None, neutral))
    assert not wire.check_fix(litestar, judged(None, neutral))
    assert wire.check_stack(litestar, judged(guess, neutral))
    assert wire.check_fix(litestar, judged(None, vite, neutral))
    assert wire.check_code(healthy, judged(sure, own))
    assert not wire.check_code(healthy, Outcome(case, None, Diagnosis("ok", sure, ())))
