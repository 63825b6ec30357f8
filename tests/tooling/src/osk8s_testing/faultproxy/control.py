"""The control endpoint (``/__faults__``): set rules and read calls over HTTP as JSON.

For the standalone command, where the test is another process. A rule is one flat JSON object:
``{"method": "GET", "path": "^/v2.0/ports", "fault": "status", "status": 503, "first": 2}``;
fault is one of status | rate_limit | latency | reset | hang | lose_answer (forward, then
drop the answer; ``"after"``: reset | close | hang, with ``seconds`` for hang); schedule is at
most one of ``nth``, ``first``, ``probability`` (+ ``seed``). Parsing errors answer 400, never
crash the proxy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from osk8s_testing.faultproxy.calls import Call, CallLog
from osk8s_testing.faultproxy.rules import (
    Always,
    ArmedRule,
    Delay,
    Fault,
    FirstN,
    Hang,
    LoseAnswer,
    Match,
    Nth,
    Probability,
    Reset,
    Respond,
    Rule,
    RuleSet,
    When,
    error,
    rate_limited,
)


class RuleSyntaxError(ValueError):
    """A rule given as JSON is not valid."""


def rule_from_json(data: Mapping[str, Any]) -> Rule:
    if not isinstance(data, Mapping):
        raise RuleSyntaxError("a rule must be a JSON object")
    try:
        match = Match(method=data.get("method"), path=str(data.get("path", "")))
        return Rule(match=match, fault=_fault(data), when=_when(data))
    except (TypeError, ValueError, KeyError, re.error) as e:
        if isinstance(e, RuleSyntaxError):
            raise
        raise RuleSyntaxError(f"invalid rule: {e}") from e


def _fault(data: Mapping[str, Any]) -> Fault:
    kind = data.get("fault")
    if kind == "status":
        body = data.get("body")
        return error(int(data.get("status", 503)), None if body is None else str(body))
    if kind == "rate_limit":
        return rate_limited(data.get("retry_after", 1))
    if kind == "latency":
        return Delay(float(data["seconds"]))
    if kind == "reset":
        return Reset()
    if kind == "hang":
        return Hang(float(data["seconds"]))
    if kind == "lose_answer":
        return LoseAnswer(after=data.get("after", "reset"), seconds=float(data.get("seconds", 0)))
    raise RuleSyntaxError(
        f"fault must be one of status, rate_limit, latency, reset, hang, lose_answer; got {kind!r}"
    )


def _when(data: Mapping[str, Any]) -> When:
    given = [k for k in ("nth", "first", "probability") if k in data]
    if len(given) > 1:
        raise RuleSyntaxError(f"at most one of nth, first, probability; got {given}")
    if "nth" in data:
        return Nth(int(data["nth"]))
    if "first" in data:
        return FirstN(int(data["first"]))
    if "probability" in data:
        return Probability(float(data["probability"]), int(data.get("seed", 0)))
    return Always()


def rule_to_json(armed: ArmedRule) -> dict[str, Any]:
    rule = armed.rule
    out: dict[str, Any] = {
        "id": armed.id,
        "method": rule.match.method,
        "path": rule.match.path,
        "fault": rule.fault.kind,
        "matched": armed.matched,
        "fired": armed.fired,
    }
    fault = rule.fault
    if isinstance(fault, Respond):
        out["status"] = fault.status
    elif isinstance(fault, Delay | Hang):
        out["seconds"] = fault.seconds
    elif isinstance(fault, LoseAnswer):
        out["after"], out["seconds"] = fault.after, fault.seconds
    when = rule.when
    if isinstance(when, Nth):
        out["nth"] = when.n
    elif isinstance(when, FirstN):
        out["first"] = when.n
    elif isinstance(when, Probability):
        out["probability"], out["seed"] = when.p, when.seed
    return out


def call_to_json(call: Call) -> dict[str, Any]:
    return {
        "method": call.method,
        "path": call.path,
        "query": call.query,
        "status": call.status,
        "fault": call.fault,
        "delayed": call.delayed,
        "upstream_status": call.upstream_status,
    }


def add_routes(app: web.Application, *, prefix: str, rules: RuleSet, calls: CallLog) -> None:
    async def list_rules(_: web.Request) -> web.Response:
        return web.json_response({"rules": [rule_to_json(r) for r in rules]})

    async def add_rules(request: web.Request) -> web.Response:
        try:
            payload = json.loads(await request.read() or b"{}")
            items = (
                payload["rules"] if isinstance(payload, dict) and "rules" in payload else [payload]
            )
            if not isinstance(items, list):
                raise RuleSyntaxError("'rules' must be a list")
            parsed = [rule_from_json(item) for item in items]
        except (json.JSONDecodeError, RuleSyntaxError) as e:
            return web.json_response({"error": str(e)}, status=400)
        armed = [rules.add(rule) for rule in parsed]
        return web.json_response({"rules": [rule_to_json(a) for a in armed]}, status=201)

    async def clear_rules(_: web.Request) -> web.Response:
        rules.clear()
        return web.Response(status=204)

    async def delete_rule(request: web.Request) -> web.Response:
        found = rules.remove(int(request.match_info["rule_id"]))
        return web.Response(status=204 if found else 404)

    async def list_calls(_: web.Request) -> web.Response:
        return web.json_response({"calls": [call_to_json(c) for c in calls.all()]})

    async def clear_calls(_: web.Request) -> web.Response:
        calls.clear()
        return web.Response(status=204)

    app.router.add_get(prefix, list_rules)
    app.router.add_post(prefix, add_rules)
    app.router.add_delete(prefix, clear_rules)
    app.router.add_delete(prefix + "/rules/{rule_id:[0-9]+}", delete_rule)
    app.router.add_get(prefix + "/calls", list_calls)
    app.router.add_delete(prefix + "/calls", clear_calls)
