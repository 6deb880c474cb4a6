"""Property-based fuzzing of every operation against the app's own OpenAPI schema (schemathesis).

Each operation gets a bounded, derandomized set of requests generated from its schema, valid
("positive") and invalid ("negative"). Every answer must be documented: no 5xx, a documented
status code and content type, a body valid against the documented schema, and every 4xx an
RFC 9457 problem+json document. (schemathesis's negative_data_rejection check is left out:
pydantic's lax mode accepts some values the schema's types exclude, true or "3" for an integer.)

Random formulas rarely parse and random ids name no session, so most valid cases get a loss
that compiles (of the dimension the rest of the body implies) and two thirds of the session
cases a real session: the generated hyperparameters, stopping rules, query parameters and
headers then reach the computations behind them. The limits are lowered so that every request
stays quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case as GenericCase
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from api.openapi import openapi_schema
from service.settings import Settings

Case = GenericCase[APIOperation[Any, Any, Any, Any]]
EXAMPLES_PER_OPERATION = 100
OPERATIONS = [
    (method.upper(), path) for path, item in openapi_schema()["paths"].items() for method in item
]
PROBLEM_KEYS = {"type", "title", "status", "detail"}
# Small limits keep each generated request quick; the checks behind them run all the same.
LIMITS: dict[str, Any] = {
    "max_steps": 2_000,
    "default_max_steps": 200,
    "max_steps_per_request": 200,
    "max_run_steps": 500,
    "max_batch_starts": 16,
    "max_batch_optimizers": 4,
    "max_trajectory_points": 2_000,
    "max_landscape_points": 2_500,
    "max_gradient_field_points": 400,
    "max_critical_point_starts": 64,
    "max_critical_points": 20,
    "max_session_points": 5_000,
    "request_time_limit": 1.0,
    "compile_timeout": 2.0,
    "events_max_seconds": 0.15,
    "events_poll_interval": 0.05,
}


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    return create_app(Settings(store_url=f"sqlite:///{tmp}/fuzz.db", **LIMITS))


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


def problem_json_for_4xx(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx is an RFC 9457 problem document whose status is the response's."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    body = response.json() if content_type == "application/problem+json" else None
    if not isinstance(body, dict) or not set(body) >= PROBLEM_KEYS:
        raise Failure(
            operation=case.operation.label,
            title="A 4xx that is not a problem document",
            message=f"{response.status_code} {content_type}: {response.text[:300]}",
        )
    if body["status"] != response.status_code:
        raise Failure(
            operation=case.operation.label,
            title="The problem's status is not the response's",
            message=f"{response.status_code} against {body['status']}",
        )
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    problem_json_for_4xx,
]

# Losses that compile, by dimension n; "none" keeps the generated one.
LOSS_KINDS = ["none", "expression", "builtin", "quadratic"]


def valid_loss(kind: str, n: int) -> dict[str, Any]:
    names = [f"x{i}" for i in range(n)]
    if kind == "expression":
        terms = [f"{(-1) ** i * (i + 1)}*{name}**2" for i, name in enumerate(names)]
        return {"type": "expression", "expression": " + ".join(terms) + f" + 0.1*sin({names[0]})"}
    if kind == "builtin":
        return {"type": "builtin", "name": "rosenbrock" if n >= 2 else "sphere", "dim": n}
    diagonal = [[float((i + 1) * (-1) ** i) if i == j else 0.0 for j in range(n)] for i in range(n)]
    return {"type": "quadratic", "A": diagonal, "b": [0.5] * n}


def implied_dimension(body: dict[str, Any]) -> int:
    """The number of parameters the rest of the body implies (1..4)."""
    for key in ("start", "point", "center"):
        if isinstance(body.get(key), list) and body[key]:
            return min(len(body[key]), 4)
    for key in ("starts", "bounds"):
        first = body.get(key)
        if isinstance(first, list) and first and isinstance(first[0], list) and first[0]:
            return min(len(first[0]) if key == "starts" else len(first), 4)
    return 2


def with_valid_loss(case: Case, kind: str) -> None:
    body = case.body
    if kind != "none" and isinstance(body, dict) and "loss" in body:
        body["loss"] = valid_loss(kind, implied_dimension(body))


SESSION_BODIES = [
    {
        "loss": {"type": "quadratic", "A": [[1.0, 0.0], [0.0, -2.0]]},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.5},
        "start": [1.0, 1.0],
    },
    {
        "loss": {"type": "expression", "expression": "(1 - x)^2 + 100*(y - x^2)^2"},
        "optimizer": {"name": "adam", "lr": 0.01},
        "start": [-1.2, 1.0],
        "stop": {"max_steps": 50},
    },
]


def with_real_session(case: Case, schema: Any, which: int) -> None:
    """Points the case at a fresh session (stepped a little), unless ``which`` is -1."""
    if which < 0 or "session_id" not in (case.path_parameters or {}):
        return
    create = schema["/v1/sessions"]["POST"].Case(
        body=SESSION_BODIES[which], media_type="application/json"
    )
    session = create.call().json()
    step = schema["/v1/sessions/{session_id}/step"]["POST"].Case(
        path_parameters={"session_id": session["id"]},
        body={"steps": 3},
        media_type="application/json",
    )
    assert step.call().status_code == 200
    case.path_parameters["session_id"] = session["id"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation(api_schema: Any, method: str, path: str) -> None:
    operation = api_schema[path][method]
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=cases,
        loss_kind=st.sampled_from(LOSS_KINDS),
        session=st.sampled_from([-1, 0, 1]),
    )
    def fuzz(case: Case, loss_kind: str, session: int) -> None:
        if case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE:
            with_valid_loss(case, loss_kind)
            with_real_session(case, api_schema, session)
        case.call_and_validate(checks=CHECKS)

    fuzz()
