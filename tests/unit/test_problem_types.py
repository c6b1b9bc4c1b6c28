"""Every problem type the code answers with is in the catalogue the OpenAPI document shows."""

from __future__ import annotations

import re
from pathlib import Path

from interfaces.http.problem_types import FALLBACK_SLUG, PROBLEM_TYPES, examples_for
from interfaces.http.schemas import Problem

ROOT = Path(__file__).resolve().parents[2]
# A status beside a slug, as the code writes them: HttpProblem(400, "bad-if-match"), (404,
# "student-not-found"), problem_response(path, 429, "rate-limited", ...), {405: "method-not-allowed"}.
_STATUS_AND_SLUG = re.compile(r'\b([1-5][0-9]{2})\s*[,:]\s*"([a-z]+(?:-[a-z]+)*)"')


def _answered() -> set[tuple[int, str]]:
    found = set()
    for path in (ROOT / "interfaces").rglob("*.py"):
        if path.name == "problem_types.py":
            continue
        for status, slug in _STATUS_AND_SLUG.findall(path.read_text(encoding="utf-8")):
            found.add((int(status), slug))
    return found


def test_the_catalogue_is_every_type_the_code_answers_with() -> None:
    catalogue = {(kind.status, kind.slug) for kind in PROBLEM_TYPES}
    answered = _answered() - {(status, FALLBACK_SLUG) for status, _ in _answered()}
    assert answered - catalogue == set(), "add these to interfaces/http/problem_types.py"
    assert catalogue - answered == set(), "the code no longer answers with these"


def test_the_scan_sees_the_refusals_it_is_meant_to() -> None:
    answered = _answered()
    assert {
        (412, "stale-version"),
        (429, "rate-limited"),
        (406, "not-acceptable"),
        (503, "shutting-down"),
    } <= answered


def test_every_example_is_a_problem_document_of_its_type() -> None:
    everything = {kind.needs for kind in PROBLEM_TYPES if kind.needs is not None}
    for status in {kind.status for kind in PROBLEM_TYPES}:
        for slug, example in examples_for(status, "Title", "/students", everything).items():
            problem = Problem.model_validate(example["value"])
            assert (problem.type, problem.status) == (f"/problems/{slug}", status)
    assert len({kind.slug for kind in PROBLEM_TYPES}) == len(PROBLEM_TYPES)


def test_an_operation_is_shown_only_the_types_it_can_meet() -> None:
    # Found by an attack: GET /students listed malformed-json and import-rejected under its 422.
    assert set(examples_for(422, "Title", "/students", {"query"})) == {"validation-error", "invalid-query"}
    assert set(examples_for(409, "Title", "/students", {"json-body", "idempotency-key"})) == {
        "email-already-registered",
        "idempotency-key-in-flight",
    }
