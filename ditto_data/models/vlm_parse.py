"""Strict parsing of a VLM's JSON answers: one object with exactly the expected keys and types.

A VLM answer is accepted only when it is a single JSON object (optionally inside one ```json
fence), with every required key, no unknown key, and values of the right type and range.
Anything else raises :class:`MalformedAnswer` naming what was wrong; the backend retries and,
after its last attempt, raises :class:`VLMOutputError`, which a stage turns into a rejection
with reason ``vlm_malformed``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_FENCE = re.compile(r"^```(?:json)?\s*\n?(?P<body>.*?)\n?```$", re.S)


class MalformedAnswer(ValueError):
    """One answer that does not follow the required format."""


class VLMOutputError(RuntimeError):
    """No attempt gave a well-formed answer. ``reason`` is the rejection reason for the stage."""

    reason = "vlm_malformed"

    def __init__(self, task: str, errors: list[str], answers: list[str]):
        self.task, self.errors, self.answers = task, errors, answers
        last = answers[-1][:120] if answers else ""
        super().__init__(f"{task}: no well-formed answer in {len(answers)} attempts; last error: "
                         f"{errors[-1] if errors else '?'}; last answer: {last!r}")

    @property
    def attempts(self) -> int:
        return len(self.answers)


Check = Callable[[Any, str], Any]


def text(min_words: int = 1, max_words: int = 200) -> Check:
    def check(v: Any, key: str) -> str:
        if not isinstance(v, str) or not v.strip():
            raise MalformedAnswer(f"{key!r} must be a non-empty string, got {v!r:.60}")
        n = len(v.split())
        if not min_words <= n <= max_words:
            raise MalformedAnswer(f"{key!r} must have {min_words}-{max_words} words, has {n}")
        return " ".join(v.split())

    return check


def optional_text(max_words: int = 12) -> Check:
    inner = text(1, max_words)

    def check(v: Any, key: str) -> str | None:
        return None if v is None else inner(v, key)

    return check


def score(lo: float = 0.0, hi: float = 10.0) -> Check:
    def check(v: Any, key: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise MalformedAnswer(f"{key!r} must be a number, got {v!r:.60}")
        if not lo <= v <= hi:
            raise MalformedAnswer(f"{key!r} must be within {lo:g}-{hi:g}, got {v}")
        return float(v)

    return check


def integer(lo: int = 1, hi: int = 5) -> Check:
    """A rubric score: a JSON integer in ``lo..hi``; ``4.0``, ``"4"``, ``true`` and ``4.5`` are refused."""

    def check(v: Any, key: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise MalformedAnswer(f"{key!r} must be an integer, got {v!r:.60}")
        if not lo <= v <= hi:
            raise MalformedAnswer(f"{key!r} must be within {lo}-{hi}, got {v}")
        return int(v)

    return check


def parse_answer(answer: str, schema: dict[str, Check], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """The validated object of ``answer``; ``optional`` keys may be absent (they become None)."""
    body = answer.strip()
    m = _FENCE.match(body)
    if m:
        body = m["body"].strip()
    if not body.startswith("{") or not body.endswith("}"):
        raise MalformedAnswer("the answer is not a single JSON object")
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as e:
        raise MalformedAnswer(f"invalid JSON: {e.msg} at character {e.pos}") from None
    if not isinstance(obj, dict):
        raise MalformedAnswer("the answer is not a JSON object")
    unknown = sorted(set(obj) - set(schema))
    if unknown:
        raise MalformedAnswer(f"unexpected keys: {', '.join(unknown)}")
    out = {}
    for key, check in schema.items():
        if key not in obj:
            if key in optional:
                out[key] = None
                continue
            raise MalformedAnswer(f"missing key {key!r}")
        out[key] = check(obj[key], key)
    return out
