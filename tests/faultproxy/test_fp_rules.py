"""Rule evaluation as pure logic (no sockets): schedules, probability statistics, validation."""

from __future__ import annotations

import re

import pytest

from osk8s_testing.faultproxy.rules import (
    Delay,
    FirstN,
    Match,
    Probability,
    Reset,
    Rule,
    RuleSet,
    error,
)


def test_probability_fires_close_to_p_and_depends_on_seed() -> None:
    def fired(seed: int) -> list[bool]:
        rules = RuleSet()
        rules.add(Rule(Match(), error(500), Probability(0.3, seed)))
        return [rules.decide("GET", "/x").fault is not None for _ in range(2000)]

    a = fired(1)
    assert 0.25 < sum(a) / len(a) < 0.35
    assert a == fired(1)
    assert a != fired(2)


def test_probability_edges() -> None:
    rules = RuleSet()
    never = rules.add(Rule(Match(), Reset(), Probability(0.0)))
    for _ in range(50):
        rules.decide("GET", "/")
    assert (never.matched, never.fired) == (50, 0)


def test_decision_sums_delays_and_keeps_first_terminal() -> None:
    rules = RuleSet()
    rules.add(Rule(Match(path="^/a"), Delay(0.5)))
    rules.add(Rule(Match(), Delay(0.25)))
    rules.add(Rule(Match(), error(503), FirstN(1)))
    first = rules.decide("GET", "/a")
    assert first.delay == 0.75
    assert first.fault is not None and first.fault.kind == "respond"
    second = rules.decide("GET", "/b")
    assert (second.delay, second.fault) == (0.25, None)


def test_remove_and_clear() -> None:
    rules = RuleSet()
    armed = rules.add(Rule(Match(), Reset()))
    assert rules.remove(armed.id)
    assert not rules.remove(armed.id)
    assert rules.decide("GET", "/").fault is None


def test_invalid_regex_fails_when_the_rule_is_made() -> None:
    with pytest.raises(re.error):
        Match(path="(")
