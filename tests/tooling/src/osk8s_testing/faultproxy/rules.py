"""Fault rules: which calls a fault hits (method + path regex + schedule) and what it does.

Rules are frozen data; the mutable part (how many calls a rule matched, its seeded RNG) lives in
``ArmedRule`` inside a ``RuleSet`` guarded by one lock, because tests add rules from their own
thread while the proxy's event loop evaluates them. This module knows nothing about HTTP I/O.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Match:
    """Which calls a rule looks at."""

    method: str | None = None
    """HTTP method (case-insensitive); None matches every method."""
    path: str = ""
    """Regex searched (``re.search``) in the raw (still percent-encoded) request path, query
    string excluded; "" matches every path."""

    def __post_init__(self) -> None:
        re.compile(self.path)  # fail at rule creation, not on the first call

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.search(self.path, path) is not None


# --- faults ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Respond:
    """Answer with this status and body instead of forwarding (5xx, 429, anything)."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"
    kind: Literal["respond"] = "respond"


@dataclass(frozen=True)
class Delay:
    """Wait this long, then go on (to later rules, then upstream): added latency."""

    seconds: float
    kind: Literal["latency"] = "latency"


@dataclass(frozen=True)
class Reset:
    """Close the client's socket with a TCP RST and no response."""

    kind: Literal["reset"] = "reset"


@dataclass(frozen=True)
class Hang:
    """Hold the connection without answering for ``seconds``, then close it (no response)."""

    seconds: float
    kind: Literal["hang"] = "hang"


@dataclass(frozen=True)
class LoseAnswer:
    """Forward the request, let the upstream answer in full, then never deliver that answer:
    "the create happened but the caller never heard". ``after`` says how the client learns
    nothing: ``reset`` (TCP RST, a connection error at once), ``close`` (the connection closes
    with no response), or ``hang`` (hold ``seconds``, then close: a read timeout)."""

    after: Literal["reset", "close", "hang"] = "reset"
    seconds: float = 0.0
    kind: Literal["lose_answer"] = "lose_answer"

    def __post_init__(self) -> None:
        if self.after not in ("reset", "close", "hang"):
            raise ValueError(f"after must be reset, close or hang; got {self.after!r}")
        if self.after == "hang" and self.seconds <= 0:
            raise ValueError("after='hang' needs seconds > 0")


Fault = Respond | Delay | Reset | Hang | LoseAnswer
Terminal = Respond | Reset | Hang | LoseAnswer


def error(status: int = 503, body: str | bytes | None = None) -> Respond:
    """An error answer with an OpenStack-like JSON body unless one is given."""
    if body is None:
        body = f'{{"error": {{"code": {status}, "message": "injected by fault proxy"}}}}'
    return Respond(status=status, body=body.encode() if isinstance(body, str) else body)


def rate_limited(retry_after: float | str = 1, body: str | None = None) -> Respond:
    """429 with a Retry-After header (seconds, or an HTTP date given as a string)."""
    value = retry_after if isinstance(retry_after, str) else _seconds_text(retry_after)
    base = error(429, body)
    return Respond(status=429, body=base.body, headers=(("Retry-After", value),))


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


# --- schedules: which of the matching calls a rule fires on ------------------------------


@dataclass(frozen=True)
class Always:
    kind: Literal["always"] = "always"


@dataclass(frozen=True)
class Nth:
    """Only the n-th matching call (1-based)."""

    n: int
    kind: Literal["nth"] = "nth"


@dataclass(frozen=True)
class FirstN:
    """The first n matching calls, then never again."""

    n: int
    kind: Literal["first"] = "first"


@dataclass(frozen=True)
class Probability:
    """Each matching call with probability p, drawn from ``random.Random(seed)`` per rule."""

    p: float
    seed: int = 0
    kind: Literal["probability"] = "probability"


When = Always | Nth | FirstN | Probability


@dataclass(frozen=True)
class Rule:
    match: Match
    fault: Fault
    when: When = field(default_factory=Always)


# --- evaluation -------------------------------------------------------------------------------


class ArmedRule:
    """A rule added to a RuleSet, with its counters (read them to assert what happened)."""

    def __init__(self, rule: Rule, rule_id: int) -> None:
        self.rule = rule
        self.id = rule_id
        self._matched = 0
        self._fired = 0
        seed = rule.when.seed if isinstance(rule.when, Probability) else 0
        self._rng = random.Random(seed)

    @property
    def matched(self) -> int:
        """How many calls matched the rule's method and path."""
        return self._matched

    @property
    def fired(self) -> int:
        """How many calls the fault was applied to."""
        return self._fired

    def _consider(self, method: str, path: str) -> bool:
        """Count a call and say whether the fault fires on it (caller holds the set's lock)."""
        if not self.rule.match.matches(method, path):
            return False
        self._matched += 1
        when = self.rule.when
        if isinstance(when, Nth):
            fire = self._matched == when.n
        elif isinstance(when, FirstN):
            fire = self._matched <= when.n
        elif isinstance(when, Probability):
            fire = self._rng.random() < when.p
        else:
            fire = True
        return fire


@dataclass(frozen=True)
class Decision:
    """What to do with one call: wait ``delay`` seconds, then apply ``fault`` or forward."""

    delay: float = 0.0
    fault: Terminal | None = None
    fired: tuple[int, ...] = ()


class RuleSet:
    """Ordered rules. Every rule sees every call (so Nth/first-N counters stay exact); delays
    add up and the first terminal fault that fires wins (later ones count the match only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[ArmedRule] = []
        self._next_id = 1

    def add(self, rule: Rule) -> ArmedRule:
        with self._lock:
            armed = ArmedRule(rule, self._next_id)
            self._next_id += 1
            self._rules.append(armed)
            return armed

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def __iter__(self) -> Iterator[ArmedRule]:
        with self._lock:
            return iter(list(self._rules))

    def decide(self, method: str, path: str) -> Decision:
        delay = 0.0
        fault: Terminal | None = None
        fired: list[int] = []
        with self._lock:
            for armed in self._rules:
                if not armed._consider(method, path):
                    continue
                current = armed.rule.fault
                if isinstance(current, Delay):
                    delay += current.seconds
                elif fault is None:
                    fault = current
                else:
                    continue  # a terminal fault was already chosen: this one is not applied
                armed._fired += 1
                fired.append(armed.id)
        return Decision(delay=delay, fault=fault, fired=tuple(fired))
